package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

// managerUser is the user the manager runs as. Its group puts it in the API server's
// "service-accounts" flow schema, as the ServiceAccount of a real deployment would be; its
// writes are told apart in the audit log by the name.
const (
	managerUser    = "sfconn-bench-manager"
	leaseNamespace = "default"
	// auditPolicy logs every write, and the manager's reads (watches excepted), with no
	// request or response body.
	auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
# One entry per request, when the response is complete.
omitStages: ["RequestReceived"]
rules:
- level: Metadata
  verbs: ["create", "update", "patch", "delete", "deletecollection"]
- level: Metadata
  users: ["` + managerUser + `"]
  verbs: ["get", "list"]
- level: None
`
)

var scheme = runtime.NewScheme()

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(sfv1.AddToScheme(scheme))
}

// cluster is a kube-apiserver and etcd from KUBEBUILDER_ASSETS with the audit log on, the
// CRD installed, and a user for the manager bound to config/rbac's roles only.
type cluster struct {
	env *envtest.Environment
	// admin is the harness's client: system:masters, no client-side rate limit.
	admin client.Client
	// managerKubeconfig is the manager's kubeconfig file.
	managerKubeconfig string
	audit             *auditLog
}

func startCluster(ctx context.Context, root, dir string) (*cluster, error) {
	policy := filepath.Join(dir, "audit-policy.yaml")
	if err := os.WriteFile(policy, []byte(auditPolicy), 0o600); err != nil {
		return nil, err
	}
	auditPath := filepath.Join(dir, "audit.log")
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	env.ControlPlane.GetAPIServer().Configure().
		Set("audit-policy-file", policy).
		Set("audit-log-path", auditPath).
		// No rotation during a run: the log is read from one file.
		Set("audit-log-maxsize", "100000").
		Set("audit-log-maxbackup", "0")
	if _, err := env.Start(); err != nil {
		return nil, fmt.Errorf("starting the control plane: %w", err)
	}
	c := &cluster{env: env, audit: newAuditLog(auditPath)}
	if err := c.setup(ctx, root, dir); err != nil {
		_ = c.stop()
		return nil, err
	}
	return c, nil
}

func (c *cluster) setup(ctx context.Context, root, dir string) error {
	adminUser, err := c.env.AddUser(envtest.User{Name: "bench-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return err
	}
	cfg := adminUser.Config()
	// The harness's own writes (the floor) run with no client-side limit, as asked.
	cfg.QPS, cfg.Burst = -1, -1
	if c.admin, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		return err
	}

	user, err := c.env.AddUser(envtest.User{Name: managerUser, Groups: []string{"system:serviceaccounts"}}, nil)
	if err != nil {
		return err
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return err
	}
	c.managerKubeconfig = filepath.Join(dir, "manager-kubeconfig")
	if err := os.WriteFile(c.managerKubeconfig, kc, 0o600); err != nil {
		return err
	}
	return c.grantManagerRBAC(ctx, root)
}

// grantManagerRBAC applies config/rbac's ClusterRoles and leader election Role and binds
// them to the manager's user, as the e2e suite does.
func (c *cluster) grantManagerRBAC(ctx context.Context, root string) error {
	for _, f := range []string{"role.yaml", "cluster_connection_role.yaml", "leader_election_role.yaml"} {
		if err := c.applyFile(ctx, filepath.Join(root, "config", "rbac", f)); err != nil {
			return err
		}
	}
	subject := []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: managerUser}}
	bindings := []client.Object{
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "sfconn-bench-manager"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "manager-role"},
			Subjects:   subject,
		},
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "sfconn-bench-cluster-connections"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-connection-role"},
			Subjects:   subject,
		},
		&rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "sfconn-bench-leader-election", Namespace: leaseNamespace},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "leader-election-role"},
			Subjects:   subject,
		},
	}
	for _, b := range bindings {
		if err := c.admin.Create(ctx, b); err != nil {
			return err
		}
	}
	return nil
}

// applyFile creates the objects of a YAML file; namespaced objects in kustomize's
// placeholder namespace "system" go to the lease namespace.
func (c *cluster) applyFile(ctx context.Context, path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	for _, doc := range bytes.Split(raw, []byte("\n---")) {
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(doc, &u.Object); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if u.GetNamespace() == "system" {
			u.SetNamespace(leaseNamespace)
		}
		if err := c.admin.Create(ctx, u); err != nil {
			return fmt.Errorf("%s: creating %s %s: %w", path, u.GetKind(), u.GetName(), err)
		}
	}
	return nil
}

func stripComments(doc []byte) []byte {
	var out []byte
	for _, line := range bytes.Split(doc, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			out = append(out, line...)
			out = append(out, '\n')
		}
	}
	return out
}

func (c *cluster) createNamespace(ctx context.Context, name string) error {
	err := c.admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

func (c *cluster) stop() error {
	if c.env == nil {
		return nil
	}
	return c.env.Stop()
}

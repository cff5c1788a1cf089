// Package install tests what users install the operator with: the Helm chart in
// charts/sfconn-operator, config/default (kubectl apply -k), dist/install.yaml, and the
// Prometheus rules and Grafana dashboard. It renders each, applies every object to a real
// kube-apiserver (envtest), and checks that the copies kept in the chart have not drifted
// from their originals in config/.
//
// The tests need helm (env HELM) and the control plane binaries (env KUBEBUILDER_ASSETS);
// `make test` and `make test-install` set both. Without them, the tests that need them
// skip under -short and fail otherwise.
package install

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// chartDir is the chart, relative to the repository root.
const chartDir = "charts/sfconn-operator"

var (
	// root is the repository root.
	root = func() string {
		_, file, _, _ := runtime.Caller(0)
		return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
	}()

	clusterOnce sync.Once
	testEnv     *envtest.Environment
	k8sClient   client.Client
	clusterErr  error
	warnings    = &warningRecorder{}
)

func TestMain(m *testing.M) {
	code := m.Run()
	if testEnv != nil {
		if err := testEnv.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stopping the control plane: %v\n", err)
		}
	}
	os.Exit(code)
}

// need skips the test under -short and fails it otherwise, so that `make test` cannot pass
// without running it.
func need(t *testing.T, why string) {
	t.Helper()
	if testing.Short() {
		t.Skip(why)
	}
	t.Fatal(why + " (go test -short skips this test instead)")
}

// repoPath joins a slash-separated path to the repository root.
func repoPath(p string) string { return filepath.Join(root, filepath.FromSlash(p)) }

func readRepoFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(repoPath(p))
	if err != nil {
		t.Fatalf("read %s: %v", p, err)
	}
	return b
}

// helmBin is the helm binary from env HELM.
func helmBin(t *testing.T) string {
	t.Helper()
	p := os.Getenv("HELM")
	if p == "" {
		need(t, "HELM is not set: run `make test-install`, or `make helm` and set HELM to the repository's bin/helm-v4.3.1 (an absolute path)")
	}
	if _, err := os.Stat(p); err != nil {
		need(t, fmt.Sprintf("HELM=%s: %v: run `make helm`", p, err))
	}
	return p
}

// assetsDir is the folder of kube-apiserver, etcd and kubectl, from env KUBEBUILDER_ASSETS.
func assetsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		need(t, "KUBEBUILDER_ASSETS is not set: run `make test-install`, or `make control-plane` and set KUBEBUILDER_ASSETS to the repository's bin/k8s/<version> (an absolute path)")
	}
	for _, b := range []string{"kube-apiserver", "etcd", "kubectl"} {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			need(t, fmt.Sprintf("KUBEBUILDER_ASSETS=%s: %v: run `make control-plane`", dir, err))
		}
	}
	return dir
}

// run runs a command in the repository root and returns its standard output; a failure
// carries its standard error.
func run(t *testing.T, env []string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w\n%s", filepath.Base(name), strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// helm runs helm with its cache, config and data in a temporary folder, so that the tests
// neither read nor write the user's helm setup.
func helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	bin := helmBin(t)
	home := t.TempDir()
	env := []string{
		"HELM_CACHE_HOME=" + filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME=" + filepath.Join(home, "config"),
		"HELM_DATA_HOME=" + filepath.Join(home, "data"),
	}
	return run(t, env, bin, args...)
}

// render runs helm template on the chart, CRDs included, and parses the result.
func render(t *testing.T, release, namespace string, args ...string) []*unstructured.Unstructured {
	t.Helper()
	out, err := helm(t, append([]string{"template", release, chartDir, "--namespace", namespace, "--include-crds"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := parseObjects([]byte(out))
	if err != nil {
		t.Fatalf("helm template %s: %v", release, err)
	}
	return objs
}

// valuesAll is the values file that turns every option on.
const valuesAll = "test/install/testdata/values-all.yaml"

// kustomize builds a kustomization with the kubectl of KUBEBUILDER_ASSETS.
func kustomize(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	out, err := run(t, nil, filepath.Join(assetsDir(t), "kubectl"), "kustomize", dir)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := parseObjects([]byte(out))
	if err != nil {
		t.Fatalf("kubectl kustomize %s: %v", dir, err)
	}
	return objs
}

// parseObjects splits a multi-document YAML stream into objects, skipping empty documents
// (such as those holding comments only).
func parseObjects(data []byte) ([]*unstructured.Unstructured, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var objs []*unstructured.Unstructured
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, err
		}
		j, err := utilyaml.ToJSON(doc)
		if err != nil {
			return nil, fmt.Errorf("%w in\n%s", err, doc)
		}
		// apimachinery's json keeps integers as int64, as unstructured objects need.
		var m map[string]any
		if err := utiljson.Unmarshal(j, &m); err != nil {
			return nil, fmt.Errorf("%w in\n%s", err, doc)
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.GetAPIVersion() == "" || u.GetKind() == "" || u.GetName() == "" {
			return nil, fmt.Errorf("a document without apiVersion, kind or name:\n%s", doc)
		}
		objs = append(objs, u)
	}
}

// find returns the object of that kind and name, failing the test if there is none.
func find(t *testing.T, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	t.Fatalf("no %s %q among %s", kind, name, describe(objs))
	return nil
}

// findIn returns the object of that kind, namespace and name, failing the test if there is
// none.
func findIn(t *testing.T, objs []*unstructured.Unstructured, kind, namespace, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && o.GetNamespace() == namespace && o.GetName() == name {
			return o
		}
	}
	t.Fatalf("no %s %s/%s among %s", kind, namespace, name, describe(objs))
	return nil
}

// ofKind returns the objects of a kind.
func ofKind(objs []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// only returns the one object of a kind, failing the test if there are none or several.
func only(t *testing.T, objs []*unstructured.Unstructured, kind string) *unstructured.Unstructured {
	t.Helper()
	found := ofKind(objs, kind)
	if len(found) != 1 {
		t.Fatalf("want one %s, got %d among %s", kind, len(found), describe(objs))
	}
	return found[0]
}

func describe(objs []*unstructured.Unstructured) string {
	var names []string
	for _, o := range objs {
		names = append(names, o.GetKind()+"/"+o.GetName())
	}
	return "[" + strings.Join(names, " ") + "]"
}

// field reads a nested field, failing the test if it is missing.
func field(t *testing.T, o *unstructured.Unstructured, path ...string) any {
	t.Helper()
	v, ok, err := unstructured.NestedFieldNoCopy(o.Object, path...)
	if err != nil || !ok {
		t.Fatalf("%s/%s has no %s (%v)", o.GetKind(), o.GetName(), strings.Join(path, "."), err)
	}
	return v
}

// managerContainer is the manager container of a Deployment.
func managerContainer(t *testing.T, deploy *unstructured.Unstructured) map[string]any {
	t.Helper()
	containers, _ := field(t, deploy, "spec", "template", "spec", "containers").([]any)
	for _, c := range containers {
		if m, ok := c.(map[string]any); ok && m["name"] == "manager" {
			return m
		}
	}
	t.Fatalf("Deployment %s has no container named manager", deploy.GetName())
	return nil
}

// args is the manager container's arguments.
func args(t *testing.T, deploy *unstructured.Unstructured) []string {
	t.Helper()
	var out []string
	raw, _ := managerContainer(t, deploy)["args"].([]any)
	for _, a := range raw {
		s, ok := a.(string)
		if !ok {
			t.Fatalf("Deployment %s: argument %v is not a string", deploy.GetName(), a)
		}
		out = append(out, s)
	}
	return out
}

// warningRecorder keeps the warnings the API server sends, such as Pod Security ones.
type warningRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warningRecorder) HandleWarningHeaderWithContext(_ context.Context, _ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, text)
}

// take returns the warnings received since the last call.
func (w *warningRecorder) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.msgs
	w.msgs = nil
	return out
}

// cluster starts, once per test binary, a kube-apiserver and etcd with the minimal
// ServiceMonitor and PrometheusRule CRDs, and returns a client of it.
func cluster(t *testing.T) client.Client {
	t.Helper()
	dir := assetsDir(t)
	clusterOnce.Do(func() {
		testEnv = &envtest.Environment{
			BinaryAssetsDirectory: dir,
			CRDInstallOptions: envtest.CRDInstallOptions{
				Paths:              []string{repoPath("test/install/testdata/monitoring-crds.yaml")},
				ErrorIfPathMissing: true,
			},
		}
		var cfg *rest.Config
		cfg, clusterErr = testEnv.Start()
		if clusterErr != nil {
			return
		}
		cfg = rest.CopyConfig(cfg)
		cfg.WarningHandlerWithContext = warnings
		k8sClient, clusterErr = client.New(cfg, client.Options{})
	})
	if clusterErr != nil {
		t.Fatalf("starting the control plane: %v", clusterErr)
	}
	return k8sClient
}

// kubeconfig writes a kubeconfig of an administrator of the test cluster, for helm.
func kubeconfig(t *testing.T) string {
	t.Helper()
	cluster(t)
	user, err := testEnv.AddUser(envtest.User{Name: "helm-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(p, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// fieldOwner is the field manager of the tests' server-side applies.
const fieldOwner = "sfconn-install-test"

// applyAll applies objects with server-side apply, as `kubectl apply --server-side` would:
// Namespaces and CRDs first (waiting for the CRDs to be established), then the rest. It
// returns the warnings the API server sent.
func applyAll(t *testing.T, c client.Client, objs []*unstructured.Unstructured) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	warnings.take()
	first := func(o *unstructured.Unstructured) bool {
		return o.GetKind() == "Namespace" || o.GetKind() == "CustomResourceDefinition"
	}
	apply := func(o *unstructured.Unstructured) {
		t.Helper()
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(o.DeepCopy()),
			client.FieldOwner(fieldOwner), client.ForceOwnership); err != nil {
			t.Fatalf("apply %s %s/%s: %v", o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
	}
	var crds []string
	for _, o := range objs {
		if first(o) {
			apply(o)
			if o.GetKind() == "CustomResourceDefinition" {
				crds = append(crds, o.GetName())
			}
		}
	}
	for _, name := range crds {
		waitEstablished(t, ctx, c, name)
	}
	for _, o := range objs {
		if !first(o) {
			apply(o)
		}
	}
	return warnings.take()
}

// waitEstablished polls a CRD until its Established condition is True.
func waitEstablished(t *testing.T, ctx context.Context, c client.Client, name string) {
	t.Helper()
	g := NewWithT(t)
	g.Eventually(func(g Gomega) {
		crd := &unstructured.Unstructured{}
		crd.SetAPIVersion("apiextensions.k8s.io/v1")
		crd.SetKind("CustomResourceDefinition")
		g.Expect(c.Get(ctx, client.ObjectKey{Name: name}, crd)).To(Succeed())
		conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
		established := false
		for _, cond := range conds {
			if m, ok := cond.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
				established = true
			}
		}
		g.Expect(established).To(BeTrue(), "CRD %s is not established yet", name)
	}).WithContext(ctx).WithTimeout(30 * time.Second).WithPolling(100 * time.Millisecond).Should(Succeed())
}

// createNamespace creates a namespace that enforces the "restricted" Pod Security Standard,
// as config/default's sfconn-system does.
func createNamespace(t *testing.T, c client.Client, name string) {
	t.Helper()
	ns := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1",
		"kind":       "Namespace",
		"metadata": map[string]any{
			"name":   name,
			"labels": map[string]any{"pod-security.kubernetes.io/enforce": "restricted"},
		},
	}}
	applyAll(t, c, []*unstructured.Unstructured{ns})
}

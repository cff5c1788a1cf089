package install

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The manager's RBAC in each way to install it: what it may do follows what it is set to
// do. Listing and patching workloads and Rollouts (rollout restarts) is granted only when
// restarts are turned on.

// grant is one resource of one rule of a Role or ClusterRole.
type grant struct {
	kind, namespace, role string
	group, resource       string
	resourceNames, verbs  []string
}

func (g grant) String() string {
	return g.kind + " " + g.namespace + "/" + g.role + ": " + g.access()
}

// access is what the grant allows, without where: group/resource[names] verbs, sorted.
func (g grant) access() string {
	s := g.group + "/" + g.resource
	if len(g.resourceNames) > 0 {
		s += "[" + strings.Join(slices.Sorted(slices.Values(g.resourceNames)), ",") + "]"
	}
	return s + " " + strings.Join(slices.Sorted(slices.Values(g.verbs)), ",")
}

// grantsOf lists every resource that every Role and ClusterRole among objs grants.
func grantsOf(t *testing.T, objs []*unstructured.Unstructured) []grant {
	t.Helper()
	var out []grant
	for _, o := range objs {
		if o.GetKind() != "Role" && o.GetKind() != "ClusterRole" {
			continue
		}
		rules, _, _ := unstructured.NestedSlice(o.Object, "rules")
		for _, r := range rules {
			rule, _ := r.(map[string]any)
			strs := func(key string) []string {
				var s []string
				for _, v := range asSlice(rule[key]) {
					s = append(s, v.(string))
				}
				return s
			}
			for _, group := range strs("apiGroups") {
				for _, resource := range strs("resources") {
					out = append(out, grant{o.GetKind(), o.GetNamespace(), o.GetName(), group, resource, strs("resourceNames"), strs("verbs")})
				}
			}
		}
	}
	return out
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

// grantsOn keeps the grants on an API group, of a kind ("" for any).
func grantsOn(grants []grant, kind, group string) []grant {
	var out []grant
	for _, g := range grants {
		if (kind == "" || g.kind == kind) && g.group == group {
			out = append(out, g)
		}
	}
	return out
}

// editedConfig copies config/ into a temporary folder and replaces text in its files, as
// the comments in those files tell users to; it returns the copy's config folder. edits
// maps a file, relative to config/, to pairs of old and new text. An old text that is not
// in the file fails the test.
func editedConfig(t *testing.T, edits map[string][]string) string {
	t.Helper()
	g := NewWithT(t)
	dir := filepath.Join(t.TempDir(), "config")
	g.Expect(os.CopyFS(dir, os.DirFS(repoPath("config")))).To(Succeed())
	for file, oldNew := range edits {
		p := filepath.Join(dir, filepath.FromSlash(file))
		b, err := os.ReadFile(p)
		g.Expect(err).NotTo(HaveOccurred())
		text := string(b)
		for i := 0; i+1 < len(oldNew); i += 2 {
			g.Expect(text).To(ContainSubstring(oldNew[i]), "config/%s", file)
			text = strings.ReplaceAll(text, oldNew[i], oldNew[i+1])
		}
		g.Expect(os.WriteFile(p, []byte(text), 0o600)).To(Succeed())
	}
	return dir
}

// enableRolloutRestarts is the edit config/default/kustomization.yaml's [ROLLOUT RESTARTS]
// comment asks for.
var enableRolloutRestarts = map[string][]string{
	"default/kustomization.yaml": {"#components:\n#- ../rollout-restarts", "components:\n- ../rollout-restarts"},
}

// TestRolloutRestartsAreOffByDefault: by default nothing grants a rule on the apps group
// (Deployments, StatefulSets, DaemonSets) nor on argoproj.io (Argo Rollouts), and the
// manager runs without --enable-rollout-restarts: in config/rbac/role.yaml, the chart,
// config/default and dist/install.yaml.
func TestRolloutRestartsAreOffByDefault(t *testing.T) {
	dist, err := parseObjects(readRepoFile(t, "dist/install.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	role, err := parseObjects(readRepoFile(t, "config/rbac/role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for name, objs := range map[string][]*unstructured.Unstructured{
		"config/rbac/role.yaml":  role,
		"chart":                  render(t, "sfconn-operator", "sfconn-system"),
		"chart, watchNamespaces": render(t, "sfconn-operator", "sfconn-system", "--set", "watchNamespaces={billing,crm}"),
		"config/default":         kustomize(t, "config/default"),
		"dist/install.yaml":      dist,
	} {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			g.Expect(grantsOn(grantsOf(t, objs), "", "apps")).To(BeEmpty(), "no rule on workloads without rollout restarts")
			g.Expect(grantsOn(grantsOf(t, objs), "", "argoproj.io")).To(BeEmpty(), "no rule on Rollouts without rollout restarts")
			for _, d := range ofKind(objs, "Deployment") {
				g.Expect(args(t, d)).NotTo(ContainElement(HavePrefix("--enable-rollout-restarts")))
			}
		})
	}
}

// TestRolloutRestartsOn turns rollout restarts on in the chart and in config/default: the
// manager gets --enable-rollout-restarts and a ClusterRole, bound to it, with the rules of
// config/rollout-restarts/role.yaml; the two ways install the same objects, the API
// server takes them, and authorizes list and patch on the workloads and Rollouts, and
// nothing more on them.
func TestRolloutRestartsOn(t *testing.T) {
	g := NewWithT(t)
	chart := render(t, "sfconn", "sfconn-system", "--set", "fullnameOverride=sfconn,rolloutRestarts.enabled=true")
	kust := kustomize(t, filepath.Join(editedConfig(t, enableRolloutRestarts), "default"))

	restart, err := parseObjects(readRepoFile(t, "config/rollout-restarts/role.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	for name, objs := range map[string][]*unstructured.Unstructured{"chart": chart, "config/default with ../rollout-restarts": kust} {
		g.Expect(args(t, only(t, objs, "Deployment"))).To(ContainElement("--enable-rollout-restarts"), name)
		role := find(t, objs, "ClusterRole", "sfconn-rollout-restart-role")
		g.Expect(normalizeRules(field(t, role, "rules"))).To(Equal(normalizeRules(field(t, only(t, restart, "ClusterRole"), "rules"))), name)
		binding := find(t, objs, "ClusterRoleBinding", "sfconn-rollout-restart-rolebinding")
		g.Expect(field(t, binding, "roleRef")).To(HaveKeyWithValue("name", "sfconn-rollout-restart-role"), name)
		// The rules on workloads and Rollouts are that role's, list (for selectors) and
		// patch (the restart) only.
		for _, group := range []string{"apps", "argoproj.io"} {
			var verbs []string
			for _, gr := range grantsOn(grantsOf(t, objs), "", group) {
				g.Expect(gr.role).To(Equal("sfconn-rollout-restart-role"), "%s: %s", name, gr)
				verbs = append(verbs, gr.verbs...)
			}
			slices.Sort(verbs)
			g.Expect(slices.Compact(verbs)).To(Equal([]string{"list", "patch"}), "%s: %s", name, group)
		}
		checkWiring(t, objs)
	}
	expectSameInstall(t, chart, kust)

	c := cluster(t)
	expectNoWarnings(t, applyAll(t, c, kust))
	expectStored(t, c, kust)
	sa := "system:serviceaccount:sfconn-system:sfconn-controller-manager"
	for _, a := range []struct{ verb, group, resource string }{
		{"patch", "apps", "deployments"}, {"list", "apps", "statefulsets"}, {"patch", "apps", "daemonsets"},
		{"patch", "argoproj.io", "rollouts"}, {"list", "argoproj.io", "rollouts"},
	} {
		g.Expect(can(t, c, sa, a.verb, a.group, a.resource, "team-x", "")).To(BeTrue(), "the manager may %+v", a)
	}
	for _, a := range []struct{ verb, group, resource string }{
		{"get", "apps", "deployments"}, {"watch", "apps", "deployments"}, {"update", "apps", "deployments"},
		{"delete", "argoproj.io", "rollouts"}, {"get", "argoproj.io", "rollouts"}, {"update", "argoproj.io", "rollouts"},
		{"patch", "argoproj.io", "rollouts/status"},
	} {
		g.Expect(can(t, c, sa, a.verb, a.group, a.resource, "team-x", "")).To(BeFalse(), "the manager may not %+v", a)
	}
}

// managerAccess lists what the bindings among objs give the ServiceAccount namespace/name,
// as "where: access": where is "cluster" for a ClusterRoleBinding, else the RoleBinding's
// namespace.
func managerAccess(t *testing.T, objs []*unstructured.Unstructured, namespace, name string) []string {
	t.Helper()
	var out []string
	for _, b := range objs {
		if b.GetKind() != "ClusterRoleBinding" && b.GetKind() != "RoleBinding" {
			continue
		}
		bound := false
		for _, s := range asSlice(field(t, b, "subjects")) {
			subject, _ := s.(map[string]any)
			bound = bound || (subject["kind"] == "ServiceAccount" && subject["namespace"] == namespace && subject["name"] == name)
		}
		if !bound {
			continue
		}
		ref, _ := field(t, b, "roleRef").(map[string]any)
		where, roleNS := b.GetNamespace(), b.GetNamespace()
		if b.GetKind() == "ClusterRoleBinding" {
			where = "cluster"
		}
		if ref["kind"] == "ClusterRole" {
			roleNS = ""
		}
		role := findIn(t, objs, ref["kind"].(string), roleNS, ref["name"].(string))
		for _, g := range grantsOf(t, []*unstructured.Unstructured{role}) {
			out = append(out, where+": "+g.access())
		}
	}
	slices.Sort(out)
	return out
}

// accessFromFile lists what the roles of a file of the repository allow, in where.
func accessFromFile(t *testing.T, file, where string) []string {
	t.Helper()
	objs, err := parseObjects(readRepoFile(t, file))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, g := range grantsOf(t, objs) {
		out = append(out, where+": "+g.access())
	}
	return out
}

// wantScopedAccess is all the manager may do when it watches namespaces: the rules of
// config/rbac/role.yaml in each of them (and those of config/rollout-restarts with
// restarts), leader election, the chains of rotating refresh tokens and the approval key
// in leaseNS, and the reviews of metrics
// requests cluster-wide; nothing else, and no rule on Secrets, ConfigMaps, connections or
// workloads anywhere else.
func wantScopedAccess(t *testing.T, watched []string, leaseNS, approvalKey string, restarts bool) []string {
	t.Helper()
	var want []string
	for _, ns := range watched {
		want = append(want, accessFromFile(t, "config/rbac/role.yaml", ns)...)
		if restarts {
			want = append(want, accessFromFile(t, "config/rollout-restarts/role.yaml", ns)...)
		}
	}
	want = append(want, accessFromFile(t, "config/rbac/leader_election_role.yaml", leaseNS)...)
	want = append(want, accessFromFile(t, "config/rbac/rotation_state_role.yaml", leaseNS)...)
	want = append(want, leaseNS+": /secrets["+approvalKey+"] get", leaseNS+": /secrets create")
	want = append(want, accessFromFile(t, "config/rbac/metrics_auth_role.yaml", "cluster")...)
	slices.Sort(want)
	return want
}

// expectNoClusterRuleOnNamespacedData fails if any ClusterRole among objs has a rule on
// Secrets, ConfigMaps or workloads (apps, argoproj.io).
func expectNoClusterRuleOnNamespacedData(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	for _, g := range grantsOf(t, objs) {
		if g.kind == "ClusterRole" && (g.group == "apps" || g.group == "argoproj.io" || (g.group == "" && (g.resource == "secrets" || g.resource == "configmaps"))) {
			t.Errorf("with watched namespaces, a ClusterRole grants %s", g)
		}
	}
}

// can asks the API server whether the user may do verb on a resource in a namespace (""
// for all namespaces), as the API server's RBAC decides.
func can(t *testing.T, c client.Client, user, verb, group, resource, namespace, name string) bool {
	t.Helper()
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:   user,
		Groups: []string{"system:serviceaccounts", "system:authenticated"},
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Verb: verb, Group: group, Resource: resource, Namespace: namespace, Name: name,
		},
	}}
	if err := c.Create(t.Context(), sar); err != nil {
		t.Fatalf("SubjectAccessReview: %v", err)
	}
	return sar.Status.Allowed
}

// expectScopedAuthorization asks the API server what the applied RBAC lets the manager's
// ServiceAccount do: its work in a watched namespace, nothing in another one nor
// cluster-wide, the approval key and the chains of rotating refresh tokens in leaseNS (the
// only Secrets it may delete), and workloads only with restarts.
func expectScopedAuthorization(t *testing.T, c client.Client, sa, watched, unwatched, leaseNS, approvalKey string, restarts bool) {
	t.Helper()
	g := NewWithT(t)
	type ask struct{ verb, group, resource, namespace, name string }
	allowed := func(a ask) bool { return can(t, c, sa, a.verb, a.group, a.resource, a.namespace, a.name) }
	for _, a := range []ask{
		{"list", "", "secrets", watched, ""},
		{"update", "", "secrets", watched, "crm-token"},
		{"create", "", "configmaps", watched, ""},
		{"watch", "salesforce.sfconn.io", "salesforceconnections", watched, ""},
		{"patch", "salesforce.sfconn.io", "salesforceconnections/status", watched, "crm"},
		{"create", "events.k8s.io", "events", watched, ""},
		{"get", "", "secrets", leaseNS, approvalKey},
		{"create", "", "secrets", leaseNS, ""},
		{"update", "coordination.k8s.io", "leases", leaseNS, "sfconn-operator.salesforce.sfconn.io"},
		// The chains of rotating refresh tokens, in the manager's namespace.
		{"update", "", "secrets", leaseNS, "sfconn-chain-0123456789abcdef0123456789abcdef"},
		{"delete", "", "secrets", leaseNS, "sfconn-chain-0123456789abcdef0123456789abcdef"},
	} {
		g.Expect(allowed(a)).To(BeTrue(), "%s may %+v", sa, a)
	}
	for _, a := range []ask{
		{"list", "", "secrets", "", ""},
		{"get", "", "secrets", unwatched, "anything"},
		{"list", "", "secrets", unwatched, ""},
		{"list", "", "configmaps", "", ""},
		{"list", "salesforce.sfconn.io", "salesforceconnections", "", ""},
		{"list", "salesforce.sfconn.io", "salesforceconnections", unwatched, ""},
		{"delete", "", "secrets", watched, "crm-token"},
		// No ClusterSalesforceConnections with watched namespaces.
		{"list", "salesforce.sfconn.io", "clustersalesforceconnections", "", ""},
		{"list", "", "namespaces", "", ""},
		{"patch", "apps", "deployments", unwatched, "web"},
		{"patch", "apps", "deployments", "", ""},
		{"list", "apps", "deployments", unwatched, ""},
		{"list", "apps", "deployments", "", ""},
		{"patch", "argoproj.io", "rollouts", unwatched, "web"},
		{"list", "argoproj.io", "rollouts", "", ""},
		{"get", "apps", "deployments", watched, "web"},
		{"update", "argoproj.io", "rollouts", watched, "web"},
	} {
		g.Expect(allowed(a)).To(BeFalse(), "%s may not %+v", sa, a)
	}
	for _, a := range []ask{
		{"patch", "apps", "deployments", watched, "web"},
		{"list", "apps", "statefulsets", watched, ""},
		{"patch", "argoproj.io", "rollouts", watched, "web"},
		{"list", "argoproj.io", "rollouts", watched, ""},
	} {
		g.Expect(allowed(a)).To(Equal(restarts), "%s may %+v only with rollout restarts", sa, a)
	}
}

// TestChartWatchNamespaces renders the chart with watchNamespaces, with and without
// rollout restarts: the manager's rules are Roles in the watched namespaces, no ClusterRole
// has a rule on Secrets, ConfigMaps or workloads, and the API server, given the objects,
// authorizes the manager's ServiceAccount accordingly.
func TestChartWatchNamespaces(t *testing.T) {
	for _, restarts := range []bool{false, true} {
		t.Run(fmt.Sprintf("rolloutRestarts=%t", restarts), func(t *testing.T) {
			g := NewWithT(t)
			release := fmt.Sprintf("scoped-%t", restarts)
			ns := "helm-" + release
			objs := render(t, release, ns, "--set", fmt.Sprintf("fullnameOverride=%s,watchNamespaces={team-a,team-b},rolloutRestarts.enabled=%t", release, restarts))

			expectNoClusterRuleOnNamespacedData(t, objs)
			for _, team := range []string{"team-a", "team-b"} {
				findIn(t, objs, "Role", team, release+"-manager-role")
				findIn(t, objs, "RoleBinding", team, release+"-manager-rolebinding")
			}
			if !restarts {
				g.Expect(grantsOn(grantsOf(t, objs), "", "apps")).To(BeEmpty(), "no rule on workloads without rollout restarts")
				g.Expect(grantsOn(grantsOf(t, objs), "", "argoproj.io")).To(BeEmpty(), "no rule on Rollouts without rollout restarts")
			}
			sa := release + "-controller-manager"
			g.Expect(managerAccess(t, objs, ns, sa)).To(Equal(wantScopedAccess(t, []string{"team-a", "team-b"}, ns, "sfconn-approval-key", restarts)))
			checkWiring(t, objs)

			c := cluster(t)
			for _, n := range []string{ns, "team-a", "team-b", "team-c"} {
				createNamespace(t, c, n)
			}
			expectNoWarnings(t, applyAll(t, c, objs))
			expectStored(t, c, objs)
			expectScopedAuthorization(t, c, "system:serviceaccount:"+ns+":"+sa, "team-b", "team-c", ns, "sfconn-approval-key", restarts)
		})
	}
}

// TestChartWatchNamespacesApprovalKey: the approval key Role follows
// leaderElection.namespace and approvalKeySecret.
func TestChartWatchNamespacesApprovalKey(t *testing.T) {
	g := NewWithT(t)
	objs := render(t, "sfconn", "sfconn-system", "--set",
		"fullnameOverride=sfconn,watchNamespaces={team-a},leaderElection.namespace=sfconn-leases,approvalKeySecret=my-key")
	g.Expect(managerAccess(t, objs, "sfconn-system", "sfconn-controller-manager")).
		To(Equal(wantScopedAccess(t, []string{"team-a"}, "sfconn-leases", "my-key", false)))
}

// watchNamespacesRestarts is the edit config/watch-namespaces' [ROLLOUT RESTARTS] comment
// asks for: its patch, and the line in each namespace's directory.
var watchNamespacesRestarts = map[string][]string{
	"watch-namespaces/kustomization.yaml": {`#- target:
#    kind: Deployment
#    name: sfconn-controller-manager
#  patch: |-
#    - op: add
#      path: /spec/template/spec/containers/0/args/-
#      value: --enable-rollout-restarts`, `- target:
    kind: Deployment
    name: sfconn-controller-manager
  patch: |-
    - op: add
      path: /spec/template/spec/containers/0/args/-
      value: --enable-rollout-restarts`},
	"watch-namespaces/billing/kustomization.yaml": {"#- ../namespace-rollout-restarts", "- ../namespace-rollout-restarts"},
	"watch-namespaces/crm/kustomization.yaml":     {"#- ../namespace-rollout-restarts", "- ../namespace-rollout-restarts"},
}

// TestConfigWatchNamespaces builds config/watch-namespaces as it is (watching billing and
// crm), and with rollout restarts turned on: the same checks as the chart's, the same
// objects as the chart with the same values, and the API server takes them and authorizes
// accordingly.
func TestConfigWatchNamespaces(t *testing.T) {
	for _, restarts := range []bool{false, true} {
		t.Run(fmt.Sprintf("rollout restarts %t", restarts), func(t *testing.T) {
			g := NewWithT(t)
			dir := repoPath("config")
			if restarts {
				dir = editedConfig(t, watchNamespacesRestarts)
			}
			objs := kustomize(t, filepath.Join(dir, "watch-namespaces"))

			expectNoClusterRuleOnNamespacedData(t, objs)
			if !restarts {
				g.Expect(grantsOn(grantsOf(t, objs), "", "apps")).To(BeEmpty(), "no rule on workloads without rollout restarts")
				g.Expect(grantsOn(grantsOf(t, objs), "", "argoproj.io")).To(BeEmpty(), "no rule on Rollouts without rollout restarts")
			}
			deploy := only(t, objs, "Deployment")
			g.Expect(args(t, deploy)).To(ContainElement("--watch-namespaces=billing,crm"))
			if restarts {
				g.Expect(args(t, deploy)).To(ContainElement("--enable-rollout-restarts"))
			} else {
				g.Expect(args(t, deploy)).NotTo(ContainElement("--enable-rollout-restarts"))
			}
			g.Expect(managerAccess(t, objs, "sfconn-system", "sfconn-controller-manager")).
				To(Equal(wantScopedAccess(t, []string{"billing", "crm"}, "sfconn-system", "sfconn-approval-key", restarts)))
			checkWiring(t, objs)
			expectSameInstall(t, render(t, "sfconn", "sfconn-system", "--set",
				fmt.Sprintf("fullnameOverride=sfconn,watchNamespaces={billing,crm},rolloutRestarts.enabled=%t", restarts)), objs)

			c := cluster(t)
			for _, n := range []string{"billing", "crm", "team-c"} {
				createNamespace(t, c, n)
			}
			// Other tests installed config/default in this cluster, as a user switching to
			// this overlay would have: kubectl apply does not delete config/default's
			// cluster-wide bindings, README.md tells to delete them.
			for _, name := range []string{"sfconn-manager-rolebinding", "sfconn-rollout-restart-rolebinding", "sfconn-cluster-connection-rolebinding"} {
				crb := &unstructured.Unstructured{}
				crb.SetAPIVersion("rbac.authorization.k8s.io/v1")
				crb.SetKind("ClusterRoleBinding")
				crb.SetName(name)
				g.Expect(client.IgnoreNotFound(c.Delete(t.Context(), crb))).To(Succeed())
			}
			expectNoWarnings(t, applyAll(t, c, objs))
			expectStored(t, c, objs)
			expectScopedAuthorization(t, c, "system:serviceaccount:sfconn-system:sfconn-controller-manager",
				"crm", "team-c", "sfconn-system", "sfconn-approval-key", restarts)
		})
	}
}

// binding binds a user to a ClusterRole: cluster-wide without a namespace, else with a
// RoleBinding in it.
func binding(name, namespace, role, user string) *unstructured.Unstructured {
	kind := "ClusterRoleBinding"
	if namespace != "" {
		kind = "RoleBinding"
	}
	b := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "rbac.authorization.k8s.io/v1",
		"kind":       kind,
		"metadata":   map[string]any{"name": name},
		"roleRef":    map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
		"subjects":   []any{map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}},
	}}
	if namespace != "" {
		b.SetNamespace(namespace)
	}
	return b
}

// TestClusterConnectionAuthorization applies config/default and asks the API server what
// its roles allow about ClusterSalesforceConnections: the manager reconciles them and may
// delete a token Secret in any namespace; a platform admin bound cluster-wide to
// clustersalesforceconnection-admin-role creates them; a tenant given the roles of its
// namespace (RoleBindings), even the admin ones, cannot; and the roles that aggregate into
// the built-in admin and edit carry no rule on the cluster kind.
func TestClusterConnectionAuthorization(t *testing.T) {
	g := NewWithT(t)
	objs := kustomize(t, "config/default")
	for _, role := range ofKind(objs, "ClusterRole") {
		labels := role.GetLabels()
		aggregatedToTenants := labels["rbac.authorization.k8s.io/aggregate-to-admin"] == "true" || labels["rbac.authorization.k8s.io/aggregate-to-edit"] == "true"
		if !aggregatedToTenants {
			continue
		}
		for _, g2 := range grantsOf(t, []*unstructured.Unstructured{role}) {
			g.Expect(g2.resource).NotTo(HavePrefix("clustersalesforceconnections"), "%s aggregates into admin or edit", role.GetName())
		}
	}
	find(t, objs, "ClusterRole", "sfconn-clustersalesforceconnection-admin-role")
	g.Expect(find(t, objs, "ClusterRole", "sfconn-clustersalesforceconnection-admin-role").GetLabels()).
		NotTo(HaveKey(HavePrefix("rbac.authorization.k8s.io/aggregate-to-")), "the platform admins' role aggregates into no built-in role")

	c := cluster(t)
	createNamespace(t, c, "tenant-a")
	objs = append(objs,
		binding("platform-admin-csfconn", "", "sfconn-clustersalesforceconnection-admin-role", "platform-admin"),
		binding("tenant-csfconn-admin", "tenant-a", "sfconn-clustersalesforceconnection-admin-role", "tenant"),
		binding("tenant-sfconn-admin", "tenant-a", "sfconn-salesforceconnection-admin-role", "tenant"),
	)
	expectNoWarnings(t, applyAll(t, c, objs))

	type ask struct{ user, verb, group, resource, namespace, name string }
	manager := "system:serviceaccount:sfconn-system:sfconn-controller-manager"
	for _, a := range []ask{
		{manager, "watch", "salesforce.sfconn.io", "clustersalesforceconnections", "", ""},
		{manager, "patch", "salesforce.sfconn.io", "clustersalesforceconnections/status", "", "crm"},
		{manager, "update", "salesforce.sfconn.io", "clustersalesforceconnections/finalizers", "", "crm"},
		{manager, "list", "", "namespaces", "", ""},
		{manager, "create", "", "secrets", "tenant-a", ""},
		{manager, "delete", "", "secrets", "tenant-a", "crm-token"},
		{"platform-admin", "create", "salesforce.sfconn.io", "clustersalesforceconnections", "", ""},
		{"tenant", "create", "salesforce.sfconn.io", "salesforceconnections", "tenant-a", ""},
	} {
		g.Expect(can(t, c, a.user, a.verb, a.group, a.resource, a.namespace, a.name)).To(BeTrue(), "%+v", a)
	}
	for _, a := range []ask{
		{manager, "create", "salesforce.sfconn.io", "clustersalesforceconnections", "", ""},
		{manager, "update", "", "namespaces", "", "tenant-a"},
		{"tenant", "create", "salesforce.sfconn.io", "clustersalesforceconnections", "", ""},
		{"tenant", "list", "salesforce.sfconn.io", "clustersalesforceconnections", "", ""},
		{"tenant", "create", "salesforce.sfconn.io", "salesforceconnections", "tenant-b", ""},
	} {
		g.Expect(can(t, c, a.user, a.verb, a.group, a.resource, a.namespace, a.name)).To(BeFalse(), "%+v", a)
	}
}

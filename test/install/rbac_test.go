package install

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The manager's RBAC in each way to install it: what it may do follows what it is set to
// do. Patching workloads (rollout restarts) is granted only when restarts are turned on.

// grant is one resource of one rule of a Role or ClusterRole.
type grant struct {
	kind, namespace, role string
	group, resource       string
	verbs                 []string
}

func (g grant) String() string {
	return g.kind + " " + g.namespace + "/" + g.role + ": " + g.group + "/" + g.resource + " " + strings.Join(g.verbs, ",")
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
					out = append(out, grant{o.GetKind(), o.GetNamespace(), o.GetName(), group, resource, strs("verbs")})
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

// editedConfig copies config/ into a temporary folder and replaces text in one of its
// files, as a comment in that file tells users to; it returns the copy's config folder. An
// old text that is not in the file fails the test.
func editedConfig(t *testing.T, file string, oldNew ...string) string {
	t.Helper()
	g := NewWithT(t)
	dir := filepath.Join(t.TempDir(), "config")
	g.Expect(os.CopyFS(dir, os.DirFS(repoPath("config")))).To(Succeed())
	p := filepath.Join(dir, filepath.FromSlash(file))
	b, err := os.ReadFile(p)
	g.Expect(err).NotTo(HaveOccurred())
	text := string(b)
	for i := 0; i+1 < len(oldNew); i += 2 {
		g.Expect(text).To(ContainSubstring(oldNew[i]), "config/%s", file)
		text = strings.ReplaceAll(text, oldNew[i], oldNew[i+1])
	}
	g.Expect(os.WriteFile(p, []byte(text), 0o600)).To(Succeed())
	return dir
}

// enableRolloutRestarts is the edit config/default/kustomization.yaml's [ROLLOUT RESTARTS]
// comment asks for.
var enableRolloutRestarts = []string{"#components:\n#- ../rollout-restarts", "components:\n- ../rollout-restarts"}

// TestRolloutRestartsAreOffByDefault: by default nothing grants a rule on the apps group
// (Deployments, StatefulSets, DaemonSets), and the manager runs without
// --enable-rollout-restarts: in config/rbac/role.yaml, the chart, config/default and
// dist/install.yaml.
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
			for _, d := range ofKind(objs, "Deployment") {
				g.Expect(args(t, d)).NotTo(ContainElement(HavePrefix("--enable-rollout-restarts")))
			}
		})
	}
}

// TestRolloutRestartsOn turns rollout restarts on in the chart and in config/default: the
// manager gets --enable-rollout-restarts and a ClusterRole, bound to it, with the rule of
// config/rollout-restarts/role.yaml; the two ways install the same objects, and the API
// server takes them.
func TestRolloutRestartsOn(t *testing.T) {
	g := NewWithT(t)
	chart := render(t, "sfconn", "sfconn-system", "--set", "fullnameOverride=sfconn,rolloutRestarts.enabled=true")
	kust := kustomize(t, filepath.Join(editedConfig(t, "default/kustomization.yaml", enableRolloutRestarts...), "default"))

	restart, err := parseObjects(readRepoFile(t, "config/rollout-restarts/role.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	for name, objs := range map[string][]*unstructured.Unstructured{"chart": chart, "config/default with ../rollout-restarts": kust} {
		g.Expect(args(t, only(t, objs, "Deployment"))).To(ContainElement("--enable-rollout-restarts"), name)
		role := find(t, objs, "ClusterRole", "sfconn-rollout-restart-role")
		g.Expect(normalizeRules(field(t, role, "rules"))).To(Equal(normalizeRules(field(t, only(t, restart, "ClusterRole"), "rules"))), name)
		binding := find(t, objs, "ClusterRoleBinding", "sfconn-rollout-restart-rolebinding")
		g.Expect(field(t, binding, "roleRef")).To(HaveKeyWithValue("name", "sfconn-rollout-restart-role"), name)
		// The rule on workloads is that one, and patch only.
		var verbs []string
		for _, gr := range grantsOn(grantsOf(t, objs), "", "apps") {
			g.Expect(gr.role).To(Equal("sfconn-rollout-restart-role"), "%s: %s", name, gr)
			verbs = append(verbs, gr.verbs...)
		}
		g.Expect(slices.Compact(verbs)).To(Equal([]string{"patch"}), name)
		checkWiring(t, objs)
	}
	expectSameInstall(t, chart, kust)

	c := cluster(t)
	expectNoWarnings(t, applyAll(t, c, kust))
	expectStored(t, c, kust)
}

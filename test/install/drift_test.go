package install

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// The chart keeps copies of files in config/, since Helm reads nothing outside the chart.
// `make manifests` (through `make sync-chart`) refreshes them; these tests fail when a copy
// is stale.

// copies maps each copy in the chart to its original.
var copies = map[string]string{
	chartDir + "/files/manager-role.yaml":         "config/rbac/role.yaml",
	chartDir + "/files/rollout-restart-role.yaml": "config/rollout-restarts/role.yaml",
	chartDir + "/files/prometheus_rule.yaml":      "config/prometheus/prometheus_rule.yaml",
	chartDir + "/files/sfconn-dashboard.json":     "config/grafana/sfconn-dashboard.json",
}

const staleHint = "the chart's copy is stale: run `make manifests` (or `make sync-chart`)"

func TestChartCopiesAreCurrent(t *testing.T) {
	for cp, orig := range copies {
		t.Run(cp, func(t *testing.T) {
			g := NewWithT(t)
			want, got := readRepoFile(t, orig), readRepoFile(t, cp)
			g.Expect(parseAny(t, got)).To(Equal(parseAny(t, want)), "%s differs from %s: %s", cp, orig, staleHint)
			g.Expect(bytes.Equal(got, want)).To(BeTrue(), "%s is not byte-identical to %s: %s", cp, orig, staleHint)
		})
	}
}

// roleCopies maps each Role that `make manifests` writes for config/watch-namespaces to the
// ClusterRole it is a copy of.
var roleCopies = map[string]string{
	"config/watch-namespaces/namespace/role.yaml":                  "config/rbac/role.yaml",
	"config/watch-namespaces/namespace-rollout-restarts/role.yaml": "config/rollout-restarts/role.yaml",
}

// TestNamespacedRoleCopiesAreCurrent checks that the Roles of config/watch-namespaces are
// their ClusterRoles, but for the kind.
func TestNamespacedRoleCopiesAreCurrent(t *testing.T) {
	for cp, orig := range roleCopies {
		t.Run(cp, func(t *testing.T) {
			g := NewWithT(t)
			var want, got map[string]any
			g.Expect(yaml.Unmarshal(readRepoFile(t, orig), &want)).To(Succeed())
			g.Expect(yaml.Unmarshal(readRepoFile(t, cp), &got)).To(Succeed())
			g.Expect(want).To(HaveKeyWithValue("kind", "ClusterRole"), orig)
			g.Expect(got).To(HaveKeyWithValue("kind", "Role"), cp)
			want["kind"] = "Role"
			g.Expect(got).To(Equal(want), "%s is not %s as a Role: run `make manifests`", cp, orig)
		})
	}
}

// TestChartCRDsAreCurrent checks that the chart's files/crds holds exactly config/crd/bases.
func TestChartCRDsAreCurrent(t *testing.T) {
	g := NewWithT(t)
	names := func(dir string) []string {
		entries, err := os.ReadDir(repoPath(dir))
		g.Expect(err).NotTo(HaveOccurred())
		var out []string
		for _, e := range entries {
			if filepath.Ext(e.Name()) == ".yaml" {
				out = append(out, e.Name())
			}
		}
		slices.Sort(out)
		return out
	}
	bases, crds := names("config/crd/bases"), names(chartDir+"/files/crds")
	g.Expect(bases).NotTo(BeEmpty())
	g.Expect(crds).To(Equal(bases), "%s/files/crds must hold the files of config/crd/bases: %s", chartDir, staleHint)
	for _, name := range bases {
		want, got := readRepoFile(t, "config/crd/bases/"+name), readRepoFile(t, chartDir+"/files/crds/"+name)
		g.Expect(parseAny(t, got)).To(Equal(parseAny(t, want)), "files/crds/%s differs from config/crd/bases: %s", name, staleHint)
		g.Expect(bytes.Equal(got, want)).To(BeTrue(), "files/crds/%s is not byte-identical to config/crd/bases: %s", name, staleHint)
	}
	// Helm would install a crds/ directory itself, once, and never upgrade it.
	_, err := os.Stat(repoPath(chartDir + "/crds"))
	g.Expect(os.IsNotExist(err)).To(BeTrue(), "%s/crds must not exist: the CRDs are templates (templates/crds.yaml)", chartDir)
}

// TestRenderedChartMatchesOriginals checks what the chart renders from its copies: the
// manager's role's rules are config/rbac/role.yaml's, the rollout restart role's are
// config/rollout-restarts/role.yaml's, the PrometheusRule's groups are
// config/prometheus's, and the dashboard ConfigMap holds config/grafana's dashboard.
func TestRenderedChartMatchesOriginals(t *testing.T) {
	g := NewWithT(t)
	objs := render(t, "sfconn-all", "helm-all", "--values", valuesAll)

	var role map[string]any
	g.Expect(yaml.Unmarshal(readRepoFile(t, "config/rbac/role.yaml"), &role)).To(Succeed())
	var restartRole map[string]any
	g.Expect(yaml.Unmarshal(readRepoFile(t, "config/rollout-restarts/role.yaml"), &restartRole)).To(Succeed())
	// values-all.yaml watches billing and crm: the rules are Roles there. Without
	// watchNamespaces they are ClusterRoles.
	defaults := render(t, "sfconn-x", "helm-x", "--set", "rolloutRestarts.enabled=true")
	for _, r := range []*unstructured.Unstructured{
		findIn(t, objs, "Role", "billing", "sfconn-all-manager-role"),
		findIn(t, objs, "Role", "crm", "sfconn-all-manager-role"),
		find(t, defaults, "ClusterRole", "sfconn-x-sfconn-operator-manager-role"),
	} {
		g.Expect(normalizeRules(field(t, r, "rules"))).To(Equal(normalizeRules(role["rules"])),
			"the chart's manager %s %s must have the rules of config/rbac/role.yaml", r.GetKind(), r.GetNamespace())
		g.Expect(field(t, r, "rules")).To(HaveLen(len(role["rules"].([]any))))
	}
	for _, r := range []*unstructured.Unstructured{
		findIn(t, objs, "Role", "billing", "sfconn-all-rollout-restart-role"),
		find(t, defaults, "ClusterRole", "sfconn-x-sfconn-operator-rollout-restart-role"),
	} {
		g.Expect(normalizeRules(field(t, r, "rules"))).To(Equal(normalizeRules(restartRole["rules"])),
			"the chart's rollout restart %s must have the rules of config/rollout-restarts/role.yaml", r.GetKind())
	}

	var rule map[string]any
	g.Expect(yaml.Unmarshal(readRepoFile(t, "config/prometheus/prometheus_rule.yaml"), &rule)).To(Succeed())
	rendered := only(t, objs, "PrometheusRule")
	g.Expect(roundTrip(t, field(t, rendered, "spec"))).To(Equal(roundTrip(t, rule["spec"])),
		"the chart's PrometheusRule must have the groups of config/prometheus/prometheus_rule.yaml")

	var dashboard any
	g.Expect(json.Unmarshal(readRepoFile(t, "config/grafana/sfconn-dashboard.json"), &dashboard)).To(Succeed())
	cm := findIn(t, objs, "ConfigMap", "sfconn-monitoring", "sfconn-all-dashboard")
	data, _ := field(t, cm, "data", "sfconn-dashboard.json").(string)
	var got any
	g.Expect(json.Unmarshal([]byte(data), &got)).To(Succeed(), "the dashboard ConfigMap holds no valid JSON")
	g.Expect(got).To(Equal(dashboard), "the chart's dashboard must be config/grafana/sfconn-dashboard.json")

	g.Expect(ofKind(objs, "CustomResourceDefinition")).To(HaveLen(2))
	for _, plural := range []string{"salesforceconnections", "clustersalesforceconnections"} {
		var crd map[string]any
		g.Expect(yaml.Unmarshal(readRepoFile(t, "config/crd/bases/salesforce.sfconn.io_"+plural+".yaml"), &crd)).To(Succeed())
		rendered := find(t, objs, "CustomResourceDefinition", plural+".salesforce.sfconn.io")
		// The chart adds its labels (and the keep annotation) to the metadata; the rest is
		// the original's.
		g.Expect(roundTrip(t, rendered.Object["spec"])).To(Equal(roundTrip(t, crd["spec"])))
		g.Expect(rendered.GetAPIVersion()).To(Equal(crd["apiVersion"]))
		for k, v := range crd["metadata"].(map[string]any)["annotations"].(map[string]any) {
			g.Expect(rendered.GetAnnotations()).To(HaveKeyWithValue(k, v))
		}
	}
}

// parseAny parses YAML or JSON into plain Go values.
func parseAny(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(b, &v); err != nil {
		t.Fatalf("parse: %v", err)
	}
	return v
}

// roundTrip turns a value into its JSON form and back, so that values parsed by different
// decoders (int64 or float64 numbers) compare equal.
func roundTrip(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

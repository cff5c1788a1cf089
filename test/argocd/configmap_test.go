package argocd

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite "+configMapPath+" from the Lua scripts")

// configMapPath is the ready-to-apply argocd-cm snippet, relative to the module root.
const configMapPath = "config/argocd/argocd-cm.yaml"

const (
	healthKey = "resource.customizations.health.salesforce.sfconn.io_SalesforceConnection"
	// clusterHealthKey runs the same script for ClusterSalesforceConnection, whose status
	// has the same shape.
	clusterHealthKey = "resource.customizations.health.salesforce.sfconn.io_ClusterSalesforceConnection"
	actionsKey       = "resource.customizations.actions.salesforce.sfconn.io_SalesforceConnection"
	// clusterActionsKey runs the same discovery and renew scripts for
	// ClusterSalesforceConnection, which takes the same renewal annotation.
	clusterActionsKey = "resource.customizations.actions.salesforce.sfconn.io_ClusterSalesforceConnection"
)

// actionsConfig is the value of the actions key, as Argo CD reads it.
type actionsConfig struct {
	DiscoveryLua string `json:"discovery.lua"`
	Definitions  []struct {
		Name      string `json:"name"`
		ActionLua string `json:"action.lua"`
	} `json:"definitions"`
}

// renderConfigMap writes the argocd-cm snippet holding the scripts as YAML literal blocks.
func renderConfigMap(health, discovery, renew string) string {
	var b strings.Builder
	b.WriteString(`# Argo CD health check and "renew" action for SalesforceConnection, and the same health
# check and action for ClusterSalesforceConnection (salesforce.sfconn.io).
# Generated from config/argocd/salesforce.sfconn.io/SalesforceConnection/**/*.lua by
# "cd test && go generate ./argocd": edit the .lua files, then run it.
#
# Merge these keys into Argo CD's argocd-cm (see docs/gitops.md), for example:
#   kubectl patch configmap argocd-cm -n argocd --type merge --patch-file config/argocd/argocd-cm.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cm
  namespace: argocd
  labels:
    app.kubernetes.io/name: argocd-cm
    app.kubernetes.io/part-of: argocd
data:
`)
	b.WriteString("  " + healthKey + ": |\n")
	b.WriteString(indent(health, 4))
	b.WriteString("  " + clusterHealthKey + ": |\n")
	b.WriteString(indent(health, 4))
	for _, key := range []string{actionsKey, clusterActionsKey} {
		b.WriteString("  " + key + ": |\n")
		b.WriteString("    discovery.lua: |\n")
		b.WriteString(indent(discovery, 6))
		b.WriteString("    definitions:\n")
		b.WriteString("    - name: " + ActionRenew + "\n")
		b.WriteString("      action.lua: |\n")
		b.WriteString(indent(renew, 8))
	}
	return b.String()
}

// indent indents each non-empty line of s by n spaces; s ends with a newline.
func indent(s string, n int) string {
	pad := strings.Repeat(" ", n)
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = pad + l
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

func readScripts(t *testing.T) (health, discovery, renew string) {
	t.Helper()
	g := NewWithT(t)
	var err error
	health, err = readScript(healthScript)
	g.Expect(err).NotTo(HaveOccurred())
	discovery, err = readScript(discoveryScript)
	g.Expect(err).NotTo(HaveOccurred())
	renew, err = readScript(renewScript)
	g.Expect(err).NotTo(HaveOccurred())
	for name, s := range map[string]string{healthScript: health, discoveryScript: discovery, renewScript: renew} {
		// A YAML literal block keeps exactly one final newline and cannot hold tabs for
		// indentation or trailing spaces reliably.
		g.Expect(s).To(HaveSuffix("\n"), name)
		g.Expect(s).NotTo(HaveSuffix("\n\n"), name)
		g.Expect(s).NotTo(ContainSubstring("\t"), name)
		g.Expect(s).NotTo(MatchRegexp(`(?m) +$`), name)
	}
	return health, discovery, renew
}

// TestConfigMapMatchesScripts fails when config/argocd/argocd-cm.yaml differs from the Lua
// scripts. Run go generate ./argocd in test/ (go test -run TestConfigMapMatchesScripts -update)
// to rewrite it.
func TestConfigMapMatchesScripts(t *testing.T) {
	g := NewWithT(t)
	health, discovery, renew := readScripts(t)
	root, err := moduleRoot()
	g.Expect(err).NotTo(HaveOccurred())
	path := filepath.Join(root, filepath.FromSlash(configMapPath))
	want := renderConfigMap(health, discovery, renew)
	if *update {
		g.Expect(os.WriteFile(path, []byte(want), 0o644)).To(Succeed())
	}
	got, err := os.ReadFile(path)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(got)).To(Equal(want), "%s is out of date: run cd test && go generate ./argocd", configMapPath)

	// What Argo CD reads from it: the same text as the scripts.
	var cm corev1.ConfigMap
	g.Expect(yaml.UnmarshalStrict(got, &cm)).To(Succeed())
	g.Expect(cm.APIVersion).To(Equal("v1"))
	g.Expect(cm.Kind).To(Equal("ConfigMap"))
	g.Expect(cm.Name).To(Equal("argocd-cm"))
	g.Expect(cm.Namespace).To(Equal("argocd"))
	g.Expect(cm.Data).To(HaveLen(4))
	g.Expect(cm.Data[healthKey]).To(Equal(health))
	g.Expect(cm.Data[clusterHealthKey]).To(Equal(health))
	for _, key := range []string{actionsKey, clusterActionsKey} {
		var actions actionsConfig
		g.Expect(yaml.UnmarshalStrict([]byte(cm.Data[key]), &actions)).To(Succeed(), key)
		g.Expect(actions.DiscoveryLua).To(Equal(discovery), key)
		g.Expect(actions.Definitions).To(HaveLen(1), key)
		g.Expect(actions.Definitions[0].Name).To(Equal(ActionRenew), key)
		g.Expect(actions.Definitions[0].ActionLua).To(Equal(renew), key)
	}
}

// TestScriptsFromConfigMapRun runs the scripts as installed from argocd-cm, in case the
// YAML changed them in a way the text comparison above would not show.
func TestScriptsFromConfigMapRun(t *testing.T) {
	g := NewWithT(t)
	root, err := moduleRoot()
	g.Expect(err).NotTo(HaveOccurred())
	b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(configMapPath)))
	g.Expect(err).NotTo(HaveOccurred())
	var cm corev1.ConfigMap
	g.Expect(yaml.Unmarshal(b, &cm)).To(Succeed())
	for _, tc := range []struct {
		healthKey, actionsKey string
		obj                   map[string]any
	}{
		{healthKey, actionsKey, toObject(t, readyConnection())},
		{clusterHealthKey, clusterActionsKey, clusterObject(t, readyClusterConnection())},
	} {
		var actions actionsConfig
		g.Expect(yaml.Unmarshal([]byte(cm.Data[tc.actionsKey]), &actions)).To(Succeed())
		g.Expect(actions.Definitions).NotTo(BeEmpty(), tc.actionsKey)

		out, err := run(cm.Data[tc.healthKey], tc.obj, fixedNow)
		g.Expect(err).NotTo(HaveOccurred())
		st, err := healthStatus(out)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(st.Status).To(Equal(Healthy), tc.healthKey)

		out, err = run(actions.DiscoveryLua, tc.obj, fixedNow)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(out).To(HaveKey(ActionRenew), tc.actionsKey)

		out, err = run(actions.Definitions[0].ActionLua, tc.obj, fixedNow)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(out).To(HaveKeyWithValue("metadata", HaveKeyWithValue("annotations",
			HaveKeyWithValue("reconcile.fluxcd.io/requestedAt", "2026-11-25T09:00:00Z"))), tc.actionsKey)
		g.Expect(out).To(HaveKeyWithValue("kind", tc.obj["kind"]), tc.actionsKey)
	}
}

package install

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/yaml"
)

// valueBlocks are the values whose content is passed to Kubernetes as it is; the docs
// list them as one row each.
var valueBlocks = []string{"podSecurityContext", "securityContext", "resources", "serviceMonitor.tlsConfig"}

// TestValuesAreDocumented checks that docs/install.md's values table has one row for each
// value of the chart's values.yaml, and no row for a value that does not exist.
func TestValuesAreDocumented(t *testing.T) {
	g := NewWithT(t)
	var values map[string]any
	g.Expect(yaml.Unmarshal(readRepoFile(t, chartDir+"/values.yaml"), &values)).To(Succeed())
	var keys []string
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			path := prefix + k
			if sub, ok := v.(map[string]any); ok && len(sub) > 0 && !slices.Contains(valueBlocks, path) {
				walk(path+".", sub)
				continue
			}
			keys = append(keys, path)
		}
	}
	walk("", values)

	doc := string(readRepoFile(t, "docs/install.md"))
	start := strings.Index(doc, "### Values")
	g.Expect(start).To(BeNumerically(">=", 0), "docs/install.md has no ### Values section")
	section := doc[start:]
	if end := strings.Index(section[1:], "\n#"); end >= 0 {
		section = section[:end+1]
	}
	var rows []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([^`]+)` \\|").FindAllStringSubmatch(section, -1) {
		rows = append(rows, m[1])
	}
	g.Expect(rows).To(ConsistOf(keys), "docs/install.md's values table must list exactly the values of %s/values.yaml", chartDir)
}

package install

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/Masterminds/semver/v3"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/yaml"
)

// The supported Kubernetes range is stated in four places: the Makefile pins the oldest
// (K8S_VERSION_MIN) and newest (K8S_VERSION) versions CI tests, the chart's kubeVersion
// makes helm refuse older clusters, and docs/install.md tells users. A bump in one place
// only would leave a promise nothing tests, so these tests fail until all agree.

// k8sVersion is a Kubernetes patch version such as 1.34.4.
type k8sVersion struct{ major, minor, patch int }

func (v k8sVersion) minorString() string { return fmt.Sprintf("%d.%d", v.major, v.minor) }
func (v k8sVersion) String() string      { return fmt.Sprintf("%d.%d.%d", v.major, v.minor, v.patch) }

var patchVersion = regexp.MustCompile(`^(\d+)\.(\d+)\.(\d+)$`)

func parseK8sVersion(t *testing.T, where, s string) k8sVersion {
	t.Helper()
	m := patchVersion.FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("%s: %q is not a Kubernetes version like 1.34.4", where, s)
	}
	n := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
	return k8sVersion{n(1), n(2), n(3)}
}

// makeVar is the default of a `NAME ?= value` line of the Makefile.
func makeVar(t *testing.T, name string) string {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `[ \t]*\?=[ \t]*(\S+)[ \t]*$`)
	m := re.FindSubmatch(readRepoFile(t, "Makefile"))
	if m == nil {
		t.Fatalf("the Makefile has no %s ?= line", name)
	}
	return string(m[1])
}

// supportedRange is the oldest and the newest Kubernetes versions the Makefile tests.
func supportedRange(t *testing.T) (oldest, newest k8sVersion) {
	t.Helper()
	oldest = parseK8sVersion(t, "Makefile K8S_VERSION_MIN", makeVar(t, "K8S_VERSION_MIN"))
	newest = parseK8sVersion(t, "Makefile K8S_VERSION", makeVar(t, "K8S_VERSION"))
	if oldest.major != newest.major || oldest.minor >= newest.minor {
		t.Fatalf("Makefile: K8S_VERSION_MIN %s must be an older minor than K8S_VERSION %s, or CI tests one minor only", oldest, newest)
	}
	return oldest, newest
}

// chartKubeVersion is the constraint the chart must carry for the oldest supported minor.
// The -0 admits pre-release-looking vendor versions (v1.34.2-eks-..., v1.34.1-gke.100),
// which semver would otherwise order before 1.34.0 and refuse.
func chartKubeVersion(oldest k8sVersion) string {
	return fmt.Sprintf(">= %s.0-0", oldest.minorString())
}

func TestChartKubeVersionMatchesMakefile(t *testing.T) {
	g := NewWithT(t)
	oldest, _ := supportedRange(t)
	var chart struct {
		KubeVersion string `json:"kubeVersion"`
	}
	g.Expect(yaml.Unmarshal(readRepoFile(t, chartDir+"/Chart.yaml"), &chart)).To(Succeed())
	g.Expect(chart.KubeVersion).To(Equal(chartKubeVersion(oldest)),
		"Chart.yaml kubeVersion must admit Kubernetes %s (the Makefile's K8S_VERSION_MIN) and later, vendor builds included", oldest.minorString())
}

// TestChartKubeVersionAdmitsVendorBuilds checks the constraint as helm install does against
// a cluster: with Masterminds semver, on the server's whole gitVersion, suffix included.
func TestChartKubeVersionAdmitsVendorBuilds(t *testing.T) {
	oldest, newest := supportedRange(t)
	var chart struct {
		KubeVersion string `json:"kubeVersion"`
	}
	if err := yaml.Unmarshal(readRepoFile(t, chartDir+"/Chart.yaml"), &chart); err != nil {
		t.Fatal(err)
	}
	constraint, err := semver.NewConstraint(chart.KubeVersion)
	if err != nil {
		t.Fatalf("Chart.yaml kubeVersion %q: %v", chart.KubeVersion, err)
	}
	for _, tc := range []struct {
		gitVersion string
		ok         bool
	}{
		{fmt.Sprintf("v%d.%d.0", oldest.major, oldest.minor), true},
		{fmt.Sprintf("v%s-eks-4f7d2a1", oldest), true},
		{fmt.Sprintf("v%s-gke.1200000", oldest), true},
		{fmt.Sprintf("v%s+k3s1", newest), true},
		{fmt.Sprintf("v%d.%d.99-eks-4f7d2a1", oldest.major, oldest.minor-1), false},
	} {
		if got := constraint.Check(semver.MustParse(tc.gitVersion)); got != tc.ok {
			t.Errorf("kubeVersion %q admits Kubernetes %s: %v, want %v", chart.KubeVersion, tc.gitVersion, got, tc.ok)
		}
	}
}

// TestChartRefusesOlderKubernetes renders the chart for cluster versions around the
// minimum, so a constraint that helm reads differently from how it looks fails here rather
// than on a user's cluster. helm template drops the suffix of --kube-version, so vendor
// builds are checked in TestChartKubeVersionAdmitsVendorBuilds instead.
func TestChartRefusesOlderKubernetes(t *testing.T) {
	oldest, newest := supportedRange(t)
	for _, tc := range []struct {
		kube string
		ok   bool
	}{
		{fmt.Sprintf("v%d.%d.0", oldest.major, oldest.minor), true},
		{fmt.Sprintf("v%s", newest), true},
		{fmt.Sprintf("v%d.%d.99", oldest.major, oldest.minor-1), false},
	} {
		t.Run(tc.kube, func(t *testing.T) {
			t.Parallel()
			out, err := helm(t, "template", "sfconn-operator", chartDir, "--namespace", "sfconn-system", "--kube-version", tc.kube)
			if tc.ok {
				if err != nil {
					t.Fatalf("helm template refused Kubernetes %s, which is supported: %v", tc.kube, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("helm template accepted Kubernetes %s, older than the oldest supported %s", tc.kube, oldest.minorString())
			}
			if !strings.Contains(err.Error()+out, "kubeVersion") {
				t.Fatalf("helm template refused Kubernetes %s, but not for its kubeVersion: %v", tc.kube, err)
			}
		})
	}
}

// installSupportSection is the "Supported Kubernetes versions" section of docs/install.md.
func installSupportSection(t *testing.T) string {
	t.Helper()
	doc := string(readRepoFile(t, "docs/install.md"))
	_, rest, ok := strings.Cut(doc, "\n## Supported Kubernetes versions\n")
	if !ok {
		t.Fatal(`docs/install.md has no "## Supported Kubernetes versions" section`)
	}
	if end := strings.Index(rest, "\n## "); end >= 0 {
		rest = rest[:end]
	}
	return rest
}

var minorMention = regexp.MustCompile(`\b1\.(\d+)(\.\d+)?\b`)

func TestInstallDocStatesSupportedRange(t *testing.T) {
	g := NewWithT(t)
	oldest, newest := supportedRange(t)
	section := installSupportSection(t)

	g.Expect(section).To(ContainSubstring("Kubernetes %s and later", oldest.minorString()), "the supported range")
	g.Expect(section).To(ContainSubstring(`kubeVersion: "%s"`, chartKubeVersion(oldest)), "the chart's constraint")
	g.Expect(section).To(ContainSubstring(oldest.String()), "the oldest version CI tests (K8S_VERSION_MIN)")
	g.Expect(section).To(ContainSubstring(newest.String()), "the newest version CI tests (K8S_VERSION)")
	g.Expect(section).To(ContainSubstring("K8S_VERSION_MIN"), "how to test the oldest version")

	// Every version the section names lies in the range, so a minor left behind by a bump
	// shows up here. Versions outside the range appear only where the section says they are
	// refused, written as "older than".
	for _, m := range minorMention.FindAllStringSubmatch(section, -1) {
		minor, _ := strconv.Atoi(m[1])
		if minor >= oldest.minor && minor <= newest.minor {
			continue
		}
		if minor == oldest.minor-1 && strings.Contains(section, "older than "+m[0]) {
			continue
		}
		t.Errorf("docs/install.md names Kubernetes %s, outside the supported %s to %s", m[0], oldest.minorString(), newest.minorString())
	}
}

// TestControlPlaneVersionsFollowMakefile checks the places that name a control plane
// version outside the Makefile: the defaults of the hack/ scripts (used when run by hand)
// and the bin/k8s/<version> paths in the docs' commands.
func TestControlPlaneVersionsFollowMakefile(t *testing.T) {
	oldest, newest := supportedRange(t)
	known := map[string]bool{oldest.String(): true, newest.String(): true}

	for _, script := range []string{"hack/control-plane.sh", "hack/demo.sh"} {
		text := string(readRepoFile(t, script))
		for _, m := range regexp.MustCompile(`(?:K8S_VERSION:-|bin/k8s/)(\d+\.\d+\.\d+)`).FindAllStringSubmatch(text, -1) {
			if m[1] != newest.String() {
				t.Errorf("%s defaults to Kubernetes %s; the Makefile's K8S_VERSION is %s", script, m[1], newest)
			}
		}
	}

	paths := regexp.MustCompile(`bin/k8s/(\d+\.\d+\.\d+)`)
	for _, doc := range markdownFiles(t) {
		for _, m := range paths.FindAllStringSubmatch(string(readRepoFile(t, doc)), -1) {
			if !known[m[1]] {
				t.Errorf("%s runs the control plane of Kubernetes %s, which the Makefile does not build (K8S_VERSION %s, K8S_VERSION_MIN %s)", doc, m[1], newest, oldest)
			}
		}
	}
}

// markdownFiles is README.md and every Markdown file under docs/, relative to the root.
func markdownFiles(t *testing.T) []string {
	t.Helper()
	files := []string{"README.md"}
	err := filepath.WalkDir(repoPath("docs"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) != ".md" {
			return err
		}
		rel, err := filepath.Rel(root, p)
		files = append(files, filepath.ToSlash(rel))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

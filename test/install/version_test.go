package install

import (
	"regexp"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/yaml"
)

// semverPattern is what the VERSION file must hold: the chart's version is SemVer without a v.
var semverPattern = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$`)

// releaseVersion is the VERSION file, the one source of the version.
func releaseVersion(t *testing.T) string {
	t.Helper()
	v := strings.TrimSpace(string(readRepoFile(t, "VERSION")))
	if !semverPattern.MatchString(v) {
		t.Fatalf("VERSION %q is not SemVer without a v", v)
	}
	return v
}

// makeVariable is the value of NAME ?= VALUE or NAME := VALUE in the Makefile.
func makeVariable(t *testing.T, name string) string {
	t.Helper()
	for _, line := range strings.Split(string(readRepoFile(t, "Makefile")), "\n") {
		for _, op := range []string{" ?=", " :="} {
			if rest, ok := strings.CutPrefix(line, name+op); ok {
				return strings.TrimSpace(rest)
			}
		}
	}
	t.Fatalf("no %s ?= or := in the Makefile", name)
	return ""
}

// defaultImage is the image a release of VERSION pushes: the Makefile's IMG_REPO, tagged
// v followed by VERSION.
func defaultImage(t *testing.T) string {
	t.Helper()
	return makeVariable(t, "IMG_REPO") + ":v" + releaseVersion(t)
}

// TestVersionSources checks that everything make version-sync writes agrees with VERSION,
// as make verify does by regenerating them; this says which one drifted.
func TestVersionSources(t *testing.T) {
	g := NewWithT(t)
	v := releaseVersion(t)
	g.Expect(makeVariable(t, "TAG")).To(Equal("v$(VERSION)"))
	g.Expect(makeVariable(t, "IMG")).To(Equal("$(IMG_REPO):$(TAG)"), "the default image is tagged with VERSION")

	var chart struct{ Version, AppVersion string }
	g.Expect(yaml.Unmarshal(readRepoFile(t, chartDir+"/Chart.yaml"), &chart)).To(Succeed())
	g.Expect(chart.Version).To(Equal(v), "Chart.yaml version: run make version-sync")
	g.Expect(chart.AppVersion).To(Equal("v"+v), "Chart.yaml appVersion: run make version-sync")

	var kustomization struct {
		Images []struct{ Name, NewName, NewTag string } `json:"images"`
	}
	g.Expect(yaml.Unmarshal(readRepoFile(t, "config/manager/kustomization.yaml"), &kustomization)).To(Succeed())
	g.Expect(kustomization.Images).To(HaveLen(1))
	g.Expect(kustomization.Images[0].NewName+":"+kustomization.Images[0].NewTag).To(Equal(defaultImage(t)),
		"config/manager's image: run make version-sync")
}

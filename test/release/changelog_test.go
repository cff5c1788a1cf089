package release

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var (
	h2            = regexp.MustCompile(`(?m)^## (.*)$`)
	h3            = regexp.MustCompile(`(?m)^### (.*)$`)
	releaseH2     = regexp.MustCompile(`^\[(\d+)\.(\d+)\.(\d+)(-[0-9A-Za-z.-]+)?\] - (\d{4}-\d{2}-\d{2})$`)
	linkDef       = regexp.MustCompile(`(?m)^\[([^\]]+)\]: (https://\S+)$`)
	upgradeToH2   = regexp.MustCompile(`(?m)^## To (\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)\b`)
	changeSection = []string{"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}
)

type release struct {
	version string
	major   [3]int
	date    string
}

// changelogReleases checks CHANGELOG.md's layout (Keep a Changelog 1.1.0) and returns its
// releases, newest first.
func changelogReleases(t *testing.T) []release {
	t.Helper()
	text := string(readRepoFile(t, "CHANGELOG.md"))
	headings := h2.FindAllStringSubmatch(text, -1)
	if len(headings) == 0 || headings[0][1] != "[Unreleased]" {
		t.Fatalf("CHANGELOG.md: the first section must be ## [Unreleased], got %v", headings)
	}
	links := map[string]string{}
	for _, m := range linkDef.FindAllStringSubmatch(text, -1) {
		links[m[1]] = m[2]
	}
	if !strings.HasPrefix(links["Unreleased"], "https://github.com/sfconn/sfconn-operator/compare/") {
		t.Errorf("CHANGELOG.md: [Unreleased] links to %q, want a compare URL of the repository", links["Unreleased"])
	}
	var out []release
	for _, h := range headings[1:] {
		m := releaseH2.FindStringSubmatch(h[1])
		if m == nil {
			t.Errorf("CHANGELOG.md: ## %s: want ## [X.Y.Z] - YYYY-MM-DD", h[1])
			continue
		}
		var r release
		r.version = strings.TrimSuffix(strings.TrimPrefix(strings.Fields(h[1])[0], "["), "]")
		for i := range 3 {
			r.major[i], _ = strconv.Atoi(m[i+1])
		}
		r.date = m[5]
		if !strings.Contains(links[r.version], "/v"+r.version) {
			t.Errorf("CHANGELOG.md: [%s] has no link definition to its tag v%s, got %q", r.version, r.version, links[r.version])
		}
		out = append(out, r)
	}
	for i := 1; i < len(out); i++ {
		if slices.Compare(out[i-1].major[:], out[i].major[:]) <= 0 || out[i-1].date < out[i].date {
			t.Errorf("CHANGELOG.md: %s (%s) is listed before %s (%s): newest first", out[i-1].version, out[i-1].date, out[i].version, out[i].date)
		}
	}
	for _, m := range h3.FindAllStringSubmatch(text, -1) {
		if !slices.Contains(changeSection, m[1]) {
			t.Errorf("CHANGELOG.md: ### %s: the kinds of change are %v", m[1], changeSection)
		}
	}
	return out
}

func TestChangelog(t *testing.T) {
	if rs := changelogReleases(t); len(rs) == 0 {
		t.Error("CHANGELOG.md lists no release")
	}
}

// TestUpgradeNotesForEveryRelease: docs/upgrading.md has a section ## To X.Y.Z for each
// release of CHANGELOG.md, and none for a release it does not list.
func TestUpgradeNotesForEveryRelease(t *testing.T) {
	var want []string
	for _, r := range changelogReleases(t) {
		want = append(want, r.version)
	}
	var got []string
	for _, m := range upgradeToH2.FindAllStringSubmatch(string(readRepoFile(t, "docs/upgrading.md")), -1) {
		got = append(got, m[1])
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("docs/upgrading.md has sections ## To %v, want one for each release of CHANGELOG.md, newest first: %v", got, want)
	}
}

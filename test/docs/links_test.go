package docs

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// Checks of the docs that need no API server: troubleshooting.md has a section for each
// condition reason, and every relative link of README.md and docs/ leads to a file that
// exists, and to a heading that exists in it.

var (
	reasonConst  = regexp.MustCompile(`(?m)^\s*Reason\w+\s*=\s*"(\w+)"`)
	heading      = regexp.MustCompile(`^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$`)
	htmlAnchor   = regexp.MustCompile(`<a\s+(?:id|name)="([^"]+)"`)
	mdLink       = regexp.MustCompile(`!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)`)
	inlineCode   = regexp.MustCompile("`+[^`]*`+")
	linkInText   = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)
	schemePrefix = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)
)

// TestTroubleshootingCoversEveryReason: each reason constant of api/v1alpha1/conditions.go
// has a heading in docs/troubleshooting.md whose anchor is the reason in lowercase, and
// so do the events and errors that belong to no condition.
func TestTroubleshootingCoversEveryReason(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(repoRoot, "api", "v1alpha1", "conditions.go"))
	if err != nil {
		t.Fatal(err)
	}
	anchors := anchorsOf(t, "docs/troubleshooting.md")
	want := []string{"rolloutrestartfailed", "rolloutrestarttruncated", "revocationfailed", "template-errors", "tokenrejected", "sessiontimeoutmismatch"}
	matches := reasonConst.FindAllStringSubmatch(string(src), -1)
	if len(matches) < 10 {
		t.Fatalf("found only %d reasons in conditions.go: has its layout changed?", len(matches))
	}
	for _, m := range matches {
		want = append(want, strings.ToLower(m[1]))
	}
	for _, a := range want {
		if !anchors[a] {
			t.Errorf("docs/troubleshooting.md has no section #%s", a)
		}
	}
}

// TestLinks: relative links resolve to files of the repository, and their #fragments to
// headings of the Markdown file they point to.
func TestLinks(t *testing.T) {
	anchorCache := map[string]map[string]bool{}
	for _, f := range markdownFiles(t) {
		text, err := os.ReadFile(filepath.Join(repoRoot, filepath.FromSlash(f)))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range links(string(text)) {
			target, fragment, _ := strings.Cut(l.url, "#")
			if schemePrefix.MatchString(target) || strings.HasPrefix(l.url, "//") {
				continue // http(s), mailto: not checked here
			}
			file := f
			if target != "" {
				file = path.Clean(path.Join(path.Dir(f), target))
				if strings.HasPrefix(file, "../") {
					t.Errorf("%s:%d: link %q leaves the repository", f, l.line, l.url)
					continue
				}
				if _, err := os.Stat(filepath.Join(repoRoot, filepath.FromSlash(file))); err != nil {
					t.Errorf("%s:%d: link %q: no file %s", f, l.line, l.url, file)
					continue
				}
			}
			if fragment == "" || !strings.HasSuffix(file, ".md") {
				continue
			}
			anchors, ok := anchorCache[file]
			if !ok {
				anchors = anchorsOf(t, file)
				anchorCache[file] = anchors
			}
			if !anchors[fragment] {
				t.Errorf("%s:%d: link %q: %s has no heading #%s", f, l.line, l.url, file, fragment)
			}
		}
	}
}

type link struct {
	url  string
	line int
}

// links returns the Markdown links of a text, outside code blocks and code spans.
func links(markdown string) []link {
	var out []link
	fence := ""
	for i, line := range strings.Split(markdown, "\n") {
		if _, open, _, ok := openingFence(line); ok {
			switch {
			case fence == "":
				fence = open
				continue
			case isClosingFence(line, fence):
				fence = ""
				continue
			}
		}
		if fence != "" {
			continue
		}
		for _, m := range mdLink.FindAllStringSubmatch(inlineCode.ReplaceAllString(line, ""), -1) {
			out = append(out, link{url: m[1], line: i + 1})
		}
	}
	return out
}

// anchorsOf returns the anchors of a Markdown file's headings, as GitHub makes them, and
// of its HTML anchors.
func anchorsOf(t *testing.T, file string) map[string]bool {
	t.Helper()
	text, err := os.ReadFile(filepath.Join(repoRoot, filepath.FromSlash(file)))
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	seen := map[string]int{}
	fence := ""
	for _, line := range strings.Split(string(text), "\n") {
		if _, open, _, ok := openingFence(line); ok {
			switch {
			case fence == "":
				fence = open
				continue
			case isClosingFence(line, fence):
				fence = ""
				continue
			}
		}
		if fence != "" {
			continue
		}
		for _, m := range htmlAnchor.FindAllStringSubmatch(line, -1) {
			anchors[m[1]] = true
		}
		m := heading.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		slug := slugify(m[2])
		if n := seen[slug]; n > 0 {
			anchors[fmt.Sprintf("%s-%d", slug, n)] = true
		} else {
			anchors[slug] = true
		}
		seen[slug]++
	}
	return anchors
}

// slugify makes a heading's anchor the way GitHub does: the text as rendered, in lower
// case, without punctuation other than '-' and '_', with each space made a '-'.
func slugify(h string) string {
	h = linkInText.ReplaceAllString(h, "$1")
	h = strings.NewReplacer("`", "", "**", "", "<", "", ">", "").Replace(h)
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.Is(unicode.Mn, r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

func TestSlugify(t *testing.T) {
	for in, want := range map[string]string{
		"Ready=True, but renewal is failing":                                          "readytrue-but-renewal-is-failing",
		"`login host \"...\" is not allowed by the operator's --allowed-login-hosts`": "login-host--is-not-allowed-by-the-operators---allowed-login-hosts",
		"Workloads get 401 INVALID_SESSION_ID while the connection is Ready":          "workloads-get-401-invalid_session_id-while-the-connection-is-ready",
		"Shape the Secret for your library: `spec.tokenSecret.template`":              "shape-the-secret-for-your-library-spectokensecrettemplate",
		"1. Set up Salesforce":                             "1-set-up-salesforce",
		"With [Helm](https://helm.sh)":                     "with-helm",
		"With dist/install.yaml":                           "with-distinstallyaml",
		"`manager-role` (ClusterRole, bound cluster-wide)": "manager-role-clusterrole-bound-cluster-wide",
		"Salesforce's answer sends workloads elsewhere":    "salesforces-answer-sends-workloads-elsewhere",
		"With kubectl apply -k":                            "with-kubectl-apply--k",
		"Déjà vu":                                          "déjà-vu",
		"**Bold** heading":                                 "bold-heading",
		"kubectl sfconn status":                            "kubectl-sfconn-status",
		"Share one refresh token, unless it rotates":       "share-one-refresh-token-unless-it-rotates",
		"`Secret \"...\" is managed by the operator and cannot be used as credentials`": "secret--is-managed-by-the-operator-and-cannot-be-used-as-credentials",
	} {
		if got := slugify(in); got != want {
			t.Errorf("slugify(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLinksOutsideCode(t *testing.T) {
	md := "See [a](a.md#x) and `[b](b.md)`.\n```md\n[c](c.md)\n```\n![img](i.svg \"title\") [d](<d.md>)\n" +
		"```` ```yaml ```` is code\n[e](e.md)\n"
	got := fmt.Sprint(links(md))
	if want := "[{a.md#x 1} {i.svg 5} {d.md 5} {e.md 7}]"; got != want {
		t.Errorf("links = %s, want %s", got, want)
	}
}

package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The README is a landing page: what sfconn is, the two commands, installing a release,
// one example and links. Reference material lives once in docs/; these checks keep the
// README from growing back into a copy of it.

// readmeLimit is the README's hard size limit; the aim is under 10 KB.
const readmeLimit = 12 * 1024

// firstScreen is how many lines a reader sees without scrolling.
const firstScreen = 40

func TestReadmeIsALandingPage(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) > readmeLimit {
		t.Errorf("README.md is %d bytes, over %d: move reference material to docs/ and link to it", len(raw), readmeLimit)
	}
	lines := strings.Split(string(raw), "\n")
	screen := strings.Join(lines[:min(firstScreen, len(lines))], "\n")
	for _, cmd := range []string{"make demo", "make test"} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(cmd) + `\s+#`).MatchString(screen) {
			t.Errorf("the first %d lines of README.md do not give %q as a command with its comment", firstScreen, cmd)
		}
	}
	for _, want := range []string{
		"oci://ghcr.io/sfconn/charts/sfconn-operator",
		"releases/download/vX.Y.Z/install.yaml",
		"docs/install.md#supported-kubernetes-versions",
		"kind: SalesforceConnection",
		"secretName:",
		"docs/api-reference.md",
		"docs/conditions-and-events.md",
	} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("README.md does not contain %q", want)
		}
	}
}

// flagDef finds the manager's flag definitions: flag.StringVar(&x, "name", ...).
var flagDef = regexp.MustCompile(`flag\.\w+\(&?[\w.]+,\s*"([a-z0-9-]+)"`)

// TestManagerFlagsDocumented: every flag of cmd/manager has a row in docs/manager-flags.md,
// and every row names a flag that exists, so the table cannot drift from the code.
func TestManagerFlagsDocumented(t *testing.T) {
	var flags []string
	files, err := filepath.Glob(filepath.Join(repoRoot, "cmd", "manager", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range flagDef.FindAllStringSubmatch(string(src), -1) {
			flags = append(flags, m[1])
		}
	}
	if len(flags) < 15 {
		t.Fatalf("found %d flags in cmd/manager: has the way flags are defined changed?", len(flags))
	}
	page, err := os.ReadFile(filepath.Join(repoRoot, "docs", "manager-flags.md"))
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for _, m := range regexp.MustCompile("(?m)^\\| `--([a-z0-9-]+)`(?:, `--([a-z0-9-]+)`)?").FindAllStringSubmatch(string(page), -1) {
		documented = append(documented, m[1])
		if m[2] != "" {
			documented = append(documented, m[2])
		}
	}
	for _, f := range flags {
		if !slices.Contains(documented, f) {
			t.Errorf("flag --%s of cmd/manager has no row in docs/manager-flags.md", f)
		}
	}
	// kubeconfig and the zap flags come from controller-runtime, not from cmd/manager.
	for _, d := range documented {
		if !slices.Contains(flags, d) && d != "kubeconfig" && !strings.HasPrefix(d, "zap-") {
			t.Errorf("docs/manager-flags.md documents --%s, which cmd/manager does not define", d)
		}
	}
}

// Package release checks what GitHub alone would run: the workflows in .github/workflows,
// and the files a release publishes from (CHANGELOG.md, docs/upgrading.md). Nothing here can
// run GitHub Actions; actionlint (make actionlint) checks the workflows against GitHub's
// schema, and these tests check the shape that matters to us: a release starts only from a
// v* tag, every action is pinned by commit, every job says what it may do, the steps call
// make targets that exist.
//
//	go test -C test ./release/...
//
// TestPluginDist builds the plugin with make and takes a minute; -short skips it.
package release

import (
	"fmt"
	"go/version"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// repoRoot is the repository, seen from this package's directory.
const repoRoot = "../.."

func readRepoFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, filepath.FromSlash(p)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// workflow is what the tests read of a workflow file. yaml.v3 reads YAML 1.2, where `on` is
// a string and not, as in YAML 1.1, the boolean true.
type workflow struct {
	file        string
	On          yaml.Node      `yaml:"on"`
	Permissions yaml.Node      `yaml:"permissions"` // Kind 0 when absent
	Jobs        map[string]job `yaml:"jobs"`
}

type job struct {
	Permissions    yaml.Node `yaml:"permissions"` // Kind 0 when absent
	TimeoutMinutes int       `yaml:"timeout-minutes"`
	Uses           string    `yaml:"uses"` // a reusable workflow
	Steps          []step    `yaml:"steps"`
}

type step struct {
	Name string            `yaml:"name"`
	Uses string            `yaml:"uses"`
	Run  string            `yaml:"run"`
	With map[string]string `yaml:"with"`
}

func workflowFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot, ".github", "workflows", "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no files in .github/workflows")
	}
	return files
}

func readWorkflow(t *testing.T, name string) workflow {
	t.Helper()
	w := workflow{file: name}
	if err := yaml.Unmarshal(readRepoFile(t, ".github/workflows/"+name), &w); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if len(w.Jobs) == 0 {
		t.Fatalf("%s has no jobs", name)
	}
	return w
}

// decode turns a node into plain values (maps, lists, strings), to compare it with a want.
func decode(t *testing.T, n *yaml.Node) any {
	t.Helper()
	var v any
	if err := n.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestWorkflowFilesAreYAML(t *testing.T) {
	for _, f := range workflowFiles(t) {
		if ext := filepath.Ext(f); ext != ".yaml" {
			t.Errorf("%s: name workflows *.yaml, as the rest of the repository", f)
		}
	}
}

func TestReleaseStartsFromVersionTagsOnly(t *testing.T) {
	w := readWorkflow(t, "release.yaml")
	got := fmt.Sprint(decode(t, &w.On))
	if want := "map[push:map[tags:[v*]]]"; got != want {
		t.Errorf("release.yaml: on = %s, want %s: a release starts from a pushed v* tag and from nothing else", got, want)
	}
}

func TestCIRunsOnPullRequestsAndMain(t *testing.T) {
	w := readWorkflow(t, "ci.yaml")
	on, ok := decode(t, &w.On).(map[string]any)
	if !ok {
		t.Fatalf("ci.yaml: on is not a map: %v", decode(t, &w.On))
	}
	if _, ok := on["pull_request"]; !ok {
		t.Error("ci.yaml does not run on pull_request")
	}
	if got := fmt.Sprint(on["push"]); got != "map[branches:[main]]" {
		t.Errorf("ci.yaml: on.push = %s, want branches [main]", got)
	}
	runs := func(cmd string) (string, job) {
		for name, j := range w.Jobs {
			for _, s := range j.Steps {
				if slices.Contains(strings.Fields(s.Run), cmd) {
					return name, j
				}
			}
		}
		return "", job{}
	}
	if name, j := runs(".ci/run"); name == "" {
		t.Error("no job of ci.yaml runs .ci/run")
	} else if j.TimeoutMinutes != 90 {
		t.Errorf("ci.yaml: job %s runs .ci/run with timeout-minutes %d, want 90", name, j.TimeoutMinutes)
	}
	for _, target := range []string{"lint", "actionlint"} {
		found := false
		for _, j := range w.Jobs {
			for _, s := range j.Steps {
				found = found || slices.Contains(makeTargets(s.Run), target)
			}
		}
		if !found {
			t.Errorf("no job of ci.yaml runs make %s", target)
		}
	}
}

// pinned is a uses: of a third-party action by full commit SHA, with its version in the
// comment, as Dependabot and Renovate keep them.
var (
	pinned         = regexp.MustCompile(`^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$`)
	versionComment = regexp.MustCompile(`^# v\d+\.\d+\.\d+$`)
)

// unpinned are the uses: that may name a tag, each with the reason. Keep it empty.
var unpinned = map[string]string{}

// TestActionsArePinned: a tag can be moved to other code by whoever controls the action's
// repository; a commit SHA cannot. The same action is pinned to one commit everywhere.
func TestActionsArePinned(t *testing.T) {
	commits := map[string]string{} // action -> sha and version
	for _, f := range workflowFiles(t) {
		var doc yaml.Node
		if err := yaml.Unmarshal(readRepoFile(t, ".github/workflows/"+filepath.Base(f)), &doc); err != nil {
			t.Fatal(err)
		}
		uses := usesNodes(&doc)
		if len(uses) == 0 {
			t.Errorf("%s uses no action: has its layout changed?", f)
		}
		for _, n := range uses {
			where := fmt.Sprintf("%s:%d", filepath.Base(f), n.Line)
			ref := n.Value
			if strings.HasPrefix(ref, "./") {
				continue // an action of this repository, pinned by the checkout itself
			}
			if reason, ok := unpinned[ref]; ok && reason != "" {
				continue
			}
			if !pinned.MatchString(ref) {
				t.Errorf("%s: %s is not pinned by a full commit SHA", where, ref)
				continue
			}
			if !versionComment.MatchString(n.LineComment) {
				t.Errorf("%s: %s has no version comment (# vX.Y.Z), got %q", where, ref, n.LineComment)
			}
			action, sha, _ := strings.Cut(ref, "@")
			pin := sha + " " + n.LineComment
			if prev, ok := commits[action]; ok && prev != pin {
				t.Errorf("%s: %s is pinned to %s here and to %s elsewhere", where, action, pin, prev)
			}
			commits[action] = pin
		}
	}
}

// usesNodes returns the values of every uses: key in a document.
func usesNodes(n *yaml.Node) []*yaml.Node {
	var out []*yaml.Node
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "uses" && n.Content[i+1].Kind == yaml.ScalarNode {
				out = append(out, n.Content[i+1])
			}
		}
	}
	for _, c := range n.Content {
		out = append(out, usesNodes(c)...)
	}
	return out
}

// TestPermissionsAreLeastPrivilege: the workflow grants nothing by default, every job names
// what it may do, and a write scope appears only in a job whose steps need it.
func TestPermissionsAreLeastPrivilege(t *testing.T) {
	for _, name := range []string{"ci.yaml", "release.yaml"} {
		w := readWorkflow(t, name)
		if w.Permissions.Kind == 0 {
			t.Errorf("%s: no top-level permissions: the repository's default token scopes would apply", name)
		} else if got := fmt.Sprint(decode(t, &w.Permissions)); got != "map[]" {
			t.Errorf("%s: top-level permissions = %s, want {} (each job asks for its own)", name, got)
		}
		for jobName, j := range w.Jobs {
			where := name + ": job " + jobName
			if j.Permissions.Kind == 0 {
				t.Errorf("%s declares no permissions", where)
				continue
			}
			perms, ok := decode(t, &j.Permissions).(map[string]any)
			if !ok {
				t.Errorf("%s: permissions = %v, want a map of scopes (never read-all or write-all)", where, decode(t, &j.Permissions))
				continue
			}
			var script strings.Builder
			for _, s := range j.Steps {
				script.WriteString(s.Run + "\n" + s.Uses + "\n")
			}
			// Why a job may hold each write scope: a command that needs it.
			need := map[string]*regexp.Regexp{
				"id-token": regexp.MustCompile(`\bcosign (sign|attest|sign-blob)\b`),
				"packages": regexp.MustCompile(`\bmake [^\n]*\b(image-push|chart-push)\b`),
				"contents": regexp.MustCompile(`\bgh release create\b`),
			}
			for scope, level := range perms {
				if level != "write" {
					continue
				}
				re, known := need[scope]
				if !known {
					t.Errorf("%s: %s: write, which no job of ours needs", where, scope)
					continue
				}
				if !re.MatchString(script.String()) {
					t.Errorf("%s: %s: write, but no step matches %s", where, scope, re)
				}
			}
			for scope, re := range need {
				if re.MatchString(script.String()) && perms[scope] != "write" {
					t.Errorf("%s: a step matches %s but the job lacks %s: write", where, re, scope)
				}
			}
			if j.TimeoutMinutes <= 0 {
				t.Errorf("%s has no timeout-minutes: a stuck job would hold a runner for 6 hours", where)
			}
		}
	}
}

// TestReleaseSignsByDigest: cosign signs and attests what the registry holds under a
// digest; a tag could be moved between the push and the signature.
func TestReleaseSignsByDigest(t *testing.T) {
	w := readWorkflow(t, "release.yaml")
	cosign := regexp.MustCompile(`\bcosign (sign|attest) [^\n]*`)
	seen := map[string]bool{}
	for jobName, j := range w.Jobs {
		for _, s := range j.Steps {
			for _, line := range cosign.FindAllString(s.Run, -1) {
				seen[strings.Fields(line)[1]] = true
				if !strings.Contains(line, "@$DIGEST") {
					t.Errorf("release.yaml: job %s: %q does not sign by @$DIGEST", jobName, line)
				}
				if !strings.Contains(line, "--yes") {
					t.Errorf("release.yaml: job %s: %q lacks --yes and would wait for a prompt", jobName, line)
				}
			}
		}
	}
	for _, verb := range []string{"sign", "attest"} {
		if !seen[verb] {
			t.Errorf("release.yaml never runs cosign %s", verb)
		}
	}
}

// TestSetupGoSatisfiesEveryModule: setup-go sets GOTOOLCHAIN=local, so a Go older than a
// module's go directive fails instead of downloading a newer one. Every setup-go must read the
// go.mod with the newest directive.
func TestSetupGoSatisfiesEveryModule(t *testing.T) {
	goDirective := regexp.MustCompile(`(?m)^go (\S+)$`)
	newest, newestFile := "", ""
	for _, f := range []string{"go.mod", "test/go.mod"} {
		m := goDirective.FindSubmatch(readRepoFile(t, f))
		if m == nil {
			t.Fatalf("%s has no go directive", f)
		}
		if v := "go" + string(m[1]); newest == "" || version.Compare(v, newest) > 0 {
			newest, newestFile = v, f
		}
	}
	for _, f := range workflowFiles(t) {
		w := readWorkflow(t, filepath.Base(f))
		for jobName, j := range w.Jobs {
			for _, s := range j.Steps {
				if !strings.HasPrefix(s.Uses, "actions/setup-go@") {
					continue
				}
				if got := s.With["go-version-file"]; got != newestFile {
					t.Errorf("%s: job %s: setup-go reads go-version-file %q, want %s (%s)", w.file, jobName, got, newestFile, newest)
				}
				if s.With["cache"] == "false" || !strings.Contains(s.With["cache-dependency-path"], "test/go.sum") {
					t.Errorf("%s: job %s: setup-go must cache the modules of both go.sum files", w.file, jobName)
				}
			}
		}
	}
}

// targetsElsewhere are make targets that another branch of issue 16 adds (make image and
// make image-push). Until it is merged, the workflows may call them although the Makefile
// lacks them; remove them from here once it has them.
var targetsElsewhere = []string{"image", "image-push"}

// TestWorkflowsCallMakeTargetsThatExist: a renamed target would otherwise break only the
// next release.
func TestWorkflowsCallMakeTargetsThatExist(t *testing.T) {
	makefile := string(readRepoFile(t, "Makefile"))
	defined := func(target string) bool {
		return regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(target) + `:`).MatchString(makefile)
	}
	for _, f := range workflowFiles(t) {
		w := readWorkflow(t, filepath.Base(f))
		for jobName, j := range w.Jobs {
			for _, s := range j.Steps {
				for _, target := range makeTargets(s.Run) {
					switch {
					case defined(target):
					case slices.Contains(targetsElsewhere, target):
						t.Logf("%s: job %s: make %s is not in this Makefile yet (targetsElsewhere)", w.file, jobName, target)
					default:
						t.Errorf("%s: job %s: make %s: the Makefile has no such target", w.file, jobName, target)
					}
				}
			}
		}
	}
}

// makeTargets returns the targets of the make commands of a script: the words after make
// that are neither flags nor VAR=value.
func makeTargets(script string) []string {
	var out []string
	for _, line := range strings.Split(script, "\n") {
		words := strings.Fields(line)
		for i, w := range words {
			if w != "make" || (i > 0 && !slices.Contains([]string{"|", "&&", "||", ";", "then", "do"}, words[i-1])) {
				continue
			}
			for _, a := range words[i+1:] {
				if strings.HasPrefix(a, "-") || strings.Contains(a, "=") {
					continue
				}
				if strings.ContainsAny(a, "|&;><$\"'") {
					break
				}
				out = append(out, a)
			}
		}
	}
	return out
}

func TestMakeTargets(t *testing.T) {
	for script, want := range map[string]string{
		"make lint": "[lint]",
		"make -s release-notes RELEASE_VERSION=\"$TAG\" > x.md":   "[release-notes]",
		"make plugin-dist krew-manifest RELEASE_VERSION=\"$TAG\"": "[plugin-dist krew-manifest]",
		"echo make me | cat":                          "[]",
		"true && make image-push IMG=\"$IMAGE:$TAG\"": "[image-push]",
		"make chart-push 2>&1 | tee push.log":         "[chart-push]",
	} {
		if got := fmt.Sprint(makeTargets(script)); got != want {
			t.Errorf("makeTargets(%q) = %s, want %s", script, got, want)
		}
	}
}

// TestActionlintIsPinnedAndRun: the workflows are checked by a pinned actionlint, in CI.
func TestActionlintIsPinnedAndRun(t *testing.T) {
	makefile := string(readRepoFile(t, "Makefile"))
	if !regexp.MustCompile(`(?m)^ACTIONLINT_VERSION \?= v\d+\.\d+\.\d+$`).MatchString(makefile) {
		t.Error("the Makefile does not pin ACTIONLINT_VERSION to a vX.Y.Z")
	}
	if !strings.Contains(makefile, "github.com/rhysd/actionlint/cmd/actionlint,$(ACTIONLINT_VERSION)") {
		t.Error("the Makefile does not install actionlint from the module proxy at ACTIONLINT_VERSION")
	}
	ciRun := string(readRepoFile(t, ".ci/run"))
	if !regexp.MustCompile(`(?m)^make actionlint$`).MatchString(ciRun) {
		t.Error(".ci/run does not run make actionlint")
	}
}

package release

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The release workflow's scripts decide what is published: whether a tag may be released,
// which SBOM is attested, which digest is signed. GitHub alone runs them, so these tests run
// them here, with bash as GitHub runs a step of shell bash, in a directory of their own, and
// with stand-ins on PATH for the commands that would reach a registry or build something.

// TestRunScriptsTakeNoExpressions: a ${{ }} in a script is pasted into it before bash reads
// it, so a value with a quote in it (a tag, an actor's name) becomes code. The scripts read
// every value from env: instead, which also lets the tests below run them.
func TestRunScriptsTakeNoExpressions(t *testing.T) {
	for _, f := range workflowFiles(t) {
		w := readWorkflow(t, filepath.Base(f))
		for jobName, j := range w.Jobs {
			for _, s := range j.Steps {
				if strings.Contains(s.Run, "${{") {
					t.Errorf("%s: job %s: step %q puts an expression into its script; pass it through env:", w.file, jobName, s.Name)
				}
			}
		}
	}
}

// stepScript returns the run: script of the named step of a job of release.yaml.
func stepScript(t *testing.T, jobName, stepName string) string {
	t.Helper()
	w := readWorkflow(t, "release.yaml")
	j, ok := w.Jobs[jobName]
	if !ok {
		t.Fatalf("release.yaml has no job %s", jobName)
	}
	for _, s := range j.Steps {
		if s.Name == stepName {
			return s.Run
		}
	}
	t.Fatalf("release.yaml: job %s has no step %q", jobName, stepName)
	return ""
}

type stepRun struct {
	out    string // stdout and stderr
	output string // what the step wrote to $GITHUB_OUTPUT
	calls  string // the stand-ins' command lines, one a line
	err    error
}

// runStep runs a script in a new directory holding files, with env, and with each of fakes
// (a command name and a bash body) on PATH ahead of the real commands. Each stand-in logs
// its command line to a file that the result returns.
func runStep(t *testing.T, script string, files, env, fakes map[string]string) stepRun {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin := t.TempDir()
	calls := filepath.Join(bin, "calls.log")
	for name, body := range fakes {
		text := "#!/usr/bin/env bash\necho \"" + name + " $*\" >> " + calls + "\n" + body + "\n"
		if err := os.WriteFile(filepath.Join(bin, name), []byte(text), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	output := filepath.Join(bin, "github_output")
	cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "HOME=" + dir, "GITHUB_OUTPUT=" + output}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	written, _ := os.ReadFile(output)
	logged, _ := os.ReadFile(calls)
	return stepRun{out: string(out), output: string(written), calls: string(logged), err: err}
}

func TestReleaseTagCheck(t *testing.T) {
	script := stepScript(t, "test", "Check the tag")
	for _, tc := range []struct {
		name, tag, version string // version "" means no VERSION file
		ok                 bool
	}{
		{"a release", "v0.1.0", "0.1.0\n", true},
		{"a pre-release", "v0.2.0-rc.1", "0.2.0-rc.1", true},
		{"no VERSION file", "v0.1.0", "", true},
		{"VERSION with a v", "v0.1.0", "v0.1.0", true},
		{"VERSION behind the tag", "v0.2.0", "0.1.0", false},
		{"not semver", "v1.2", "1.2", false},
		{"a word", "vnext", "", false},
		{"a shell word", "v1.0.0;true", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{}
			if tc.version != "" {
				files["VERSION"] = tc.version
			}
			r := runStep(t, script, files, map[string]string{"RELEASE_TAG": tc.tag}, map[string]string{"make": "exit 0"})
			if (r.err == nil) != tc.ok {
				t.Errorf("tag %s, VERSION %q: err = %v, want ok=%v\n%s", tc.tag, tc.version, r.err, tc.ok, r.out)
			}
			// The changelog's section is checked only for a tag that passed the rest.
			if tc.ok && !strings.Contains(r.calls, "make -s release-notes RELEASE_VERSION="+tc.tag) {
				t.Errorf("the step did not check the CHANGELOG section of %s: %q", tc.tag, r.calls)
			}
		})
	}
	// A tag without a CHANGELOG section fails the step.
	r := runStep(t, script, nil, map[string]string{"RELEASE_TAG": "v0.1.0"}, map[string]string{"make": "exit 2"})
	if r.err == nil {
		t.Error("the step passed although make release-notes failed")
	}
}

func TestReleaseAttestsTheSBOM(t *testing.T) {
	script := stepScript(t, "image", "Attest the SBOM")
	const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	env := map[string]string{"RELEASE_TAG": "v0.1.0", "RELEASE_IMAGE": "ghcr.io/sfconn/sfconn-operator", "DIGEST": digest}
	for _, tc := range []struct {
		name  string
		files []string
		want  string // the cosign call; "" when the step must fail
		asset string
	}{
		{"CycloneDX", []string{"bin/image/sbom.cdx.json"}, "cosign attest --yes --type cyclonedx --predicate bin/image/sbom.cdx.json ghcr.io/sfconn/sfconn-operator@" + digest, "dist/sbom/sfconn-operator_v0.1.0_sbom.cdx.json"},
		{"SPDX", []string{"bin/image/sbom.spdx.json"}, "cosign attest --yes --type spdxjson --predicate bin/image/sbom.spdx.json ghcr.io/sfconn/sfconn-operator@" + digest, "dist/sbom/sfconn-operator_v0.1.0_sbom.spdx.json"},
		{"none", nil, "", ""},
		{"two", []string{"bin/image/sbom.cdx.json", "bin/image/sbom.spdx.json"}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{"bin/image/index.json": "{}"}
			for _, f := range tc.files {
				files[f] = `{"sbom": true}`
			}
			r := runStep(t, script, files, env, map[string]string{"cosign": "exit 0"})
			if tc.want == "" {
				if r.err == nil || r.calls != "" {
					t.Errorf("the step passed or called cosign (%q) with SBOMs %v\n%s", r.calls, tc.files, r.out)
				}
				return
			}
			if r.err != nil {
				t.Fatalf("%v\n%s", r.err, r.out)
			}
			if got := strings.TrimSpace(r.calls); got != tc.want {
				t.Errorf("cosign call = %q, want %q", got, tc.want)
			}
			// The SBOM the release attaches is the one attested.
			if r := runStep(t, script+"\ncmp "+tc.files[0]+" "+tc.asset, files, env, map[string]string{"cosign": "exit 0"}); r.err != nil {
				t.Errorf("%s is not the attested SBOM: %v\n%s", tc.asset, r.err, r.out)
			}
		})
	}
}

func TestReleaseSignsTheChartByTheDigestHelmPushed(t *testing.T) {
	script := stepScript(t, "chart", "Push the chart")
	env := map[string]string{"RELEASE_TAG": "v0.1.0", "RELEASE_CHART_REGISTRY": "oci://ghcr.io/sfconn/charts"}
	const digest = "sha256:b1f09364597654e6d1fcde277b8592746277e7002540028345ed2b446de3d64e"
	// What helm push prints (helm v4: pkg/registry's push), on stderr or stdout.
	pushed := "echo 'Pushed: ghcr.io/sfconn/charts/sfconn-operator:0.1.0' >&2; echo 'Digest: " + digest + "' >&2"
	r := runStep(t, script, nil, env, map[string]string{"make": pushed})
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.out)
	}
	if r.output != "digest="+digest+"\n" {
		t.Errorf("GITHUB_OUTPUT = %q, want the digest helm printed", r.output)
	}
	if !strings.Contains(r.calls, "make chart-push RELEASE_VERSION=v0.1.0 CHART_REGISTRY=oci://ghcr.io/sfconn/charts") {
		t.Errorf("make call = %q", r.calls)
	}
	for name, fake := range map[string]string{
		"no digest":   "echo 'Pushed: ghcr.io/sfconn/charts/sfconn-operator:0.1.0'",
		"push failed": "echo 'Digest: " + digest + "'; exit 1",
	} {
		if r := runStep(t, script, nil, env, map[string]string{"make": fake}); r.err == nil || r.output != "" {
			t.Errorf("%s: the step passed, or wrote %q", name, r.output)
		}
	}
}

func TestReleasePushReadsTheDigestFromTheRegistry(t *testing.T) {
	script := stepScript(t, "image", "Push the image")
	env := map[string]string{"RELEASE_TAG": "v0.1.0", "RELEASE_IMAGE": "ghcr.io/sfconn/sfconn-operator", "CRANE": "crane@v0"}
	const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	r := runStep(t, script, nil, env, map[string]string{"make": "exit 0", "go": "echo " + digest})
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.out)
	}
	if r.output != "digest="+digest+"\n" {
		t.Errorf("GITHUB_OUTPUT = %q", r.output)
	}
	want := "make image-push IMG=ghcr.io/sfconn/sfconn-operator:v0.1.0\ngo run crane@v0 digest ghcr.io/sfconn/sfconn-operator:v0.1.0\n"
	if r.calls != want {
		t.Errorf("calls = %q, want %q", r.calls, want)
	}
	if r := runStep(t, script, nil, env, map[string]string{"make": "exit 0", "go": "echo 'UNAUTHORIZED'"}); r.err == nil || r.output != "" {
		t.Errorf("a registry error passed as a digest: %q", r.output)
	}
}

func TestReleaseSignsThePushedChart(t *testing.T) {
	script := stepScript(t, "chart", "Sign the chart")
	const digest = "sha256:b1f09364597654e6d1fcde277b8592746277e7002540028345ed2b446de3d64e"
	env := map[string]string{"RELEASE_CHART_REGISTRY": "oci://ghcr.io/sfconn/charts", "DIGEST": digest}
	r := runStep(t, script, nil, env, map[string]string{"cosign": "exit 0"})
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.out)
	}
	// The repository helm push wrote to: the registry's path and the chart's name.
	if want := "cosign sign --yes ghcr.io/sfconn/charts/sfconn-operator@" + digest + "\n"; r.calls != want {
		t.Errorf("cosign call = %q, want %q", r.calls, want)
	}
}

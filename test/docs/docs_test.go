// The documentation's manifests, applied to a real API server.
//
// TestManifests finds every fenced YAML block (```yaml or ```yml, also ~~~) in README.md
// and docs/**/*.md, splits each block into YAML documents at its "---" lines, and applies
// every object with server-side apply (field owner "docs-test") to a kube-apiserver started
// by envtest. The API server has the project's CRD (config/crd/bases) and, for the
// third-party kinds that the docs show, a minimal CRD that accepts any content
// (thirdPartyKinds below). A manifest that the API server refuses (schema, CEL rule,
// unknown field, a kind it does not know) fails the test with the file, the line and the
// API server's message. Namespaces are created on demand. Each object is deleted after it
// was applied (namespaces excepted), so that blocks do not depend on each other's objects:
// two pages may show the same name with different content.
//
// A YAML block that is not a Kubernetes object, such as Helm values or a part of a spec,
// must be marked so that the test skips it, in one of two ways:
//
//   - an HTML comment on the last non-blank line before the opening fence. GitHub does
//     not render it. Text after the marker is free, and says what the block is:
//
//     <!-- not-a-manifest: Helm values -->
//     ```yaml
//     watchNamespaces: [billing]
//     ```
//
//   - a second word in the fence's info string: ```yaml values (Helm values) or
//     ```yaml fragment (a part of an object). GitHub still highlights the block as YAML.
//     Any other word fails the test, so that a typo does not skip a block silently.
//
// Run it with the control plane that `make test` builds, from the repository root (test/ is a
// Go module of its own, hence -C test):
//
//	KUBEBUILDER_ASSETS=$PWD/bin/k8s/1.37.2 go test -C test -count=1 ./docs/...
//
// Without KUBEBUILDER_ASSETS the test fails, unless -short is given: then it checks only
// that every block is marked or parses as Kubernetes objects, and skips the apply. The
// tests in links_test.go need no API server.
package docs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"
)

// repoRoot is the repository, seen from this package's directory.
const repoRoot = "../.."

// fieldOwner is the server-side apply field manager of the test.
const fieldOwner = "docs-test"

// notAManifest marks a block to skip, in an HTML comment before its fence.
const notAManifest = "<!-- not-a-manifest"

// fenceAttributes are the words allowed after yaml in a fence's info string; each marks
// a block that is not a Kubernetes object.
var fenceAttributes = []string{"values", "fragment"}

// thirdPartyKind is a kind of another project that the docs show. The test installs a
// CRD for it that keeps any content: the test checks our manifests, not their schemas.
type thirdPartyKind struct {
	group, version, kind, plural string
	namespaced                   bool
}

// thirdPartyKinds are the kinds, other than Kubernetes' own and the project's, that the
// docs may use. A block with a kind that is in neither fails the test: add the kind here.
var thirdPartyKinds = []thirdPartyKind{
	{"kustomize.toolkit.fluxcd.io", "v1", "Kustomization", "kustomizations", true},
	{"argoproj.io", "v1alpha1", "Application", "applications", true},
	{"external-secrets.io", "v1", "ExternalSecret", "externalsecrets", true},
	{"monitoring.coreos.com", "v1", "ServiceMonitor", "servicemonitors", true},
	{"monitoring.coreos.com", "v1", "PrometheusRule", "prometheusrules", true},
	{"cert-manager.io", "v1", "Issuer", "issuers", true},
	{"cert-manager.io", "v1", "Certificate", "certificates", true},
}

// block is a fenced YAML block of a Markdown file.
type block struct {
	file string // relative to the repository, with forward slashes
	line int    // of the first line inside the fence, 1-based
	text string // the lines inside the fence, without the fence's indentation
	skip string // why the block is skipped; empty if it is checked
}

// document is one YAML document of a block.
type document struct {
	file string
	line int // of the document's first line in the Markdown file
	text string
}

func (d document) where() string { return fmt.Sprintf("%s:%d", d.file, d.line) }

var (
	fenceOpen = regexp.MustCompile("^([ \t]*)(`{3,}|~{3,})[ \t]*(.*)$")
	docSplit  = regexp.MustCompile(`^---([ \t].*)?$`)
)

// openingFence parses the opening line of a fenced code block. A backtick fence whose info
// string holds a backtick is inline code, not a fence.
func openingFence(line string) (indent int, fence, info string, ok bool) {
	m := fenceOpen.FindStringSubmatch(line)
	if m == nil || (m[2][0] == '`' && strings.Contains(m[3], "`")) {
		return 0, "", "", false
	}
	return len(m[1]), m[2], m[3], true
}

// extractBlocks returns the fenced YAML blocks of a Markdown text, checked or marked to
// be skipped. An unknown word after yaml in an info string is an error.
func extractBlocks(file, markdown string) ([]block, error) {
	lines := strings.Split(markdown, "\n")
	var out []block
	for i := 0; i < len(lines); i++ {
		indent, fence, infoString, ok := openingFence(lines[i])
		if !ok {
			continue
		}
		info := strings.Fields(infoString)
		start := i + 1
		end := start
		for end < len(lines) && !isClosingFence(lines[end], fence) {
			end++
		}
		var body []string
		for _, l := range lines[start:min(end, len(lines))] {
			body = append(body, dedent(l, indent))
		}
		i = end
		if len(info) == 0 || !slices.Contains([]string{"yaml", "yml"}, strings.ToLower(info[0])) {
			continue
		}
		b := block{file: file, line: start + 1, text: strings.Join(body, "\n")}
		switch {
		case strings.HasPrefix(lastNonBlank(lines[:start-1]), notAManifest):
			b.skip = "marked " + notAManifest + " -->"
		case len(info) == 2 && slices.Contains(fenceAttributes, info[1]):
			b.skip = "fence " + strings.Join(info, " ")
		case len(info) > 1:
			return nil, fmt.Errorf("%s:%d: unknown fence info %q: use ```yaml for a manifest, ```yaml %s for a block that is not one, "+
				"or put %s --> on the line before the fence", file, start, strings.Join(info, " "),
				strings.Join(fenceAttributes, " or ```yaml "), notAManifest)
		}
		out = append(out, b)
	}
	return out, nil
}

// isClosingFence: the same character as the opening fence, at least as many, nothing else.
func isClosingFence(line, open string) bool {
	t := strings.TrimSpace(line)
	return len(t) >= len(open) && strings.Trim(t, open[:1]) == ""
}

// dedent removes up to n leading spaces: a fence inside a list item is indented, and so
// are its lines.
func dedent(line string, n int) string {
	for k := 0; k < n && strings.HasPrefix(line, " "); k++ {
		line = line[1:]
	}
	return line
}

func lastNonBlank(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		if t := strings.TrimSpace(lines[i]); t != "" {
			return t
		}
	}
	return ""
}

// split cuts a block into its YAML documents.
func (b block) split() []document {
	var docs []document
	cur := document{file: b.file, line: b.line}
	var buf []string
	for k, l := range strings.Split(b.text, "\n") {
		if docSplit.MatchString(strings.TrimRight(l, " \t")) {
			cur.text = strings.Join(buf, "\n")
			docs = append(docs, cur)
			cur, buf = document{file: b.file, line: b.line + k + 1}, nil
			continue
		}
		buf = append(buf, l)
	}
	cur.text = strings.Join(buf, "\n")
	return append(docs, cur)
}

// object parses a document. It returns nil for a document that holds only comments.
func (d document) object() (*unstructured.Unstructured, error) {
	js, err := yaml.YAMLToJSONStrict([]byte(d.text))
	if err != nil {
		return nil, fmt.Errorf("not valid YAML: %w", err)
	}
	var v any
	if err := json.Unmarshal(js, &v); err != nil {
		return nil, err
	}
	if v == nil {
		return nil, nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("not a Kubernetes object (a YAML %T); %s", v, markHint)
	}
	u := &unstructured.Unstructured{Object: obj}
	if u.GetAPIVersion() == "" || u.GetKind() == "" || (u.GetName() == "" && u.GetGenerateName() == "") {
		return nil, fmt.Errorf("not a Kubernetes object: apiVersion, kind and metadata.name are required; %s", markHint)
	}
	return u, nil
}

const markHint = "if the block is not meant to be one, put " + notAManifest + " --> on the line before its fence, or write ```yaml values or ```yaml fragment"

// markdownFiles returns README.md and every .md file under docs/, relative to the
// repository, with forward slashes.
func markdownFiles(t *testing.T) []string {
	t.Helper()
	files := []string{"README.md"}
	err := filepath.WalkDir(filepath.Join(repoRoot, "docs"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(d.Name(), ".md") {
			rel, err := filepath.Rel(repoRoot, path)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("listing docs: %v", err)
	}
	slices.Sort(files[1:])
	return files
}

// permissiveCRDs writes a CRD for each third-party kind to a new directory.
func permissiveCRDs(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, k := range thirdPartyKinds {
		scope := "Cluster"
		if k.namespaced {
			scope = "Namespaced"
		}
		crd := fmt.Sprintf(`apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: %[1]s.%[2]s
spec:
  group: %[2]s
  names:
    kind: %[3]s
    listKind: %[3]sList
    plural: %[1]s
    singular: %[4]s
  scope: %[5]s
  versions:
  - name: %[6]s
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
`, k.plural, k.group, k.kind, strings.ToLower(k.kind), scope, k.version)
		name := filepath.Join(dir, k.plural+"."+k.group+".yaml")
		if err := os.WriteFile(name, []byte(crd), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestManifests applies every manifest of the docs to a real API server.
func TestManifests(t *testing.T) {
	type manifest struct {
		doc document
		obj *unstructured.Unstructured
	}
	var manifests []manifest
	var skipped int
	for _, f := range markdownFiles(t) {
		text, err := os.ReadFile(filepath.Join(repoRoot, filepath.FromSlash(f)))
		if err != nil {
			t.Fatal(err)
		}
		blocks, err := extractBlocks(f, string(text))
		if err != nil {
			t.Error(err)
			continue
		}
		for _, b := range blocks {
			if b.skip != "" {
				skipped++
				continue
			}
			// Parsed before the API server starts, so that -short reports these too.
			for _, d := range b.split() {
				obj, err := d.object()
				switch {
				case err != nil:
					t.Errorf("%s: %v", d.where(), err)
				case obj != nil:
					manifests = append(manifests, manifest{d, obj})
				}
			}
		}
	}
	if len(manifests) == 0 {
		t.Fatal("found no YAML manifest in README.md and docs/: is the test looking in the right place?")
	}

	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		if testing.Short() {
			t.Skip("KUBEBUILDER_ASSETS is not set: run `make test`, or set it to bin/k8s/<version>")
		}
		t.Fatal("KUBEBUILDER_ASSETS is not set: set it to the control plane binaries, e.g. the repository's bin/k8s/<version> as an absolute path " +
			"(`make control-plane` builds them), or run with -short to skip this test")
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(repoRoot, "config", "crd", "bases"), permissiveCRDs(t)},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting the API server: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stopping the API server: %v", err)
		}
	})
	k8s, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	a := &applier{k8s: k8s, namespaces: map[string]bool{}}
	var applied int
	for _, m := range manifests {
		if err := a.apply(ctx, m.obj); err != nil {
			t.Errorf("%s: %s %s: %v", m.doc.where(), m.obj.GetKind(), describe(m.obj), err)
			continue
		}
		applied++
	}
	t.Logf("applied %d objects; skipped %d marked blocks", applied, skipped)

	// The test must be able to fail: a manifest the API server refuses, and a kind it does
	// not know, are reported as errors.
	t.Run("refusals are reported", func(t *testing.T) {
		bad := document{text: `apiVersion: salesforce.sfconn.io/v1alpha1
kind: SalesforceConnection
metadata: {name: two-flows, namespace: docs-test}
spec:
  auth:
    password: {credentialsSecretRef: {name: a}}
    clientCredentials: {credentialsSecretRef: {name: a}}
`}
		typo := document{text: `apiVersion: salesforce.sfconn.io/v1alpha1
kind: SalesforceConnection
metadata: {name: typo, namespace: docs-test}
spec:
  sesionTimeout: 2h
  auth:
    password: {credentialsSecretRef: {name: a}}
`}
		unknown := document{text: "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n"}
		for _, c := range []struct {
			doc  document
			want string
		}{
			{bad, "auth must set exactly one of"},
			{typo, "sesionTimeout"},
			{unknown, "the API server knows no kind Widget"},
		} {
			obj, err := c.doc.object()
			if err != nil {
				t.Fatal(err)
			}
			err = a.apply(ctx, obj)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("applying %s: got error %v, want one containing %q", obj.GetKind(), err, c.want)
				continue
			}
			t.Logf("%s refused as expected: %v", obj.GetKind(), err)
		}
	})
}

// describe names an object as namespace/name, or name.
func describe(obj *unstructured.Unstructured) string {
	if obj.GetNamespace() == "" {
		return obj.GetName()
	}
	return obj.GetNamespace() + "/" + obj.GetName()
}

// applier applies objects and creates their namespaces on demand.
type applier struct {
	k8s        client.Client
	namespaces map[string]bool
}

func (a *applier) apply(ctx context.Context, obj *unstructured.Unstructured) error {
	namespaced, err := a.k8s.IsObjectNamespaced(obj)
	if meta.IsNoMatchError(err) {
		return fmt.Errorf("the API server knows no kind %s in %s: if it belongs to another project, add a permissive CRD for it to thirdPartyKinds in test/docs/docs_test.go",
			obj.GetKind(), obj.GetAPIVersion())
	}
	if err != nil {
		return err
	}
	if namespaced {
		if obj.GetNamespace() == "" {
			obj.SetNamespace(metav1.NamespaceDefault)
		}
		if err := a.ensureNamespace(ctx, obj.GetNamespace()); err != nil {
			return err
		}
	} else if obj.GetNamespace() != "" {
		return fmt.Errorf("a %s is cluster-scoped: remove metadata.namespace", obj.GetKind())
	}
	if err := a.k8s.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), client.FieldOwner(fieldOwner), client.ForceOwnership); err != nil {
		return errors.New(apiMessage(err))
	}
	if obj.GetKind() == "Namespace" && obj.GroupVersionKind().Group == "" {
		// Kept: without a namespace controller, a deleted namespace stays Terminating.
		a.namespaces[obj.GetName()] = true
		return nil
	}
	// Deleted again, so that another page may show an object of the same name.
	err = a.k8s.Delete(ctx, obj, client.PropagationPolicy(metav1.DeletePropagationBackground))
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting it after the apply: %w", err)
	}
	return nil
}

func (a *applier) ensureNamespace(ctx context.Context, name string) error {
	if a.namespaces[name] {
		return nil
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := a.k8s.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", name, err)
	}
	a.namespaces[name] = true
	return nil
}

// apiMessage is the API server's message, which names the field and the rule.
func apiMessage(err error) string {
	if s, ok := errors.AsType[*apierrors.StatusError](err); ok && s.Status().Message != "" {
		return s.Status().Message
	}
	return err.Error()
}

// TestExtractBlocks checks how blocks are found, marked and split; it needs no API server.
func TestExtractBlocks(t *testing.T) {
	md := strings.Join([]string{
		"# Title", //  1
		"",        //  2
		"```yaml", //  3
		"apiVersion: v1",
		"kind: Namespace",
		"metadata: {name: a}",
		"---", //  7
		"# only a comment",
		"--- # second",
		"apiVersion: v1",
		"kind: Namespace",
		"metadata: {name: b}",
		"```", // 13
		"",
		"1. Step:",
		"",
		"   ```yml", // 17
		"   apiVersion: v1",
		"   kind: Namespace",
		"   metadata:",
		"     name: c",
		"   ```",
		"",
		"<!-- not-a-manifest: Helm values -->",
		"",
		"```yaml", // 26
		"replicas: 2",
		"```",
		"",
		"```yaml values",
		"replicas: 3",
		"```",
		"",
		"````markdown",
		"```yaml",
		"kind: NotABlock",
		"```",
		"````",
		"",
		"~~~YAML",
		"kind: X",
		"~~~",
		"```sh",
		"echo hi",
		"```",
	}, "\n")
	blocks, err := extractBlocks("x.md", md)
	if err != nil {
		t.Fatal(err)
	}
	type got struct {
		line    int
		skipped bool
		docs    []int
	}
	var gots []got
	for _, b := range blocks {
		g := got{line: b.line, skipped: b.skip != ""}
		for _, d := range b.split() {
			g.docs = append(g.docs, d.line)
		}
		gots = append(gots, g)
	}
	want := []got{
		{line: 4, docs: []int{4, 8, 10}},
		{line: 18, docs: []int{18}},
		{line: 27, skipped: true, docs: []int{27}},
		{line: 31, skipped: true, docs: []int{31}},
		{line: 41, docs: []int{41}},
	}
	if fmt.Sprint(gots) != fmt.Sprint(want) {
		t.Fatalf("blocks:\n got %v\nwant %v", gots, want)
	}

	// The indented block is dedented and parses; the comment-only document is empty.
	obj, err := blocks[1].split()[0].object()
	if err != nil || obj.GetName() != "c" {
		t.Fatalf("indented block: %v, %v", obj, err)
	}
	if obj, err := blocks[0].split()[1].object(); obj != nil || err != nil {
		t.Fatalf("comment-only document: %v, %v", obj, err)
	}
	if _, err := blocks[2].split()[0].object(); err == nil || !strings.Contains(err.Error(), "not a Kubernetes object") {
		t.Fatalf("values block as an object: %v", err)
	}
	dup := document{text: "apiVersion: v1\nkind: Namespace\nkind: Namespace\nmetadata: {name: d}"}
	if _, err := dup.object(); err == nil {
		t.Fatal("a duplicate key was accepted")
	}

	if _, err := extractBlocks("y.md", "```yaml valeus\na: 1\n```\n"); err == nil || !strings.Contains(err.Error(), "y.md:1") {
		t.Fatalf("unknown fence word: %v", err)
	}
}

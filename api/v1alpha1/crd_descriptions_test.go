package v1alpha1_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// kubectl explain shows the CRD's descriptions, which controller-gen copies from the doc
// comments of the types. Those comments once listed four of the five flows under
// spec.auth and forgot ApprovalLimit among the conditions; these tests read the generated
// CRDs, so a flow or a condition type added later without its description fails here.

var crdFiles = []string{
	"salesforce.sfconn.io_salesforceconnections.yaml",
	"salesforce.sfconn.io_clustersalesforceconnections.yaml",
}

// schemaOf returns the openAPIV3Schema of the CRD's only version.
func schemaOf(t *testing.T, file string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "config", "crd", "bases", file))
	if err != nil {
		t.Fatal(err)
	}
	var crd struct {
		Spec struct {
			Versions []struct {
				Name   string `json:"name"`
				Schema struct {
					OpenAPIV3Schema map[string]any `json:"openAPIV3Schema"`
				} `json:"schema"`
			} `json:"versions"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(raw, &crd); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if len(crd.Spec.Versions) != 1 {
		t.Fatalf("%s: want one version, got %d", file, len(crd.Spec.Versions))
	}
	return crd.Spec.Versions[0].Schema.OpenAPIV3Schema
}

// field walks down the schema's properties along path.
func field(t *testing.T, schema map[string]any, path ...string) map[string]any {
	t.Helper()
	cur := schema
	for _, p := range path {
		props, _ := cur["properties"].(map[string]any)
		next, ok := props[p].(map[string]any)
		if !ok {
			t.Fatalf("the schema has no field %s", strings.Join(path, "."))
		}
		cur = next
	}
	return cur
}

// conditionTypes are the values of the Condition* constants of conditions.go, read from
// the source so that a new condition type is checked without editing this test.
func conditionTypes(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "conditions.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, s := range gd.Specs {
			vs := s.(*ast.ValueSpec)
			for i, n := range vs.Names {
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !strings.HasPrefix(n.Name, "Condition") || !ok {
					continue
				}
				v, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, v)
			}
		}
	}
	if len(out) < 8 {
		t.Fatalf("found %d condition types in conditions.go: has its layout changed?", len(out))
	}
	return out
}

// mentions reports whether text names word as a word of its own: "Revoked" in
// "Revoked (Salesforce ...)", not in "ReasonRevoked".
func mentions(text, word string) bool {
	return regexp.MustCompile(`(^|[^A-Za-z])` + regexp.QuoteMeta(word) + `([^A-Za-z]|$)`).MatchString(text)
}

func TestAuthDescriptionNamesEveryFlow(t *testing.T) {
	for _, file := range crdFiles {
		auth := field(t, schemaOf(t, file), "spec", "auth")
		desc, _ := auth["description"].(string)
		props, _ := auth["properties"].(map[string]any)
		if len(props) < 5 {
			t.Fatalf("%s: spec.auth has %d flows, want at least 5", file, len(props))
		}
		for flow := range props {
			if !mentions(desc, flow) {
				t.Errorf("%s: kubectl explain spec.auth does not name the flow %s: %q", file, flow, desc)
			}
			sub, _ := props[flow].(map[string]any)
			if d, _ := sub["description"].(string); d == "" {
				t.Errorf("%s: spec.auth.%s has no description", file, flow)
			}
		}
	}
}

func TestConditionsDescriptionNamesEveryType(t *testing.T) {
	types := conditionTypes(t)
	for _, file := range crdFiles {
		desc, _ := field(t, schemaOf(t, file), "status", "conditions")["description"].(string)
		for _, ct := range types {
			if !mentions(desc, ct) {
				t.Errorf("%s: kubectl explain status.conditions does not name the condition type %s: %q", file, ct, desc)
			}
		}
	}
}

// TestEveryFieldIsDescribed: a field without a description shows nothing in kubectl
// explain. metadata is Kubernetes' own.
func TestEveryFieldIsDescribed(t *testing.T) {
	for _, file := range crdFiles {
		var walk func(path string, s map[string]any)
		walk = func(path string, s map[string]any) {
			props, _ := s["properties"].(map[string]any)
			names := make([]string, 0, len(props))
			for n := range props {
				names = append(names, n)
			}
			slices.Sort(names)
			for _, n := range names {
				sub, _ := props[n].(map[string]any)
				p := strings.TrimPrefix(path+"."+n, ".")
				if p == "metadata" || p == "apiVersion" || p == "kind" {
					continue
				}
				if d, _ := sub["description"].(string); strings.TrimSpace(d) == "" {
					t.Errorf("%s: %s has no description", file, p)
				}
				walk(p, sub)
				if items, ok := sub["items"].(map[string]any); ok {
					walk(p+"[]", items)
				}
			}
		}
		walk("", schemaOf(t, file))
	}
}

// The test must be able to fail.
func TestMentions(t *testing.T) {
	for _, c := range []struct {
		text, word string
		want       bool
	}{
		{"Ready (a token), Revoked (x)", "Revoked", true},
		{"ReasonRevoked", "Revoked", false},
		{"one of password, deviceLogin.", "deviceLogin", true},
		{"deviceLoginX", "deviceLogin", false},
	} {
		if got := mentions(c.text, c.word); got != c.want {
			t.Errorf("mentions(%q, %q) = %v, want %v", c.text, c.word, got, c.want)
		}
	}
}

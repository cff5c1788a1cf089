package main

import (
	"os"
	"strings"
	"testing"
)

func TestRows(t *testing.T) {
	rows, err := Rows([]byte(`# A file header, not a description.

image:
  # -- Image of the manager.
  repository: example.com/op
  # A heading.
  # -- Tag; empty:
  # the appVersion.
  tag: ""
# -- Passed to Kubernetes as it is: one row.
resources:
  limits:
    cpu: 500m
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []Row{
		{Key: "image.repository", Type: "string", Default: `"example.com/op"`, Description: "Image of the manager."},
		{Key: "image.tag", Type: "string", Default: `""`, Description: "Tag; empty: the appVersion."},
		{Key: "resources", Type: "object", Default: `{"limits":{"cpu":"500m"}}`, Description: "Passed to Kubernetes as it is: one row."},
	}
	if len(rows) != len(want) {
		t.Fatalf("got %+v, want %+v", rows, want)
	}
	for i := range want {
		if rows[i] != want[i] {
			t.Errorf("row %d: got %+v, want %+v", i, rows[i], want[i])
		}
	}
}

func TestRowsRefusesUndocumentedValues(t *testing.T) {
	for name, values := range map[string]string{
		"a leaf without a comment":     "a:\n  b: 1\n",
		"a plain comment only":         "# Not a description.\na: 1\n",
		"an empty map without comment": "a: {}\n",
		"an empty description":         "# --\na: 1\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Rows([]byte(values)); err == nil {
				t.Errorf("Rows accepted %q", values)
			}
		})
	}
}

func TestSchemaTypes(t *testing.T) {
	rows := []Row{{Key: "qps", Type: "int"}, {Key: "pdb.maxUnavailable", Type: "int"}}
	schema := `{"properties": {"qps": {"type": "number"}, "pdb": {"properties": {"maxUnavailable":
		{"anyOf": [{"type": "integer"}, {"type": "string"}]}}}}}`
	if err := SchemaTypes(rows, []byte(schema)); err != nil {
		t.Fatal(err)
	}
	if rows[0].Type != "number" || rows[1].Type != "integer or string" {
		t.Errorf("got %+v", rows)
	}
	if err := SchemaTypes([]Row{{Key: "missing"}}, []byte(schema)); err == nil {
		t.Error("a value the schema lacks was accepted")
	}
}

func TestTable(t *testing.T) {
	got := Table([]Row{{Key: "a", Type: "string", Default: `"x|y"`, Description: "<fullname>-x, `<kept>` a|b"}})
	want := "| `a` | string | `\"x\\|y\"` | &lt;fullname&gt;-x, `<kept>` a\\|b |\n"
	if !strings.HasSuffix(got, want) {
		t.Errorf("got\n%s\nwant a last line\n%s", got, want)
	}
}

// TestChartReadmeIsCurrent fails when the chart's README.md was not regenerated after a
// change of values.yaml, values.schema.json or README.md.gotmpl.
func TestChartReadmeIsCurrent(t *testing.T) {
	const chart = "../../charts/sfconn-operator"
	want, err := Render(chart)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(chart + "/README.md")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Error("charts/sfconn-operator/README.md is stale: run make chart-docs")
	}
}

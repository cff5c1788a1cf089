package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMeaning(t *testing.T) {
	for _, c := range []struct{ name, doc, want string }{
		{"ReasonX", "ReasonX: the token is valid.", "The token is valid."},
		{"ReasonY", "ReasonY is the reason when it expired.", "The reason when it expired."},
		{"ReasonZ", "ReasonZ: spec.suspend is true.", "spec.suspend is true."},
		{"EventA", "EventA: Warning. It failed.", "Warning. It failed."},
	} {
		if got := meaning(constant{name: c.name, doc: c.doc}); got != c.want {
			t.Errorf("meaning(%q) = %q, want %q", c.doc, got, c.want)
		}
	}
}

// writeAPI writes a conditions.go and an events.go to a new directory.
func writeAPI(t *testing.T, conditions, events string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range map[string]string{"conditions.go": conditions, "events.go": events} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("package v1alpha1\n\n"+src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const testConditions = `// Condition types.
const (
	// ConditionReady is True when all is well.
	ConditionReady = "Ready"
)

// Reasons of the Ready condition.
const (
	// ReasonGood: all is well.
	ReasonGood = "Good"
	// ReasonAlias: the same word as ReasonGood.
	ReasonAlias = ReasonGood
)
`

func TestRender(t *testing.T) {
	events := `// Events of tests.
const (
	// EventGood: Normal. Said when all is well.
	EventGood = ReasonGood
	// EventBad: Warning. Said when it is not.
	EventBad = "Bad"
)
`
	dir := writeAPI(t, testConditions, events)
	groups, err := parseGroups(filepath.Join(dir, "conditions.go"), filepath.Join(dir, "events.go"))
	if err != nil {
		t.Fatal(err)
	}
	page, err := render(groups[0], groups[1], map[string]bool{"good": true}, "troubleshooting.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| `Ready` | True when all is well. |",
		"### Reasons of the Ready condition",
		"| [`Good`](troubleshooting.md#good) | All is well. |",
		"| [`Good`](troubleshooting.md#good) | The same word as ReasonGood. |",
		"| `Normal` | [`Good`](troubleshooting.md#good) | Said when all is well. |",
		"| `Warning` | `Bad` | Said when it is not. |",
	} {
		if !strings.Contains(string(page), want) {
			t.Errorf("the page lacks %q:\n%s", want, page)
		}
	}
}

// The generator refuses what would make a page that says nothing or says it wrong.
func TestRefusals(t *testing.T) {
	for name, c := range map[string]struct{ conditions, events, want string }{
		"no doc comment": {testConditions, "// Events.\nconst (\n\tEventX = \"X\"\n)\n", "has no doc comment"},
		"no event type":  {testConditions, "// Events.\nconst (\n\t// EventX: said now.\n\tEventX = \"X\"\n)\n", "must start with"},
		"unknown alias":  {testConditions, "// Events.\nconst (\n\t// EventX: Normal. Now.\n\tEventX = Nowhere\n)\n", "neither a string"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := writeAPI(t, c.conditions, c.events)
			groups, err := parseGroups(filepath.Join(dir, "conditions.go"), filepath.Join(dir, "events.go"))
			if err == nil {
				_, err = render(groups[0], groups[1], nil, "troubleshooting.md")
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got error %v, want one containing %q", err, c.want)
			}
		})
	}
}

package docs

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Every reason the operator puts on an event or a condition is documented, in one place:
// docs/conditions-and-events.md, which make api-docs writes from the constants of
// api/v1alpha1. This test reads the operator's source: every event it records names its
// reason with such a constant (or passes on a condition's reason, which is one), and every
// constant appears on the page.

// conditionsPage is the generated page of conditions, reasons and events.
const conditionsPage = "docs/conditions-and-events.md"

// emitters are the functions that record an event, with the position of the reason among
// their arguments: the controller's event and record helpers, the login flows' Record
// callback, the recorder itself, and the notice literal of transition events.
var emitters = map[string]int{"event": 2, "record": 2, "Record": 1, "Eventf": 3}

// dynamicReasons are the reason arguments that are not constants: each passes on the
// reason of a condition or a failure (the Ready reason), or is the parameter of an emitter
// that forwards it. A new one must be one of these kinds; add it here with care.
var dynamicReasons = []string{"c.Reason", "fl.Reason", "restart.Reason", "n.reason", "reason"}

// apiConstants are the string constants of api/v1alpha1 (name to value), aliases resolved.
func apiConstants(t *testing.T) map[string]string {
	t.Helper()
	fset := token.NewFileSet()
	var specs []*ast.ValueSpec
	for _, name := range []string{"conditions.go", "events.go"} {
		f, err := parser.ParseFile(fset, filepath.Join(repoRoot, "api", "v1alpha1", name), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if vs, ok := n.(*ast.ValueSpec); ok && len(vs.Names) == len(vs.Values) {
				specs = append(specs, vs)
			}
			return true
		})
	}
	values := map[string]string{}
	for range specs {
		for _, vs := range specs {
			for i, n := range vs.Names {
				switch v := vs.Values[i].(type) {
				case *ast.BasicLit:
					if s, err := strconv.Unquote(v.Value); err == nil {
						values[n.Name] = s
					}
				case *ast.Ident:
					if s, ok := values[v.Name]; ok {
						values[n.Name] = s
					}
				}
			}
		}
	}
	return values
}

// camelWord is a quoted CamelCase word, the shape of a reason; a placeholder such as "-"
// in the kubectl plugin's table is not one.
var camelWord = regexp.MustCompile(`^"[A-Z][A-Za-z]+"$`)

// reasonUse is a reason argument of an event in the source.
type reasonUse struct {
	where string
	expr  ast.Expr
}

// emittedReasons returns the reason argument of every event recorded in the operator's
// non-test sources under dir, and the string literals assigned to a variable named like a
// reason.
func emittedReasons(t *testing.T, dir string) (uses []reasonUse, literalReasons []string) {
	t.Helper()
	fset := token.NewFileSet()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				sel, ok := n.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if i, ok := emitters[sel.Sel.Name]; ok && len(n.Args) > i {
					uses = append(uses, reasonUse{fset.Position(n.Pos()).String(), n.Args[i]})
				}
			case *ast.CompositeLit:
				if id, ok := n.Type.(*ast.Ident); ok && id.Name == "notice" && len(n.Elts) > 1 {
					uses = append(uses, reasonUse{fset.Position(n.Pos()).String(), n.Elts[1]})
				}
			case *ast.AssignStmt:
				for i, l := range n.Lhs {
					id, ok := l.(*ast.Ident)
					if !ok || !strings.Contains(strings.ToLower(id.Name), "reason") || i >= len(n.Rhs) {
						continue
					}
					if lit, ok := n.Rhs[i].(*ast.BasicLit); ok && lit.Kind == token.STRING && camelWord.MatchString(lit.Value) {
						literalReasons = append(literalReasons, fset.Position(n.Pos()).String()+": "+id.Name+" = "+lit.Value)
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return uses, literalReasons
}

func exprString(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return exprString(e.X) + "." + e.Sel.Name
	case *ast.BasicLit:
		return e.Value
	}
	return "?"
}

// checkReasons returns what is wrong with the reasons used, given the constants and the
// documented page.
func checkReasons(uses []reasonUse, literals []string, consts map[string]string, page string) []string {
	var problems []string
	for _, u := range uses {
		if lit, ok := u.expr.(*ast.BasicLit); ok {
			problems = append(problems, u.where+": event reason "+lit.Value+" is a literal: declare it in api/v1alpha1/events.go, with a comment, and use the constant")
			continue
		}
		if sel, ok := u.expr.(*ast.SelectorExpr); ok {
			if x, ok := sel.X.(*ast.Ident); ok && x.Name == "sfv1" {
				v, ok := consts[sel.Sel.Name]
				switch {
				case !ok:
					problems = append(problems, u.where+": sfv1."+sel.Sel.Name+" is not a constant of api/v1alpha1/conditions.go or events.go")
				case !strings.Contains(page, "`"+v+"`"):
					problems = append(problems, u.where+": reason "+v+" is not on "+conditionsPage+": run make api-docs")
				}
				continue
			}
		}
		if s := exprString(u.expr); !slices.Contains(dynamicReasons, s) {
			problems = append(problems, u.where+": event reason "+s+" is neither a constant of api/v1alpha1 nor a known condition reason")
		}
	}
	for _, l := range literals {
		problems = append(problems, l+": a reason is a constant of api/v1alpha1")
	}
	return problems
}

// TestEveryEmittedReasonIsDocumented: the reasons of the operator's events are constants
// on the generated page, and so is every condition and event constant.
func TestEveryEmittedReasonIsDocumented(t *testing.T) {
	consts := apiConstants(t)
	raw, err := os.ReadFile(filepath.Join(repoRoot, filepath.FromSlash(conditionsPage)))
	if err != nil {
		t.Fatal(err)
	}
	page := string(raw)
	uses, literals := emittedReasons(t, filepath.Join(repoRoot, "internal"))
	if len(uses) < 15 {
		t.Fatalf("found %d event reasons in internal/: has the way events are recorded changed? Update emitters", len(uses))
	}
	for _, p := range checkReasons(uses, literals, consts, page) {
		t.Error(p)
	}
	var n int
	for name, v := range consts {
		if strings.HasPrefix(name, "Condition") || strings.HasPrefix(name, "Reason") || strings.HasPrefix(name, "Event") {
			n++
			if !strings.Contains(page, "`"+v+"`") {
				t.Errorf("%s (%q) is not on %s: run make api-docs", name, v, conditionsPage)
			}
		}
	}
	if n < 30 {
		t.Fatalf("found %d condition, reason and event constants: has api/v1alpha1 changed layout?", n)
	}
}

// TestCheckReasonsFails: the check reports a literal reason, an unknown dynamic one, and a
// constant missing from the page.
func TestCheckReasonsFails(t *testing.T) {
	src := `package x
func f() {
	r.event(p, "Normal", "Literal", "A", "n")
	r.record(o, "Warning", something.Else, "A", "n")
	env.Record("Normal", sfv1.EventMissing, "A", "n")
	r.event(p, "Normal", sfv1.EventListed, "A", "n")
	myReason := "Hidden"
	_ = notice{"Normal", c.Reason, "A", "n"}
}`
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x.go"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	uses, literals := emittedReasons(t, dir)
	got := checkReasons(uses, literals, map[string]string{"EventMissing": "Missing", "EventListed": "Listed"}, "| `Listed` |")
	want := []string{`"Literal" is a literal`, "something.Else is neither", "Missing is not on", `myReason = "Hidden"`}
	if len(got) != len(want) {
		t.Fatalf("got %d problems, want %d: %q", len(got), len(want), got)
	}
	for i, w := range want {
		if !strings.Contains(got[i], w) {
			t.Errorf("problem %d = %q, want it to contain %q", i, got[i], w)
		}
	}
}

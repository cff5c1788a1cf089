// Command refdocs writes docs/conditions-and-events.md from the constants of
// api/v1alpha1: the condition types, their reasons and the event reasons, each with its doc
// comment. The lists were once copied by hand into the README and several pages and
// drifted apart; now the Go constants are the only source, `make api-docs` writes the
// page, and `make verify` fails when the committed page is stale.
//
//	go run ./hack/refdocs -api api/v1alpha1 -troubleshooting docs/troubleshooting.md -out docs/conditions-and-events.md
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

func main() {
	api := flag.String("api", "api/v1alpha1", "directory of the API package")
	trouble := flag.String("troubleshooting", "docs/troubleshooting.md", "page whose sections the reasons link to")
	out := flag.String("out", "docs/conditions-and-events.md", "page to write")
	flag.Parse()
	if err := run(*api, *trouble, *out); err != nil {
		fmt.Fprintln(os.Stderr, "refdocs:", err)
		os.Exit(1)
	}
}

func run(api, trouble, out string) error {
	groups, err := parseGroups(filepath.Join(api, "conditions.go"), filepath.Join(api, "events.go"))
	if err != nil {
		return err
	}
	conditions, events := groups[0], groups[1]
	md, err := os.ReadFile(trouble)
	if err != nil {
		return err
	}
	rel, err := filepath.Rel(filepath.Dir(out), trouble)
	if err != nil {
		return err
	}
	page, err := render(conditions, events, sectionsOf(string(md)), filepath.ToSlash(rel))
	if err != nil {
		return err
	}
	return os.WriteFile(out, page, 0o644)
}

// constant is an exported string constant with its doc comment.
type constant struct {
	name, value, doc string
}

// group is a const block with the comment above it.
type group struct {
	doc    string
	consts []constant
}

// parseGroups reads the const blocks of each file. A constant may be defined as another
// constant of these files (ReasonExpiredToken = ReasonExpired); the value is resolved.
func parseGroups(files ...string) ([][]group, error) {
	fset := token.NewFileSet()
	values := map[string]string{}
	var pending []*ast.ValueSpec
	var all [][]group
	for _, file := range files {
		groups, specs, err := parseFile(fset, file)
		if err != nil {
			return nil, err
		}
		all = append(all, groups)
		pending = append(pending, specs...)
	}
	// Each pass resolves at least one more alias, so len(pending) passes resolve them all.
	for range pending {
		for _, vs := range pending {
			switch v := vs.Values[0].(type) {
			case *ast.BasicLit:
				s, err := strconv.Unquote(v.Value)
				if err != nil {
					return nil, err
				}
				values[vs.Names[0].Name] = s
			case *ast.Ident:
				if s, ok := values[v.Name]; ok {
					values[vs.Names[0].Name] = s
				}
			}
		}
	}
	for fi, groups := range all {
		for gi := range groups {
			for ci := range groups[gi].consts {
				c := &groups[gi].consts[ci]
				v, ok := values[c.name]
				if !ok {
					return nil, fmt.Errorf("%s: the value of %s is neither a string nor another constant", files[fi], c.name)
				}
				c.value = v
			}
		}
	}
	return all, nil
}

// parseFile reads the const blocks of one file, each constant with its doc comment.
func parseFile(fset *token.FileSet, file string) ([]group, []*ast.ValueSpec, error) {
	f, err := parser.ParseFile(fset, file, nil, parser.ParseComments)
	if err != nil {
		return nil, nil, err
	}
	var groups []group
	var pending []*ast.ValueSpec
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST || !gd.Lparen.IsValid() {
			continue
		}
		g := group{doc: text(gd.Doc)}
		for _, s := range gd.Specs {
			vs := s.(*ast.ValueSpec)
			if len(vs.Names) != 1 || len(vs.Values) != 1 || !vs.Names[0].IsExported() {
				return nil, nil, fmt.Errorf("%s: one exported constant a line, please", fset.Position(vs.Pos()))
			}
			if text(vs.Doc) == "" {
				return nil, nil, fmt.Errorf("%s: %s has no doc comment: say what it means, the docs are made from it", fset.Position(vs.Pos()), vs.Names[0].Name)
			}
			g.consts = append(g.consts, constant{name: vs.Names[0].Name, doc: text(vs.Doc)})
			pending = append(pending, vs)
		}
		groups = append(groups, g)
	}
	return groups, pending, nil
}

// text joins a comment's lines into one paragraph.
func text(cg *ast.CommentGroup) string {
	if cg == nil {
		return ""
	}
	return strings.Join(strings.Fields(cg.Text()), " ")
}

var heading = regexp.MustCompile(`(?m)^#{2,3} +(\w+) *$`)

// sectionsOf lists the one-word headings of the troubleshooting page, whose anchors are
// the word in lower case.
func sectionsOf(md string) map[string]bool {
	out := map[string]bool{}
	for _, m := range heading.FindAllStringSubmatch(md, -1) {
		out[strings.ToLower(m[1])] = true
	}
	return out
}

// meaning strips the constant's name from the start of its comment: "ReasonX: the..." and
// "ReasonX is the ..." read as "the ...".
func meaning(c constant) string {
	d := strings.TrimPrefix(c.doc, c.name)
	d = strings.TrimPrefix(d, ":")
	d = strings.TrimPrefix(strings.TrimSpace(d), "is ")
	d = strings.TrimSpace(d)
	first, _, _ := strings.Cut(d, " ")
	if d == "" || strings.Contains(first, ".") {
		return d // a field path such as spec.suspend keeps its case
	}
	return strings.ToUpper(d[:1]) + d[1:]
}

var eventType = regexp.MustCompile(`^(Normal|Warning)\. +`)

func render(conditions, events []group, sections map[string]bool, trouble string) ([]byte, error) {
	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	reason := func(v string) string {
		if sections[strings.ToLower(v)] {
			return fmt.Sprintf("[`%s`](%s#%s)", v, trouble, strings.ToLower(v))
		}
		return "`" + v + "`"
	}
	cell := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

	p("<!-- Generated by make api-docs (hack/refdocs) from api/v1alpha1/conditions.go and api/v1alpha1/events.go; do not edit. -->\n\n")
	p("# Conditions, reasons and events\n\n")
	p("This page is made from the constants of `api/v1alpha1`: it is the one list of the condition\n")
	p("types, their reasons and the event reasons of a `SalesforceConnection` and a\n")
	p("`ClusterSalesforceConnection`. Reasons are stable CamelCase words, meant for scripts and\n")
	p("alerts. Each condition carries `observedGeneration`. A linked reason has a section in\n")
	p("[troubleshooting](%s) that says what to do.\n\n", trouble)

	if len(conditions) == 0 || len(conditions[0].consts) == 0 {
		return nil, fmt.Errorf("conditions.go: the first const block must be the condition types")
	}
	p("## Condition types\n\n| type | meaning |\n| --- | --- |\n")
	for _, c := range conditions[0].consts {
		p("| `%s` | %s |\n", c.value, cell(meaning(c)))
	}
	p("\n## Condition reasons\n")
	for _, g := range conditions[1:] {
		if !strings.HasPrefix(g.doc, "Reasons of") {
			continue
		}
		p("\n### %s\n\n| reason | meaning |\n| --- | --- |\n", strings.TrimSuffix(g.doc, "."))
		for _, c := range g.consts {
			if c.value == "" {
				continue
			}
			p("| %s | %s |\n", reason(c.value), cell(meaning(c)))
		}
	}

	p("\n## Events\n\n")
	p("The operator records these events on the connection (`kubectl describe sfconn NAME`,\n")
	p("`kubectl get events --field-selector involvedObject.kind=SalesforceConnection`). Besides\n")
	p("them, a failed login records a `Warning` event whose reason is the `Ready` reason it\n")
	p("gives, and so does `Ready` when it leaves `True` or changes reason; `Expiring` turning\n")
	p("`True` records a `Warning` with its reason (`RenewalFailing`, `Expired`); a device login\n")
	p("records a `Normal` event `AwaitingApproval`, with the URL, the code and its expiry, for\n")
	p("each code it asks for. Kubernetes keeps events for an hour by default; the conditions stay.\n")
	for _, g := range events {
		p("\n### %s\n\n| type | reason | when |\n| --- | --- | --- |\n", strings.TrimSuffix(g.doc, "."))
		for _, c := range g.consts {
			m := meaning(c)
			t := eventType.FindStringSubmatch(m)
			if t == nil {
				return nil, fmt.Errorf("events.go: the comment of %s must start with %q or %q: the event's type", c.name, c.name+": Normal.", c.name+": Warning.")
			}
			p("| `%s` | %s | %s |\n", t[1], reason(c.value), cell(strings.TrimPrefix(m, t[0])))
		}
	}
	return b.Bytes(), nil
}

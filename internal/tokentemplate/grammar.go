package tokentemplate

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"text/template/parse"
)

// The grammar of a data template is a small part of text/template's: text, and actions
// that hold one pipeline of commands made of
//
//   - fields of Fields, one level deep: .AccessToken;
//   - string literals ("x", `x`) and number literals (1, 1.5, 0x1F, 'a'), not complex;
//   - the functions of funcNames, called with as many arguments as their usage says
//     (counting, in a later stage of a pipeline, the value piped in);
//   - parenthesized pipelines as arguments, nested at most maxNesting deep.
//
// Comments ({{/* ... */}}) are allowed and print nothing. Everything else is refused before
// the template runs: if, range, with, define, template, block, break, continue, variables
// ($, $x, :=, =), the dot alone, field access on a result ((...).X), true, false and nil,
// and every function outside funcNames, among them text/template's builtins (printf,
// print, println, index, slice, len, call, and, or, not, eq, ne, lt, le, gt, ge, html, js,
// urlquery). Without loops, template calls or variables a template runs each of its
// commands once, so its work is bounded by its length and by the functions' budget.

// funcNames are the functions a template may call, in the order the docs list them.
var funcNames = []string{"json", "quote", "upper", "lower", "trimPrefix", "trimSuffix", "replace", "b64enc"}

// usage is how each function is called; its words after the name are its arguments.
var usage = map[string]string{
	"json":       "json VALUE",
	"quote":      "quote STRING",
	"upper":      "upper STRING",
	"lower":      "lower STRING",
	"trimPrefix": "trimPrefix PREFIX STRING",
	"trimSuffix": "trimSuffix SUFFIX STRING",
	"replace":    "replace OLD NEW STRING",
	"b64enc":     "b64enc STRING",
}

// fieldNames are the fields of Fields, in declaration order.
var fieldNames = func() []string {
	t := reflect.TypeFor[Fields]()
	names := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		names = append(names, t.Field(i).Name)
	}
	return names
}()

// maxNesting is how deep parenthesized pipelines may nest: {{ upper (lower (quote .Name)) }}
// nests 2 deep.
const maxNesting = 8

// allowed says what a template may hold; grammar errors end with it or with the list that
// fits them better.
var (
	allowed = "a template may hold only text, fields such as .AccessToken, string and number literals, and the functions " +
		joinAnd(funcNames, "") + ", alone or in pipelines"
	funcList  = "the functions are " + joinAnd(funcNames, "")
	fieldList = "the fields are " + joinAnd(fieldNames, ".")
)

func joinAnd(names []string, prefix string) string {
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = prefix + n
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

func isFunc(name string) bool  { return slices.Contains(funcNames, name) }
func isField(name string) bool { return slices.Contains(fieldNames, name) }

// parseKey parses one data template and refuses what the grammar above does not allow.
// Its errors hold the template's words (never a field's value), so they can be shown at
// Render too. It returns the names of the fields the template reads.
func parseKey(key, text string) (*parse.Tree, []string, error) {
	tree := parse.New(key)
	// Unknown and refused functions are reported by the walk below, with the list of
	// allowed ones, rather than by the parser.
	tree.Mode = parse.SkipFuncCheck
	set := map[string]*parse.Tree{}
	if _, err := tree.Parse(text, "", "", set); err != nil {
		return nil, nil, err
	}
	// {{define}} and {{block}} add templates to the set; a define named like the key even
	// replaces an empty main template.
	if len(set) != 1 || set[key] != tree {
		return nil, nil, errors.New("{{define}} and {{block}} are not allowed; " + allowed)
	}
	w := walker{text: text}
	if err := w.list(tree.Root); err != nil {
		return nil, nil, err
	}
	return tree, w.fields, nil
}

type walker struct {
	text   string
	fields []string
}

// refuse says where the node is, as line and column (in bytes) of the template.
func (w *walker) refuse(n parse.Node, format string, args ...any) error {
	return w.refuseAt(int(n.Position()), format, args...)
}

// refuseAction says where the action holding the node starts: an if, range or with node
// is positioned at its pipeline, a few characters after its {{.
func (w *walker) refuseAction(n parse.Node, format string, args ...any) error {
	pos := min(max(int(n.Position()), 0), len(w.text))
	if open := strings.LastIndex(w.text[:pos], "{{"); open >= 0 {
		pos = open
	}
	return w.refuseAt(pos, format, args...)
}

func (w *walker) refuseAt(pos int, format string, args ...any) error {
	pos = min(max(pos, 0), len(w.text))
	before := w.text[:pos]
	line := 1 + strings.Count(before, "\n")
	col := pos - (strings.LastIndex(before, "\n") + 1) + 1
	return fmt.Errorf("line %d, column %d: %s", line, col, fmt.Sprintf(format, args...))
}

func (w *walker) list(l *parse.ListNode) error {
	if l == nil {
		return nil
	}
	for _, n := range l.Nodes {
		var err error
		switch n := n.(type) {
		case *parse.TextNode, *parse.CommentNode:
		case *parse.ActionNode:
			err = w.pipe(n.Pipe, 0)
		case *parse.IfNode:
			err = w.refuseAction(n, "{{if}} is not allowed; %s", allowed)
		case *parse.RangeNode:
			err = w.refuseAction(n, "{{range}} is not allowed; %s", allowed)
		case *parse.WithNode:
			err = w.refuseAction(n, "{{with}} is not allowed; %s", allowed)
		case *parse.TemplateNode:
			err = w.refuseAction(n, "{{template}} and {{block}} are not allowed; %s", allowed)
		case *parse.BreakNode, *parse.ContinueNode:
			err = w.refuseAction(n, "{{break}} and {{continue}} are not allowed; %s", allowed)
		default:
			err = w.refuseAction(n, "%s is not allowed; %s", n, allowed)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (w *walker) pipe(p *parse.PipeNode, depth int) error {
	if depth > maxNesting {
		return w.refuse(p, "parentheses nest more than %d deep", maxNesting)
	}
	if len(p.Decl) > 0 {
		return w.refuse(p, "variables ($x := ..., $x = ...) are not allowed; %s", allowed)
	}
	for i, c := range p.Cmds {
		if err := w.command(c, i, depth); err != nil {
			return err
		}
	}
	return nil
}

// command checks one command of a pipeline: stage is its index in the pipeline, since a
// later stage receives the previous one's result as its last argument.
func (w *walker) command(c *parse.CommandNode, stage, depth int) error {
	for i, arg := range c.Args {
		if err := w.arg(arg, i == 0, depth); err != nil {
			return err
		}
	}
	if len(c.Args) == 0 {
		return nil
	}
	fn, call := c.Args[0].(*parse.IdentifierNode)
	if !call {
		if len(c.Args) > 1 || stage > 0 {
			return w.refuse(c, "%s is not a function and takes no arguments; %s", c.Args[0], funcList)
		}
		return nil
	}
	// A later stage of a pipeline gets the previous stage's result as its last argument.
	given := len(c.Args) - 1
	if stage > 0 {
		given++
	}
	if want := len(strings.Fields(usage[fn.Ident])) - 1; given != want {
		return w.refuse(fn, "%s takes %d argument(s), not %d: %s (after a |, the value piped in is the last one)",
			fn.Ident, want, given, usage[fn.Ident])
	}
	return nil
}

// arg checks one word of a command; first says it is the command's first word, the one
// that names a function.
func (w *walker) arg(n parse.Node, first bool, depth int) error {
	switch n := n.(type) {
	case *parse.IdentifierNode:
		if !isFunc(n.Ident) {
			return w.refuse(n, "function %q is not allowed; %s", n.Ident, funcList)
		}
		if !first {
			// An argument that is a function name calls it without arguments.
			return w.refuse(n, "%s takes %d argument(s), not 0: %s; put a call in an argument between parentheses",
				n.Ident, len(strings.Fields(usage[n.Ident]))-1, usage[n.Ident])
		}
	case *parse.FieldNode:
		name := "." + strings.Join(n.Ident, ".")
		if len(n.Ident) != 1 || !isField(n.Ident[0]) {
			return w.refuse(n, "unknown field %s; %s", name, fieldList)
		}
		if !slices.Contains(w.fields, n.Ident[0]) {
			w.fields = append(w.fields, n.Ident[0])
		}
	case *parse.StringNode:
	case *parse.NumberNode:
		if !n.IsInt && !n.IsUint && !n.IsFloat {
			return w.refuse(n, "complex number %s is not allowed; use a string or a real number", n.Text)
		}
	case *parse.PipeNode:
		return w.pipe(n, depth+1)
	case *parse.DotNode:
		return w.refuse(n, "the dot alone ({{.}}) is not allowed; name a field, such as .AccessToken; %s", fieldList)
	case *parse.VariableNode:
		return w.refuse(n, "variables ($, $x) are not allowed; %s", allowed)
	case *parse.ChainNode:
		return w.refuse(n, "a field of a result ((...).Field) is not allowed; %s", allowed)
	case *parse.BoolNode, *parse.NilNode:
		return w.refuse(n, "true, false and nil are not allowed; use a string or a number")
	default:
		return w.refuse(n, "%s is not allowed; %s", n, allowed)
	}
	return nil
}

package emulator

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// The SOQL parser: the one family of queries the operator sends, over OauthToken.

// soqlQuery is a parsed query of the supported family.
type soqlQuery struct {
	fields  []string // canonical names, in the order selected
	where   []soqlCond
	orderBy string // CreatedDate, LastUsedDate or "" for the default order
	desc    bool
	limit   int // -1 for none
}

type soqlCond struct {
	field string // AppName or UserId
	value string
}

type soqlParser struct {
	toks []soqlToken
	pos  int
}

func (p *soqlParser) peek() soqlToken { return p.toks[p.pos] }

func (p *soqlParser) next() soqlToken {
	t := p.toks[p.pos]
	if t.kind != soqlEOF {
		p.pos++
	}
	return t
}

// keyword consumes the next token if it is the keyword kw, in any case.
func (p *soqlParser) keyword(kw string) bool {
	if t := p.peek(); t.kind == soqlWord && strings.EqualFold(t.text, kw) {
		p.pos++
		return true
	}
	return false
}

func unexpected(t soqlToken, want string) *restError {
	if t.kind == soqlEOF {
		return malformedQuery("unexpected end of query: expected %s", want)
	}
	return malformedQuery("unexpected token %s: expected %s", t, want)
}

func isName(t soqlToken) bool { return t.kind == soqlWord && !soqlReserved[strings.ToLower(t.text)] }

// oauthTokenField resolves a field name of the query to its canonical spelling.
func oauthTokenField(name string) (string, *restError) {
	key := strings.ToLower(name)
	if f, ok := oauthTokenFields[key]; ok {
		return f, nil
	}
	if f, ok := tokenOauthTokenFields[key]; ok {
		return "", malformedQuery("%s is not emulated: the emulator never returns a token from a query", f)
	}
	return "", malformedQuery("No such column '%s' on entity 'OauthToken'. The emulator knows Id, AppName, CreatedDate, LastUsedDate, UseCount and UserId.", name)
}

// parseSOQL parses a query of the supported family. The object is checked as soon as it is
// read: until then the field names cannot be judged, which is why Salesforce answers
// INVALID_TYPE rather than a field error for a query on an unknown object.
func parseSOQL(q string) (*soqlQuery, *restError) {
	toks, err := lexSOQL(q)
	if err != nil {
		return nil, err
	}
	p := &soqlParser{toks: toks}
	if !p.keyword("SELECT") {
		return nil, unexpected(p.peek(), "SELECT at the start of the query")
	}
	var names []string
	for {
		t := p.next()
		if !isName(t) {
			return nil, unexpected(t, "a field name")
		}
		if n := p.peek(); n.kind == soqlSymbol && n.text == "(" {
			return nil, malformedQuery("%s() is not supported by the emulator: select Id and read totalSize", t.text)
		}
		names = append(names, t.text)
		if p.peek().kind != soqlComma {
			break
		}
		p.next()
	}
	if !p.keyword("FROM") {
		return nil, unexpected(p.peek(), "',' or FROM after a field name")
	}
	obj := p.next()
	if !isName(obj) {
		return nil, unexpected(obj, "an object name after FROM")
	}
	if !strings.EqualFold(obj.text, "OauthToken") {
		return nil, &restError{status: http.StatusBadRequest, code: "INVALID_TYPE", message: fmt.Sprintf(
			"sObject type '%s' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.",
			obj.text)}
	}

	query := &soqlQuery{limit: -1}
	for _, name := range names {
		f, err := oauthTokenField(name)
		if err != nil {
			return nil, err
		}
		if slices.Contains(query.fields, f) {
			return nil, malformedQuery("duplicate field selected: %s", f)
		}
		query.fields = append(query.fields, f)
	}
	if p.keyword("WHERE") {
		for {
			c, err := p.condition()
			if err != nil {
				return nil, err
			}
			query.where = append(query.where, c)
			if !p.keyword("AND") {
				break
			}
		}
		if p.keyword("OR") {
			return nil, malformedQuery("OR is not supported by the emulator: join conditions with AND")
		}
	}
	if p.keyword("ORDER") {
		if !p.keyword("BY") {
			return nil, unexpected(p.peek(), "BY after ORDER")
		}
		t := p.next()
		if !isName(t) {
			return nil, unexpected(t, "a field name after ORDER BY")
		}
		f, err := oauthTokenField(t.text)
		if err != nil {
			return nil, err
		}
		if f != "CreatedDate" && f != "LastUsedDate" {
			return nil, malformedQuery("ORDER BY %s is not supported by the emulator: order by CreatedDate or LastUsedDate", f)
		}
		query.orderBy = f
		if p.keyword("DESC") {
			query.desc = true
		} else {
			p.keyword("ASC")
		}
		if p.peek().kind == soqlComma {
			return nil, malformedQuery("the emulator orders by one field only")
		}
	}
	if p.keyword("LIMIT") {
		t := p.next()
		n, err := strconv.Atoi(t.text)
		if t.kind != soqlNumber || err != nil {
			return nil, unexpected(t, "a non-negative integer after LIMIT")
		}
		query.limit = n
	}
	if t := p.peek(); t.kind != soqlEOF {
		return nil, unexpected(t, "WHERE, ORDER BY or LIMIT, in that order, or the end of the query")
	}
	return query, nil
}

// condition parses <field> = '<string>' for the two filterable fields.
func (p *soqlParser) condition() (soqlCond, *restError) {
	t := p.next()
	if !isName(t) {
		return soqlCond{}, unexpected(t, "AppName or UserId in a condition")
	}
	f, err := oauthTokenField(t.text)
	if err != nil {
		return soqlCond{}, err
	}
	if f != "AppName" && f != "UserId" {
		return soqlCond{}, malformedQuery("filtering on %s is not supported by the emulator: filter on AppName or UserId", f)
	}
	switch op := p.next(); op.kind {
	case soqlEquals:
	case soqlEOF:
		return soqlCond{}, unexpected(op, "= after "+f)
	default:
		return soqlCond{}, malformedQuery("operator %s is not supported by the emulator: compare %s with =", op, f)
	}
	v := p.next()
	if v.kind != soqlString {
		return soqlCond{}, unexpected(v, "a quoted string after "+f+" =")
	}
	if f == "UserId" && !((len(v.text) == 15 || len(v.text) == 18) && isAlnum(v.text)) {
		return soqlCond{}, malformedQuery("invalid ID field: %s", v.text)
	}
	return soqlCond{field: f, value: v.text}, nil
}

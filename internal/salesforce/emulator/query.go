package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// The query resource answers one SOQL family, enough for an operator to count the approvals
// a user holds for a connected app before it mints another and evicts the oldest
// (docs/salesforce-behaviour.md#the-oauthtoken-object-lists-approvals):
//
//	SELECT <fields> FROM OauthToken [WHERE <cond> [AND <cond>]…]
//	    [ORDER BY CreatedDate|LastUsedDate [ASC|DESC]] [LIMIT n]
//
// where <cond> is AppName = '…' or UserId = '…'. Every other query is refused with a 400
// rather than answered approximately: an emulator that quietly ignored a clause would let a
// client believe a wrong count.

// oauthTokenFields are the OauthToken fields answered, by lower-cased name (SOQL names are
// case-insensitive), mapped to their canonical spelling.
var oauthTokenFields = map[string]string{
	"id":           "Id",
	"appname":      "AppName",
	"createddate":  "CreatedDate",
	"lastuseddate": "LastUsedDate",
	"usecount":     "UseCount",
	"userid":       "UserId",
}

// tokenOauthTokenFields exist on the real object
// (docs/salesforce-behaviour.md#the-oauthtoken-object-lists-approvals) but would hand out
// the refresh token or what revokes it; the emulator keeps tokens out of every answer but
// the token endpoint's.
var tokenOauthTokenFields = map[string]string{
	"accesstoken":  "AccessToken",
	"deletetoken":  "DeleteToken",
	"requesttoken": "RequestToken",
}

// soqlReserved are SOQL keywords. A keyword where a field or object name belongs is a syntax
// error, not an unknown name, which gives a clearer message for "SELECT FROM OauthToken".
var soqlReserved = map[string]bool{
	"and": true, "asc": true, "by": true, "desc": true, "excludes": true, "first": true,
	"from": true, "group": true, "having": true, "in": true, "includes": true, "last": true,
	"like": true, "limit": true, "not": true, "null": true, "nulls": true, "offset": true,
	"or": true, "order": true, "select": true, "typeof": true, "using": true, "where": true,
	"with": true,
}

// sfDateTime is how the REST API writes a datetime: milliseconds and a numeric zone, always
// UTC.
const sfDateTime = "2006-01-02T15:04:05.000-0700"

func malformedQuery(format string, args ...any) *restError {
	return &restError{status: http.StatusBadRequest, code: "MALFORMED_QUERY", message: fmt.Sprintf(format, args...)}
}

type soqlTokenKind int

const (
	soqlEOF soqlTokenKind = iota
	soqlWord
	soqlString
	soqlNumber
	soqlComma
	soqlEquals
	soqlSymbol // an operator or punctuation the subset has no use for
)

type soqlToken struct {
	kind soqlTokenKind
	text string // as written; for a string literal, its unescaped value
}

func (t soqlToken) String() string {
	if t.kind == soqlEOF {
		return "end of query"
	}
	return "'" + t.text + "'"
}

func isWordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// lexSOQL splits a query into tokens. Names may hold dots so that a relationship path such as
// User.Name reads as one (unknown) field rather than as stray punctuation.
func lexSOQL(q string) ([]soqlToken, *restError) {
	var toks []soqlToken
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
		case c >= '0' && c <= '9':
			j := i + 1
			for j < len(q) && q[j] >= '0' && q[j] <= '9' {
				j++
			}
			toks = append(toks, soqlToken{soqlNumber, q[i:j]})
			i = j
		case isWordByte(c):
			j := i + 1
			for j < len(q) && (isWordByte(q[j]) || q[j] == '.') {
				j++
			}
			toks = append(toks, soqlToken{soqlWord, q[i:j]})
			i = j
		case c == '\'':
			s, n, err := unquoteSOQL(q[i:])
			if err != nil {
				return nil, err
			}
			toks = append(toks, soqlToken{soqlString, s})
			i += n
		case c == '"':
			return nil, malformedQuery(`string literals take single quotes: '…', with \' for a quote inside`)
		case c == ',':
			toks = append(toks, soqlToken{soqlComma, ","})
			i++
		case c == '=':
			toks = append(toks, soqlToken{soqlEquals, "="})
			i++
		default:
			n := 1
			if rest := q[i:]; strings.HasPrefix(rest, "!=") || strings.HasPrefix(rest, "<>") ||
				strings.HasPrefix(rest, "<=") || strings.HasPrefix(rest, ">=") {
				n = 2
			} else if c >= utf8.RuneSelf {
				_, n = utf8.DecodeRuneInString(rest)
			}
			toks = append(toks, soqlToken{soqlSymbol, q[i : i+n]})
			i += n
		}
	}
	return append(toks, soqlToken{kind: soqlEOF}), nil
}

// unquoteSOQL reads the string literal at the start of s (which begins with a quote) and
// returns its value and length. The escapes are SOQL's documented ones; "a backslash
// character in any other context" is an error, and \_ and \% belong to LIKE alone, which
// the subset does not have.
func unquoteSOQL(s string) (string, int, *restError) {
	var b strings.Builder
	for i := 1; i < len(s); {
		c := s[i]
		if c == '\'' {
			return b.String(), i + 1, nil
		}
		if c != '\\' {
			b.WriteByte(c)
			i++
			continue
		}
		if i+1 >= len(s) {
			break
		}
		switch esc := s[i+1]; esc {
		case 'n', 'N':
			b.WriteByte('\n')
		case 'r', 'R':
			b.WriteByte('\r')
		case 't', 'T':
			b.WriteByte('\t')
		case 'b', 'B':
			b.WriteByte('\b')
		case 'f', 'F':
			b.WriteByte('\f')
		case '\'', '"', '\\':
			b.WriteByte(esc)
		case 'u':
			r, n, err := unicodeEscape(s[i:])
			if err != nil {
				return "", 0, err
			}
			b.WriteRune(r)
			i += n
			continue
		case '_', '%':
			return "", 0, malformedQuery(`invalid escape sequence \%c: it is valid only in a LIKE expression`, esc)
		default:
			return "", 0, malformedQuery(`invalid escape sequence \%c in a string literal; use \\ for a backslash`, esc)
		}
		i += 2
	}
	return "", 0, malformedQuery(`unterminated string literal: a quote inside a string must be written \'`)
}

// unicodeEscape reads \uXXXX at the start of s, and a second one when the first is the high
// half of a UTF-16 surrogate pair, as Java-style escapes spell characters beyond U+FFFF.
func unicodeEscape(s string) (rune, int, *restError) {
	hex4 := func(s string) (rune, bool) {
		if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
			return 0, false
		}
		v, err := strconv.ParseUint(s[2:6], 16, 16)
		return rune(v), err == nil
	}
	r, ok := hex4(s)
	if !ok {
		return 0, 0, malformedQuery(`invalid escape sequence: \u takes four hexadecimal digits`)
	}
	if !utf16.IsSurrogate(r) {
		return r, 6, nil
	}
	if low, ok := hex4(s[6:]); ok {
		if pair := utf16.DecodeRune(r, low); pair != utf8.RuneError {
			return pair, 12, nil
		}
	}
	return 0, 0, malformedQuery(`invalid escape sequence: \u%04X is half of a surrogate pair`, r)
}

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

// oauthTokenRow is an approval as the OauthToken object shows it.
type oauthTokenRow struct {
	id       string
	appName  string
	userID   string
	created  time.Time
	lastUsed time.Time
	useCount int
}

func (r *oauthTokenRow) value(field string) any {
	switch field {
	case "Id":
		return r.id
	case "AppName":
		return r.appName
	case "CreatedDate":
		return r.created.UTC().Format(sfDateTime)
	case "LastUsedDate":
		return r.lastUsed.UTC().Format(sfDateTime)
	case "UseCount":
		return r.useCount
	case "UserId":
		return r.userID
	}
	return nil
}

// matches applies a condition. Text comparison with = is case-insensitive in SOQL; an ID
// matches in its 15- or 18-character form, and only its first 15 characters are
// case-sensitive data.
func (c soqlCond) matches(r *oauthTokenRow) bool {
	switch c.field {
	case "AppName":
		return strings.EqualFold(r.appName, c.value)
	case "UserId":
		return id15(r.userID) == id15(c.value)
	}
	return false
}

// oauthTokenID derives the OauthToken ID (key prefix 0CJ) from the approval's sequence
// number, which survives refresh token rotation and is never reused, so a client can track
// one approval across queries.
func oauthTokenID(a *approval) string { return to18(fmt.Sprintf("0CJ%012d", a.seq)) }

// oauthTokensLocked runs a query for caller. "Users with the Customize Application
// permission see all tokens for all users in the org. Otherwise, you see only your own
// tokens" (OauthToken object reference); no one sees another org's.
func (e *Emulator) oauthTokensLocked(q *soqlQuery, caller *User) []oauthTokenRow {
	e.purgeExpiredApprovalsLocked()
	var rows []oauthTokenRow
	for _, a := range e.sortedApprovalsLocked("", "") {
		owner, app := e.userLocked(a.username), e.apps[a.clientID]
		if owner == nil || app == nil || owner.OrgID != caller.OrgID {
			continue
		}
		if !caller.CustomizeApplication && !strings.EqualFold(owner.Username, caller.Username) {
			continue
		}
		name := app.Name
		if name == "" {
			name = app.ClientID
		}
		row := oauthTokenRow{
			id: oauthTokenID(a), appName: name, userID: owner.ID,
			created: a.created, lastUsed: a.lastUsed, useCount: a.useCount,
		}
		if !slices.ContainsFunc(q.where, func(c soqlCond) bool { return !c.matches(&row) }) {
			rows = append(rows, row)
		}
	}
	if q.orderBy != "" {
		// Stable, so ties keep the oldest-first order approvals are listed in.
		slices.SortStableFunc(rows, func(x, y oauthTokenRow) int {
			c := x.created.Compare(y.created)
			if q.orderBy == "LastUsedDate" {
				c = x.lastUsed.Compare(y.lastUsed)
			}
			if q.desc {
				return -c
			}
			return c
		})
	}
	if q.limit >= 0 && len(rows) > q.limit {
		rows = rows[:q.limit]
	}
	return rows
}

// sobject is one record of a query answer. Salesforce writes a record's fields after its
// attributes in the order the query selected them; a Go map would sort them instead.
type sobject struct {
	attributes map[string]string
	fields     []string
	values     []any
}

func (s sobject) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	attrs, err := json.Marshal(s.attributes)
	if err != nil {
		return nil, err
	}
	b.WriteString(`{"attributes":`)
	b.Write(attrs)
	for i, f := range s.fields {
		v, err := json.Marshal(s.values[i])
		if err != nil {
			return nil, err
		}
		b.WriteString(`,"` + f + `":`) // a canonical field name, plain ASCII
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

type queryResult struct {
	TotalSize int       `json:"totalSize"`
	Done      bool      `json:"done"`
	Records   []sobject `json:"records"`
}

// serveQuery is GET /services/data/vNN.N/query?q=… for the OauthToken family above, after
// serveData has checked the token and counted the call. caller is the stored user of the
// token; stored users are replaced, never changed in place, so it may be read unlocked.
// All rows fit in one answer, so done is always true and there is no nextRecordsUrl.
func (e *Emulator) serveQuery(w http.ResponseWriter, r *http.Request, info *RequestRecord, version string, caller *User) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeRESTError(w, info, &restError{status: http.StatusMethodNotAllowed, code: "METHOD_NOT_ALLOWED",
			message: fmt.Sprintf("HTTP Method '%s' not allowed. Allowed are GET,HEAD", r.Method)})
		return
	}
	soql := r.URL.Query().Get("q")
	if strings.TrimSpace(soql) == "" {
		writeRESTError(w, info, malformedQuery("a SOQL query is required in the q parameter: ?q=SELECT Id FROM OauthToken"))
		return
	}
	q, err := parseSOQL(soql)
	if err != nil {
		writeRESTError(w, info, err)
		return
	}
	rows := withLock(e, func() []oauthTokenRow { return e.oauthTokensLocked(q, caller) })
	records := make([]sobject, 0, len(rows))
	for _, row := range rows {
		rec := sobject{
			attributes: map[string]string{"type": "OauthToken", "url": "/services/data/v" + version + "/sobjects/OauthToken/" + row.id},
			fields:     q.fields,
		}
		for _, f := range q.fields {
			rec.values = append(rec.values, row.value(f))
		}
		records = append(records, rec)
	}
	writeJSON(w, http.StatusOK, queryResult{TotalSize: len(records), Done: true, Records: records})
}

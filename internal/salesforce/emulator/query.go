package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
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

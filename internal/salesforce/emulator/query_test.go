package emulator

import (
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// queryAnswer is the body of a successful query.
type queryAnswer struct {
	TotalSize int              `json:"totalSize"`
	Done      bool             `json:"done"`
	Records   []map[string]any `json:"records"`
}

func (f *fixture) query(accessToken, soql string) response {
	f.t.Helper()
	return f.get("/services/data/v66.0/query?q="+url.QueryEscape(soql), accessToken)
}

func (f *fixture) mustQuery(accessToken, soql string) queryAnswer {
	f.t.Helper()
	r := f.query(accessToken, soql)
	if r.status != http.StatusOK {
		f.t.Fatalf("query %q: status %d, body %s", soql, r.status, r.raw)
	}
	var a queryAnswer
	if err := json.Unmarshal([]byte(r.raw), &a); err != nil {
		f.t.Fatalf("query %q: body %s: %v", soql, r.raw, err)
	}
	if !a.Done || a.TotalSize != len(a.Records) || a.Records == nil {
		f.t.Errorf("query %q: totalSize %d, done %v, %d records; want done, totalSize = len(records), records not null",
			soql, a.TotalSize, a.Done, len(a.Records))
	}
	return a
}

// passwordLogin opens a password-flow session, which takes no approval, so querying does not
// change what is queried.
func (f *fixture) passwordLogin(username, password string) string {
	f.t.Helper()
	return f.mustToken(passwordForm(appID, appSecret, username, password))["access_token"].(string)
}

func (f *fixture) userID(username string) string {
	f.t.Helper()
	for _, u := range f.emu.State().Users {
		if u.Username == username {
			return u.ID
		}
	}
	f.t.Fatalf("no user %s", username)
	return ""
}

func column(a queryAnswer, field string) []any {
	var out []any
	for _, r := range a.Records {
		out = append(out, r[field])
	}
	return out
}

// recordKeys lists each record's keys in the order the answer wrote them.
func recordKeys(t *testing.T, raw string) [][]string {
	t.Helper()
	var body struct{ Records []json.RawMessage }
	if err := json.Unmarshal([]byte(raw), &body); err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for _, rec := range body.Records {
		dec := json.NewDecoder(strings.NewReader(string(rec)))
		if _, err := dec.Token(); err != nil {
			t.Fatal(err)
		}
		var keys []string
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				t.Fatal(err)
			}
			keys = append(keys, k.(string))
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, keys)
	}
	return out
}

// wantRESTError checks a REST API error: a JSON array holding one {message, errorCode}.
func (f *fixture) wantRESTError(r response, status int, code, messagePart string) {
	f.t.Helper()
	if r.status != status {
		f.t.Errorf("status = %d, want %d (body %s)", r.status, status, r.raw)
	}
	if ct := r.header.Get("Content-Type"); ct != jsonContentType {
		f.t.Errorf("Content-Type = %q", ct)
	}
	var body []map[string]string
	if err := json.Unmarshal([]byte(r.raw), &body); err != nil || len(body) != 1 || len(body[0]) != 2 {
		f.t.Fatalf("body %s: want [{message, errorCode}] (%v)", r.raw, err)
	}
	if body[0]["errorCode"] != code || !strings.Contains(body[0]["message"], messagePart) {
		f.t.Errorf("body = %s, want errorCode %s and a message containing %q", r.raw, code, messagePart)
	}
}

// TestQueryOauthTokenFields: every field, its canonical name and format; the ID is stable
// across queries and across refresh token rotation.
func TestQueryOauthTokenFields(t *testing.T) {
	f := newFixture(t)
	// Datetimes are answered in UTC whatever the clock's zone.
	f.clk.SetTime(t0.In(time.FixedZone("UTC-7", -7*3600)))
	rt := f.issueRefresh(appID, alice)
	f.clk.Step(90*time.Minute + 1500*time.Millisecond)
	f.mustToken(refreshForm(appID, appSecret, rt))
	at := f.passwordLogin(alice, alicePass+aliceToken)

	soql := "SELECT Id, AppName, CreatedDate, LastUsedDate, UseCount, UserId FROM OauthToken"
	r := f.query(at, soql)
	a := f.mustQuery(at, soql)
	if a.TotalSize != 1 {
		t.Fatalf("records = %v, want alice's one approval", a.Records)
	}
	id, _ := a.Records[0]["Id"].(string)
	if len(id) != 18 || !strings.HasPrefix(id, "0CJ") || !isAlnum(id) {
		t.Errorf("Id = %q, want an 18-character 0CJ ID", id)
	}
	want := map[string]any{
		"attributes":   map[string]any{"type": "OauthToken", "url": "/services/data/v66.0/sobjects/OauthToken/" + id},
		"Id":           id,
		"AppName":      "sfconn test",
		"CreatedDate":  "2026-03-02T09:30:00.000+0000",
		"LastUsedDate": "2026-03-02T11:00:01.500+0000",
		"UseCount":     float64(1),
		"UserId":       aliceID,
	}
	if !reflect.DeepEqual(a.Records[0], want) {
		t.Errorf("record = %v\nwant     %v", a.Records[0], want)
	}
	if got := recordKeys(t, r.raw)[0]; !slices.Equal(got, []string{"attributes", "Id", "AppName", "CreatedDate", "LastUsedDate", "UseCount", "UserId"}) {
		t.Errorf("keys in order %v, want attributes then the selected fields", got)
	}
	if again := f.mustQuery(at, "SELECT Id FROM OauthToken"); !slices.Equal(column(again, "Id"), []any{id}) {
		t.Errorf("Id changed between queries: %v, want %s", column(again, "Id"), id)
	}

	// Rotation replaces the token, not the approval.
	rtr := f.issueRefresh(rtrAppID, alice)
	before := f.mustQuery(at, "SELECT Id, AppName FROM OauthToken WHERE AppName = '"+rtrAppID+"'")
	f.mustToken(refreshForm(rtrAppID, rtrSecret, rtr))
	after := f.mustQuery(at, "SELECT Id, UseCount FROM OauthToken WHERE AppName = '"+rtrAppID+"'")
	if before.TotalSize != 1 || !slices.Equal(column(before, "Id"), column(after, "Id")) || after.Records[0]["UseCount"] != float64(1) {
		t.Errorf("rotated approval: before %v, after %v; want one row, same Id, UseCount 1", before.Records, after.Records)
	}
	if column(before, "AppName")[0] != rtrAppID {
		t.Errorf("AppName of an app without a Name = %v, want its client ID", column(before, "AppName"))
	}
}

// TestQueryFieldSelection: only the selected fields, under canonical names, in the order
// selected; keywords and names in any case, whitespace of any kind.
func TestQueryFieldSelection(t *testing.T) {
	f := newFixture(t)
	f.issueRefresh(appID, alice)
	at := f.passwordLogin(alice, alicePass+aliceToken)
	for _, tc := range []struct {
		soql string
		want []string
	}{
		{"SELECT Id FROM OauthToken", []string{"Id"}},
		{"select appname, USECOUNT from oauthtoken", []string{"AppName", "UseCount"}},
		{"SELECT\n\tUserId ,LastUsedDate,CreatedDate\r\nFROM   OauthToken  ", []string{"UserId", "LastUsedDate", "CreatedDate"}},
		{"SeLeCt useCount,iD FrOm OAUTHTOKEN", []string{"UseCount", "Id"}},
	} {
		t.Run(tc.soql, func(t *testing.T) {
			f := f.with(t)
			r := f.query(at, tc.soql)
			if r.status != http.StatusOK {
				t.Fatalf("%d %s", r.status, r.raw)
			}
			keys := recordKeys(t, r.raw)
			if len(keys) != 1 || !slices.Equal(keys[0], append([]string{"attributes"}, tc.want...)) {
				t.Errorf("keys = %v, want attributes then %v", keys, tc.want)
			}
		})
	}
}

// TestQueryWhere: AppName and UserId filters, joined by AND.
func TestQueryWhere(t *testing.T) {
	f := newFixture(t)
	f.issueRefresh(appID, alice)
	f.issueRefresh(appID, alice)
	f.issueRefresh(rtrAppID, alice)
	f.issueRefresh(appID, bob)
	bobID := f.userID(bob)
	at := f.passwordLogin(alice, alicePass+aliceToken)
	for _, tc := range []struct {
		where string
		want  int
	}{
		{"", 3},
		{"WHERE AppName = 'sfconn test'", 2},
		{"where APPNAME='SFCONN TEST'", 2}, // = on text is case-insensitive in SOQL
		{"WHERE AppName = '" + rtrAppID + "'", 1},
		{"WHERE AppName = 'sfconn'", 0},
		{"WHERE UserId = '" + aliceID + "'", 3},
		{"WHERE UserId = '" + id15(aliceID) + "'", 3},
		{"WHERE UserId = '" + aliceID + "' AND AppName = 'sfconn test'", 2},
		{"WHERE AppName = 'sfconn test' and AppName = '" + rtrAppID + "'", 0},
		{"WHERE UserId = '" + bobID + "'", 0}, // bob's approval exists but is not alice's to see
	} {
		t.Run(tc.where, func(t *testing.T) {
			f := f.with(t)
			a := f.mustQuery(at, "SELECT Id, UserId FROM OauthToken "+tc.where)
			if a.TotalSize != tc.want {
				t.Errorf("totalSize = %d, want %d (%v)", a.TotalSize, tc.want, a.Records)
			}
		})
	}
}

// TestQueryEscapes: an app name with quotes and a backslash is found with SOQL escapes.
func TestQueryEscapes(t *testing.T) {
	f := newFixture(t)
	const name = `Bob's "BBQ" \ app`
	if err := f.emu.PutApp(ConnectedApp{ClientID: "3MVG9bbq.key", ClientSecret: "bbq-secret", Name: name}); err != nil {
		t.Fatal(err)
	}
	f.issueRefresh("3MVG9bbq.key", alice)
	f.issueRefresh(appID, alice)
	at := f.passwordLogin(alice, alicePass+aliceToken)
	for _, tc := range []struct {
		literal string
		want    int
	}{
		{`'Bob\'s \"BBQ\" \\ app'`, 1},
		{`'Bob\'s "BBQ" \\ app'`, 1},
		{`'Bob\u0027s \u0022BBQ\u0022 \u005c app'`, 1},
		{`'bob\'S "bbq" \\ APP'`, 1},
		{`'Bob\'s'`, 0},
		{`'Bob\'s "BBQ" \\\\ app'`, 0},
	} {
		t.Run(tc.literal, func(t *testing.T) {
			f := f.with(t)
			a := f.mustQuery(at, "SELECT AppName FROM OauthToken WHERE AppName = "+tc.literal)
			if a.TotalSize != tc.want || (tc.want == 1 && a.Records[0]["AppName"] != name) {
				t.Errorf("records = %v, want %d named %q", a.Records, tc.want, name)
			}
		})
	}
}

// TestSOQLStringLiterals: the documented escape sequences, and the errors for the rest.
func TestSOQLStringLiterals(t *testing.T) {
	for _, tc := range []struct {
		literal string
		want    string // "" with errPart set: an error
		errPart string
	}{
		{`'plain'`, "plain", ""},
		{`''`, "", ""},
		{`'it\'s'`, "it's", ""},
		{`'a\\b'`, `a\b`, ""},
		{`'\"q\"'`, `"q"`, ""},
		{`'\n\N\r\R\t\T\b\B\f\F'`, "\n\n\r\r\t\t\b\b\f\f", ""},
		{`'caf\u00e9'`, "café", ""},
		{`'\uD83D\uDE00'`, "\U0001F600", ""},
		{`'naïve'`, "naïve", ""},
		{`'open`, "", "unterminated string literal"},
		{`'open\'`, "", "unterminated string literal"},
		{`'open\`, "", "unterminated string literal"},
		{`'a\x'`, "", `invalid escape sequence \x`},
		{`'50\%'`, "", "only in a LIKE expression"},
		{`'a\_b'`, "", "only in a LIKE expression"},
		{`'\u00g9'`, "", "four hexadecimal digits"},
		{`'\u12'`, "", "four hexadecimal digits"},
		{`'\uD83D'`, "", "surrogate pair"},
	} {
		t.Run(tc.literal, func(t *testing.T) {
			q, err := parseSOQL("SELECT Id FROM OauthToken WHERE AppName = " + tc.literal)
			switch {
			case tc.errPart != "":
				if err == nil || err.code != "MALFORMED_QUERY" || !strings.Contains(err.message, tc.errPart) {
					t.Errorf("err = %v, want MALFORMED_QUERY containing %q", err, tc.errPart)
				}
			case err != nil:
				t.Errorf("err = %v", err)
			case len(q.where) != 1 || q.where[0].value != tc.want:
				t.Errorf("where = %+v, want AppName = %q", q.where, tc.want)
			}
		})
	}
}

// TestQueryOrderByAndLimit: ORDER BY CreatedDate or LastUsedDate, either way, then LIMIT.
func TestQueryOrderByAndLimit(t *testing.T) {
	f := newFixture(t)
	// A, B and C are created a minute apart; B is used at 4m and A at 5m, so by last use
	// the order is C, B, A.
	var rts []string
	for range 3 {
		f.clk.Step(time.Minute)
		rts = append(rts, f.issueRefresh(appID, alice))
	}
	f.clk.Step(time.Minute)
	f.mustToken(refreshForm(appID, appSecret, rts[1]))
	f.clk.Step(time.Minute)
	f.mustToken(refreshForm(appID, appSecret, rts[0]))
	at := f.passwordLogin(alice, alicePass+aliceToken)

	byCreated := f.mustQuery(at, "SELECT Id, CreatedDate FROM OauthToken ORDER BY CreatedDate")
	wantCreated := []any{"2026-03-02T09:31:00.000+0000", "2026-03-02T09:32:00.000+0000", "2026-03-02T09:33:00.000+0000"}
	if !slices.Equal(column(byCreated, "CreatedDate"), wantCreated) {
		t.Fatalf("CreatedDate = %v, want %v", column(byCreated, "CreatedDate"), wantCreated)
	}
	ids := column(byCreated, "Id")
	A, B, C := ids[0], ids[1], ids[2]
	for _, tc := range []struct {
		tail string
		want []any
	}{
		{"", []any{A, B, C}},
		{"ORDER BY CreatedDate ASC", []any{A, B, C}},
		{"order by createddate desc", []any{C, B, A}},
		{"ORDER BY LastUsedDate", []any{C, B, A}},
		{"ORDER BY LastUsedDate DESC", []any{A, B, C}},
		{"ORDER BY LastUsedDate DESC LIMIT 2", []any{A, B}},
		{"LIMIT 1", []any{A}},
		{"LIMIT 0", nil},
		{"LIMIT 10", []any{A, B, C}},
		{"WHERE AppName = 'sfconn test' ORDER BY CreatedDate DESC LIMIT 1", []any{C}},
	} {
		t.Run(tc.tail, func(t *testing.T) {
			f := f.with(t)
			a := f.mustQuery(at, "SELECT Id FROM OauthToken "+tc.tail)
			if got := column(a, "Id"); !slices.Equal(got, tc.want) {
				t.Errorf("Ids = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestQueryVisibility: a user sees their own rows; with Customize Application, set through
// the admin state API, the rows of every user of their org; never another org's.
func TestQueryVisibility(t *testing.T) {
	f := newFixture(t)
	f.issueRefresh(appID, alice)
	f.issueRefresh(rtrAppID, alice)
	f.issueRefresh(appID, bob)
	f.issueRefresh(appID, sandy)
	bobID, sandyID := f.userID(bob), f.userID(sandy)
	aliceAT := f.passwordLogin(alice, alicePass+aliceToken)
	bobAT := f.passwordLogin(bob, bobPass)
	sandyAT := f.passwordLogin(sandy, "sandy-password")

	users := func(at string, where string) []string {
		t.Helper()
		var out []string
		for _, id := range column(f.mustQuery(at, "SELECT UserId FROM OauthToken "+where), "UserId") {
			out = append(out, id.(string))
		}
		slices.Sort(out)
		return out
	}
	setCustomize := func(u User, on bool) {
		t.Helper()
		u.CustomizeApplication = on
		var got State
		if code := f.admin("POST", "state", State{Users: []User{u}}, &got); code != http.StatusOK {
			t.Fatalf("POST state: %d", code)
		}
	}
	sorted := func(ids ...string) []string { slices.Sort(ids); return ids }

	if got := users(aliceAT, ""); !slices.Equal(got, []string{aliceID, aliceID}) {
		t.Errorf("alice sees %v, want her two rows", got)
	}
	if got := users(bobAT, ""); !slices.Equal(got, []string{bobID}) {
		t.Errorf("bob sees %v, want his row", got)
	}
	if got := users(aliceAT, "WHERE UserId = '"+bobID+"'"); len(got) != 0 {
		t.Errorf("alice filtering on bob sees %v, want nothing", got)
	}

	// The permission goes through the admin API and back out of it; the session in hand
	// sees the change at once.
	setCustomize(User{Username: bob, Password: bobPass, OrgID: prodOrg}, true)
	var raw struct{ Users []map[string]any }
	f.admin("GET", "state", nil, &raw)
	for _, u := range raw.Users {
		if want := u["username"] == bob; (u["customizeApplication"] == true) != want {
			t.Errorf("state user %v: customizeApplication = %v, want %v", u["username"], u["customizeApplication"], want)
		}
	}
	if got, want := users(bobAT, ""), sorted(aliceID, aliceID, bobID); !slices.Equal(got, want) {
		t.Errorf("bob with Customize Application sees %v, want %v", got, want)
	}
	if got := users(bobAT, "WHERE UserId = '"+aliceID+"' AND AppName = 'sfconn test'"); !slices.Equal(got, []string{aliceID}) {
		t.Errorf("bob filtering on alice sees %v, want her one row for the app", got)
	}
	if got := users(bobAT, "WHERE UserId = '"+sandyID+"'"); len(got) != 0 {
		t.Errorf("bob sees %v of another org", got)
	}
	setCustomize(User{Username: sandy, Password: "sandy-password", OrgID: sandboxOrg}, true)
	if got := users(sandyAT, ""); !slices.Equal(got, []string{sandyID}) {
		t.Errorf("sandy with Customize Application sees %v, want only her org's row", got)
	}

	setCustomize(User{Username: bob, Password: bobPass, OrgID: prodOrg}, false)
	if got := users(bobAT, ""); !slices.Equal(got, []string{bobID}) {
		t.Errorf("bob without the permission again sees %v", got)
	}
}

// TestQueryNeedsALiveToken: a dead, unknown or missing token gets the REST API's 401, before
// the query is even read.
func TestQueryNeedsALiveToken(t *testing.T) {
	f := newFixture(t, WithInactivityExtension(false))
	f.issueRefresh(appID, alice)
	at := f.passwordLogin(alice, alicePass+aliceToken)
	f.mustQuery(at, "SELECT Id FROM OauthToken")
	f.clk.Step(2 * time.Hour)
	const want = `[{"errorCode":"INVALID_SESSION_ID","message":"Session expired or invalid"}]`
	for _, token := range []string{"", at, id15(prodOrg) + "!unknown"} {
		for _, soql := range []string{"SELECT Id FROM OauthToken", "SELECT nonsense"} {
			r := f.query(token, soql)
			if r.status != http.StatusUnauthorized || strings.TrimSpace(r.raw) != want {
				t.Errorf("query %q with a dead token: %d %s, want 401 %s", soql, r.status, r.raw, want)
			}
		}
	}
}

// TestQueryErrors: other objects are INVALID_TYPE; every other query the emulator cannot run
// exactly is MALFORMED_QUERY, with a message that says why.
func TestQueryErrors(t *testing.T) {
	f := newFixture(t)
	at := f.passwordLogin(alice, alicePass+aliceToken)
	const base = "SELECT Id FROM OauthToken "
	for _, tc := range []struct {
		soql, code, message string
	}{
		{"", "MALFORMED_QUERY", "a SOQL query is required"},
		{" \n ", "MALFORMED_QUERY", "a SOQL query is required"},
		{"SELECT Id FROM Account", "INVALID_TYPE", "sObject type 'Account' is not supported"},
		{"select Foo from User where Name = 'x'", "INVALID_TYPE", "sObject type 'User' is not supported"},
		{"SELECT Foo FROM OauthTokens", "INVALID_TYPE", "sObject type 'OauthTokens' is not supported"},
		{"SELECT Foo FROM OauthToken", "MALFORMED_QUERY", "No such column 'Foo' on entity 'OauthToken'"},
		{"SELECT User.Name FROM OauthToken", "MALFORMED_QUERY", "No such column 'User.Name'"},
		{"SELECT Id, AccessToken FROM OauthToken", "MALFORMED_QUERY", "AccessToken is not emulated"},
		{"SELECT Id, id FROM OauthToken", "MALFORMED_QUERY", "duplicate field selected: Id"},
		{"SELECT COUNT() FROM OauthToken", "MALFORMED_QUERY", "COUNT() is not supported"},
		{"SELECT FROM OauthToken", "MALFORMED_QUERY", "unexpected token 'FROM': expected a field name"},
		{"SELECT Id, FROM OauthToken", "MALFORMED_QUERY", "unexpected token 'FROM': expected a field name"},
		{"SELECT Id OauthToken", "MALFORMED_QUERY", "expected ',' or FROM"},
		{"Id FROM OauthToken", "MALFORMED_QUERY", "expected SELECT"},
		{"SELECT Id FROM", "MALFORMED_QUERY", "unexpected end of query"},
		{base + "WHERE", "MALFORMED_QUERY", "unexpected end of query"},
		{base + "WHERE AppName = 'x", "MALFORMED_QUERY", "unterminated string literal"},
		{base + `WHERE AppName = 'x\'`, "MALFORMED_QUERY", "unterminated string literal"},
		{base + `WHERE AppName = "x"`, "MALFORMED_QUERY", "single quotes"},
		{base + `WHERE AppName = 'a\x'`, "MALFORMED_QUERY", `invalid escape sequence \x`},
		{base + "WHERE AppName != 'x'", "MALFORMED_QUERY", "operator '!=' is not supported"},
		{base + "WHERE AppName <> 'x'", "MALFORMED_QUERY", "operator '<>' is not supported"},
		{base + "WHERE AppName LIKE 'x%'", "MALFORMED_QUERY", "operator 'LIKE' is not supported"},
		{base + "WHERE UserId IN ('" + aliceID + "')", "MALFORMED_QUERY", "operator 'IN' is not supported"},
		{base + "WHERE UseCount = 1", "MALFORMED_QUERY", "filtering on UseCount is not supported"},
		{base + "WHERE Nope = 'x'", "MALFORMED_QUERY", "No such column 'Nope'"},
		{base + "WHERE AppName = x", "MALFORMED_QUERY", "expected a quoted string"},
		{base + "WHERE AppName = null", "MALFORMED_QUERY", "expected a quoted string"},
		{base + "WHERE AppName =", "MALFORMED_QUERY", "unexpected end of query"},
		{base + "WHERE AppName", "MALFORMED_QUERY", "unexpected end of query: expected = after AppName"},
		{base + "WHERE AppName = 'x' OR UserId = '" + aliceID + "'", "MALFORMED_QUERY", "OR is not supported"},
		{base + "WHERE (AppName = 'x')", "MALFORMED_QUERY", "unexpected token '('"},
		{base + "WHERE NOT AppName = 'x'", "MALFORMED_QUERY", "unexpected token 'NOT'"},
		{base + "WHERE UserId = 'abc'", "MALFORMED_QUERY", "invalid ID field: abc"},
		{base + "ORDER BY UseCount", "MALFORMED_QUERY", "ORDER BY UseCount is not supported"},
		{base + "ORDER BY CreatedDate, LastUsedDate", "MALFORMED_QUERY", "one field only"},
		{base + "ORDER CreatedDate", "MALFORMED_QUERY", "expected BY after ORDER"},
		{base + "ORDER BY CreatedDate NULLS LAST", "MALFORMED_QUERY", "unexpected token 'NULLS'"},
		{base + "LIMIT -1", "MALFORMED_QUERY", "a non-negative integer after LIMIT"},
		{base + "LIMIT many", "MALFORMED_QUERY", "a non-negative integer after LIMIT"},
		{base + "LIMIT 99999999999999999999", "MALFORMED_QUERY", "a non-negative integer after LIMIT"},
		{base + "LIMIT 5 ORDER BY CreatedDate", "MALFORMED_QUERY", "unexpected token 'ORDER'"},
		{base + "LIMIT 5 OFFSET 2", "MALFORMED_QUERY", "unexpected token 'OFFSET'"},
		{base + "GROUP BY AppName", "MALFORMED_QUERY", "unexpected token 'GROUP'"},
		{base + "WITH SECURITY_ENFORCED", "MALFORMED_QUERY", "unexpected token 'WITH'"},
		{base + ";", "MALFORMED_QUERY", "unexpected token ';'"},
	} {
		t.Run(tc.soql, func(t *testing.T) {
			f := f.with(t)
			r := f.query(at, tc.soql)
			if tc.soql == "" {
				r = f.get("/services/data/v66.0/query", at)
			}
			f.wantRESTError(r, http.StatusBadRequest, tc.code, tc.message)
			log := f.emu.Stats().Requests
			if last := log[len(log)-1]; last.Endpoint != EndpointData || last.Status != http.StatusBadRequest || last.Error != tc.code {
				t.Errorf("request log = %+v, want data, 400, %s", last, tc.code)
			}
		})
	}

	r := f.postForm(f.srv.URL, "/services/data/v66.0/query", url.Values{"q": {"SELECT Id FROM OauthToken"}})
	f.wantRESTError(r, http.StatusUnauthorized, "INVALID_SESSION_ID", "Session expired or invalid")
	req, err := http.NewRequest(http.MethodPost, f.srv.URL+"/services/data/v66.0/query?q=SELECT+Id+FROM+OauthToken", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+at)
	f.wantRESTError(f.do(req), http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "HTTP Method 'POST' not allowed")
}

// TestQueryIsARESTCall: a query is an authenticated /services/data call like any other: it
// counts against DailyApiRequests, extends the session, is logged without the token and can
// be faulted.
func TestQueryIsARESTCall(t *testing.T) {
	f := newFixture(t)
	f.issueRefresh(appID, alice)
	at := f.passwordLogin(alice, alicePass+aliceToken)

	f.mustQuery(at, "SELECT Id FROM OauthToken")
	f.query(at, "SELECT Id FROM Account")
	if got := f.limitsOf(at)["DailyApiRequests"]["Remaining"]; got != DailyAPIRequests-3 {
		t.Errorf("Remaining after two queries and the limits call = %d, want %d", got, DailyAPIRequests-3)
	}

	// The org's session timeout is two hours of inactivity; queries keep the session alive.
	for range 3 {
		f.clk.Step(90 * time.Minute)
		f.mustQuery(at, "SELECT Id FROM OauthToken")
	}

	stats := f.emu.Stats()
	last := stats.Requests[len(stats.Requests)-1]
	if last.Endpoint != EndpointData || last.Status != http.StatusOK || last.ClientID != appID || last.Username != alice {
		t.Errorf("request log = %+v, want data, 200, the app and alice", last)
	}
	logged, err := json.Marshal(stats)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(logged), at) {
		t.Error("the stats hold the access token")
	}

	if err := f.emu.InjectFault(Fault{Endpoint: EndpointData, Count: 1, Status: http.StatusServiceUnavailable}); err != nil {
		t.Fatal(err)
	}
	if r := f.query(at, "SELECT Id FROM OauthToken"); r.status != http.StatusServiceUnavailable {
		t.Errorf("faulted query: %d %s", r.status, r.raw)
	}
	f.mustQuery(at, "SELECT Id FROM OauthToken")
}

// TestQueryShowsAdminMintedApprovals: approvals minted from outside the cluster (POST
// /_emulator/refresh-tokens) are rows with their dates, and use moves them.
func TestQueryShowsAdminMintedApprovals(t *testing.T) {
	f := newFixture(t)
	at := f.passwordLogin(alice, alicePass+aliceToken)
	if a := f.mustQuery(at, "SELECT Id FROM OauthToken"); a.TotalSize != 0 {
		t.Fatalf("rows before any approval: %v", a.Records)
	}

	mint := func(username string) string {
		t.Helper()
		var out map[string]string
		if code := f.admin("POST", "refresh-tokens", map[string]string{"clientId": appID, "username": username}, &out); code != http.StatusOK {
			t.Fatalf("refresh-tokens: %d %v", code, out)
		}
		return out["refreshToken"]
	}
	f.clk.Step(10 * time.Minute)
	rt := mint(alice)
	mint(bob)
	const soql = "SELECT AppName, CreatedDate, LastUsedDate, UseCount, UserId FROM OauthToken WHERE AppName = 'sfconn test'"
	a := f.mustQuery(at, soql)
	want := map[string]any{"AppName": "sfconn test", "CreatedDate": "2026-03-02T09:40:00.000+0000",
		"LastUsedDate": "2026-03-02T09:40:00.000+0000", "UseCount": float64(0), "UserId": aliceID}
	if a.TotalSize != 1 {
		t.Fatalf("rows = %v, want alice's minted approval only", a.Records)
	}
	delete(a.Records[0], "attributes")
	if !reflect.DeepEqual(a.Records[0], want) {
		t.Errorf("row = %v, want %v", a.Records[0], want)
	}

	f.clk.Step(5 * time.Minute)
	f.mustToken(refreshForm(appID, appSecret, rt))
	a = f.mustQuery(at, soql)
	if r := a.Records[0]; r["LastUsedDate"] != "2026-03-02T09:45:00.000+0000" || r["UseCount"] != float64(1) || r["CreatedDate"] != want["CreatedDate"] {
		t.Errorf("after a refresh: %v, want LastUsedDate 09:45 and UseCount 1", r)
	}
}

// TestQueryDropsEvictedAndRevokedApprovals: the sixth approval evicts the oldest, whose row
// goes (docs/salesforce-behaviour.md#five-approvals-per-user-per-connected-app); so do a
// revoked one's and one ended by its app's refresh token policy
// (docs/salesforce-behaviour.md#refresh-token-policies).
func TestQueryDropsEvictedAndRevokedApprovals(t *testing.T) {
	f := newFixture(t)
	var rts []string
	for range 5 {
		f.clk.Step(time.Minute)
		rts = append(rts, f.issueRefresh(appID, alice))
	}
	at := f.passwordLogin(alice, alicePass+aliceToken)
	q := "SELECT Id FROM OauthToken WHERE AppName = 'sfconn test' AND UserId = '" + aliceID + "' ORDER BY CreatedDate"
	five := column(f.mustQuery(at, q), "Id")
	if len(five) != 5 {
		t.Fatalf("rows = %v, want 5", five)
	}

	f.clk.Step(time.Minute)
	var out map[string]string
	if code := f.admin("POST", "refresh-tokens", map[string]string{"clientId": appID, "username": alice}, &out); code != http.StatusOK {
		t.Fatalf("refresh-tokens: %d", code)
	}
	after := column(f.mustQuery(at, q), "Id")
	if len(after) != 5 || slices.Contains(after, five[0]) || !slices.Equal(after[:4], five[1:]) || slices.Contains(five, after[4]) {
		t.Errorf("after the sixth approval: %v, want %v without the first and with a new last", after, five)
	}
	f.wantOAuthError(f.token(refreshForm(appID, appSecret, rts[0])), "invalid_grant", "expired access/refresh token")

	if !f.emu.RevokeToken(rts[2]) {
		t.Fatal("revoke failed")
	}
	if got := column(f.mustQuery(at, q), "Id"); !slices.Equal(got, slices.Delete(slices.Clone(after), 1, 2)) {
		t.Errorf("after revoking one: %v, want %v without its second row", got, after)
	}

	if err := f.emu.PutApp(ConnectedApp{ClientID: "3MVG9short.key", ClientSecret: "short-secret", Name: "short-lived",
		RefreshTokenPolicy: "specific_lifetime:1:HOURS"}); err != nil {
		t.Fatal(err)
	}
	f.issueRefresh("3MVG9short.key", alice)
	const short = "SELECT Id FROM OauthToken WHERE AppName = 'short-lived'"
	if a := f.mustQuery(at, short); a.TotalSize != 1 {
		t.Fatalf("short-lived rows = %v, want 1", a.Records)
	}
	f.clk.Step(time.Hour)
	at = f.passwordLogin(alice, alicePass+aliceToken)
	if a := f.mustQuery(at, short); a.TotalSize != 0 {
		t.Errorf("rows of an approval past its lifetime = %v, want none", a.Records)
	}
}

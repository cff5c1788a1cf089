package salesforce

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	queryToken   = "00D58000000arpq!AQ4AQQueryToken"
	queryUserID  = "00558000000yFyDAAU"
	queryAppName = "sfconn bootstrap"
	queryPath    = "/services/data/" + APIVersion + "/query"
)

// queryCall is one request the fake REST API saw.
type queryCall struct {
	method, path, rawQuery, q string
	header                    http.Header
}

// queryServer is a REST API answering the pages in turn (the last one again once they run
// out), each as status and body, and recording every request.
type queryServer struct {
	*httptest.Server
	mu    sync.Mutex
	calls []queryCall
	hits  atomic.Int32
}

type queryPage struct {
	status int
	body   string
}

func newQueryServer(t *testing.T, pages ...queryPage) *queryServer {
	t.Helper()
	s := &queryServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(s.hits.Add(1)) - 1
		s.mu.Lock()
		s.calls = append(s.calls, queryCall{r.Method, r.URL.Path, r.URL.RawQuery, r.URL.Query().Get("q"), r.Header.Clone()})
		s.mu.Unlock()
		p := pages[min(n, len(pages)-1)]
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		w.WriteHeader(p.status)
		_, _ = io.WriteString(w, p.body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *queryServer) recorded() []queryCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]queryCall(nil), s.calls...)
}

func wantSOQL(app, user string) string {
	return "SELECT Id, AppName, CreatedDate, LastUsedDate, UseCount FROM OauthToken WHERE AppName = '" +
		app + "' AND UserId = '" + user + "' ORDER BY CreatedDate ASC"
}

// approvalsPageSample is a REST query answer as Salesforce writes it: attributes first, the
// selected fields after, dateTimes with milliseconds and a numeric zone, and null for a
// LastUsedDate never set.
const approvalsPageSample = `{"totalSize":2,"done":true,"records":[` +
	`{"attributes":{"type":"OauthToken","url":"/services/data/v66.0/sobjects/OauthToken/0CJ5e000000XyZaGAK"},` +
	`"Id":"0CJ5e000000XyZaGAK","AppName":"sfconn bootstrap","CreatedDate":"2026-03-02T09:00:00.000+0000",` +
	`"LastUsedDate":"2026-03-02T10:30:15.250+0000","UseCount":3},` +
	`{"attributes":{"type":"OauthToken","url":"/services/data/v66.0/sobjects/OauthToken/0CJ5e000000XyZbGAK"},` +
	`"Id":"0CJ5e000000XyZbGAK","AppName":"sfconn bootstrap","CreatedDate":"2026-03-02T11:00:00Z",` +
	`"LastUsedDate":null,"UseCount":0}]}`

func TestQueryApprovalsSendsQueryAndParses(t *testing.T) {
	srv := newQueryServer(t, queryPage{200, approvalsPageSample})
	for _, base := range []string{srv.URL, srv.URL + "/"} {
		got, err := newTestClient().QueryApprovals(context.Background(), base, queryToken, queryAppName, queryUserID)
		if err != nil {
			t.Fatalf("QueryApprovals(%q): %v", base, err)
		}
		want := []OAuthApproval{
			{ID: "0CJ5e000000XyZaGAK", AppName: queryAppName, Created: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC),
				LastUsed: time.Date(2026, 3, 2, 10, 30, 15, 250e6, time.UTC), UseCount: 3},
			{ID: "0CJ5e000000XyZbGAK", AppName: queryAppName, Created: time.Date(2026, 3, 2, 11, 0, 0, 0, time.UTC)},
		}
		if len(got) != len(want) {
			t.Fatalf("got %d approvals, want %d: %+v", len(got), len(want), got)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("approval %d = %+v\nwant %+v", i, got[i], want[i])
			}
		}
		if !got[1].LastUsed.IsZero() {
			t.Errorf("null LastUsedDate read as %v", got[1].LastUsed)
		}
	}
	for _, call := range srv.recorded() {
		if call.method != http.MethodGet || call.path != queryPath {
			t.Errorf("request = %s %s, want GET %s", call.method, call.path, queryPath)
		}
		if call.q != wantSOQL(queryAppName, queryUserID) {
			t.Errorf("q = %q\nwant %q", call.q, wantSOQL(queryAppName, queryUserID))
		}
		if strings.Contains(call.rawQuery, "AQ4AQ") {
			t.Errorf("the token is in the URL: %q", call.rawQuery)
		}
		for h, want := range map[string]string{
			"Authorization": "Bearer " + queryToken,
			"Accept":        "application/json",
			"User-Agent":    "sfconn-operator",
		} {
			if call.header.Get(h) != want {
				t.Errorf("header %s = %q, want %q", h, call.header.Get(h), want)
			}
		}
	}
}

func TestQueryApprovalsEscapesAppName(t *testing.T) {
	for _, tt := range []struct{ app, want string }{
		{`O'Brien\Tools`, `O\'Brien\\Tools`},
		{`' OR UserId != '`, `\' OR UserId != \'`},
		{`ends with a backslash\`, `ends with a backslash\\`},
		{`\'`, `\\\'`},
		{`say "hi"`, `say \"hi\"`},
		{"tab\tnl\ncr\rbs\bff\f", `tab\tnl\ncr\rbs\bff\f`},
		{"Ünïcødé app", "Ünïcødé app"},
	} {
		srv := newQueryServer(t, queryPage{200, `{"totalSize":0,"done":true,"records":[]}`})
		got, err := newTestClient().QueryApprovals(context.Background(), srv.URL, queryToken, tt.app, queryUserID)
		if err != nil || len(got) != 0 {
			t.Fatalf("QueryApprovals(%q) = %v, %v", tt.app, got, err)
		}
		if q := srv.recorded()[0].q; q != wantSOQL(tt.want, queryUserID) {
			t.Errorf("app %q: q = %q\nwant %q", tt.app, q, wantSOQL(tt.want, queryUserID))
		}
	}
}

func TestQueryApprovalsFollowsPages(t *testing.T) {
	const next = "/services/data/v66.0/query/01gD0000002HU6KIAW-2000"
	page1 := `{"totalSize":3,"done":false,"nextRecordsUrl":"` + next + `","records":[` +
		`{"Id":"0CJ000000000001AAA","AppName":"a","CreatedDate":"2026-03-01T09:00:00.000+0000","LastUsedDate":null,"UseCount":1},` +
		`{"Id":"0CJ000000000002AAA","AppName":"a","CreatedDate":"2026-03-01T10:00:00.000+0000","LastUsedDate":null,"UseCount":2}]}`
	page2 := `{"totalSize":3,"done":true,"records":[` +
		`{"Id":"0CJ000000000003AAA","AppName":"a","CreatedDate":"2026-03-01T11:00:00.000+0000","LastUsedDate":"2026-03-01T11:00:00.000+0000","UseCount":3}]}`
	srv := newQueryServer(t, queryPage{200, page1}, queryPage{200, page2})
	got, err := newTestClient().QueryApprovals(context.Background(), srv.URL, queryToken, "a", queryUserID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].UseCount != 1 || got[2].ID != "0CJ000000000003AAA" || got[2].LastUsed.IsZero() {
		t.Errorf("approvals = %+v", got)
	}
	calls := srv.recorded()
	if len(calls) != 2 {
		t.Fatalf("%d requests, want 2", len(calls))
	}
	if calls[1].path != next || calls[1].rawQuery != "" {
		t.Errorf("second request = %s?%s, want %s", calls[1].path, calls[1].rawQuery, next)
	}
	if calls[1].header.Get("Authorization") != "Bearer "+queryToken {
		t.Error("the next page was asked for without the token")
	}
}

func TestQueryApprovalsBoundsPages(t *testing.T) {
	record := `{"Id":"0CJ000000000001AAA","AppName":"a","CreatedDate":"2026-03-01T09:00:00.000+0000","LastUsedDate":null,"UseCount":1}`
	notDone := func(next string) string {
		return `{"totalSize":9,"done":false,"nextRecordsUrl":"` + next + `","records":[` + record + `]}`
	}
	for _, tt := range []struct {
		name     string
		body     string
		wantHits int32
		wantText string
	}{
		{"endless pages", notDone("/services/data/v66.0/query/01g-2000"), maxQueryPages, "not done after 5 pages"},
		{"next page on another host", notDone("https://evil.example/services/data/v66.0/query/01g-2000"), 1, "nextRecordsUrl"},
		{"next page on a scheme-relative host", notDone("//evil.example/services/data/v66.0/query/01g-2000"), 1, "nextRecordsUrl"},
		{"next page outside the REST API", notDone("/services/oauth2/userinfo"), 1, "nextRecordsUrl"},
		{"next page climbing out", notDone("/services/data/../oauth2/userinfo"), 1, "nextRecordsUrl"},
		{"not done without a next page", `{"totalSize":9,"done":false,"records":[` + record + `]}`, 1, "no nextRecordsUrl"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := newQueryServer(t, queryPage{200, tt.body})
			_, err := newTestClient().QueryApprovals(context.Background(), srv.URL, queryToken, "a", queryUserID)
			e := asError(t, err)
			if e.Class != Retryable || !strings.Contains(e.Error(), tt.wantText) {
				t.Errorf("got %q (%v), want Retryable containing %q", e.Error(), e.Class, tt.wantText)
			}
			if n := srv.hits.Load(); n != tt.wantHits {
				t.Errorf("%d requests, want %d", n, tt.wantHits)
			}
		})
	}
}

func TestQueryApprovalsBoundsRows(t *testing.T) {
	record := `{"Id":"0CJ000000000001AAA","AppName":"a","CreatedDate":"2026-03-01T09:00:00.000+0000","LastUsedDate":null,"UseCount":1}`
	page := func(n int, done bool, next string) string {
		return fmt.Sprintf(`{"totalSize":%d,"done":%t,"nextRecordsUrl":%q,"records":[%s]}`,
			n, done, next, strings.TrimSuffix(strings.Repeat(record+",", n), ","))
	}
	const next = "/services/data/v66.0/query/01g-2000"

	t.Run("at the limit over two pages", func(t *testing.T) {
		srv := newQueryServer(t, queryPage{200, page(maxApprovalRows-1, false, next)}, queryPage{200, page(1, true, "")})
		got, err := newTestClient().QueryApprovals(context.Background(), srv.URL, queryToken, "a", queryUserID)
		if err != nil || len(got) != maxApprovalRows {
			t.Fatalf("got %d approvals, %v; want %d", len(got), err, maxApprovalRows)
		}
	})
	for _, tt := range []struct {
		name     string
		pages    []queryPage
		wantHits int32
	}{
		{"one page over the limit", []queryPage{{200, page(maxApprovalRows+1, true, "")}}, 1},
		{"the second page over the limit", []queryPage{{200, page(maxApprovalRows, false, next)}, {200, page(1, false, next)}}, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := newQueryServer(t, tt.pages...)
			_, err := newTestClient().QueryApprovals(context.Background(), srv.URL, queryToken, "a", queryUserID)
			e := asError(t, err)
			if e.Class != Retryable || !strings.Contains(e.Error(), fmt.Sprintf("more than %d approvals", maxApprovalRows)) {
				t.Errorf("got %q (%v), want Retryable about the row limit", e.Error(), e.Class)
			}
			if n := srv.hits.Load(); n != tt.wantHits {
				t.Errorf("%d requests, want %d", n, tt.wantHits)
			}
		})
	}
}

// restErr is the REST API's error answer
// (docs/salesforce-behaviour.md#rest-api-401-invalid_session_id).
func restErr(code, message string) string {
	return fmt.Sprintf(`[{"message":%q,"errorCode":%q}]`, message, code)
}

func TestQueryApprovalsClassifies(t *testing.T) {
	const html = "<!DOCTYPE html><html><body>Login</body></html>"
	// Messages that echo the token, as a misbehaving proxy might: never quoted.
	echo := "Bearer " + queryToken
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		want        Class
		wantCode    string
		wantText    string
	}{
		{"401 INVALID_SESSION_ID", 401, "", restErr("INVALID_SESSION_ID", "Session expired or invalid"),
			Terminal, "INVALID_SESSION_ID", "INVALID_SESSION_ID: access token not accepted (status 401)"},
		{"401 not valid for the REST API", 401, "", restErr("INVALID_SESSION_ID", "This session is not valid for use with the REST API"),
			Terminal, "INVALID_SESSION_ID", "not valid for the REST API"},
		{"401 plain text", 401, "text/plain", "Bad_OAuth_Token " + echo, Terminal, "", "access token not accepted (status 401)"},
		{"401 HTML", 401, "text/html", html, Terminal, "", "access token not accepted (status 401)"},
		{"400 MALFORMED_QUERY", 400, "", restErr("MALFORMED_QUERY", "unexpected token: "+echo),
			Terminal, "MALFORMED_QUERY", "MALFORMED_QUERY: OauthToken query failed (status 400): OauthToken or its fields are not visible"},
		{"400 INVALID_TYPE", 400, "", restErr("INVALID_TYPE", "sObject type 'OauthToken' is not supported."),
			Terminal, "INVALID_TYPE", "not visible to this user, or the query is refused"},
		{"400 INVALID_FIELD", 400, "", restErr("INVALID_FIELD", "No such column 'LastUsedDate' on entity 'OauthToken'"),
			Terminal, "INVALID_FIELD", "INVALID_FIELD: OauthToken query failed (status 400)"},
		{"403 API_DISABLED_FOR_ORG", 403, "", restErr("API_DISABLED_FOR_ORG", "API is not enabled for this Organization or Partner"),
			Terminal, "API_DISABLED_FOR_ORG", "may not query OauthToken"},
		{"403 INSUFFICIENT_ACCESS", 403, "", restErr("INSUFFICIENT_ACCESS", "insufficient access rights on cross-reference id"),
			Terminal, "INSUFFICIENT_ACCESS", "may not query OauthToken"},
		{"404 NOT_FOUND", 404, "", restErr("NOT_FOUND", "The requested resource does not exist"),
			Terminal, "NOT_FOUND", "NOT_FOUND: OauthToken query failed (status 404)"},
		{"400 unknown code", 400, "", restErr("SOMETHING_NEW", echo), Terminal, "SOMETHING_NEW", "the query is refused"},
		{"400 array without errorCode", 400, "", `[{"message":"` + echo + `"}]`, Terminal, "", "without an error code"},
		{"403 REQUEST_LIMIT_EXCEEDED", 403, "", restErr("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
			RateLimited, "REQUEST_LIMIT_EXCEEDED", "API request limit"},
		{"429", 429, "text/plain", "", RateLimited, "", "status 429"},
		{"500 REST error", 500, "", restErr("UNKNOWN_EXCEPTION", echo), Retryable, "", "server error (status 500)"},
		{"503 HTML", 503, "text/html", html, Retryable, "", "HTML answer (status 503)"},
		{"403 HTML from a proxy", 403, "text/html", html, Retryable, "", "HTML answer (status 403)"},
		{"400 OAuth envelope echoing the token", 400, "", `{"error":"invalid_grant","error_description":"` + echo + `"}`,
			Terminal, "", "error answer (status 400): the answer quoted a credential of the request, so its text is withheld"},
		{"500 OAuth envelope echoing the token", 500, "", `{"error":"` + echo + `"}`, Retryable, "", "server error (status 500)"},
		{"302 not followed", 302, "text/html", "", Retryable, "", "redirect"},
		{"200 HTML (a login page)", 200, "text/html", html, Retryable, "", "HTML answer (status 200)"},
		{"200 empty object", 200, "", `{}`, Retryable, "", "not a query answer"},
		{"200 null", 200, "", `null`, Retryable, "", "not a query answer"},
		{"200 records null", 200, "", `{"totalSize":0,"done":true,"records":null}`, Retryable, "", "not a query answer"},
		{"200 record without Id", 200, "", `{"done":true,"records":[{"CreatedDate":"2026-03-01T09:00:00.000+0000"}]}`,
			Retryable, "", "without Id"},
		{"200 record without CreatedDate", 200, "", `{"done":true,"records":[{"Id":"0CJ000000000001AAA"}]}`,
			Retryable, "", "CreatedDate"},
		{"200 bad LastUsedDate", 200, "", `{"done":true,"records":[{"Id":"0CJ000000000001AAA","CreatedDate":"2026-03-01T09:00:00.000+0000","LastUsedDate":"` + echo + `"}]}`,
			Retryable, "", "invalid LastUsedDate"},
		{"200 fractional UseCount", 200, "", `{"done":true,"records":[{"Id":"0CJ000000000001AAA","CreatedDate":"2026-03-01T09:00:00.000+0000","UseCount":1.5}]}`,
			Retryable, "", "invalid UseCount"},
		{"200 wrong types", 200, "", `{"done":"yes","records":[]}`, Retryable, "", "malformed JSON answer (status 200)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct := tt.contentType
			if ct == "" {
				ct = "application/json;charset=UTF-8"
			}
			srv, _ := answerServer(t, tt.status, ct, tt.body)
			_, err := newTestClient().QueryApprovals(context.Background(), srv.URL, queryToken, queryAppName, queryUserID)
			e := asError(t, err)
			if e.Class != tt.want {
				t.Errorf("class = %v, want %v (error %q)", e.Class, tt.want, e.Error())
			}
			if e.StatusCode != tt.status || e.Code != tt.wantCode {
				t.Errorf("status, code = %d, %q; want %d, %q", e.StatusCode, e.Code, tt.status, tt.wantCode)
			}
			if !strings.Contains(e.Error(), tt.wantText) {
				t.Errorf("error %q does not contain %q", e.Error(), tt.wantText)
			}
			if strings.Contains(fmt.Sprintf("%v %+v", e, *e), "AQ4AQ") {
				t.Errorf("error %+v carries the token", *e)
			}
		})
	}
}

func TestQueryApprovalsRefusesBeforeSending(t *testing.T) {
	srv := newQueryServer(t, queryPage{200, approvalsPageSample})
	for _, tt := range []struct{ instanceURL, token, app, user, wantMsg string }{
		{srv.URL, "", queryAppName, queryUserID, "missing access token"},
		{srv.URL, " ", queryAppName, queryUserID, "missing access token"},
		{"", queryToken, queryAppName, queryUserID, "invalid instance URL: missing instanceURL"},
		{srv.URL + "/services/data", queryToken, queryAppName, queryUserID, "must not contain a path"},
		{srv.URL, queryToken, "", queryUserID, "missing connected app name"},
		{srv.URL, queryToken, " \t", queryUserID, "missing connected app name"},
		{srv.URL, queryToken, "app\x00name", queryUserID, "control character"},
		{srv.URL, queryToken, "app\x1bname", queryUserID, "control character"},
		{srv.URL, queryToken, "app\xffname", queryUserID, "not UTF-8"},
		{srv.URL, queryToken, strings.Repeat("a", maxAppNameRunes+1), queryUserID, "longer than 255"},
		{srv.URL, queryToken, queryAppName, "", "invalid user ID"},
		{srv.URL, queryToken, queryAppName, "00D58000000arpqEAA", "invalid user ID"}, // an org ID
		{srv.URL, queryToken, queryAppName, "0055800000yFyD", "invalid user ID"},     // 14 characters
		{srv.URL, queryToken, queryAppName, "00558000000yFyDAA", "invalid user ID"},  // 17 characters
		{srv.URL, queryToken, queryAppName, "00558000000yF'DAAU", "invalid user ID"},
		{srv.URL, queryToken, queryAppName, queryToken, "invalid user ID"}, // arguments mixed up
	} {
		_, err := newTestClient().QueryApprovals(context.Background(), tt.instanceURL, tt.token, tt.app, tt.user)
		e := asError(t, err)
		if e.Class != Terminal || !strings.Contains(e.Error(), tt.wantMsg) {
			t.Errorf("QueryApprovals(%q, %q): got %q (%v), want Terminal containing %q", tt.app, tt.user, e.Error(), e.Class, tt.wantMsg)
		}
		if strings.Contains(e.Error(), "AQ4AQ") {
			t.Errorf("error %q carries the token", e.Error())
		}
	}
	if n := srv.hits.Load(); n != 0 {
		t.Errorf("server was called %d times", n)
	}
}

func TestQueryApprovalsAccepts15CharacterUserID(t *testing.T) {
	srv := newQueryServer(t, queryPage{200, `{"totalSize":0,"done":true,"records":[]}`})
	if _, err := newTestClient().QueryApprovals(context.Background(), srv.URL, queryToken, "a", "00558000000yFyD"); err != nil {
		t.Fatal(err)
	}
	if q := srv.recorded()[0].q; q != wantSOQL("a", "00558000000yFyD") {
		t.Errorf("q = %q", q)
	}
}

func TestQueryApprovalsTransportFailureIsRetryable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	_, err := newTestClient().QueryApprovals(context.Background(), srv.URL, queryToken, queryAppName, queryUserID)
	e := asError(t, err)
	if e.Class != Retryable || !strings.Contains(e.Error(), "approvals query failed") || e.StatusCode != 0 {
		t.Errorf("got %q (%v)", e.Error(), e.Class)
	}
}

func TestParseSalesforceTime(t *testing.T) {
	want := time.Date(2026, 3, 2, 9, 5, 7, 0, time.UTC)
	for _, s := range []string{
		"2026-03-02T09:05:07.000+0000",
		"2026-03-02T09:05:07+0000",
		"2026-03-02T10:05:07.000+0100",
		"2026-03-02T09:05:07Z",
		"2026-03-02T09:05:07.000Z",
		"2026-03-02T04:05:07-05:00",
	} {
		got, ok := parseSalesforceTime(s)
		if !ok || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("parseSalesforceTime(%q) = %v, %t; want %v", s, got, ok, want)
		}
	}
	for _, s := range []string{"", "2026-03-02", "2026-03-02 09:05:07", "1772442307", "2026-03-02T09:05:07"} {
		if _, ok := parseSalesforceTime(s); ok {
			t.Errorf("parseSalesforceTime(%q) accepted", s)
		}
	}
}

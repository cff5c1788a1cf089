package salesforce

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

const (
	introspectToken  = "00Dxx0000001gER!AQIntrospectedToken"
	introspectSecret = "introspect-client-secret"
	introspectClient = "3MVG9introspectingApp"
)

// introspectActiveSample is certinia/orizuru-auth's example of Salesforce's answer
// (docs/salesforce-behaviour.md#introspection-tells-when-a-token-expires): times in
// seconds, sub the identity URL, token_type access_token.
const introspectActiveSample = `{"active":true,"client_id":"OAuthSp","exp":1528502109,"iat":1528494909,` +
	`"nbf":1528494909,"scope":"id api web full refresh_token openid",` +
	`"sub":"https://login.salesforce.com/id/00Dxx0000001gEREAY/005xx000001Sv6AAAS",` +
	`"token_type":"access_token","username":"test@test.com"}`

func introspect(c *HTTPClient, loginURL string) (*Introspection, error) {
	return c.Introspect(context.Background(), loginURL, introspectClient, introspectSecret, introspectToken)
}

func TestIntrospectSendsFormAndParses(t *testing.T) {
	srv, got := jsonServer(t, http.StatusOK, introspectActiveSample)
	info, err := introspect(newTestClient(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	want := Introspection{
		Active:    true,
		Expires:   time.Date(2018, 6, 8, 23, 55, 9, 0, time.UTC),
		IssuedAt:  time.Date(2018, 6, 8, 21, 55, 9, 0, time.UTC),
		NotBefore: time.Date(2018, 6, 8, 21, 55, 9, 0, time.UTC),
		Username:  "test@test.com",
		ClientID:  "OAuthSp",
		Subject:   "https://login.salesforce.com/id/00Dxx0000001gEREAY/005xx000001Sv6AAAS",
		TokenType: "access_token",
		Scope:     "id api web full refresh_token openid",
	}
	if *info != want {
		t.Errorf("got %+v\nwant %+v", *info, want)
	}
	if info.Expires.Sub(info.IssuedAt) != 2*time.Hour {
		t.Errorf("lifetime = %v, want 2h (exp and iat are seconds)", info.Expires.Sub(info.IssuedAt))
	}

	method, path, header, form := got.get()
	if method != http.MethodPost || path != "/services/oauth2/introspect" {
		t.Errorf("request = %s %s, want POST /services/oauth2/introspect", method, path)
	}
	for h, want := range map[string]string{
		"Content-Type": "application/x-www-form-urlencoded",
		"Accept":       "application/json",
		"User-Agent":   "sfconn-operator",
	} {
		if header.Get(h) != want {
			t.Errorf("header %s = %q, want %q", h, header.Get(h), want)
		}
	}
	wantForm := url.Values{
		"token": {introspectToken}, "token_type_hint": {"access_token"},
		"client_id": {introspectClient}, "client_secret": {introspectSecret},
	}
	if !reflect.DeepEqual(form, wantForm) {
		t.Errorf("form = %v, want %v", form, wantForm)
	}
}

func TestIntrospectReadsAnswers(t *testing.T) {
	for _, tt := range []struct {
		name string
		body string
		want Introspection
	}{
		{"inactive", `{"active":false}`, Introspection{}},
		// RFC 7662: an inactive answer says nothing else, whatever it holds.
		{"inactive with fields", `{"active":false,"username":"test@test.com","exp":1528502109}`, Introspection{}},
		{"times as strings", `{"active":true,"exp":"1528502109","iat":"1528494909"}`, Introspection{
			Active: true, Expires: time.Unix(1528502109, 0).UTC(), IssuedAt: time.Unix(1528494909, 0).UTC(),
		}},
		{"no times (a refresh token that never expires)", `{"active":true,"token_type":"refresh_token"}`,
			Introspection{Active: true, TokenType: "refresh_token"}},
		{"null and bogus times", `{"active":true,"exp":null,"iat":-5,"nbf":"soon"}`, Introspection{Active: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := jsonServer(t, http.StatusOK, tt.body)
			info, err := introspect(newTestClient(), srv.URL)
			if err != nil {
				t.Fatalf("inactive token is an answer, not an error: %v", err)
			}
			if *info != tt.want {
				t.Errorf("got %+v\nwant %+v", *info, tt.want)
			}
		})
	}
}

func TestIntrospectClassifies(t *testing.T) {
	const html = "<!DOCTYPE html><html><body>Login</body></html>"
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		want        Class
		wantCode    string
		wantText    string
	}{
		{"400 invalid_client_id", 400, "", oauthErr("invalid_client_id", "client identifier invalid"),
			Terminal, "invalid_client_id", "invalid_client_id: client identifier invalid"},
		{"400 invalid_client", 400, "", oauthErr("invalid_client", "invalid client credentials"), Terminal, "invalid_client", ""},
		{"401 invalid_client", 401, "", oauthErr("invalid_client", "invalid client credentials"), Terminal, "invalid_client", ""},
		{"400 invalid_request", 400, "", oauthErr("invalid_request", "must use HTTP POST"), Terminal, "invalid_request", ""},
		{"400 rate_limit_exceeded", 400, "", oauthErr("rate_limit_exceeded", "Number of logins exceeded"), RateLimited, "rate_limit_exceeded", ""},
		{"400 unknown code", 400, "", oauthErr("something_new", "whatever"), Terminal, "something_new", ""},
		{"429", 429, "text/plain", "", RateLimited, "", "status 429"},
		{"500 JSON", 500, "", oauthErr("server_error", "internal"), Retryable, "server_error", ""},
		{"503 HTML", 503, "text/html", html, Retryable, "", "HTML answer (status 503)"},
		{"302 not followed", 302, "text/html", "", Retryable, "", "redirect"},
		{"200 HTML", 200, "text/html", html, Retryable, "", "HTML answer (status 200)"},
		{"200 without active", 200, "", `{"username":"test@test.com"}`, Retryable, "", "no active"},
		{"200 null", 200, "", `null`, Retryable, "", "no active"},
		{"200 active not a boolean", 200, "", `{"active":"true"}`, Retryable, "", "malformed JSON answer (status 200)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct := tt.contentType
			if ct == "" {
				ct = "application/json;charset=UTF-8"
			}
			srv, _ := answerServer(t, tt.status, ct, tt.body)
			_, err := introspect(newTestClient(), srv.URL)
			e := asError(t, err)
			if e.Class != tt.want {
				t.Errorf("class = %v, want %v (error %q)", e.Class, tt.want, e.Error())
			}
			if e.StatusCode != tt.status || e.Code != tt.wantCode {
				t.Errorf("status, code = %d, %q; want %d, %q", e.StatusCode, e.Code, tt.status, tt.wantCode)
			}
			if tt.wantText != "" && !strings.Contains(e.Error(), tt.wantText) {
				t.Errorf("error %q does not contain %q", e.Error(), tt.wantText)
			}
			text := fmt.Sprintf("%v %+v", e, *e)
			if strings.Contains(text, "AQIntrospected") || strings.Contains(text, introspectSecret) {
				t.Errorf("error %+v carries a secret", *e)
			}
		})
	}
}

func TestIntrospectRefusesBeforeSending(t *testing.T) {
	srv, got := jsonServer(t, http.StatusOK, introspectActiveSample)
	for _, tt := range []struct{ loginURL, clientID, secret, token, wantMsg string }{
		{srv.URL, "", introspectSecret, introspectToken, "missing client_id for introspection"},
		{srv.URL, introspectClient, "", introspectToken, "missing client_secret for introspection"},
		{srv.URL, introspectClient, introspectSecret, "", "missing token for introspection"},
		{srv.URL, introspectClient, introspectSecret, " \n", "missing token for introspection"},
		{"", introspectClient, introspectSecret, introspectToken, "invalid login URL: missing loginURL"},
		{srv.URL + "/services/oauth2/introspect", introspectClient, introspectSecret, introspectToken, "must not contain a path"},
		{srv.URL + "/?token=x", introspectClient, introspectSecret, introspectToken, "must not contain a query"},
	} {
		_, err := newTestClient().Introspect(context.Background(), tt.loginURL, tt.clientID, tt.secret, tt.token)
		e := asError(t, err)
		if e.Class != Terminal || !strings.Contains(e.Error(), tt.wantMsg) {
			t.Errorf("Introspect(%q): got %q (%v), want Terminal containing %q", tt.loginURL, e.Error(), e.Class, tt.wantMsg)
		}
	}
	if n := got.hits.Load(); n != 0 {
		t.Errorf("server was called %d times", n)
	}
}

func TestIntrospectTransportFailureIsRetryable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	_, err := introspect(newTestClient(), srv.URL)
	e := asError(t, err)
	if e.Class != Retryable || !strings.Contains(e.Error(), "introspect request failed") || e.StatusCode != 0 {
		t.Errorf("got %q (%v)", e.Error(), e.Class)
	}
}

// TestQueryAndIntrospectNeverPutSecretsInErrors runs both calls against answers that echo the
// whole request (query string, Authorization header, body) back, as a debugging proxy might,
// and against a refused connection and a timeout.
func TestQueryAndIntrospectNeverPutSecretsInErrors(t *testing.T) {
	secrets := []string{leakBearer, leakClientSecret, leakRevokeToken}
	ctx := context.Background()
	calls := func(c *HTTPClient, base string) map[string]error {
		_, qErr := c.QueryApprovals(ctx, base, leakBearer, queryAppName, queryUserID)
		_, iErr := c.Introspect(ctx, base, introspectClient, leakClientSecret, leakRevokeToken)
		return map[string]error{"query": qErr, "introspect": iErr}
	}
	var failures []struct {
		name string
		err  error
	}
	add := func(prefix string, errs map[string]error) {
		for name, err := range errs {
			failures = append(failures, struct {
				name string
				err  error
			}{prefix + "/" + name, err})
		}
	}
	for _, a := range []struct {
		name, contentType, page string
		status                  int
	}{
		{"HTML 503", "text/html", "<html><body>Unavailable: %s</body></html>", 503},
		{"HTML 200", "text/html", "<html><body>Welcome: %s</body></html>", 200},
		{"HTML 403", "text/html", "<html>Forbidden %s</html>", 403},
		{"text 401", "text/plain", "upstream said: %s", 401},
		{"REST 400 echoing into the message", "application/json", `[{"message":%q,"errorCode":"MALFORMED_QUERY"}]`, 400},
		{"REST 401 echoing into the message", "application/json", `[{"message":%q,"errorCode":"INVALID_SESSION_ID"}]`, 401},
		{"REST 403 echoing into the message", "application/json", `[{"message":%q,"errorCode":"REQUEST_LIMIT_EXCEEDED"}]`, 403},
		{"REST 400 echoing into the code", "application/json", `[{"message":"x","errorCode":%q}]`, 400},
		{"JSON 400 without code", "application/json", `{"request":%q}`, 400},
		{"JSON 500", "application/json", `{"debug":%q}`, 500},
		{"redirect", "text/html", "<a>%s</a>", 307},
		{"200 JSON with wrong types", "application/json", `{"done":[%q],"active":1}`, 200},
		{"200 JSON missing fields", "application/json", `{"request":%q}`, 200},
		{"200 record echoing into dates", "application/json", `{"done":true,"records":[{"Id":"0CJ000000000001AAA","CreatedDate":%q}]}`, 200},
	} {
		add(a.name, calls(newTestClient(), echoAllServer(t, a.status, a.contentType, a.page).URL))
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	add("refused", calls(newTestClient(), closed.URL))
	add("timeout", calls(newTestClient(WithTimeout(20*time.Millisecond)), blockingServer(t).URL))
	for _, bad := range []string{"https://u:" + leakClientSecret + "@login.salesforce.com", "https://" + leakBearer + "%zz"} {
		add("validation", calls(newTestClient(), bad))
	}

	if len(failures) < 30 {
		t.Fatalf("only %d failures collected; the test lost coverage", len(failures))
	}
	for _, f := range failures {
		if f.err == nil {
			t.Errorf("%s: want an error", f.name)
			continue
		}
		e := asError(t, f.err)
		texts := []string{f.err.Error(), e.Code, e.Description, e.Message, fmt.Sprintf("%+v", *e)}
		if e.Err != nil {
			texts = append(texts, e.Err.Error())
		}
		for _, text := range texts {
			for _, s := range secrets {
				if strings.Contains(text, s) {
					t.Errorf("%s: error text %q contains a secret", f.name, text)
				}
			}
		}
	}
}

package salesforce

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"unicode"
	"unicode/utf8"
)

const restToken = "00D58000000arpq!AQ4AQRestToken"

// versionsSample is GET /services/data as Salesforce writes it, newest last but not
// necessarily so.
const versionsSample = `[{"label":"Winter '25","url":"/services/data/v62.0","version":"62.0"},` +
	`{"label":"Spring '26","url":"/services/data/v66.0","version":"66.0"},` +
	`{"label":"Summer '09","url":"/services/data/v9.0","version":"9.0"},` +
	`{"label":"Winter '26","url":"/services/data/v65.0","version":"65.0"}]`

// limitsSample is the limits resource as Salesforce writes it: DailyApiRequests with one
// entry per connected app besides its own Max and Remaining.
const limitsSample = `{"DailyApiRequests":{"Max":15000,"Remaining":14998,` +
	`"Salesforce CLI":{"Max":0,"Remaining":0}},"DataStorageMB":{"Max":5,"Remaining":4},` +
	`"SingleEmail":{"Max":15,"Remaining":15}}`

func TestRESTVersionsSendsBearerAndParses(t *testing.T) {
	srv, got := jsonServer(t, http.StatusOK, versionsSample)
	for _, base := range []string{srv.URL, srv.URL + "/"} {
		versions, err := newTestClient().RESTVersions(context.Background(), base, restToken)
		if err != nil {
			t.Fatalf("RESTVersions(%q): %v", base, err)
		}
		want := []RESTVersion{{"9.0", "Summer '09"}, {"62.0", "Winter '25"}, {"65.0", "Winter '26"}, {"66.0", "Spring '26"}}
		if fmt.Sprint(versions) != fmt.Sprint(want) {
			t.Errorf("got %+v\nwant %+v", versions, want)
		}
		method, path, header, _ := got.get()
		if method != http.MethodGet || path != "/services/data" {
			t.Errorf("request = %s %s, want GET /services/data", method, path)
		}
		for h, want := range map[string]string{
			"Authorization": "Bearer " + restToken,
			"Accept":        "application/json",
			"User-Agent":    "sfconn-operator",
		} {
			if header.Get(h) != want {
				t.Errorf("header %s = %q, want %q", h, header.Get(h), want)
			}
		}
	}
}

func TestRESTVersionsSkipsOddEntries(t *testing.T) {
	srv, _ := jsonServer(t, http.StatusOK, `[{"version":"latest"},{"version":"66"},{"version":"v65.0"},`+
		`{"version":"12345.0"},{"label":"no version"},{"version":"64.0","label":"Summer\n'25"}]`)
	versions, err := newTestClient().RESTVersions(context.Background(), srv.URL, restToken)
	if err != nil {
		t.Fatal(err)
	}
	if len(versions) != 1 || versions[0] != (RESTVersion{Version: "64.0", Label: "Summer '25"}) {
		t.Errorf("got %+v, want only 64.0 with a printable label", versions)
	}
}

func TestLimitsSendsBearerAndParses(t *testing.T) {
	srv, got := jsonServer(t, http.StatusOK, limitsSample)
	for _, version := range []string{"66.0", "v66.0", APIVersion} {
		limits, err := newTestClient().Limits(context.Background(), srv.URL, restToken, version)
		if err != nil {
			t.Fatalf("Limits(%q): %v", version, err)
		}
		want := map[string]Limit{
			"DailyApiRequests": {Max: 15000, Remaining: 14998},
			"DataStorageMB":    {Max: 5, Remaining: 4},
			"SingleEmail":      {Max: 15, Remaining: 15},
		}
		if fmt.Sprint(limits) != fmt.Sprint(want) {
			t.Errorf("got %v\nwant %v", limits, want)
		}
		method, path, header, _ := got.get()
		if method != http.MethodGet || path != "/services/data/v66.0/limits" {
			t.Errorf("request = %s %s, want GET /services/data/v66.0/limits", method, path)
		}
		if header.Get("Authorization") != "Bearer "+restToken {
			t.Errorf("Authorization = %q", header.Get("Authorization"))
		}
	}
}

func TestLimitsSkipsEntriesWithoutMaxAndRemaining(t *testing.T) {
	srv, _ := jsonServer(t, http.StatusOK, `{"DailyApiRequests":{"Max":15000,"Remaining":14998},`+
		`"NoMax":{"Remaining":1},"Fraction":{"Max":1.5,"Remaining":1},"Text":{"Max":"10","Remaining":"9"},"Odd":7}`)
	limits, err := newTestClient().Limits(context.Background(), srv.URL, restToken, "66.0")
	if err != nil {
		t.Fatal(err)
	}
	if len(limits) != 1 || limits["DailyApiRequests"] != (Limit{Max: 15000, Remaining: 14998}) {
		t.Errorf("got %v, want DailyApiRequests alone", limits)
	}
}

// restCall calls the method named by which: the tests below run each case on both.
func restCall(ctx context.Context, c *HTTPClient, which, instanceURL, token string) error {
	if which == "versions" {
		_, err := c.RESTVersions(ctx, instanceURL, token)
		return err
	}
	_, err := c.Limits(ctx, instanceURL, token, "66.0")
	return err
}

func TestRESTVersionsAndLimitsClassify(t *testing.T) {
	const html = "<!DOCTYPE html><html><body>Login</body></html>"
	// Messages that echo the token, as a misbehaving proxy might: never quoted.
	echo := "Bearer " + restToken
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
			Terminal, "INVALID_SESSION_ID", "INVALID_SESSION_ID: access token not accepted (status 401): the session expired or was revoked"},
		{"401 INVALID_SESSION_ID echoing the token", 401, "", restErr("INVALID_SESSION_ID", "bad header "+echo),
			Terminal, "INVALID_SESSION_ID", "access token not accepted (status 401)"},
		{"401 not valid for the REST API", 401, "", restErr("INVALID_SESSION_ID", "This session is not valid for use with the REST API"),
			Terminal, "INVALID_SESSION_ID", "not valid for the REST API"},
		{"401 plain text", 401, "text/plain", "Bad_OAuth_Token " + echo, Terminal, "", "access token not accepted (status 401)"},
		{"403 API_DISABLED_FOR_ORG", 403, "", restErr("API_DISABLED_FOR_ORG", "API is not enabled for this Organization or Partner"),
			Terminal, "API_DISABLED_FOR_ORG", "may not use the REST API"},
		{"404 NOT_FOUND", 404, "", restErr("NOT_FOUND", "The requested resource does not exist"),
			Terminal, "NOT_FOUND", "failed (status 404): the"},
		{"400 unknown code echoing the token", 400, "", restErr("SOMETHING_NEW", echo), Terminal, "SOMETHING_NEW", "the request is refused"},
		{"403 REQUEST_LIMIT_EXCEEDED", 403, "", restErr("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
			RateLimited, "REQUEST_LIMIT_EXCEEDED", "API request limit"},
		{"429", 429, "text/plain", "", RateLimited, "", "status 429"},
		{"500 REST error echoing the token", 500, "", restErr("UNKNOWN_EXCEPTION", "bad header "+echo), Retryable, "", "server error (status 500)"},
		{"503 HTML", 503, "text/html", html, Retryable, "", "HTML answer (status 503)"},
		{"403 HTML from a proxy", 403, "text/html", html, Retryable, "", "HTML answer (status 403)"},
		{"400 plain text echoing the token", 400, "text/plain", "bad request: " + echo, Retryable, "", "non-JSON answer (status 400)"},
		{"400 OAuth envelope echoing the token", 400, "", `{"error":"invalid_grant","error_description":"` + echo + `"}`,
			Terminal, "", "error answer (status 400): the answer quoted a credential of the request, so its text is withheld"},
		{"500 OAuth envelope echoing the token", 500, "", `{"error":"` + echo + `"}`, Retryable, "", "server error (status 500)"},
		{"302 not followed", 302, "text/html", "", Retryable, "", "redirect (status 302) not followed"},
		{"200 HTML (a login page)", 200, "text/html", html, Retryable, "", "HTML answer (status 200)"},
		{"200 plain text echoing the token", 200, "text/plain", echo, Retryable, "", "non-JSON answer (status 200)"},
		{"200 null", 200, "", `null`, Retryable, "", "malformed answer: no "},
	}
	for _, which := range []string{"versions", "limits"} {
		for _, tt := range tests {
			t.Run(which+" "+tt.name, func(t *testing.T) {
				ct := tt.contentType
				if ct == "" {
					ct = "application/json;charset=UTF-8"
				}
				srv, _ := answerServer(t, tt.status, ct, tt.body)
				e := asError(t, restCall(context.Background(), newTestClient(), which, srv.URL, restToken))
				if e.Class != tt.want {
					t.Errorf("class = %v, want %v (error %q)", e.Class, tt.want, e.Error())
				}
				if e.StatusCode != tt.status || e.Code != tt.wantCode {
					t.Errorf("status, code = %d, %q; want %d, %q", e.StatusCode, e.Code, tt.status, tt.wantCode)
				}
				if !strings.Contains(e.Error(), tt.wantText) {
					t.Errorf("error %q does not contain %q", e.Error(), tt.wantText)
				}
				if all := fmt.Sprintf("%v %+v", e, *e); strings.Contains(all, "AQ4AQ") || strings.Contains(all, "bad header") ||
					strings.Contains(all, "Session expired or invalid") {
					t.Errorf("error %+v carries the token or quotes Salesforce's message", *e)
				}
			})
		}
	}
}

func TestRESTVersionsAndLimitsMalformed200(t *testing.T) {
	for _, tt := range []struct{ which, body, wantText string }{
		{"versions", `[]`, "malformed answer: no API version listed"},
		{"versions", `[{"version":"latest"}]`, "malformed answer: no API version listed"},
		{"versions", `{}`, "malformed JSON answer (status 200)"},
		{"versions", `[{"version":66}]`, "malformed JSON answer (status 200)"},
		{"limits", `{}`, "malformed answer: no limit listed"},
		{"limits", `{"DailyApiRequests":{}}`, "malformed answer: no limit listed"},
		{"limits", `[]`, "malformed JSON answer (status 200)"},
		{"limits", ``, "empty answer (status 200)"},
	} {
		srv, _ := jsonServer(t, http.StatusOK, tt.body)
		e := asError(t, restCall(context.Background(), newTestClient(), tt.which, srv.URL, restToken))
		if e.Class != Retryable || e.StatusCode != http.StatusOK || e.Error() != "salesforce: "+tt.wantText {
			t.Errorf("%s %s: got %q (%v), want Retryable %q", tt.which, tt.body, e.Error(), e.Class, tt.wantText)
		}
	}
}

func TestRESTVersionsAndLimitsRefuseHugeAnswers(t *testing.T) {
	huge := `[{"version":"66.0","label":"` + strings.Repeat("x", maxAnswerBytes) + `"}]`
	srv, _ := jsonServer(t, http.StatusOK, huge)
	for _, which := range []string{"versions", "limits"} {
		e := asError(t, restCall(context.Background(), newTestClient(), which, srv.URL, restToken))
		if e.Class != Retryable || !strings.Contains(e.Error(), "answer larger than 1 MiB") {
			t.Errorf("%s: got %q (%v), want Retryable, larger than 1 MiB", which, e.Error(), e.Class)
		}
	}
}

// refusingTransport fails the test if a request is ever sent.
type refusingTransport struct {
	t    *testing.T
	sent atomic.Int32
}

func (r *refusingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r.sent.Add(1)
	r.t.Errorf("request sent to %s", req.URL.Host)
	return nil, fmt.Errorf("refused")
}

func TestRESTVersionsAndLimitsRefuseBeforeSending(t *testing.T) {
	rt := &refusingTransport{t: t}
	c := newTestClient(WithHTTPClient(&http.Client{Transport: rt}))
	for _, tt := range []struct{ instanceURL, token, wantMsg string }{
		{"http://acme.my.salesforce.com", restToken, "invalid instance URL: plain http is allowed only to a loopback host"},
		{"HTTP://ACME.my.salesforce.com:80/", restToken, "plain http is allowed only to a loopback host"},
		{"http://10.0.0.7:8080", restToken, "plain http is allowed only to a loopback host"},
		{"http://localhost.example.com", restToken, "plain http is allowed only to a loopback host"},
		{"https://acme.my.salesforce.com", "", "missing access token"},
		{"https://acme.my.salesforce.com", " \t", "missing access token"},
		{"", restToken, "invalid instance URL: missing instanceURL"},
		{"ftp://acme.my.salesforce.com", restToken, "scheme must be https"},
		{"https://user:hunter2@acme.my.salesforce.com", restToken, "must not contain user info"},
		{"https://acme.my.salesforce.com/services/data", restToken, "must not contain a path"},
		{"https://acme.my.salesforce.com/?x=hunter2", restToken, "must not contain a query"},
	} {
		for _, which := range []string{"versions", "limits"} {
			e := asError(t, restCall(context.Background(), c, which, tt.instanceURL, tt.token))
			if e.Class != Terminal || !strings.Contains(e.Error(), tt.wantMsg) {
				t.Errorf("%s(%q): got %q (%v), want Terminal containing %q", which, tt.instanceURL, e.Error(), e.Class, tt.wantMsg)
			}
			if strings.Contains(e.Error(), "hunter2") || strings.Contains(e.Error(), "AQ4AQ") {
				t.Errorf("error %q repeats the URL or the token", e.Error())
			}
		}
	}
	for _, version := range []string{"", "66", "v66", "66.0/../../oauth2", "latest", "66.0?x=1", restToken} {
		_, err := c.Limits(context.Background(), "https://acme.my.salesforce.com", restToken, version)
		e := asError(t, err)
		if e.Class != Terminal || !strings.Contains(e.Error(), "invalid API version") || strings.Contains(e.Error(), "AQ4AQ") {
			t.Errorf("Limits(version %q): got %q (%v)", version, e.Error(), e.Class)
		}
	}
	if n := rt.sent.Load(); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

func TestParseInstanceBaseAllowsHTTPToLoopbackOnly(t *testing.T) {
	for in, want := range map[string]string{
		"https://acme.my.salesforce.com":  "https://acme.my.salesforce.com",
		"https://acme.my.salesforce.com/": "https://acme.my.salesforce.com",
		"http://127.0.0.1:18080":          "http://127.0.0.1:18080",
		"http://127.0.0.2:18080/":         "http://127.0.0.2:18080",
		"http://[::1]:18080":              "http://[::1]:18080",
		"http://localhost:18080":          "http://localhost:18080",
		"http://LOCALHOST":                "http://LOCALHOST",
		"http://acme.my.salesforce.com":   "",
		"http://192.168.1.10":             "",
		"http://[fe80::1]:80":             "",
	} {
		got, err := parseInstanceBase(in)
		if got != want || (err == nil) != (want != "") {
			t.Errorf("parseInstanceBase(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// TestRESTVersionsDoesNotFollowRedirects: a redirect, even to the same host, is reported,
// never followed, so the token cannot be forwarded to the host a Location names.
func TestRESTVersionsDoesNotFollowRedirects(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
	}))
	t.Cleanup(other.Close)
	redirecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/services/data", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirecting.Close)
	// Even a client whose own policy follows redirects does not, once given to NewClient.
	follows := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return nil }}
	for _, which := range []string{"versions", "limits"} {
		e := asError(t, restCall(context.Background(), newTestClient(WithHTTPClient(follows)), which, redirecting.URL, restToken))
		if e.Class != Retryable || e.StatusCode != http.StatusTemporaryRedirect || !strings.Contains(e.Error(), "not followed") {
			t.Errorf("%s: got %q (%v)", which, e.Error(), e.Class)
		}
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("the redirect was followed %d times", n)
	}
}

func TestRESTVersionsAndLimitsTransportFailureIsRetryable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	for which, want := range map[string]string{"versions": "API versions request failed", "limits": "limits request failed"} {
		e := asError(t, restCall(context.Background(), newTestClient(), which, srv.URL, restToken))
		if e.Class != Retryable || e.StatusCode != 0 || !strings.Contains(e.Error(), want) {
			t.Errorf("%s: got %q (%v), want Retryable containing %q", which, e.Error(), e.Class, want)
		}
	}
}

// versionLess compares two versions that match versionPattern, for the fuzz test's check of
// the order.
func versionLess(a, b string) bool {
	pa, pb := versionPattern.FindStringSubmatch(a), versionPattern.FindStringSubmatch(b)
	num := func(s string) int {
		n, err := strconv.Atoi(s)
		if err != nil {
			panic(err)
		}
		return n
	}
	if x, y := num(pa[1]), num(pb[1]); x != y {
		return x < y
	}
	return num(pa[2]) < num(pb[2])
}

// printable reports whether s is what bound makes of a field: valid UTF-8 without control
// characters, at most 256 runes and an ellipsis.
func printable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl) && utf8.RuneCountInString(s) <= 259
}

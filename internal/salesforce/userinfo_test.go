package salesforce

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const userInfoAccessToken = "00D58000000arpq!AQ4AQUserInfoToken"

// userInfoAnswerSample has the fields of Salesforce's userinfo answer that the operator
// reads, and some it ignores
// (docs/salesforce-behaviour.md#userinfo-a-cheap-liveness-probe).
const userInfoAnswerSample = `{"sub":"` + sampleID + `","user_id":"00558000000yFyDAAU","organization_id":"00D58000000arpqEAA",` +
	`"preferred_username":"integration@acme.com","nickname":"integration","name":"Integration User",` +
	`"email":"integration@acme.com","email_verified":true,"zoneinfo":"America/Los_Angeles","active":true,` +
	`"urls":{"rest":"https://pozil-dev-ed.my.salesforce.com/services/data/v{version}/"}}`

func TestUserInfoSendsBearerAndParses(t *testing.T) {
	srv, got := jsonServer(t, http.StatusOK, userInfoAnswerSample)
	for _, base := range []string{srv.URL, srv.URL + "/"} {
		ui, err := newTestClient().UserInfo(context.Background(), base, userInfoAccessToken)
		if err != nil {
			t.Fatalf("UserInfo(%q): %v", base, err)
		}
		want := UserInfo{
			UserID: "00558000000yFyDAAU", OrgID: "00D58000000arpqEAA", Username: "integration@acme.com",
			Name: "Integration User", Email: "integration@acme.com",
		}
		if *ui != want {
			t.Errorf("got %+v\nwant %+v", *ui, want)
		}
		method, path, header, _ := got.get()
		if method != http.MethodGet || path != "/services/oauth2/userinfo" {
			t.Errorf("request = %s %s, want GET /services/oauth2/userinfo", method, path)
		}
		for h, want := range map[string]string{
			"Authorization": "Bearer " + userInfoAccessToken,
			"Accept":        "application/json",
			"User-Agent":    "sfconn-operator",
		} {
			if header.Get(h) != want {
				t.Errorf("header %s = %q, want %q", h, header.Get(h), want)
			}
		}
	}
}

func TestUserInfoClassifies(t *testing.T) {
	const html = "<!DOCTYPE html><html><body>Login</body></html>"
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		want        Class
		wantText    string
	}{
		{"403 plain text: dead token", 403, "text/plain", "Bad_OAuth_Token", Terminal, "access token not accepted (status 403)"},
		{"401 REST-style JSON", 401, "", `[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`, Terminal, "access token not accepted (status 401)"},
		{"403 HTML", 403, "text/html", html, Terminal, "access token not accepted (status 403)"},
		{"503", 503, "text/html", html, Retryable, "HTML answer (status 503)"},
		{"500 JSON", 500, "", `{"error":"server_error"}`, Retryable, ""},
		{"429", 429, "text/plain", "", RateLimited, "status 429"},
		{"404 HTML", 404, "text/html", html, Retryable, "HTML answer (status 404)"},
		{"200 HTML (a login page)", 200, "text/html", html, Retryable, "HTML answer (status 200)"},
		{"200 without user_id", 200, "", `{"preferred_username":"integration@acme.com"}`, Retryable, "no user_id"},
		{"200 null", 200, "", `null`, Retryable, "no user_id"},
		{"200 wrong types", 200, "", `{"user_id":5}`, Retryable, "malformed JSON answer (status 200)"},
		{"302 not followed", 302, "text/html", "", Retryable, "redirect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct := tt.contentType
			if ct == "" {
				ct = "application/json;charset=UTF-8"
			}
			srv, _ := answerServer(t, tt.status, ct, tt.body)
			_, err := newTestClient().UserInfo(context.Background(), srv.URL, userInfoAccessToken)
			e := asError(t, err)
			if e.Class != tt.want {
				t.Errorf("class = %v, want %v (error %q)", e.Class, tt.want, e.Error())
			}
			if e.StatusCode != tt.status {
				t.Errorf("StatusCode = %d, want %d", e.StatusCode, tt.status)
			}
			if tt.wantText != "" && !strings.Contains(e.Error(), tt.wantText) {
				t.Errorf("error %q does not contain %q", e.Error(), tt.wantText)
			}
			if strings.Contains(e.Error(), "AQ4AQUserInfoToken") || strings.Contains(e.Error(), "Bad_OAuth_Token") {
				t.Errorf("error %q carries the token or quotes the body", e.Error())
			}
		})
	}
}

func TestUserInfoRefusesBeforeSending(t *testing.T) {
	srv, got := jsonServer(t, http.StatusOK, userInfoAnswerSample)
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, tt := range []struct{ instanceURL, token, wantMsg string }{
		{srv.URL, "", "missing access token"},
		{"", userInfoAccessToken, "invalid instance URL: missing instanceURL"},
		{"ftp://" + host, userInfoAccessToken, "scheme must be https"},
		{"acme.my.salesforce.com", userInfoAccessToken, "scheme must be https"},
		{"http://user:hunter2@" + host, userInfoAccessToken, "must not contain user info"},
		{"https://", userInfoAccessToken, "missing host"},
		{srv.URL + "/services/oauth2/userinfo", userInfoAccessToken, "must not contain a path"},
		{srv.URL + "?x=1", userInfoAccessToken, "must not contain a query"},
		{"https://hunter2%zz", userInfoAccessToken, "not a URL"},
	} {
		_, err := newTestClient().UserInfo(context.Background(), tt.instanceURL, tt.token)
		e := asError(t, err)
		if e.Class != Terminal || !strings.Contains(e.Error(), tt.wantMsg) {
			t.Errorf("UserInfo(%q): got %q (%v), want Terminal containing %q", tt.instanceURL, e.Error(), e.Class, tt.wantMsg)
		}
		if strings.Contains(e.Error(), "hunter2") {
			t.Errorf("error %q repeats the URL", e.Error())
		}
	}
	if n := got.hits.Load(); n != 0 {
		t.Errorf("server was called %d times", n)
	}
}

func TestUserInfoTransportFailureIsRetryable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	_, err := newTestClient().UserInfo(context.Background(), srv.URL, userInfoAccessToken)
	e := asError(t, err)
	if e.Class != Retryable || !strings.Contains(e.Error(), "userinfo request failed") {
		t.Errorf("got %q (%v)", e.Error(), e.Class)
	}
}

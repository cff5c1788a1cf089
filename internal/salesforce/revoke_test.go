package salesforce

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

const revokeToken = "5Aep861RefreshTokenToRevoke=="

func TestRevokeSendsTokenAndClassifies(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		wantErr     bool
		want        Class
		wantCode    string
		wantText    string
	}{
		{name: "200", status: 200, body: ""},
		{name: "200 with a JSONP-style body", status: 200, body: "{}"},
		{name: "400 invalid_token: already dead", status: 400, body: oauthErr("invalid_token", "Token was invalid"),
			wantErr: true, want: Terminal, wantCode: "invalid_token", wantText: "invalid_token: Token was invalid"},
		{name: "400 unsupported_token_type", status: 400, body: oauthErr("unsupported_token_type", "Token type not supported"),
			wantErr: true, want: Terminal, wantCode: "unsupported_token_type"},
		{name: "400 form-encoded invalid_token", status: 400, contentType: "application/x-www-form-urlencoded", body: "error=invalid_token",
			wantErr: true, want: Terminal, wantCode: "invalid_token"},
		{name: "400 form-encoded with description", status: 400, contentType: "text/plain", body: "error=invalid_token&error_description=Token+was+invalid\n",
			wantErr: true, want: Terminal, wantCode: "invalid_token", wantText: "invalid_token: Token was invalid"},
		{name: "400 HTML from a proxy", status: 400, contentType: "text/html", body: "<html>error=invalid_token</html>",
			wantErr: true, want: Retryable, wantText: "HTML answer (status 400)"},
		{name: "400 plain text without an error", status: 400, contentType: "text/plain", body: "Bad Request",
			wantErr: true, want: Retryable, wantText: "non-JSON answer (status 400)"},
		{name: "503", status: 503, contentType: "text/html", body: "<html>Service Unavailable</html>",
			wantErr: true, want: Retryable, wantText: "HTML answer (status 503)"},
		{name: "503 form-encoded stays Retryable", status: 503, contentType: "text/plain", body: "error=invalid_token",
			wantErr: true, want: Retryable},
		{name: "500 JSON", status: 500, body: oauthErr("server_error", "internal"), wantErr: true, want: Retryable, wantCode: "server_error"},
		{name: "429", status: 429, contentType: "text/plain", body: "error=rate_limited", wantErr: true, want: RateLimited},
		{name: "302 not followed", status: 302, contentType: "text/html", body: "", wantErr: true, want: Retryable, wantText: "redirect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct := tt.contentType
			if ct == "" {
				ct = "application/json;charset=UTF-8"
			}
			srv, got := answerServer(t, tt.status, ct, tt.body)
			err := newTestClient().Revoke(context.Background(), srv.URL, revokeToken)

			method, path, header, form := got.get()
			if method != http.MethodPost || path != "/services/oauth2/revoke" {
				t.Errorf("request = %s %s, want POST /services/oauth2/revoke", method, path)
			}
			if header.Get("Content-Type") != "application/x-www-form-urlencoded" || header.Get("User-Agent") != "sfconn-operator" {
				t.Errorf("headers = %v", header)
			}
			if want := (url.Values{"token": {revokeToken}}); !reflect.DeepEqual(form, want) {
				t.Errorf("form = %v, want %v", form, want)
			}

			if !tt.wantErr {
				if err != nil {
					t.Fatalf("Revoke: %v", err)
				}
				return
			}
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
			if strings.Contains(e.Error(), "5Aep861") {
				t.Errorf("error %q carries the token", e.Error())
			}
		})
	}
}

func TestRevokeRefusesBeforeSending(t *testing.T) {
	srv, got := jsonServer(t, http.StatusOK, "")
	c := newTestClient()
	for _, tt := range []struct{ loginURL, token, wantMsg string }{
		{srv.URL, "", "missing token to revoke"},
		{srv.URL, " \n", "missing token to revoke"},
		{"", revokeToken, "invalid login URL: missing loginURL"},
		{srv.URL + "/services/oauth2/revoke", revokeToken, "must not contain a path"},
		{srv.URL + "/?token=x", revokeToken, "must not contain a query"},
	} {
		e := asError(t, c.Revoke(context.Background(), tt.loginURL, tt.token))
		if e.Class != Terminal || !strings.Contains(e.Error(), tt.wantMsg) {
			t.Errorf("Revoke(%q): got %q (%v), want Terminal containing %q", tt.loginURL, e.Error(), e.Class, tt.wantMsg)
		}
	}
	if n := got.hits.Load(); n != 0 {
		t.Errorf("server was called %d times", n)
	}
}

func TestRevokeTransportFailureIsRetryable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	e := asError(t, newTestClient().Revoke(context.Background(), srv.URL, revokeToken))
	if e.Class != Retryable || !strings.Contains(e.Error(), "revoke request failed") || e.StatusCode != 0 {
		t.Errorf("got %q (%v)", e.Error(), e.Class)
	}
}

package salesforce

import (
	"net/url"
	"strings"
	"testing"
)

func oauthErr(code, desc string) string {
	return `{"error":"` + code + `","error_description":"` + desc + `"}`
}

func TestLoginClassifiesFailures(t *testing.T) {
	const html = "<!DOCTYPE html><html><body>Service Unavailable</body></html>"
	tests := []struct {
		name        string
		grant       Grant
		status      int
		contentType string
		body        string
		want        Class
		wantText    string // substring of Error()
	}{
		// Revoked only where a refresh token was presented.
		{"refresh token revoked", GrantRefreshToken, 400, "", oauthErr("invalid_grant", "expired access/refresh token"), Revoked, "invalid_grant: expired access/refresh token"},
		{"refresh token revoked, other case", GrantRefreshToken, 400, "", oauthErr("invalid_grant", "Expired Access/Refresh Token"), Revoked, ""},
		{"same words on JWT", GrantJWTBearer, 400, "", oauthErr("invalid_grant", "expired access/refresh token"), Terminal, ""},
		{"same words on password", GrantPassword, 400, "", oauthErr("invalid_grant", "expired access/refresh token"), Terminal, ""},
		{"same words on client credentials", GrantClientCredentials, 400, "", oauthErr("invalid_grant", "expired access/refresh token"), Terminal, ""},

		{"login rate exceeded", GrantJWTBearer, 400, "", oauthErr("invalid_grant", "login rate exceeded"), RateLimited, ""},
		{"login rate exceeded on refresh", GrantRefreshToken, 400, "", oauthErr("invalid_grant", "Login Rate Exceeded"), RateLimited, ""},
		{"rate_limit_exceeded", GrantPassword, 400, "", oauthErr("rate_limit_exceeded", "Number of logins exceeded"), RateLimited, ""},
		{"rate_limit_exceeded without description", GrantPassword, 400, "", `{"error":"rate_limit_exceeded"}`, RateLimited, ""},
		{"429 empty", GrantJWTBearer, 429, "text/plain", "", RateLimited, "status 429"},
		{"429 HTML", GrantJWTBearer, 429, "text/html", html, RateLimited, ""},

		{"authentication failure", GrantPassword, 400, "", oauthErr("invalid_grant", "authentication failure"), Terminal, "invalid_grant: authentication failure"},
		{"invalid user credentials", GrantPassword, 400, "", oauthErr("invalid_grant", "Invalid user credentials"), Terminal, ""},
		{"locked out", GrantPassword, 400, "", oauthErr("invalid_grant", "invalid username, password, security token; or user locked out."), Terminal, ""},
		{"not approved", GrantJWTBearer, 400, "", oauthErr("invalid_grant", "user hasn't approved this consumer"), Terminal, ""},
		{"invalid assertion", GrantJWTBearer, 400, "", oauthErr("invalid_grant", "invalid assertion"), Terminal, ""},
		{"audience is invalid", GrantJWTBearer, 400, "", oauthErr("invalid_grant", "audience is invalid"), Terminal, ""},
		{"Audience validation failed", GrantJWTBearer, 400, "", oauthErr("invalid_grant", "Audience validation failed"), Terminal, ""},
		{"expired authorization code", GrantJWTBearer, 400, "", oauthErr("invalid_grant", "expired authorization code"), Terminal, ""},
		{"IP restricted", GrantPassword, 400, "", oauthErr("invalid_grant", "IP restricted or invalid login hours"), Terminal, ""},
		{"inactive_user", GrantJWTBearer, 400, "", oauthErr("inactive_user", "User is inactive"), Terminal, ""},
		{"inactive_org", GrantJWTBearer, 400, "", oauthErr("inactive_org", "Org is locked, closed, or suspended"), Terminal, ""},
		{"invalid_client_id", GrantJWTBearer, 400, "", oauthErr("invalid_client_id", "client identifier invalid"), Terminal, ""},
		{"invalid_client", GrantClientCredentials, 400, "", oauthErr("invalid_client", "invalid client credentials"), Terminal, ""},
		{"invalid_client at 401", GrantClientCredentials, 401, "", oauthErr("invalid_client", "invalid client credentials"), Terminal, ""},
		{"invalid_client_credentials", GrantPassword, 400, "", oauthErr("invalid_client_credentials", "client secret invalid"), Terminal, ""},
		{"unsupported_grant_type", GrantClientCredentials, 400, "", oauthErr("unsupported_grant_type", "grant type not supported"), Terminal, ""},
		{"invalid_request", GrantPassword, 400, "", oauthErr("invalid_request", "grant type is missing"), Terminal, ""},
		{"invalid_scope", GrantRefreshToken, 400, "", oauthErr("invalid_scope", "Requested scope is invalid, unknown, or malformed"), Terminal, ""},
		{"wrong domain", GrantClientCredentials, 400, "", oauthErr("invalid_grant", "request not supported on this domain"), Terminal, ""},
		{"no run-as user", GrantClientCredentials, 400, "", oauthErr("invalid_grant", "no client credentials user enabled"), Terminal, ""},
		{"invalid_app_access", GrantJWTBearer, 400, "", oauthErr("invalid_app_access", "user is not admin approved to access this app"), Terminal, ""},
		{"unknown invalid_grant on refresh: the refresh token is dead", GrantRefreshToken, 400, "", oauthErr("invalid_grant", "something new"), Revoked, ""},
		{"rate limit on refresh", GrantRefreshToken, 400, "", oauthErr("invalid_grant", "login rate exceeded"), RateLimited, ""},
		{"IP restriction on refresh", GrantRefreshToken, 400, "", oauthErr("invalid_grant", "IP restricted or invalid login hours"), Terminal, ""},
		{"bad client on refresh", GrantRefreshToken, 400, "", oauthErr("invalid_client", "invalid client credentials"), Terminal, ""},
		{"unknown code", GrantJWTBearer, 400, "", oauthErr("brand_new_error", "something new"), Terminal, "brand_new_error: something new"},
		{"JSON without error code", GrantJWTBearer, 400, "", `{"message":"nope"}`, Terminal, "without an error code (status 400)"},
		{"REST-style JSON array", GrantJWTBearer, 401, "", `[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`, Terminal, ""},

		{"503 HTML", GrantJWTBearer, 503, "text/html", html, Retryable, "HTML answer (status 503)"},
		{"503 empty", GrantJWTBearer, 503, "", "", Retryable, "empty answer (status 503)"},
		{"500 JSON", GrantJWTBearer, 500, "", oauthErr("server_error", "internal"), Retryable, "server_error"},
		{"502 text", GrantJWTBearer, 502, "text/plain", "Bad Gateway", Retryable, "non-JSON answer (status 502)"},
		{"503 JSON login rate text stays Retryable", GrantJWTBearer, 503, "", oauthErr("invalid_grant", "authentication failure"), Retryable, ""},
		{"408", GrantJWTBearer, 408, "", "", Retryable, ""},
		{"400 HTML from a proxy", GrantJWTBearer, 400, "text/html", html, Retryable, "HTML answer (status 400)"},
		{"403 HTML from a WAF", GrantJWTBearer, 403, "text/html", html, Retryable, "HTML answer (status 403)"},
		{"400 malformed JSON", GrantJWTBearer, 400, "", `{"error":"invalid_grant",`, Retryable, "malformed JSON answer (status 400)"},
		{"200 HTML", GrantJWTBearer, 200, "text/html", html, Retryable, "HTML answer (status 200)"},
		{"200 malformed JSON", GrantJWTBearer, 200, "", `{"access_token":"00Dx!AQ",`, Retryable, "malformed JSON answer (status 200)"},
		{"200 JSON array", GrantJWTBearer, 200, "", `[]`, Retryable, ""},
		{"200 empty", GrantJWTBearer, 200, "", ``, Retryable, "empty answer (status 200)"},
		{"200 without access_token", GrantJWTBearer, 200, "", `{"instance_url":"https://acme.my.salesforce.com"}`, Retryable, "no access_token"},
		{"200 null", GrantJWTBearer, 200, "", `null`, Retryable, "no access_token"},
		{"201", GrantJWTBearer, 201, "", jwtAnswer, Retryable, "unexpected status 201"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct := tt.contentType
			if ct == "" {
				ct = "application/json;charset=UTF-8"
			}
			srv, _ := answerServer(t, tt.status, ct, tt.body)
			_, err := login(t, newTestClient(), fullRequest(t, srv.URL, tt.grant))
			e := asError(t, err)
			if e.Class != tt.want {
				t.Errorf("class = %v, want %v (error %q)", e.Class, tt.want, e.Error())
			}
			if ClassOf(err) != tt.want {
				t.Errorf("ClassOf = %v, want %v", ClassOf(err), tt.want)
			}
			if e.StatusCode != tt.status {
				t.Errorf("StatusCode = %d, want %d", e.StatusCode, tt.status)
			}
			if tt.wantText != "" && !strings.Contains(e.Error(), tt.wantText) {
				t.Errorf("error %q does not contain %q", e.Error(), tt.wantText)
			}
			if strings.Contains(e.Error(), "Service Unavailable") {
				t.Errorf("error %q quotes the body of a non-JSON answer", e.Error())
			}
		})
	}
}

func TestErrorCarriesSalesforceFields(t *testing.T) {
	srv, _ := jsonServer(t, 400, oauthErr("invalid_grant", "expired access/refresh token"))
	_, err := login(t, newTestClient(), fullRequest(t, srv.URL, GrantRefreshToken))
	e := asError(t, err)
	if e.StatusCode != 400 || e.Code != "invalid_grant" || e.Description != "expired access/refresh token" {
		t.Errorf("got %+v", e)
	}
}

func TestErrorFieldsAreBounded(t *testing.T) {
	long := strings.Repeat("x", 5000)
	srv, _ := jsonServer(t, 400, `{"error":"invalid_grant","error_description":"`+long+`\n\u0007"}`)
	_, err := login(t, newTestClient(), fullRequest(t, srv.URL, GrantJWTBearer))
	e := asError(t, err)
	if len(e.Description) > 300 || strings.ContainsAny(e.Description, "\n\a") {
		t.Errorf("description not bounded: %d bytes", len(e.Description))
	}
}

// TestClassifyFailureWithholdsEchoedSecrets covers what a proxy echoing the request can do
// to each field of an error answer.
func TestClassifyFailureWithholdsEchoedSecrets(t *testing.T) {
	const secret = "Rt-5Aep861cQ2x"
	for _, tt := range []struct {
		name, body, wantText string
		want                 Class
	}{
		{"description", oauthErr("invalid_grant", "bad refresh_token="+secret), "salesforce: invalid_grant: the answer quoted a credential of the request, so its text is withheld", Revoked},
		{"form-encoded description", oauthErr("invalid_grant", "refresh_token="+url.QueryEscape(secret+"+/=")), "withheld", Revoked},
		{"code", oauthErr(secret, "x"), "salesforce: error answer (status 400): the answer quoted", Terminal},
		{"cut at the limit", oauthErr("invalid_grant", strings.Repeat("x", 250)+secret), "withheld", Revoked},
		{"control characters", oauthErr("invalid_grant", `Rt-5Aep\t61cQ2x`), "invalid_grant", Revoked},
		{"nothing quoted", oauthErr("invalid_grant", "expired access/refresh token"), "salesforce: invalid_grant: expired access/refresh token", Revoked},
	} {
		secrets := []string{secret, secret + "+/=", "Rt-5Aep\t61cQ2x", "short"}
		e := classifyFailure(GrantRefreshToken, 400, []byte(tt.body), secrets)
		if e.Class != tt.want || !strings.Contains(e.Error(), tt.wantText) {
			t.Errorf("%s: %v (%v), want %v containing %q", tt.name, e, e.Class, tt.want, tt.wantText)
		}
		for _, s := range secrets[:3] {
			if strings.Contains(e.Error(), s) || strings.Contains(e.Error(), cleanText(s)) {
				t.Errorf("%s: %q quotes %q", tt.name, e.Error(), s)
			}
		}
	}
	// A secret shorter than minSecretLen is not looked for: it would match plain words.
	if e := classifyFailure(GrantPassword, 400, []byte(oauthErr("invalid_grant", "authentication failure")), []string{"fail"}); e.Description != "authentication failure" {
		t.Errorf("short secret withheld %q", e.Description)
	}
}

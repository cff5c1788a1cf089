package salesforce

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// secretMark starts every secret FuzzClassifyFailure passes in. No fixed text of this
// package contains it, so a secret found in an error was quoted from the answer.
const secretMark = "Sk!"

var fuzzGrants = []Grant{"", GrantPassword, GrantRefreshToken, GrantClientCredentials, GrantJWTBearer, grantDevice, grantDeviceStart}

// FuzzClassifyFailure feeds a status, a body and a credential of the request to the three
// classifiers of failed answers (token endpoint, revoke, REST query). Whatever the answer,
// they return a classified *Error whose text is printable, bounded, and never quotes the
// credential, even when the body echoes it.
func FuzzClassifyFailure(f *testing.F) {
	const tok = "Rt-5Aep861cQ2x"
	for _, seed := range []struct {
		grant  uint8
		status int
		body   string
	}{
		{2, 400, oauthErr("invalid_grant", "expired access/refresh token")},
		{1, 400, oauthErr("invalid_grant", "authentication failure")},
		{5, 400, oauthErr("authorization_pending", "")},
		{5, 400, oauthErr("slow_down", "")},
		{2, 400, oauthErr("invalid_grant", "bad refresh_token="+secretMark+tok)},
		{2, 400, oauthErr("invalid_grant", "bad refresh_token="+url.QueryEscape(secretMark+tok))},
		{2, 400, oauthErr(secretMark+tok, "")},
		{2, 400, oauthErr("invalid_grant", strings.Repeat("x", 250)+secretMark+tok)},
		{1, 401, `{"error":"invalid_client","error_description":"\u0053k!` + tok + `"}`},
		{0, 400, "error=invalid_token&error_description=" + url.QueryEscape(secretMark+tok)},
		{0, 400, "error=" + url.QueryEscape(secretMark+tok)},
		{0, 401, `[{"errorCode":"INVALID_SESSION_ID","message":"Session expired or invalid"}]`},
		{0, 400, `[{"errorCode":"MALFORMED_QUERY","message":"` + secretMark + tok + `"}]`},
		{0, 403, `[{"errorCode":"API_DISABLED_FOR_ORG","message":"API is not enabled"}]`},
		{0, 429, ""},
		{3, 503, "<html>" + secretMark + tok + "</html>"},
		{4, 302, ""},
		{4, 500, `{"error":"x"}`},
		{4, 200, ""},
		{4, 0, "\x00"},
		{4, -1, "null"},
	} {
		f.Add(seed.grant, seed.status, []byte(seed.body), tok)
	}
	f.Fuzz(func(t *testing.T, gi uint8, status int, body []byte, secret string) {
		grant := fuzzGrants[int(gi)%len(fuzzGrants)]
		secret = secretMark + secret
		secrets := []string{secret}
		for name, e := range map[string]*Error{
			"token":  classifyFailure(grant, status, body, secrets),
			"revoke": classifyRevokeFailure(status, body, secrets),
			"query":  classifyQueryFailure(status, body, secrets),
		} {
			checkClassified(t, name, grant, status, e, secret)
		}
	})
}

func checkClassified(t *testing.T, name string, grant Grant, status int, e *Error, secret string) {
	t.Helper()
	if e == nil {
		t.Fatalf("%s: nil error", name)
	}
	if e.StatusCode != status || e.Err != nil {
		t.Fatalf("%s: error %#v for status %d", name, e, status)
	}
	switch {
	case e.Class < Retryable || e.Class > Pending:
		t.Fatalf("%s: class %d", name, e.Class)
	case e.Class == Pending && (name != "token" || grant != grantDevice):
		t.Fatalf("%s: Pending outside a device poll (grant %q)", name, grant)
	case status == http.StatusTooManyRequests && e.Class != RateLimited:
		t.Fatalf("%s: 429 is %v", name, e.Class)
	case (status >= 300 && status < 400 || status >= 500 || status == http.StatusRequestTimeout) && e.Class != Retryable:
		t.Fatalf("%s: status %d is %v", name, status, e.Class)
	}
	text := e.Error()
	if text == "salesforce: " || len(text) > 700 || !utf8.ValidString(text) || strings.ContainsFunc(text, unicode.IsControl) {
		t.Fatalf("%s: error text %q", name, text)
	}
	if len(secret) < minSecretLen {
		return // not looked for: it would match plain words
	}
	for _, field := range []string{text, e.Code, e.Description, e.Message} {
		for _, form := range []string{secret, url.QueryEscape(secret), cleanText(secret)} {
			if len(form) >= minSecretLen && strings.Contains(field, form) {
				t.Fatalf("%s: %q quotes the secret %q", name, field, secret)
			}
		}
	}
}

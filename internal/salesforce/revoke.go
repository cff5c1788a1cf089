package salesforce

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
)

// Revoke revokes an access token, or a refresh token together with every access token
// minted from it (docs/salesforce-behaviour.md#revoking-a-token), at
// <loginURL>/services/oauth2/revoke. A token that is already dead is not success:
// Salesforce answers 400 invalid_token, returned as a Terminal *Error with Code
// "invalid_token", so the caller decides whether that is fine. 5xx and network failures are
// Retryable. The token never appears in an error.
func (c *HTTPClient) Revoke(ctx context.Context, loginURL, token string) error {
	ep, err := parseLoginURL(loginURL)
	if err != nil {
		return err
	}
	if strings.TrimSpace(token) == "" {
		return &Error{Class: Terminal, Message: "missing token to revoke"}
	}
	// POST rather than the documented "blind GET": a GET puts the token in the query
	// string, and so in every proxy's access log.
	r, err := c.postForm(ctx, ep.revokeURL, url.Values{"token": {token}}, "revoke request")
	if err != nil {
		return err
	}
	if r.status == http.StatusOK {
		return nil
	}
	return classifyRevokeFailure(r.status, r.body, []string{token})
}

// classifyRevokeFailure classifies like the token endpoint, with one addition: jsforce
// parses a failed revoke's body as form-encoded (error=invalid_token), so Salesforce may
// not answer JSON there (assumed, docs/salesforce-behaviour.md#revoking-a-token). Read as a
// non-JSON 4xx, that body would be Retryable, and a caller would retry revoking a dead
// token forever. HTML is left alone: it comes from a proxy, and a proxy page could echo the
// token. secrets (the token revoked) are withheld from the error as by classifyFailure.
func classifyRevokeFailure(status int, body []byte, secrets []string) *Error {
	trimmed := bytes.TrimSpace(body)
	if _, isJSON := parseErrorAnswer(body); !isJSON && status >= 400 && status < 500 &&
		status != http.StatusTooManyRequests && status != http.StatusRequestTimeout &&
		len(trimmed) > 0 && trimmed[0] != '<' {
		if q, err := url.ParseQuery(string(trimmed)); err == nil && isErrorCode(q.Get("error")) {
			code, desc := q.Get("error"), q.Get("error_description")
			return withholdSecrets(&Error{
				Class: classifyOAuthError("", code, desc), StatusCode: status,
				Code: bound(code), Description: bound(desc),
			}, secrets, code, desc)
		}
	}
	// No grant was presented: the refresh- and device-specific rules do not apply.
	return classifyFailure("", status, body, secrets)
}

// isErrorCode accepts what OAuth error codes look like (invalid_token), so a page that
// echoes the request into its error field ("error=token=...") is not read as one.
func isErrorCode(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

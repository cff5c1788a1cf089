package salesforce

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode"
)

// errorAnswer is Salesforce's error envelope, the same for every grant.
type errorAnswer struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// classifyFailure turns a non-200 answer into a classified *Error. Status decides first for
// what Salesforce's token endpoint never sends itself (3xx, 429, 5xx, HTML pages from a
// proxy or maintenance page;
// docs/salesforce-behaviour.md#answers-that-are-not-salesforces); a JSON error envelope on
// a 4xx is classified from Salesforce's own words by classifyOAuthError
// (docs/salesforce-behaviour.md#token-errors-http-400-with-error-and-error_description).
// secrets are the credentials the request carried: an answer that quotes one (a proxy
// echoing the request into error_description) keeps its class but not its words; see
// withholdSecrets.
func classifyFailure(grant Grant, status int, body []byte, secrets []string) *Error {
	ans, isJSON := parseErrorAnswer(body)
	return withholdSecrets(classifyAnswer(grant, status, body, ans, isJSON), secrets, ans.Error, ans.Description)
}

func classifyAnswer(grant Grant, status int, body []byte, ans errorAnswer, isJSON bool) *Error {
	e := &Error{StatusCode: status, Code: bound(ans.Error), Description: bound(ans.Description)}
	switch {
	case status == http.StatusTooManyRequests:
		// Whatever throttled us wants fewer requests, not a quick retry.
		e.Class = RateLimited
		e.Message = fmt.Sprintf("too many requests (status %d)", status)
	case status >= 300 && status < 400:
		// Never followed (see noRedirects); a redirect from the token endpoint is a
		// misconfigured proxy or a maintenance page, not an answer about the credentials.
		e.Class, e.Code, e.Description = Retryable, "", ""
		e.Message = fmt.Sprintf("redirect (status %d) not followed", status)
	case status >= 500, status == http.StatusRequestTimeout:
		e.Class = Retryable
		e.Message = describeBody(status, body, isJSON)
	case status >= 400 && !isJSON:
		// An HTML 4xx comes from something in front of Salesforce (a proxy, a CDN), so it
		// says nothing about the credentials.
		e.Class = Retryable
		e.Message = describeBody(status, body, false)
	case status >= 400 && ans.Error == "":
		e.Class = Terminal
		e.Message = fmt.Sprintf("error answer without an error code (status %d)", status)
	case status >= 400:
		e.Class = classifyOAuthError(grant, ans.Error, ans.Description)
	default:
		e.Class, e.Code, e.Description = Retryable, "", ""
		e.Message = fmt.Sprintf("unexpected status %d", status)
	}
	return e
}

// oauthRule maps one of Salesforce's known answers to a class. Descriptions are matched
// first (lower-cased, as a substring, since Salesforce's wording drifts in case and
// punctuation), then the error code.
type oauthRule struct {
	match string
	class Class
}

// descriptionRules holds every description whose class is not simply Terminal, plus the
// Terminal ones documented in docs/salesforce-behaviour.md#error-strings-and-their-classes,
// so the table reads as the complete list of what we know.
var descriptionRules = []oauthRule{
	// Revoked, expired by policy, evicted by the five-approval limit, or a rotated token
	// replayed: only a new authorization helps. Demoted to Terminal outside the refresh
	// grant (see classifyOAuthError).
	{"expired access/refresh token", Revoked},
	{"login rate exceeded", RateLimited},
	{"number of logins exceeded", RateLimited},
	{"authentication failure", Terminal},
	{"invalid user credentials", Terminal},
	{"invalid username, password, security token", Terminal},
	{"user hasn't approved this consumer", Terminal},
	{"invalid assertion", Terminal},
	{"audience is invalid", Terminal},
	{"audience validation failed", Terminal},
	// For JWT this is an assertion whose exp has passed; retrying re-signs with the same
	// clock, so it needs a person to fix the clock.
	{"expired authorization code", Terminal},
	// Profile login IP ranges or hours: may clear by itself at the next allowed hour, but
	// a person set the restriction and must know it blocks the operator.
	{"ip restricted or invalid login hours", Terminal},
	{"request not supported on this domain", Terminal},
	{"no client credentials user enabled", Terminal},
}

var codeRules = map[string]Class{
	"rate_limit_exceeded":        RateLimited,
	"inactive_user":              Terminal,
	"inactive_org":               Terminal,
	"invalid_client_id":          Terminal,
	"invalid_client":             Terminal,
	"invalid_client_credentials": Terminal,
	"unsupported_grant_type":     Terminal,
	"invalid_request":            Terminal,
	"invalid_scope":              Terminal,
	"invalid_app_access":         Terminal,
	"invalid_grant":              Terminal,
}

// classifyOAuthError classifies Salesforce's {error, error_description}. Unknown answers
// are Terminal: a 4xx that Salesforce took the trouble to explain will not change by
// retrying, and retrying it spends the login quota and risks an IP block.
func classifyOAuthError(grant Grant, code, description string) Class {
	desc := strings.ToLower(description)
	if grant == grantDevice {
		if c, ok := classifyDevicePoll(code, desc); ok {
			return c
		}
	}
	if grant == GrantRefreshToken && strings.EqualFold(strings.TrimSpace(code), "invalid_grant") {
		return classifyRefreshRefusal(desc)
	}
	for _, r := range descriptionRules {
		if strings.Contains(desc, r.match) {
			// The same words from a JWT or password login mean the assertion or session
			// was refused, not that a refresh token died.
			if r.class == Revoked && grant != GrantRefreshToken {
				return Terminal
			}
			return r.class
		}
	}
	if c, ok := codeRules[strings.ToLower(strings.TrimSpace(code))]; ok {
		return c
	}
	return Terminal
}

// classifyRefreshRefusal classifies invalid_grant on a refresh. Salesforce answers it when
// the refresh token is dead, whatever killed it (revocation, eviction by a newer approval,
// policy expiry, a replayed rotated token), and its wording varies; only the login rate
// limit and the profile's IP and hours restrictions say something else.
func classifyRefreshRefusal(desc string) Class {
	switch {
	case strings.Contains(desc, "login rate exceeded"), strings.Contains(desc, "number of logins exceeded"):
		return RateLimited
	case strings.Contains(desc, "ip restricted or invalid login hours"):
		return Terminal
	}
	return Revoked
}

// classifyDevicePoll classifies the answers particular to polling the device flow. Only
// authorization_pending is documented for Salesforce
// (docs/salesforce-behaviour.md#device-flow); slow_down, expired_token and access_denied
// are RFC 8628 section 3.5's, which Salesforce's flow otherwise follows. An expired device
// code is matched on its description too, since Salesforce may word it as an invalid_grant.
// ok is false for everything else, which is classified as on any other grant (a rate limit
// stays RateLimited).
func classifyDevicePoll(code, desc string) (c Class, ok bool) {
	switch strings.ToLower(strings.TrimSpace(code)) {
	case "authorization_pending", "slow_down":
		return Pending, true
	case "expired_token", "access_denied":
		// The user refused, or took too long: only a new StartDeviceLogin helps.
		return Terminal, true
	}
	if strings.Contains(desc, "expired") {
		return Terminal, true
	}
	return 0, false
}

// parseErrorAnswer reports whether body is JSON, and its error envelope if it is an object
// with string fields. A JSON array (the REST API's error shape) is JSON without a code.
func parseErrorAnswer(body []byte) (errorAnswer, bool) {
	var a errorAnswer
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || !json.Valid(trimmed) {
		return a, false
	}
	if trimmed[0] == '{' && json.Unmarshal(trimmed, &a) != nil {
		a = errorAnswer{}
	}
	return a, true
}

// describeBody names what kind of body came back without quoting it: a proxy's error page
// may echo the request, credentials included.
func describeBody(status int, body []byte, isJSON bool) string {
	trimmed := bytes.TrimSpace(body)
	switch {
	case isJSON:
		return fmt.Sprintf("server error (status %d)", status)
	case len(trimmed) == 0:
		return fmt.Sprintf("empty answer (status %d)", status)
	case trimmed[0] == '<':
		return fmt.Sprintf("HTML answer (status %d)", status)
	case trimmed[0] == '{' || trimmed[0] == '[':
		return fmt.Sprintf("malformed JSON answer (status %d)", status)
	default:
		return fmt.Sprintf("non-JSON answer (status %d)", status)
	}
}

// malformed is the error for a 200 whose body is not the answer expected.
func malformed(body []byte) *Error {
	return &Error{Class: Retryable, StatusCode: http.StatusOK, Message: describeBody(http.StatusOK, body, false)}
}

// bound keeps Salesforce's error fields printable and short before they reach a status
// condition or a log line.
func bound(s string) string {
	const limit = 256
	s = cleanText(s)
	if r := []rune(s); len(r) > limit {
		s = string(r[:limit]) + "..."
	}
	return strings.TrimSpace(s)
}

// minSecretLen is the shortest credential searched for in an answer: shorter values would
// match ordinary words of Salesforce's messages, and no credential the operator sends is
// that short (a client secret, a refresh or access token, a JWT, a device code, a password
// joined with its security token).
const minSecretLen = 8

// secretFormKeys are the form fields of a request that carry credentials; client_id,
// username, grant_type and scope do not.
var secretFormKeys = []string{"client_secret", "password", "refresh_token", "assertion", "code", "token"}

// formSecrets returns the credentials a form carries, for withholdSecrets.
func formSecrets(form url.Values) []string {
	var out []string
	for _, k := range secretFormKeys {
		out = append(out, form[k]...)
	}
	return out
}

// withholdSecrets returns e without the words of the answer when they quote one of the
// request's secrets: Salesforce never echoes a credential, but a proxy, a WAF or a debug
// endpoint in front of it may put the request into error_description, and e's text ends up
// in status conditions, events and logs. raw are the answer's fields before bound cut and
// cleaned them, so a secret cut short at the limit, or with a control character turned
// into a space, is still found. The class, decided before, is kept: the code still says
// what happened. A Code that quotes a secret is dropped with the description.
func withholdSecrets(e *Error, secrets []string, raw ...string) *Error {
	quotes := func(texts ...string) bool {
		for _, s := range secrets {
			if len(s) < minSecretLen {
				continue
			}
			forms := []string{s, url.QueryEscape(s), cleanText(s)}
			for _, t := range texts {
				for _, f := range forms {
					if len(f) >= minSecretLen && strings.Contains(t, f) {
						return true
					}
				}
			}
		}
		return false
	}
	if !quotes(append(append([]string{}, raw...), e.Code, e.Description, e.Message, e.Error())...) {
		return e
	}
	const withheld = "the answer quoted a credential of the request, so its text is withheld"
	if !isErrorCode(e.Code) || quotes(e.Code) {
		e.Code = ""
	}
	e.Description = ""
	if e.Code != "" {
		e.Description = withheld
	}
	if e.Message == "" || quotes(e.Message) {
		e.Message = fmt.Sprintf("error answer (status %d): %s", e.StatusCode, withheld)
	}
	return e
}

// cleanText is what bound makes of the characters of s: valid UTF-8, control characters
// as spaces.
func cleanText(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
}

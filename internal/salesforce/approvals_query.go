package salesforce

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// APIVersion is the REST API version the client calls: Spring '26, the newest the emulator
// lists. OauthToken has been queryable for far longer, so an older org answers it too.
const APIVersion = "v66.0"

const (
	// maxQueryPages bounds how many pages of one query are read. A page holds up to 2,000
	// records by default and one user keeps about five approvals per app
	// (docs/salesforce-behaviour.md#five-approvals-per-user-per-connected-app), so a second
	// page is already unusual; more than a few is a proxy or server handing out pages in a
	// loop.
	maxQueryPages = 5
	// maxApprovalRows bounds the approvals read from all pages together. One user holds at
	// most five per app, so many more rows are not an answer about one user's approvals,
	// and a hostile answer could otherwise fill memory with up to maxQueryPages bodies of
	// 1 MiB each.
	maxApprovalRows = 100
	// maxAppNameRunes bounds the connected app name put in the query, so a bad spec cannot
	// build an enormous URL. It is well above any name Salesforce lets an app have.
	maxAppNameRunes = 255
)

// approvalsSOQL is the query of one user's approvals of one app, oldest first: the order in
// which Salesforce evicts them when a new one exceeds the limit.
const approvalsSOQL = "SELECT Id, AppName, CreatedDate, LastUsedDate, UseCount FROM OauthToken " +
	"WHERE AppName = '%s' AND UserId = '%s' ORDER BY CreatedDate ASC"

// QueryApprovals lists the approvals (OauthToken rows) that userID has given the connected
// app named appName, oldest first, through the REST API's query resource on instanceURL
// (docs/salesforce-behaviour.md#the-oauthtoken-object-lists-approvals). The access token
// needs the api scope. A user without the Customize Application permission sees only their
// own rows (so the emulator models the OauthToken object reference): asked about another
// user, they get an empty list, not an error.
//
// Errors, all *Error: a malformed userID or appName is Terminal before any request. A 401
// is Terminal with Code INVALID_SESSION_ID when Salesforce says so: the access token is
// dead, which says nothing about the refresh token, so it is not Revoked. A refused query
// (400 MALFORMED_QUERY, INVALID_TYPE, INVALID_FIELD; 403 API_DISABLED_FOR_ORG,
// INSUFFICIENT_ACCESS; 404 NOT_FOUND) is Terminal with Salesforce's errorCode in Code.
// REQUEST_LIMIT_EXCEEDED (the org's daily API requests are spent,
// docs/salesforce-behaviour.md#the-orgs-daily-api-request-limit) and 429 are RateLimited;
// 5xx, network failures and answers that are not Salesforce's are Retryable.
func (c *HTTPClient) QueryApprovals(ctx context.Context, instanceURL, accessToken, appName, userID string) ([]OAuthApproval, error) {
	base, err := parseInstanceBase(instanceURL)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(accessToken) == "" {
		return nil, &Error{Class: Terminal, Message: "missing access token"}
	}
	soql, err := approvalsQuery(appName, userID)
	if err != nil {
		return nil, err
	}
	target := base + dataPath + APIVersion + "/query?" + url.Values{"q": {soql}}.Encode()

	var out []OAuthApproval
	for range maxQueryPages {
		r, err := c.getWithBearer(ctx, target, accessToken, "approvals query")
		if err != nil {
			return nil, err
		}
		if r.status != http.StatusOK {
			return nil, classifyQueryFailure(r.status, r.body, []string{accessToken})
		}
		page, err := parseApprovalsPage(r.body)
		if err != nil {
			return nil, err
		}
		out = append(out, page.records...)
		if len(out) > maxApprovalRows {
			return nil, &Error{Class: Retryable, StatusCode: http.StatusOK,
				Message: fmt.Sprintf("malformed answer: more than %d approvals of one user for one app", maxApprovalRows)}
		}
		if page.done {
			return out, nil
		}
		if target, err = nextPageURL(base, page.next); err != nil {
			return nil, err
		}
	}
	return nil, &Error{Class: Retryable, StatusCode: http.StatusOK,
		Message: fmt.Sprintf("malformed answer: query not done after %d pages", maxQueryPages)}
}

// getWithBearer sends a GET with the access token in the Authorization header, never in the
// query string, where proxies and access logs would keep it.
func (c *HTTPClient) getWithBearer(ctx context.Context, target, accessToken, what string) (*reply, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, http.NoBody)
	if err != nil {
		// err would quote the URL; target was built from a validated base.
		return nil, &Error{Class: Terminal, Message: "building the " + what}
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	return c.send(ctx, req, what)
}

// approvalsQuery checks appName and userID and builds the SOQL. They are checked here, not
// left to Salesforce, because a value that escapes its string literal would change the
// query, and a refused query would be reported as Salesforce's error. The error texts do
// not repeat the values: a caller that mixed up its arguments could pass a token.
func approvalsQuery(appName, userID string) (string, error) {
	switch {
	case strings.TrimSpace(appName) == "":
		return "", &Error{Class: Terminal, Message: "missing connected app name"}
	case !utf8.ValidString(appName):
		return "", &Error{Class: Terminal, Message: "invalid connected app name: not UTF-8"}
	case utf8.RuneCountInString(appName) > maxAppNameRunes:
		return "", &Error{Class: Terminal, Message: fmt.Sprintf("invalid connected app name: longer than %d characters", maxAppNameRunes)}
	case strings.ContainsFunc(appName, func(r rune) bool { return unicode.IsControl(r) && !hasSOQLEscape(r) }):
		// SOQL has no escape for other control characters, and no app name holds one.
		return "", &Error{Class: Terminal, Message: "invalid connected app name: control character"}
	case !isSalesforceID(userID, "005"):
		return "", &Error{Class: Terminal, Message: "invalid user ID: want 15 or 18 letters and digits starting with 005"}
	}
	return fmt.Sprintf(approvalsSOQL, escapeSOQL(appName), escapeSOQL(userID)), nil
}

// soqlEscapes are the escape sequences SOQL documents for quoted strings (other than \_ and
// \%, which mean something only in LIKE).
var soqlEscapes = map[rune]string{
	'\\': `\\`,
	'\'': `\'`,
	'"':  `\"`,
	'\n': `\n`,
	'\r': `\r`,
	'\t': `\t`,
	'\b': `\b`,
	'\f': `\f`,
}

func hasSOQLEscape(r rune) bool {
	_, ok := soqlEscapes[r]
	return ok
}

// escapeSOQL makes s safe inside a single-quoted SOQL string literal.
func escapeSOQL(s string) string {
	var b strings.Builder
	for _, r := range s {
		if esc, ok := soqlEscapes[r]; ok {
			b.WriteString(esc)
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// queryAnswer is one page of the REST API's query resource. A missing or null "records"
// leaves Records nil where [] leaves it empty, which is how a body that is JSON but not a
// query answer (`{}` from a proxy) is told from no approvals: read as zero approvals, it
// would hide the user's real ones.
type queryAnswer struct {
	Done           *bool            `json:"done"`
	NextRecordsURL string           `json:"nextRecordsUrl"`
	Records        []approvalRecord `json:"records"`
}

type approvalRecord struct {
	ID           string   `json:"Id"`
	AppName      string   `json:"AppName"`
	CreatedDate  string   `json:"CreatedDate"`
	LastUsedDate *string  `json:"LastUsedDate"`
	UseCount     *float64 `json:"UseCount"`
}

type approvalsPage struct {
	records []OAuthApproval
	done    bool
	next    string
}

// parseApprovalsPage reads an HTTP 200 body. Anything that is not a query answer of
// OauthToken rows is Retryable, like every malformed answer; its texts are fixed, since the
// body is not quoted.
func parseApprovalsPage(body []byte) (*approvalsPage, error) {
	var a queryAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, malformed(body)
	}
	bad := func(why string) error {
		return &Error{Class: Retryable, StatusCode: http.StatusOK, Message: "malformed answer: " + why}
	}
	if a.Done == nil || a.Records == nil {
		return nil, bad("not a query answer")
	}
	p := &approvalsPage{done: *a.Done, next: a.NextRecordsURL, records: make([]OAuthApproval, 0, len(a.Records))}
	for _, rec := range a.Records {
		if strings.TrimSpace(rec.ID) == "" {
			return nil, bad("record without Id")
		}
		created, ok := parseSalesforceTime(rec.CreatedDate)
		if !ok {
			return nil, bad("record without a valid CreatedDate")
		}
		var lastUsed time.Time
		if rec.LastUsedDate != nil {
			if lastUsed, ok = parseSalesforceTime(*rec.LastUsedDate); !ok {
				return nil, bad("record with an invalid LastUsedDate")
			}
		}
		var uses int
		if rec.UseCount != nil {
			n := *rec.UseCount
			if n < 0 || n > math.MaxInt32 || n != math.Trunc(n) {
				return nil, bad("record with an invalid UseCount")
			}
			uses = int(n)
		}
		p.records = append(p.records, OAuthApproval{
			ID: bound(rec.ID), AppName: bound(rec.AppName), Created: created, LastUsed: lastUsed, UseCount: uses,
		})
	}
	if !p.done && p.next == "" {
		return nil, bad("query not done and no nextRecordsUrl")
	}
	return p, nil
}

// parseSalesforceTime reads a dateTime as the REST API writes it,
// 2006-01-02T15:04:05.000+0000, or as RFC 3339. The fraction is optional in both: Go
// accepts one after the seconds whatever the layout says.
func parseSalesforceTime(s string) (time.Time, bool) {
	for _, layout := range []string{"2006-01-02T15:04:05Z0700", time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// nextPageURL resolves nextRecordsUrl, a path such as /services/data/v66.0/query/01g...-2000,
// against the instance. The access token goes with the request, so only a path of the REST
// API on the same instance is followed: an absolute URL, or one that climbs out with "..",
// is refused rather than trusted.
func nextPageURL(base, next string) (string, error) {
	refused := &Error{Class: Retryable, StatusCode: http.StatusOK, Message: "malformed answer: nextRecordsUrl is not a REST API path"}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || u.Fragment != "" {
		return "", refused
	}
	if !strings.HasPrefix(u.Path, dataPath) || path.Clean(u.Path) != strings.TrimSuffix(u.Path, "/") {
		return "", refused
	}
	target := base + u.EscapedPath()
	if u.RawQuery != "" {
		target += "?" + u.RawQuery
	}
	return target, nil
}

// restError is one element of the REST API's error answer, a JSON array
// (docs/salesforce-behaviour.md#rest-api-401-invalid_session_id).
type restError struct {
	Message   string `json:"message"`
	ErrorCode string `json:"errorCode"`
}

// parseRESTError returns the first errorCode of a REST API error answer, and whether the body
// was one. The message is returned only to be matched, never quoted.
func parseRESTError(body []byte) (code, message string, ok bool) {
	var errs []restError
	if json.Unmarshal(bytes.TrimSpace(body), &errs) != nil || len(errs) == 0 {
		return "", "", false
	}
	code = strings.TrimSpace(errs[0].ErrorCode)
	if !isErrorCode(code) {
		return "", "", false
	}
	return code, errs[0].Message, true
}

// classifyRESTFailure classifies what a non-200 answer means on every resource of the REST
// API: a dead session, redirects, throttling, server errors, answers that are not
// Salesforce's and the org's spent request limit. It returns nil and Salesforce's errorCode
// for a REST error that only the resource can explain. The errorCode is kept in Code so the
// caller can explain the failure; the message beside it is not quoted (see Error.Code). secrets are the
// request's credentials (the access token), which the answer's words may not carry into
// the error.
func classifyRESTFailure(status int, body []byte, secrets []string) (*Error, string) {
	code, message, isREST := parseRESTError(body)
	switch {
	case status == http.StatusUnauthorized:
		return deadSessionError(status, code, message), code
	case status < 400, status >= 500, status == http.StatusRequestTimeout, status == http.StatusTooManyRequests:
		// Redirects, throttling and server errors mean here what they mean everywhere.
		return withoutEnvelope(classifyFailure("", status, body, secrets)), code
	case !isREST:
		// An HTML or plain-text 4xx comes from something in front of Salesforce; a JSON
		// object is the OAuth envelope, which classifyFailure reads.
		return withoutEnvelope(classifyFailure("", status, body, secrets)), code
	case code == "REQUEST_LIMIT_EXCEEDED":
		return &Error{Class: RateLimited, StatusCode: status, Code: code,
			Description: fmt.Sprintf("the org's API request limit is spent (status %d)", status)}, code
	}
	return nil, code
}

// withoutEnvelope drops the error and error_description that classifyFailure read from a
// JSON object: the REST API answers errors as an array, so on a REST resource such an
// object is not Salesforce's words but something in front of it, which could echo the
// request, token and all. The class stays; the text says only what kind of answer it was.
func withoutEnvelope(e *Error) *Error {
	if e.Code == "" && e.Description == "" {
		return e
	}
	e.Code, e.Description = "", ""
	if e.Message == "" {
		e.Message = fmt.Sprintf("error answer not of the REST API's shape (status %d)", e.StatusCode)
	}
	return e
}

// classifyQueryFailure classifies a non-200 answer of the query resource.
func classifyQueryFailure(status int, body []byte, secrets []string) *Error {
	e, code := classifyRESTFailure(status, body, secrets)
	if e != nil {
		return e
	}
	var why string
	switch {
	case code == "MALFORMED_QUERY" || code == "INVALID_TYPE" || code == "INVALID_FIELD":
		why = "OauthToken or its fields are not visible to this user, or the query is refused"
	case status == http.StatusForbidden:
		why = "this user or org may not query OauthToken (API access or permissions)"
	case status == http.StatusNotFound:
		why = "the query resource of API " + APIVersion + " is not available on this instance"
	default:
		why = "the query is refused"
	}
	// Unknown codes are Terminal too: a 4xx that Salesforce took the trouble to explain
	// will not change by retrying.
	return &Error{Class: Terminal, StatusCode: status, Code: code,
		Description: fmt.Sprintf("OauthToken query failed (status %d): %s", status, why)}
}

// deadSessionError is a 401 from the REST API: the access token is dead (expired, revoked,
// its user deactivated), which says nothing about the refresh token, so it is Terminal
// rather than Revoked; log in or refresh again. Salesforce answers the same errorCode when
// a live token may not use the REST API at all
// (docs/salesforce-behaviour.md#a-401-that-a-new-token-does-not-fix), where a new token
// would fail the same way, so that one is told apart.
func deadSessionError(status int, code, message string) *Error {
	e := &Error{Class: Terminal, StatusCode: status, Code: code}
	desc := fmt.Sprintf("access token not accepted (status %d): the session expired or was revoked", status)
	if strings.Contains(strings.ToLower(message), "not valid for use with the rest api") {
		desc = fmt.Sprintf("access token not valid for the REST API (status %d): check the connected app's scopes and the user's API access", status)
	}
	if code == "" {
		e.Message = desc
	} else {
		e.Description = desc
	}
	return e
}

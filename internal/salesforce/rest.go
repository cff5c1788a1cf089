package salesforce

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// RESTVersion is one version of the REST API that an instance serves, as GET
// <instance>/services/data lists it.
type RESTVersion struct {
	// Version is the number as the REST API's paths take it after a "v", such as "66.0".
	Version string
	// Label is the release's name, such as "Spring '26"; empty when Salesforce sends none.
	Label string
}

// Limit is one entry of an org's limits resource: the allocation and what is left of it.
type Limit struct {
	Max       int64
	Remaining int64
}

// versionPattern is a REST API version as /services/data lists it, "66.0". The digits are
// bounded so that they always convert to an int and a URL built from them stays short.
var versionPattern = regexp.MustCompile(`^([0-9]{1,4})\.([0-9]{1,4})$`)

// RESTVersions lists the REST API versions that instanceURL serves (GET
// <instanceURL>/services/data), oldest first, so the newest is the last. Entries whose
// version is not of the form "66.0" are left out. The call needs a live access token, and
// counts against the org's daily API requests.
//
// Errors, all *Error, are those of QueryApprovals: the instance URL is checked the same
// way before the token is sent; a 401 is Terminal with Code INVALID_SESSION_ID when
// Salesforce says so (the access token is refused, log in or refresh again); other refusals
// are Terminal with Salesforce's errorCode in Code, whose message is never quoted;
// REQUEST_LIMIT_EXCEEDED and 429 are RateLimited; redirects (never followed), 5xx, network
// failures and answers that are not Salesforce's are Retryable, and so is a 200 that lists
// no version.
func (c *HTTPClient) RESTVersions(ctx context.Context, instanceURL, accessToken string) ([]RESTVersion, error) {
	base, err := restBase(instanceURL, accessToken)
	if err != nil {
		return nil, err
	}
	r, err := c.getWithBearer(ctx, base+strings.TrimSuffix(dataPath, "/"), accessToken, "API versions request")
	if err != nil {
		return nil, err
	}
	if r.status != http.StatusOK {
		return nil, classifyResourceFailure(r.status, r.body, []string{accessToken}, "API versions request",
			"the REST API is not available on this instance")
	}
	return parseRESTVersions(r.body)
}

// Limits reads the org's limits resource of REST API version (GET
// <instanceURL>/services/data/v<version>/limits): each limit by name, such as
// DailyApiRequests, with its Max and Remaining. version is a number as RESTVersions lists
// it, "66.0", or with a leading "v" as APIVersion has it; anything else is refused before
// the request. Entries without a whole Max and Remaining (none that Salesforce documents)
// are left out. The call counts against DailyApiRequests itself. Errors are those of
// RESTVersions; a 200 that reports no limit at all is Retryable, as not Salesforce's answer.
func (c *HTTPClient) Limits(ctx context.Context, instanceURL, accessToken, version string) (map[string]Limit, error) {
	base, err := restBase(instanceURL, accessToken)
	if err != nil {
		return nil, err
	}
	v := strings.TrimPrefix(version, "v")
	if !versionPattern.MatchString(v) {
		// The version is not repeated: a caller that mixed up its arguments could pass a token.
		return nil, &Error{Class: Terminal, Message: `invalid API version: want a number such as "66.0"`}
	}
	r, err := c.getWithBearer(ctx, base+dataPath+"v"+v+"/limits", accessToken, "limits request")
	if err != nil {
		return nil, err
	}
	if r.status != http.StatusOK {
		return nil, classifyResourceFailure(r.status, r.body, []string{accessToken}, "limits request",
			"the limits resource of API v"+v+" is not available on this instance")
	}
	return parseLimits(r.body)
}

// restBase checks what every REST call checks before the token leaves: the instance URL,
// and that there is a token to send.
func restBase(instanceURL, accessToken string) (string, error) {
	base, err := parseInstanceBase(instanceURL)
	if err != nil {
		return "", err
	}
	if strings.TrimSpace(accessToken) == "" {
		return "", &Error{Class: Terminal, Message: "missing access token"}
	}
	return base, nil
}

// versionEntry is one element of GET /services/data's answer; its url is not read.
type versionEntry struct {
	Label   string `json:"label"`
	Version string `json:"version"`
}

// parseRESTVersions reads an HTTP 200 body of GET /services/data. Like every parser of a 200
// body here, its errors are fixed texts: the body is not quoted.
func parseRESTVersions(body []byte) ([]RESTVersion, error) {
	var entries []versionEntry
	if err := json.Unmarshal(body, &entries); err != nil {
		return nil, malformed(body)
	}
	type numbered struct {
		v            RESTVersion
		major, minor int
	}
	var found []numbered
	for _, e := range entries {
		m := versionPattern.FindStringSubmatch(e.Version)
		if m == nil {
			continue
		}
		// The pattern bounds both numbers to four digits, so Atoi cannot fail.
		major, _ := strconv.Atoi(m[1])
		minor, _ := strconv.Atoi(m[2])
		found = append(found, numbered{RESTVersion{Version: e.Version, Label: bound(e.Label)}, major, minor})
	}
	if len(found) == 0 {
		// `[]`, `null` or a list of something else: not the version list of an instance,
		// which always serves at least one version.
		return nil, &Error{Class: Retryable, StatusCode: http.StatusOK, Message: "malformed answer: no API version listed"}
	}
	slices.SortStableFunc(found, func(a, b numbered) int {
		if a.major != b.major {
			return a.major - b.major
		}
		return a.minor - b.minor
	})
	out := make([]RESTVersion, len(found))
	for i, f := range found {
		out[i] = f.v
	}
	return out, nil
}

// parseLimits reads an HTTP 200 body of the limits resource: an object of limits by name,
// each an object with Max and Remaining (and, for some, one such object per connected app,
// which is not read).
func parseLimits(body []byte) (map[string]Limit, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, malformed(body)
	}
	out := make(map[string]Limit, len(raw))
	for name, v := range raw {
		var l struct {
			Max       *int64 `json:"Max"`
			Remaining *int64 `json:"Remaining"`
		}
		if json.Unmarshal(v, &l) != nil || l.Max == nil || l.Remaining == nil {
			continue
		}
		// Names are printed by callers; keep them printable and short like any field of an
		// answer.
		if name = bound(name); name != "" {
			out[name] = Limit{Max: *l.Max, Remaining: *l.Remaining}
		}
	}
	if len(out) == 0 {
		// `{}` or `null` from something in front of Salesforce: an org always has limits,
		// and reading this as none would hide them.
		return nil, &Error{Class: Retryable, StatusCode: http.StatusOK, Message: "malformed answer: no limit listed"}
	}
	return out, nil
}

// classifyResourceFailure classifies a non-200 answer of a REST API resource other than the
// query: what every resource answers alike is classified by classifyRESTFailure; a refusal
// of this resource is Terminal with Salesforce's errorCode and an explanation, never
// Salesforce's message. what names the request ("limits request"); notFound explains a 404.
func classifyResourceFailure(status int, body []byte, secrets []string, what, notFound string) *Error {
	e, code := classifyRESTFailure(status, body, secrets)
	if e != nil {
		return e
	}
	var why string
	switch status {
	case http.StatusForbidden:
		why = "this user or org may not use the REST API (API access or permissions)"
	case http.StatusNotFound:
		why = notFound
	default:
		why = "the request is refused"
	}
	return &Error{Class: Terminal, StatusCode: status, Code: code,
		Description: fmt.Sprintf("%s failed (status %d): %s", what, status, why)}
}

package emulator

import (
	"crypto/subtle"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// serveRevoke is /services/oauth2/revoke: POST form token= or a "blind GET" ?token=
// (docs/salesforce-behaviour.md#revoking-a-token). 200 on success; for every error 400
// invalid_token. A refresh token takes its access tokens with it.
func (e *Emulator) serveRevoke(w http.ResponseWriter, r *http.Request, info *RequestRecord) {
	var token string
	switch r.Method {
	case http.MethodGet:
		token = r.URL.Query().Get("token")
	case http.MethodPost:
		if form, ok := readForm(w, r); ok {
			token = form.Get("token")
		}
	}
	if e.fault(w, r, info) {
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		writeOAuthError(w, info, errMustPost)
		return
	}
	ok := withLock(e, func() bool { return token != "" && e.revokeTokenLocked(token) })
	if !ok {
		writeOAuthError(w, info, errInvalidToken)
		return
	}
	w.Header().Set("Cache-Control", cacheControl)
	w.WriteHeader(http.StatusOK)
}

// serveIntrospect is /services/oauth2/introspect
// (docs/salesforce-behaviour.md#introspection-tells-when-a-token-expires): client
// authentication in a Basic header or the body, then {active, scope, client_id, username,
// sub, token_type, exp, iat, nbf} with times in seconds, or {"active":false}.
func (e *Emulator) serveIntrospect(w http.ResponseWriter, r *http.Request, info *RequestRecord) {
	form, ok := readForm(w, r)
	if ok {
		info.ClientID, _ = clientAuth(form, r)
	}
	if e.fault(w, r, info) {
		return
	}
	if r.Method != http.MethodPost {
		writeOAuthError(w, info, errMustPost)
		return
	}
	if !ok {
		writeOAuthError(w, info, newOAuthError("invalid_request", "form-encoded body required"))
		return
	}
	clientID, secret := clientAuth(form, r)
	var err *oauthError
	body := withLock(e, func() map[string]any {
		var body map[string]any
		body, err = e.introspectLocked(clientID, secret, form.Get("token"), info)
		return body
	})
	if err != nil {
		writeOAuthError(w, info, err)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

func (e *Emulator) introspectLocked(clientID, secret, token string, info *RequestRecord) (map[string]any, *oauthError) {
	app, ok := e.apps[clientID]
	if !ok {
		return nil, errClientID
	}
	if app.ClientSecret == "" || subtle.ConstantTimeCompare([]byte(secret), []byte(app.ClientSecret)) != 1 {
		return nil, errClientSecret
	}
	inactive := map[string]any{"active": false}
	// "By default an app introspects only its own tokens"
	// (docs/salesforce-behaviour.md#which-tokens-can-be-introspected).
	mine := func(owner string) bool { return owner == app.ClientID || app.IntrospectAllTokens }
	if s, u := e.liveSessionLocked(token); s != nil {
		// Username-password tokens "cannot be introspected"
		// (docs/salesforce-behaviour.md#which-tokens-can-be-introspected).
		if !s.introspectable || !mine(s.clientID) {
			return inactive, nil
		}
		info.Username = u.Username
		return map[string]any{
			"active":     true,
			"scope":      s.scope,
			"client_id":  s.clientID,
			"username":   u.Username,
			"sub":        identityURL(e.orgs[u.OrgID], u),
			"token_type": "access_token",
			"exp":        s.expires().Unix(),
			"iat":        s.issued.Unix(),
			"nbf":        s.issued.Unix(),
		}, nil
	}
	if id, ok := e.refreshTokens[token]; ok {
		a := e.approvals[id]
		owner := e.apps[a.clientID]
		u := e.userLocked(a.username)
		if owner == nil || u == nil || !u.IsActive() || !mine(a.clientID) || e.policyExpiredLocked(a, owner) {
			return inactive, nil
		}
		info.Username = u.Username
		body := map[string]any{
			"active":     true,
			"scope":      owner.scope(),
			"client_id":  a.clientID,
			"username":   u.Username,
			"sub":        identityURL(e.orgs[u.OrgID], u),
			"token_type": "refresh_token",
			"iat":        a.created.Unix(),
			"nbf":        a.created.Unix(),
		}
		if exp, ok := owner.policy.expiry(a.created, a.lastUsed); ok {
			body["exp"] = exp.Unix()
		}
		return body, nil
	}
	return inactive, nil
}

// useTokenLocked checks a bearer token for a resource call and records the activity.
func (e *Emulator) useTokenLocked(r *http.Request, info *RequestRecord) (*session, *User) {
	s, u := e.liveSessionLocked(bearer(r))
	if s == nil {
		return nil, nil
	}
	info.ClientID, info.Username = s.clientID, u.Username
	e.touchLocked(s)
	return s, u
}

// writeBadOAuthToken is how userinfo and the identity URL reject a dead token: 403 with a
// plain-text body (docs/salesforce-behaviour.md#userinfo-a-cheap-liveness-probe), unlike
// the REST API's 401.
func writeBadOAuthToken(w http.ResponseWriter, info *RequestRecord) {
	info.Error = "Bad_OAuth_Token"
	w.Header().Set("Content-Type", "text/plain;charset=UTF-8")
	w.WriteHeader(http.StatusForbidden)
	_, _ = w.Write([]byte("Bad_OAuth_Token"))
}

// serveUserInfo is /services/oauth2/userinfo
// (docs/salesforce-behaviour.md#userinfo-a-cheap-liveness-probe): the current user's OpenID
// Connect claims. A cheap liveness probe for a token.
func (e *Emulator) serveUserInfo(w http.ResponseWriter, r *http.Request, info *RequestRecord) {
	if e.fault(w, r, info) {
		return
	}
	body := withLock(e, func() map[string]any {
		s, u := e.useTokenLocked(r, info)
		if s == nil {
			return nil
		}
		org := e.orgs[u.OrgID]
		base := e.instanceURL(org, r)
		return map[string]any{
			"sub":                identityURL(org, u),
			"user_id":            u.ID,
			"organization_id":    u.OrgID,
			"preferred_username": u.Username,
			"nickname":           nickname(u),
			"name":               displayName(u),
			"email":              email(u),
			"email_verified":     true,
			"zoneinfo":           "America/Los_Angeles",
			"locale":             "en_US",
			"language":           "en_US",
			"active":             true,
			"user_type":          "STANDARD",
			"is_app_installed":   true,
			"urls":               resourceURLs(base, u),
		}
	})
	if body == nil {
		writeBadOAuthToken(w, info)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

var identityPath = regexp.MustCompile(`^/id/(00D[A-Za-z0-9]{12,15})/(005[A-Za-z0-9]{12,15})/?$`)

// serveIdentity is GET <id URL>
// (docs/salesforce-behaviour.md#the-identity-url-names-the-org-and-the-user). Real identity
// URLs point at login or test.salesforce.com; this route lets a client that rewrites the
// host probe the emulator.
func (e *Emulator) serveIdentity(w http.ResponseWriter, r *http.Request, info *RequestRecord) {
	if e.fault(w, r, info) {
		return
	}
	m := identityPath.FindStringSubmatch(r.URL.Path)
	body := withLock(e, func() map[string]any {
		s, u := e.useTokenLocked(r, info)
		if s == nil || m == nil || id15(m[1]) != id15(u.OrgID) || id15(m[2]) != id15(u.ID) {
			return nil
		}
		org := e.orgs[u.OrgID]
		return map[string]any{
			"id":               identityURL(org, u),
			"asserted_user":    true,
			"user_id":          u.ID,
			"organization_id":  u.OrgID,
			"username":         u.Username,
			"nick_name":        nickname(u),
			"display_name":     displayName(u),
			"email":            email(u),
			"active":           true,
			"user_type":        "STANDARD",
			"language":         "en_US",
			"locale":           "en_US",
			"is_app_installed": true,
			"urls":             resourceURLs(e.instanceURL(org, r), u),
		}
	})
	if body == nil {
		writeBadOAuthToken(w, info)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// apiVersions is what GET /services/data/ lists.
var apiVersions = []map[string]string{
	{"label": "Winter '25", "url": "/services/data/v62.0", "version": "62.0"},
	{"label": "Spring '25", "url": "/services/data/v63.0", "version": "63.0"},
	{"label": "Summer '25", "url": "/services/data/v64.0", "version": "64.0"},
	{"label": "Winter '26", "url": "/services/data/v65.0", "version": "65.0"},
	{"label": "Spring '26", "url": "/services/data/v66.0", "version": "66.0"},
}

var versionPath = regexp.MustCompile(`^/services/data/v([0-9]+\.[0-9])/?$`)

var limitsPath = regexp.MustCompile(`^/services/data/v[0-9]+\.[0-9]/limits/?$`)

var queryPath = regexp.MustCompile(`^/services/data/v([0-9]+\.[0-9])/query/?$`)

// DailyAPIRequests is the DailyApiRequests allocation the limits resource reports, a
// Developer Edition org's. Every authenticated /services/data call counts against it over a
// rolling 24 hours; the emulator reports the count but never refuses a call for it.
const DailyAPIRequests = 15000

// fixedLimits are the other entries of the limits resource: Max and Remaining of an org at
// rest, which no emulated call uses up.
var fixedLimits = map[string][2]int{
	"ConcurrentAsyncGetReportInstances": {200, 200},
	"DailyAsyncApexExecutions":          {250000, 250000},
	"DailyBulkApiBatches":               {15000, 15000},
	"DailyBulkV2QueryFileStorageMB":     {976562, 976562},
	"DailyBulkV2QueryJobs":              {10000, 10000},
	"DailyStreamingApiEvents":           {10000, 10000},
	"DataStorageMB":                     {5, 4},
	"FileStorageMB":                     {20, 20},
	"HourlyPublishedPlatformEvents":     {50000, 50000},
	"SingleEmail":                       {15, 15},
}

// limits is the body of GET /services/data/vNN.N/limits: each limit by name, with its Max
// and Remaining.
func limits(apiCalls int) map[string]map[string]int {
	body := map[string]map[string]int{
		"DailyApiRequests": {"Max": DailyAPIRequests, "Remaining": max(DailyAPIRequests-apiCalls, 0)},
	}
	for name, v := range fixedLimits {
		body[name] = map[string]int{"Max": v[0], "Remaining": v[1]}
	}
	return body
}

// apiCallLocked counts an authenticated REST call against its org's DailyApiRequests and
// returns the org's calls of the last 24 hours, this one included.
func (e *Emulator) apiCallLocked(orgID string) int {
	now := e.now()
	calls := e.apiCalls[orgID]
	for len(calls) > 0 && !calls[0].After(now.Add(-24*time.Hour)) {
		calls = calls[1:]
	}
	e.apiCalls[orgID] = append(calls, now)
	return len(e.apiCalls[orgID])
}

// serveData is a minimal REST API: the version list, a version's resources, its limits and
// OauthToken queries. A dead token gets 401 [{"message":"Session expired or invalid",
// "errorCode":"INVALID_SESSION_ID"}]
// (docs/salesforce-behaviour.md#rest-api-401-invalid_session_id), which is what clients key
// their re-login on.
func (e *Emulator) serveData(w http.ResponseWriter, r *http.Request, info *RequestRecord) {
	if e.fault(w, r, info) {
		return
	}
	var caller *User
	calls := withLock(e, func() int {
		s, u := e.useTokenLocked(r, info)
		if s == nil {
			return 0
		}
		caller = u
		return e.apiCallLocked(s.orgID)
	})
	if calls == 0 {
		writeRESTError(w, info, errInvalidSession)
		return
	}
	path := strings.TrimSuffix(r.URL.Path, "/")
	if path == "/services/data" {
		writeJSON(w, http.StatusOK, apiVersions)
		return
	}
	if m := versionPath.FindStringSubmatch(r.URL.Path); m != nil {
		v := "/services/data/v" + m[1]
		writeJSON(w, http.StatusOK, map[string]string{
			"sobjects": v + "/sobjects",
			"query":    v + "/query",
			"search":   v + "/search",
			"limits":   v + "/limits",
			"tooling":  v + "/tooling",
		})
		return
	}
	if limitsPath.MatchString(r.URL.Path) {
		writeJSON(w, http.StatusOK, limits(calls))
		return
	}
	if m := queryPath.FindStringSubmatch(r.URL.Path); m != nil {
		e.serveQuery(w, r, info, m[1], caller)
		return
	}
	writeRESTError(w, info, errNotFound)
}

func resourceURLs(base string, u *User) map[string]string {
	v := base + "/services/data/v{version}/"
	return map[string]string{
		"enterprise":    base + "/services/Soap/c/{version}/" + id15(u.OrgID),
		"metadata":      base + "/services/Soap/m/{version}/" + id15(u.OrgID),
		"partner":       base + "/services/Soap/u/{version}/" + id15(u.OrgID),
		"rest":          v,
		"sobjects":      v + "sobjects/",
		"search":        v + "search/",
		"query":         v + "query/",
		"recent":        v + "recent/",
		"tooling_rest":  v + "tooling/",
		"profile":       base + "/" + u.ID,
		"feeds":         v + "chatter/feeds",
		"users":         v + "chatter/users",
		"custom_domain": base,
	}
}

func nickname(u *User) string {
	if i := strings.IndexByte(u.Username, '@'); i > 0 {
		return u.Username[:i]
	}
	return u.Username
}

func displayName(u *User) string {
	if u.Name != "" {
		return u.Name
	}
	return nickname(u)
}

func email(u *User) string {
	if u.Email != "" {
		return u.Email
	}
	return u.Username
}

// withLock runs f under the emulator's lock; the deferred unlock keeps a panicking handler
// from wedging every other request.
func withLock[T any](e *Emulator, f func() T) T {
	e.mu.Lock()
	defer e.mu.Unlock()
	return f()
}

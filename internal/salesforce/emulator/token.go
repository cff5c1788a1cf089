package emulator

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Grant types, as sent in grant_type and as keys of Stats.TokenRequestsByGrant.
const (
	GrantPassword          = "password"
	GrantRefreshToken      = "refresh_token"
	GrantJWTBearer         = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	GrantClientCredentials = "client_credentials"
	GrantAuthorizationCode = "authorization_code"
	GrantDevice            = "device"
	// GrantDeviceCode labels a device authorization request (response_type=device_code).
	GrantDeviceCode = "device_code"
)

// tokenRequest is one token-endpoint request being served.
type tokenRequest struct {
	r        *http.Request
	form     url.Values
	host     hostKind
	clientID string
	secret   string
	info     *RequestRecord
}

type secretRule int

const (
	secretRequired secretRule = iota
	// secretIfSent checks a secret only when one is sent, as with
	// isSecretRequiredForRefreshToken=false: "Salesforce still validates it"
	// (docs/salesforce-behaviour.md#the-refresh-grant-and-the-client-secret).
	secretIfSent
)

// serveToken is POST /services/oauth2/token.
func (e *Emulator) serveToken(w http.ResponseWriter, r *http.Request, host hostKind, info *RequestRecord) {
	form, ok := readForm(w, r)
	if ok {
		info.Grant = form.Get("grant_type")
		if info.Grant == "" && form.Get("response_type") == "device_code" {
			info.Grant = GrantDeviceCode
		}
		info.ClientID, _ = clientAuth(form, r)
		info.Username = form.Get("username")
	}
	if e.fault(w, r, info) {
		return
	}
	if r.Method != http.MethodPost {
		writeOAuthError(w, info, errMustPost)
		return
	}
	if !ok {
		// A JSON (or any non-form) body:
		// docs/salesforce-behaviour.md#form-encoded-request-bodies.
		writeOAuthError(w, info, errUnsupportedGrant)
		return
	}
	req := &tokenRequest{r: r, form: form, host: host, info: info}
	req.clientID, req.secret = clientAuth(form, r)

	body, err := e.grant(req)
	if err != nil {
		writeOAuthError(w, info, err)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

func (e *Emulator) grant(req *tokenRequest) (map[string]any, *oauthError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.grantLocked(req)
}

func (e *Emulator) grantLocked(req *tokenRequest) (map[string]any, *oauthError) {
	switch req.info.Grant {
	case GrantPassword:
		return e.passwordGrantLocked(req)
	case GrantRefreshToken:
		return e.refreshGrantLocked(req)
	case GrantJWTBearer:
		return e.jwtGrantLocked(req)
	case GrantClientCredentials:
		return e.clientCredentialsGrantLocked(req)
	case GrantAuthorizationCode:
		return e.authorizationCodeGrantLocked(req)
	case GrantDevice:
		return e.devicePollLocked(req)
	case GrantDeviceCode:
		return e.deviceAuthorizeLocked(req)
	case "":
		return nil, errGrantMissing
	}
	return nil, errUnsupportedGrant
}

// clientLocked authenticates the connected app for a flow: unknown consumer key →
// invalid_client_id, flow not enabled → unsupported_grant_type, wrong secret →
// invalid_client (docs/salesforce-behaviour.md#error-strings-and-their-classes).
func (e *Emulator) clientLocked(req *tokenRequest, flow Flow, rule secretRule) (*appEntry, *oauthError) {
	app, ok := e.apps[req.clientID]
	if !ok {
		return nil, errClientID
	}
	if !app.enabled(flow) {
		return nil, errUnsupportedGrant
	}
	if rule == secretRequired || req.secret != "" {
		if app.ClientSecret == "" || subtle.ConstantTimeCompare([]byte(req.secret), []byte(app.ClientSecret)) != 1 {
			return nil, errClientSecret
		}
	}
	return app, nil
}

func (e *Emulator) userLocked(username string) *User {
	return e.users[strings.ToLower(username)]
}

// admitLocked runs the checks shared by every login once the user is known: active, and
// under the login rate limit
// (docs/salesforce-behaviour.md#login-rate-limit-3600-per-user-per-hour). The caller has
// authenticated the user.
func (e *Emulator) admitLocked(u *User) *oauthError {
	if !u.IsActive() {
		return errInactiveUser
	}
	if e.rateLimitedLocked(u) {
		return errRateExceeded
	}
	return nil
}

// rateLimitedLocked applies "3,600 requests per hour per user"
// (docs/salesforce-behaviour.md#login-rate-limit-3600-per-user-per-hour) as a rolling hour
// of successful logins: once the cap is reached every login fails until the oldest one is
// an hour old. Every grant counts: JWT and password logins do; whether client credentials
// and refresh calls do is unknown, and they are treated alike, to be safe.
func (e *Emulator) rateLimitedLocked(u *User) bool {
	limit := u.LoginRateLimit
	if limit == 0 {
		limit = e.defaultLoginLimit
	}
	if limit < 0 {
		return false
	}
	key := strings.ToLower(u.Username)
	cutoff := e.now().Add(-time.Hour)
	times := e.logins[key]
	i := 0
	for i < len(times) && !times[i].After(cutoff) {
		i++
	}
	times = times[i:]
	e.logins[key] = times
	return len(times) >= limit
}

// loginLocked mints the access token of a successful login and counts the login.
func (e *Emulator) loginLocked(req *tokenRequest, app *appEntry, u *User, approvalID string) *session {
	s := e.mintLocked(app, u, req.info.Grant, approvalID)
	key := strings.ToLower(u.Username)
	e.logins[key] = append(e.logins[key], s.issued)
	req.info.Login = true
	req.info.Username = u.Username
	return s
}

// baseBody holds the fields every successful answer has
// (docs/salesforce-behaviour.md#which-fields-each-grant-returns). There is never an
// expires_in: the session timeout is not announced
// (docs/salesforce-behaviour.md#no-expires_in-in-the-token-answer).
func (e *Emulator) baseBody(req *tokenRequest, u *User, s *session) map[string]any {
	org := e.orgs[u.OrgID]
	return map[string]any{
		"access_token": s.token,
		"instance_url": e.instanceURL(org, req.r),
		"id":           identityURL(org, u),
		"token_type":   "Bearer",
	}
}

// sign adds issued_at, a string of epoch milliseconds, and signature =
// base64(HMAC-SHA256(consumer secret, id + issued_at))
// (docs/salesforce-behaviour.md#the-signature-is-an-hmac-of-id-and-issued_at).
func sign(body map[string]any, app *appEntry, s *session) {
	issuedAt := strconv.FormatInt(s.issued.UnixMilli(), 10)
	mac := hmac.New(sha256.New, []byte(app.ClientSecret))
	mac.Write([]byte(body["id"].(string) + issuedAt))
	body["issued_at"] = issuedAt
	body["signature"] = base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

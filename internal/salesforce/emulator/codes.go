package emulator

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"time"
)

// Lifetimes of one-time codes. Salesforce documents neither here; these are the usual
// values (a web-server code lasts 15 minutes) and only matter to tests that wait them out.
const (
	AuthorizationCodeLifetime = 15 * time.Minute
	DeviceCodeLifetime        = 10 * time.Minute
	// DevicePollInterval is the interval, in seconds, a device authorization announces.
	DevicePollInterval = 5
)

type authCode struct {
	clientID  string
	username  string
	challenge string // PKCE code_challenge, base64url(SHA256(verifier)) (docs/salesforce-behaviour.md#authorization-code-and-pkce)
	expires   time.Time
}

type deviceGrant struct {
	clientID string
	userCode string
	username string // set once a user approved
	expires  time.Time
}

// AuthorizationCode returns a one-time code as if the user had approved the app in a
// browser (/services/oauth2/authorize is not emulated). Exchanging it with
// grant_type=authorization_code yields a refresh token, which is a new approval
// (docs/salesforce-behaviour.md#five-approvals-per-user-per-connected-app).
func (e *Emulator) AuthorizationCode(clientID, username string) (string, error) {
	return e.AuthorizationCodeWithPKCE(clientID, username, "")
}

// AuthorizationCodeWithPKCE is AuthorizationCode for an authorize request that carried
// code_challenge (base64url of the SHA-256 of the verifier,
// docs/salesforce-behaviour.md#authorization-code-and-pkce).
func (e *Emulator) AuthorizationCodeWithPKCE(clientID, username, codeChallenge string) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, u, err := e.approverLocked(clientID, username)
	if err != nil {
		return "", err
	}
	code := "aPrx" + randomString(60, tokenAlphabet)
	e.codes[code] = &authCode{clientID: clientID, username: u.Username, challenge: codeChallenge, expires: e.now().Add(AuthorizationCodeLifetime)}
	return code, nil
}

// ApproveDevice approves a pending device authorization, as the user entering userCode at
// the verification URI would. The next poll returns tokens.
func (e *Emulator) ApproveDevice(userCode, username string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	d, ok := e.devices[e.userCodes[userCode]]
	if !ok || !e.now().Before(d.expires) {
		return fmt.Errorf("unknown or expired user code %q", userCode)
	}
	_, u, err := e.approverLocked(d.clientID, username)
	if err != nil {
		return err
	}
	d.username = u.Username
	return nil
}

// authorizationCodeGrantLocked is grant_type=authorization_code
// (docs/salesforce-behaviour.md#authorization-code-and-pkce). The answer carries a refresh
// token, counted as an approval
// (docs/salesforce-behaviour.md#five-approvals-per-user-per-connected-app).
func (e *Emulator) authorizationCodeGrantLocked(req *tokenRequest) (map[string]any, *oauthError) {
	app, err := e.clientLocked(req, FlowAuthorizationCode, secretRequired)
	if err != nil {
		return nil, err
	}
	code := req.form.Get("code")
	ac, ok := e.codes[code]
	if !ok || ac.clientID != app.ClientID {
		return nil, errInvalidCode
	}
	req.info.Username = ac.username
	if !e.now().Before(ac.expires) {
		delete(e.codes, code)
		return nil, errExpiredCode
	}
	if ac.challenge != "" {
		// PKCE: no verifier → invalid_grant, a verifier that does not match →
		// invalid_request (docs/salesforce-behaviour.md#authorization-code-and-pkce).
		verifier := req.form.Get("code_verifier")
		if verifier == "" {
			return nil, newOAuthError("invalid_grant", "invalid code verifier")
		}
		sum := sha256.Sum256([]byte(verifier))
		if subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(ac.challenge)) != 1 {
			return nil, newOAuthError("invalid_request", "invalid code verifier")
		}
	}
	delete(e.codes, code)
	u := e.userLocked(ac.username)
	if u == nil {
		return nil, errInvalidCode
	}
	return e.approvalLoginLocked(req, app, u, SourceAuthorizationCode)
}

// deviceAuthorizeLocked is the first device-flow request, response_type=device_code: it
// answers {device_code, user_code, verification_uri, interval}
// (docs/salesforce-behaviour.md#device-flow).
func (e *Emulator) deviceAuthorizeLocked(req *tokenRequest) (map[string]any, *oauthError) {
	app, err := e.clientLocked(req, FlowDevice, secretIfSent)
	if err != nil {
		return nil, err
	}
	deviceCode := randomString(64, tokenAlphabet)
	var userCode string
	for userCode == "" || e.userCodes[userCode] != "" {
		userCode = randomString(8, "BCDFGHJKLMNPQRSTVWXZ23456789")
	}
	e.devices[deviceCode] = &deviceGrant{clientID: app.ClientID, userCode: userCode, expires: e.now().Add(DeviceCodeLifetime)}
	e.userCodes[userCode] = deviceCode
	return map[string]any{
		"device_code":      deviceCode,
		"user_code":        userCode,
		"verification_uri": e.instanceURL(nil, req.r) + "/setup/connect",
		"interval":         DevicePollInterval,
	}, nil
}

// devicePollLocked is grant_type=device: HTTP 400 authorization_pending until the user
// approves (docs/salesforce-behaviour.md#device-flow), then tokens with a refresh token,
// which is an approval
// (docs/salesforce-behaviour.md#five-approvals-per-user-per-connected-app).
func (e *Emulator) devicePollLocked(req *tokenRequest) (map[string]any, *oauthError) {
	app, err := e.clientLocked(req, FlowDevice, secretIfSent)
	if err != nil {
		return nil, err
	}
	code := req.form.Get("code")
	d, ok := e.devices[code]
	if !ok || d.clientID != app.ClientID {
		return nil, errInvalidDevice
	}
	if !e.now().Before(d.expires) {
		delete(e.devices, code)
		delete(e.userCodes, d.userCode)
		return nil, errExpiredCode
	}
	if d.username == "" {
		return nil, errPending
	}
	delete(e.devices, code)
	delete(e.userCodes, d.userCode)
	u := e.userLocked(d.username)
	if u == nil {
		return nil, errInvalidDevice
	}
	return e.approvalLoginLocked(req, app, u, SourceDevice)
}

// approvalLoginLocked finishes a flow that issues a refresh token: {access_token,
// refresh_token, signature, scope, instance_url, id, token_type, issued_at}
// (docs/salesforce-behaviour.md#which-fields-each-grant-returns).
func (e *Emulator) approvalLoginLocked(req *tokenRequest, app *appEntry, u *User, source string) (map[string]any, *oauthError) {
	if err := e.admitLocked(u); err != nil {
		return nil, err
	}
	a := e.issueApprovalLocked(app, u, source)
	s := e.loginLocked(req, app, u, a.id)
	body := e.baseBody(req, u, s)
	body["scope"] = s.scope
	body["refresh_token"] = a.token
	sign(body, app, s)
	return body, nil
}

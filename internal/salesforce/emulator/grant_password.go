package emulator

import "crypto/subtle"

// passwordGrantLocked is grant_type=password
// (docs/salesforce-behaviour.md#username-password-needs-the-security-token). The answer has
// no scope and no refresh token: {access_token, instance_url, id, token_type, issued_at,
// signature} (docs/salesforce-behaviour.md#which-fields-each-grant-returns).
func (e *Emulator) passwordGrantLocked(req *tokenRequest) (map[string]any, *oauthError) {
	app, err := e.clientLocked(req, FlowPassword, secretRequired)
	if err != nil {
		return nil, err
	}
	u := e.userLocked(req.form.Get("username"))
	if u == nil || (app.OrgID != "" && app.OrgID != u.OrgID) {
		return nil, errAuthFailure
	}
	// Orgs created in Summer '23 or later block the flow; Salesforce then answers
	// authentication failure, like a wrong password
	// (docs/salesforce-behaviour.md#the-username-password-flow-is-blocked-in-new-orgs).
	if org := e.orgs[u.OrgID]; org != nil && org.PasswordFlowBlocked {
		return nil, errAuthFailure
	}
	// "The user's security token must be appended to the password"
	// (docs/salesforce-behaviour.md#username-password-needs-the-security-token).
	want := u.Password + u.SecurityToken
	if u.Password == "" || subtle.ConstantTimeCompare([]byte(req.form.Get("password")), []byte(want)) != 1 {
		return nil, errAuthFailure
	}
	if err := e.admitLocked(u); err != nil {
		return nil, err
	}
	if app.AdminApproved && !app.preAuthorized(u.Username) {
		return nil, errNotAdminApproved
	}
	s := e.loginLocked(req, app, u, "")
	body := e.baseBody(req, u, s)
	sign(body, app, s)
	return body, nil
}

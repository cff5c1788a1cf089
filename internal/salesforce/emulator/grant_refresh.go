package emulator

// refreshGrantLocked is grant_type=refresh_token
// (docs/salesforce-behaviour.md#the-refresh-grant-and-the-client-secret). The answer is
// {access_token, signature, scope, instance_url, id, token_type, issued_at}, plus a new
// refresh_token only under refresh token rotation
// (docs/salesforce-behaviour.md#refresh-token-rotation-and-replay).
func (e *Emulator) refreshGrantLocked(req *tokenRequest) (map[string]any, *oauthError) {
	app, ok := e.apps[req.clientID]
	if !ok {
		return nil, errClientID
	}
	rule := secretIfSent
	if app.SecretRequiredForRefresh() {
		rule = secretRequired
	}
	app, err := e.clientLocked(req, FlowRefreshToken, rule)
	if err != nil {
		return nil, err
	}
	token := req.form.Get("refresh_token")
	id, current := e.refreshTokens[token]
	if !current {
		// "If a user tries to use a previous refresh token that's been invalidated, the current
		// refresh token and its associated access tokens get deleted"
		// (docs/salesforce-behaviour.md#refresh-token-rotation-and-replay).
		if old, ok := e.retired[token]; ok {
			if a := e.approvals[old]; a != nil && a.clientID == app.ClientID {
				req.info.Username = a.username
				e.deleteApprovalLocked(old, true)
			}
		}
		// Revoked, evicted by a sixth approval, expired or replayed: all look alike
		// (docs/salesforce-behaviour.md#error-strings-and-their-classes).
		return nil, errExpiredToken
	}
	a := e.approvals[id]
	if a.clientID != app.ClientID {
		return nil, errExpiredToken
	}
	req.info.Username = a.username
	if e.policyExpiredLocked(a, app) {
		// The policy is "evaluated only during usage of the issued refresh token" and leaves
		// current sessions alone (docs/salesforce-behaviour.md#refresh-token-policies), so no
		// cascade. A zero-policy approval stays.
		if app.policy.kind != "zero" {
			e.deleteApprovalLocked(a.id, false)
		}
		return nil, errExpiredToken
	}
	u := e.userLocked(a.username)
	if u == nil {
		return nil, errExpiredToken
	}
	if err := e.admitLocked(u); err != nil {
		return nil, err
	}
	a.lastUsed = e.now()
	a.useCount++
	s := e.loginLocked(req, app, u, a.id)
	body := e.baseBody(req, u, s)
	body["scope"] = s.scope
	sign(body, app, s)
	if app.RefreshTokenRotation {
		// "The previous refresh token is automatically invalidated"
		// (docs/salesforce-behaviour.md#refresh-token-rotation-and-replay); it is kept aside only
		// to recognise a replay.
		delete(e.refreshTokens, a.token)
		e.retired[a.token] = a.id
		a.retired = append(a.retired, a.token)
		a.token = newRefreshToken()
		e.refreshTokens[a.token] = a.id
		body["refresh_token"] = a.token
	}
	return body, nil
}

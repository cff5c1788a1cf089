package emulator

// clientCredentialsGrantLocked is grant_type=client_credentials
// (docs/salesforce-behaviour.md#client-credentials-only-on-my-domain,
// docs/salesforce-behaviour.md#client-credentials-need-a-run-as-user). The answer is
// {access_token, signature, scope, instance_url, id, token_type, issued_at,
// api_instance_url} and never a refresh token.
func (e *Emulator) clientCredentialsGrantLocked(req *tokenRequest) (map[string]any, *oauthError) {
	// "Must be sent to the org's My Domain host. On login.salesforce.com or
	// test.salesforce.com it fails"
	// (docs/salesforce-behaviour.md#client-credentials-only-on-my-domain).
	if req.host == hostLogin {
		return nil, errWrongDomain
	}
	app, err := e.clientLocked(req, FlowClientCredentials, secretRequired)
	if err != nil {
		return nil, err
	}
	// Permitted-users settings do not apply to the Run As user
	// (docs/salesforce-behaviour.md#client-credentials-need-a-run-as-user).
	u := e.userLocked(app.ClientCredentialsUser)
	if app.ClientCredentialsUser == "" || u == nil || (app.OrgID != "" && app.OrgID != u.OrgID) {
		return nil, errNoRunAsUser
	}
	req.info.Username = u.Username
	if err := e.admitLocked(u); err != nil {
		return nil, err
	}
	s := e.loginLocked(req, app, u, "")
	body := e.baseBody(req, u, s)
	body["scope"] = s.scope
	body["api_instance_url"] = "https://api.salesforce.com"
	sign(body, app, s)
	return body, nil
}

package emulator

import (
	"encoding/json"
	"strconv"

	"github.com/golang-jwt/jwt/v5"
)

// JWT audiences Salesforce accepts
// (docs/salesforce-behaviour.md#jwt-audience-login-or-test-not-my-domain). Experience Cloud
// site audiences are not modelled.
const (
	AudienceLogin = "https://login.salesforce.com"
	AudienceTest  = "https://test.salesforce.com"
)

// jwtGrantLocked is grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer
// (docs/salesforce-behaviour.md#jwt-bearer-claims). The answer is {access_token, scope,
// instance_url, id, token_type}: no refresh token, and no issued_at or signature, as in
// every sample found (docs/salesforce-behaviour.md#which-fields-each-grant-returns).
func (e *Emulator) jwtGrantLocked(req *tokenRequest) (map[string]any, *oauthError) {
	assertion := req.form.Get("assertion")
	// Only RS256 is supported (docs/salesforce-behaviour.md#jwt-bearer-claims). Claims are
	// checked here rather than by the parser: Salesforce is lenient where golang-jwt is strict
	// (an exp in milliseconds,
	// docs/salesforce-behaviour.md#jwt-exp-three-minutes-leniently-enforced, or encoded as a
	// string, as go-salesforce sends it).
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithoutClaimsValidation(), jwt.WithJSONNumber())
	unverified := jwt.MapClaims{}
	if _, _, err := parser.ParseUnverified(assertion, unverified); err != nil {
		return nil, errInvalidAssertion
	}
	iss, _ := unverified["iss"].(string)
	// "iss must contain the OAuth client_id" (docs/salesforce-behaviour.md#jwt-bearer-claims).
	app, ok := e.apps[iss]
	if !ok {
		return nil, errClientID
	}
	req.info.ClientID = iss
	if sub, ok := unverified["sub"].(string); ok {
		req.info.Username = sub
	}
	if !app.enabled(FlowJWT) {
		return nil, errUnsupportedGrant
	}
	if app.key == nil {
		return nil, errInvalidAssertion
	}
	claims := jwt.MapClaims{}
	if _, err := parser.ParseWithClaims(assertion, claims, func(*jwt.Token) (any, error) { return app.key, nil }); err != nil {
		return nil, errInvalidAssertion
	}
	auds, err := claims.GetAudience()
	if err != nil || !(contains(auds, AudienceLogin) || contains(auds, AudienceTest)) {
		return nil, errAudience
	}
	exp, ok := numericClaim(claims["exp"])
	if !ok {
		return nil, errInvalidAssertion
	}
	// An assertion whose exp has passed → expired authorization code. The three-minute
	// maximum is not enforced: sfdx-core's exp in milliseconds works
	// (docs/salesforce-behaviour.md#jwt-exp-three-minutes-leniently-enforced).
	if exp <= float64(e.now().Unix()) {
		return nil, errExpiredCode
	}
	sub, _ := claims["sub"].(string)
	u := e.userLocked(sub)
	// An unknown username (often a production username used against a sandbox) shows up as
	// "user hasn't approved this consumer"
	// (docs/salesforce-behaviour.md#jwt-audience-login-or-test-not-my-domain).
	if u == nil || (app.OrgID != "" && app.OrgID != u.OrgID) {
		return nil, errNotApproved
	}
	// A sandbox user's org is reached through test.salesforce.com, a production user's through
	// login.salesforce.com
	// (docs/salesforce-behaviour.md#jwt-audience-login-or-test-not-my-domain).
	want := AudienceLogin
	if org := e.orgs[u.OrgID]; org != nil && org.Sandbox {
		want = AudienceTest
	}
	if !contains(auds, want) {
		return nil, errAudience
	}
	if !u.IsActive() {
		return nil, errInactiveUser
	}
	// "this flow does require prior approval of the client app"
	// (docs/salesforce-behaviour.md#jwt-bearer-needs-a-prior-approval).
	if !e.hasApprovalLocked(app, u) {
		return nil, errNotApproved
	}
	if err := e.admitLocked(u); err != nil {
		return nil, err
	}
	s := e.loginLocked(req, app, u, "")
	body := e.baseBody(req, u, s)
	body["scope"] = s.scope
	return body, nil
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// numericClaim reads a NumericDate given as a JSON number or as a string of digits.
func numericClaim(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case float64:
		return x, true
	case string:
		f, err := strconv.ParseFloat(x, 64)
		return f, err == nil
	}
	return 0, false
}

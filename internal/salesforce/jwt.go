package salesforce

import (
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The audiences Salesforce documents for the JWT bearer flow. The My Domain URL is not
// among them: clients post to the My Domain but keep aud on login or test
// (docs/salesforce-behaviour.md#jwt-audience-login-or-test-not-my-domain).
const (
	AudienceProduction = "https://login.salesforce.com"
	AudienceSandbox    = "https://test.salesforce.com"
)

// assertionLifetime is the longest validity Salesforce's docs allow ("within 3 minutes").
// Salesforce appears not to enforce the maximum, but staying inside it costs nothing
// (docs/salesforce-behaviour.md#jwt-exp-three-minutes-leniently-enforced).
const assertionLifetime = 3 * time.Minute

// jwtBearerForm signs a fresh assertion for every login: an assertion is a bearer
// credential for three minutes, so it is never cached or reused.
func jwtBearerForm(req LoginRequest, host string, now time.Time) (url.Values, error) {
	if err := require(req.Grant,
		field{"client_id", req.ClientID},
		field{"username", req.Username},
	); err != nil {
		return nil, err
	}
	if req.PrivateKey == nil || req.PrivateKey.N == nil {
		return nil, &Error{Class: Terminal, Message: "missing private_key for grant " + quote(string(req.Grant))}
	}
	assertion, err := signAssertion(req, jwtAudience(req.Audience, host), now)
	if err != nil {
		return nil, err
	}
	return url.Values{
		"grant_type": {string(GrantJWTBearer)},
		"assertion":  {assertion},
	}, nil
}

// signAssertion builds the claims Salesforce checks: iss is the consumer key, sub the
// username, aud the authorization server, exp in seconds (sfdx-core once sent
// milliseconds by mistake; we do not; docs/salesforce-behaviour.md#jwt-bearer-claims).
func signAssertion(req LoginRequest, aud string, now time.Time) (string, error) {
	// MapClaims keeps aud a single string; RegisteredClaims would marshal it as an array
	// by default, a shape no Salesforce sample shows.
	claims := jwt.MapClaims{
		"iss": req.ClientID,
		"sub": req.Username,
		"aud": aud,
		"exp": jwt.NewNumericDate(now.Add(assertionLifetime)),
		"iat": jwt.NewNumericDate(now),
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(req.PrivateKey)
	if err != nil {
		// crypto/rsa errors describe the key's shape (e.g. too short), never its bytes.
		return "", &Error{Class: Terminal, Message: "signing the JWT assertion", Err: err}
	}
	return signed, nil
}

// jwtAudience picks aud: the override when set, else test.salesforce.com for sandbox
// hosts and login.salesforce.com for everything else, as go-salesforce and
// simple-salesforce do. A wrong choice shows up as "audience is invalid" or, confusingly,
// "user hasn't approved this consumer", hence the override.
func jwtAudience(override, host string) string {
	if override != "" {
		return override
	}
	if isSandboxHost(host) {
		return AudienceSandbox
	}
	return AudienceProduction
}

// isSandboxHost recognises test.salesforce.com, enhanced sandbox My Domains
// (<domain>--<sandbox>.sandbox.my.salesforce.com, and the same partition on the .mil and
// China realms), and legacy sandbox My Domains (<domain>--<sandbox>.my.salesforce.com or
// <domain>--<sandbox>.<pod>.my.salesforce.com), whose first label alone says "sandbox"
// through its "--" (docs/salesforce-behaviour.md#my-domain-host-shapes-and-sandboxes).
func isSandboxHost(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "test.salesforce.com" || strings.Contains(host, ".sandbox.my.") {
		return true
	}
	first, _, found := strings.Cut(host, ".")
	return found && strings.Contains(first, "--")
}

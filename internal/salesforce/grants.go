package salesforce

import (
	"net/url"
	"strconv"
	"strings"
)

// grantForm validates req for its grant and builds the form body. Missing fields are found
// here, before any request, because Salesforce would answer a vague invalid_grant and
// count the attempt against the user's hourly login quota.
func (c *HTTPClient) grantForm(req LoginRequest, host string) (url.Values, error) {
	switch req.Grant {
	case GrantPassword:
		return passwordForm(req)
	case GrantRefreshToken:
		return refreshTokenForm(req)
	case GrantClientCredentials:
		return clientCredentialsForm(req)
	case GrantJWTBearer:
		return jwtBearerForm(req, host, c.clock.Now())
	case "":
		return nil, &Error{Class: Terminal, Message: "missing grant"}
	default:
		// The grant name is not a secret, and naming it tells a person what to fix.
		return nil, &Error{Class: Terminal, Message: "unsupported grant " + quote(string(req.Grant))}
	}
}

// passwordForm: Salesforce expects the security token appended to the password, in one
// field; there is no separate parameter for it
// (docs/salesforce-behaviour.md#username-password-needs-the-security-token).
func passwordForm(req LoginRequest) (url.Values, error) {
	if err := require(req.Grant,
		field{"client_id", req.ClientID},
		field{"client_secret", req.ClientSecret},
		field{"username", req.Username},
		field{"password", req.Password},
	); err != nil {
		return nil, err
	}
	return url.Values{
		"grant_type":    {string(GrantPassword)},
		"client_id":     {req.ClientID},
		"client_secret": {req.ClientSecret},
		"username":      {req.Username},
		"password":      {req.Password + req.SecurityToken},
	}, nil
}

// refreshTokenForm sends client_secret only when there is one: an app may be set up not to
// require it (isSecretRequiredForRefreshToken=false), and an empty client_secret parameter
// would be validated, and fail, where an absent one is not
// (docs/salesforce-behaviour.md#the-refresh-grant-and-the-client-secret).
func refreshTokenForm(req LoginRequest) (url.Values, error) {
	if err := require(req.Grant,
		field{"client_id", req.ClientID},
		field{"refresh_token", req.RefreshToken},
	); err != nil {
		return nil, err
	}
	form := url.Values{
		"grant_type":    {string(GrantRefreshToken)},
		"refresh_token": {req.RefreshToken},
		"client_id":     {req.ClientID},
	}
	if req.ClientSecret != "" {
		form.Set("client_secret", req.ClientSecret)
	}
	return form, nil
}

// clientCredentialsForm puts the client credentials in the body rather than a Basic header:
// Salesforce accepts both, and one style for all grants keeps a single request path
// (docs/salesforce-behaviour.md#client-credentials-only-on-my-domain).
func clientCredentialsForm(req LoginRequest) (url.Values, error) {
	if err := require(req.Grant,
		field{"client_id", req.ClientID},
		field{"client_secret", req.ClientSecret},
	); err != nil {
		return nil, err
	}
	return url.Values{
		"grant_type":    {string(GrantClientCredentials)},
		"client_id":     {req.ClientID},
		"client_secret": {req.ClientSecret},
	}, nil
}

type field struct{ name, value string }

// require reports the first missing field by name. A blank value counts as missing: a
// Secret key holding only a newline is a mistake, not a credential.
func require(g Grant, fields ...field) error {
	for _, f := range fields {
		if strings.TrimSpace(f.value) == "" {
			return &Error{Class: Terminal, Message: "missing " + f.name + " for grant " + quote(string(g))}
		}
	}
	return nil
}

// quote bounds and quotes a non-secret value for an error text, so a runaway value cannot
// bloat a status condition.
func quote(s string) string {
	const limit = 64
	if len(s) > limit {
		s = s[:limit] + "..."
	}
	return strconv.Quote(s)
}

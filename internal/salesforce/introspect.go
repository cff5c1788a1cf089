package salesforce

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Introspect asks <loginURL>/services/oauth2/introspect about an access token
// (docs/salesforce-behaviour.md#introspection-tells-when-a-token-expires): whether it is
// alive, and when it expires, which the token answer never says. The app identified by
// clientID and clientSecret may introspect only its own tokens unless it has "Introspect
// All Tokens"; a token it may not see, a dead one and a username-password token all answer
// {"active":false}, which is not an error: the result has Active false.
//
// Failures are classified like the token endpoint's (invalid_client_id, invalid_client
// and other OAuth errors are Terminal), 5xx and network failures are Retryable. Neither the
// token nor the client secret appears in an error.
func (c *HTTPClient) Introspect(ctx context.Context, loginURL, clientID, clientSecret, token string) (*Introspection, error) {
	ep, err := parseLoginURL(loginURL)
	if err != nil {
		return nil, err
	}
	for _, f := range []field{{"client_id", clientID}, {"client_secret", clientSecret}, {"token", token}} {
		if strings.TrimSpace(f.value) == "" {
			return nil, &Error{Class: Terminal, Message: "missing " + f.name + " for introspection"}
		}
	}
	// The client credentials go in the body, as in Salesforce's own Postman request and as
	// every grant here sends them; Salesforce takes a Basic header too.
	form := url.Values{
		"token":           {token},
		"token_type_hint": {"access_token"},
		"client_id":       {clientID},
		"client_secret":   {clientSecret},
	}
	r, err := c.postForm(ctx, ep.introspectURL, form, "introspect request")
	if err != nil {
		return nil, err
	}
	if r.status == http.StatusOK {
		return parseIntrospection(r.body)
	}
	// No grant was presented: the refresh- and device-specific rules do not apply.
	return nil, classifyFailure("", r.status, r.body, formSecrets(form))
}

// introspectAnswer is RFC 7662's answer as Salesforce sends it. The times are raw because
// they are seconds as JSON numbers, which a proxy could turn into strings.
type introspectAnswer struct {
	Active    *bool           `json:"active"`
	Scope     string          `json:"scope"`
	ClientID  string          `json:"client_id"`
	Username  string          `json:"username"`
	Sub       string          `json:"sub"`
	TokenType string          `json:"token_type"`
	Exp       json.RawMessage `json:"exp"`
	Iat       json.RawMessage `json:"iat"`
	Nbf       json.RawMessage `json:"nbf"`
}

// parseIntrospection reads an HTTP 200 body. active is required: without it, a body that is
// not Salesforce's answer would read as a dead token. An inactive answer keeps nothing but
// Active, whatever else it holds (RFC 7662 section 2.2).
func parseIntrospection(body []byte) (*Introspection, error) {
	var a introspectAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, malformed(body)
	}
	if a.Active == nil {
		return nil, &Error{Class: Retryable, StatusCode: http.StatusOK, Message: "malformed answer: no active"}
	}
	if !*a.Active {
		return &Introspection{}, nil
	}
	return &Introspection{
		Active:    true,
		Expires:   epochSeconds(a.Exp),
		IssuedAt:  epochSeconds(a.Iat),
		NotBefore: epochSeconds(a.Nbf),
		Username:  a.Username,
		ClientID:  a.ClientID,
		Subject:   a.Sub,
		TokenType: a.TokenType,
		Scope:     a.Scope,
	}, nil
}

// epochSeconds reads a time in seconds since the epoch; zero when absent or not a positive
// whole number.
func epochSeconds(v json.RawMessage) time.Time {
	if _, n, ok := parsePositiveInt(v); ok {
		return time.Unix(n, 0).UTC()
	}
	return time.Time{}
}

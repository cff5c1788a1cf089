package salesforce

import (
	"context"
	"crypto/rsa"
	"time"
)

// Grant names an OAuth 2.0 flow the operator can run without a person.
type Grant string

const (
	GrantJWTBearer         Grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	GrantPassword          Grant = "password"
	GrantRefreshToken      Grant = "refresh_token"
	GrantClientCredentials Grant = "client_credentials"
)

// LoginRequest holds everything one token request needs. Only the fields of the chosen
// grant are read. It holds secrets: never log it or put it in an error.
type LoginRequest struct {
	// LoginURL is the base URL of the authorization server: https://login.salesforce.com,
	// https://test.salesforce.com or a My Domain URL. The caller has checked it against the
	// allowed hosts.
	LoginURL string
	Grant    Grant

	ClientID     string
	ClientSecret string

	Username      string
	Password      string
	SecurityToken string // appended to Password, as Salesforce requires

	// PrivateKey signs the JWT bearer assertion (see ParseRSAPrivateKey).
	PrivateKey *rsa.PrivateKey
	// Audience overrides the JWT aud claim; empty means login.salesforce.com, or
	// test.salesforce.com when LoginURL is a sandbox host.
	Audience string

	RefreshToken string
}

// Token is a successful token answer. AccessToken and RefreshToken are secrets.
type Token struct {
	AccessToken string
	// RefreshToken is set only when Salesforce issued one in this answer: under refresh
	// token rotation, a refresh answer carries the next refresh token and the one sent is
	// dead from now on.
	RefreshToken string
	InstanceURL  string
	// APIInstanceURL is api_instance_url, sent in client-credentials answers
	// (e.g. https://api.salesforce.com); empty otherwise.
	APIInstanceURL string
	TokenType      string
	// ID is the identity URL, https://login.salesforce.com/id/<orgId>/<userId>.
	ID     string
	OrgID  string
	UserID string
	Scope  string
	// IssuedAt is Salesforce's issued_at when the answer carried one, else the time the
	// answer arrived; never later than the time it arrived, so clock skew only shortens
	// the lifetime the operator assumes. An issued_at over 24 hours before arrival is not
	// believed (no session lasts longer), so a bogus value cannot cause a login loop.
	IssuedAt time.Time
	// IssuedAtRaw is issued_at exactly as Salesforce sent it (epoch milliseconds), or empty.
	IssuedAtRaw string
	// Signature is Salesforce's signature of ID and IssuedAtRaw, or empty (JWT answers);
	// check it with VerifySignature when the client secret is known.
	Signature string
}

// DeviceLoginRequest holds what the device flow sends. ClientSecret is a secret and is
// sent only when polling, and only when set (an app may not require it).
type DeviceLoginRequest struct {
	// LoginURL is checked as LoginRequest.LoginURL is.
	LoginURL     string
	ClientID     string
	ClientSecret string
	// Scope is space-separated; empty means DefaultDeviceScope.
	Scope string
}

// DeviceAuthorization is the answer that starts a device flow: show UserCode and
// VerificationURI to a person, then call PollDeviceLogin with DeviceCode every Interval
// until it stops returning Pending or ExpiresAt passes.
type DeviceAuthorization struct {
	// DeviceCode is a secret: whoever holds it gets the tokens once the user approves.
	DeviceCode      string
	UserCode        string
	VerificationURI string
	Interval        time.Duration
	ExpiresAt       time.Time
}

// UserInfo is the current user as the OpenID Connect userinfo endpoint describes them.
type UserInfo struct {
	UserID   string // user_id, 005...
	OrgID    string // organization_id, 00D...
	Username string // preferred_username, the Salesforce username
	Name     string
	Email    string
}

// OAuthApproval is one row of the OauthToken object: an approval (for OAuth 2.0, a refresh
// token) that a user gave a connected app
// (docs/salesforce-behaviour.md#the-oauthtoken-object-lists-approvals). The token itself
// and its DeleteToken are never read, so this holds no secret.
type OAuthApproval struct {
	ID      string
	AppName string
	Created time.Time
	// LastUsed is zero when Salesforce has no LastUsedDate (the approval was never used).
	LastUsed time.Time
	UseCount int
}

// Introspection is what /services/oauth2/introspect says of a token
// (docs/salesforce-behaviour.md#introspection-tells-when-a-token-expires). When Active is
// false every other field is empty: Salesforce says nothing more of a dead token.
type Introspection struct {
	Active bool
	// Expires, IssuedAt and NotBefore are exp, iat and nbf; zero when absent (a refresh
	// token under a policy that never expires has no exp).
	Expires   time.Time
	IssuedAt  time.Time
	NotBefore time.Time
	Username  string
	ClientID  string
	// Subject is sub, the identity URL https://login.salesforce.com/id/<orgId>/<userId>.
	Subject string
	// TokenType is Salesforce's token_type: "access_token" or "refresh_token", not "Bearer".
	TokenType string
	Scope     string
}

// Client talks to Salesforce's OAuth endpoints. The reconciler depends on this interface
// only.
type Client interface {
	Login(ctx context.Context, req LoginRequest) (*Token, error)
	StartDeviceLogin(ctx context.Context, req DeviceLoginRequest) (*DeviceAuthorization, error)
	PollDeviceLogin(ctx context.Context, req DeviceLoginRequest, deviceCode string) (*Token, error)
	Revoke(ctx context.Context, loginURL, token string) error
	UserInfo(ctx context.Context, instanceURL, accessToken string) (*UserInfo, error)
	QueryApprovals(ctx context.Context, instanceURL, accessToken, appName, userID string) ([]OAuthApproval, error)
	Introspect(ctx context.Context, loginURL, clientID, clientSecret, token string) (*Introspection, error)
}

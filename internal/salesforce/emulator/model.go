package emulator

import (
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// DefaultOrgSessionTimeout is used when neither the app, the user's profile nor the org set
// a session timeout: two hours, the default Salesforce states for API sessions and the
// value integrators report for OAuth tokens
// (docs/salesforce-behaviour.md#two-hours-when-nothing-is-set).
const DefaultOrgSessionTimeout = 2 * time.Hour

// DefaultLoginRateLimit is Salesforce's cap on logins per user per rolling hour
// (docs/salesforce-behaviour.md#login-rate-limit-3600-per-user-per-hour).
const DefaultLoginRateLimit = 3600

// DefaultApprovalLimit is the five-approval rule: live refresh tokens per (user, app)
// (docs/salesforce-behaviour.md#five-approvals-per-user-per-connected-app).
const DefaultApprovalLimit = 5

// DefaultScope is granted when an app configures none. It holds refresh_token because
// approvals (docs/salesforce-behaviour.md#five-approvals-per-user-per-connected-app), and
// thus the JWT prior-approval rule
// (docs/salesforce-behaviour.md#jwt-bearer-needs-a-prior-approval), come from that scope.
const DefaultScope = "id api refresh_token"

// Flow names an OAuth flow that a connected app may enable.
type Flow string

// The flows a connected app can enable. An app whose Flows list is empty has all of them.
const (
	FlowPassword          Flow = "password"
	FlowRefreshToken      Flow = "refresh_token"
	FlowJWT               Flow = "jwt"
	FlowClientCredentials Flow = "client_credentials"
	FlowAuthorizationCode Flow = "authorization_code"
	FlowDevice            Flow = "device"
)

var allFlows = []Flow{FlowPassword, FlowRefreshToken, FlowJWT, FlowClientCredentials, FlowAuthorizationCode, FlowDevice}

// Duration is a time.Duration that reads and writes as a Go duration string ("2h", "90s"),
// so configuration files stay readable.
type Duration time.Duration

// MarshalJSON writes the duration as a string such as "2h0m0s".
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string such as \"2h\" or \"90s\"")
	}
	if s == "" {
		*d = 0
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Org is a Salesforce org.
type Org struct {
	// ID is the 18-character org ID (00D…). A 15-character ID is widened to 18; an empty ID
	// gets a generated one.
	ID string `json:"id,omitempty"`
	// InstanceURL is what instance_url returns. Empty means the emulator's default instance
	// URL (WithDefaultInstanceURL) or else the scheme and host the request came in on, so
	// an httptest server answers with its own URL.
	InstanceURL string `json:"instanceURL,omitempty"`
	// Sandbox orgs have identity URLs on test.salesforce.com and need the JWT aud
	// https://test.salesforce.com
	// (docs/salesforce-behaviour.md#the-identity-url-names-the-org-and-the-user,
	// docs/salesforce-behaviour.md#jwt-audience-login-or-test-not-my-domain).
	Sandbox bool `json:"sandbox,omitempty"`
	// SessionTimeout is the org's Session Settings timeout, the last in the precedence app →
	// profile → org (docs/salesforce-behaviour.md#lifetime-is-the-session-timeout). Zero means
	// DefaultOrgSessionTimeout. Salesforce allows 15 min to 24 h; the emulator accepts any
	// positive value so tests can run fast.
	SessionTimeout Duration `json:"sessionTimeout,omitempty"`
	// PasswordFlowBlocked models orgs created in Summer '23 or later, where the
	// username-password flow answers invalid_grant / authentication failure
	// (docs/salesforce-behaviour.md#the-username-password-flow-is-blocked-in-new-orgs).
	PasswordFlowBlocked bool `json:"passwordFlowBlocked,omitempty"`
}

// ConnectedApp is a connected app, known by its consumer key.
type ConnectedApp struct {
	// ClientID is the consumer key; it is also the JWT iss
	// (docs/salesforce-behaviour.md#jwt-bearer-claims).
	ClientID string `json:"clientId"`
	// ClientSecret is the consumer secret; it keys the signature HMAC
	// (docs/salesforce-behaviour.md#the-signature-is-an-hmac-of-id-and-issued_at).
	ClientSecret string `json:"clientSecret,omitempty"`
	// Name is the app's label: OauthToken.AppName in queries
	// (docs/salesforce-behaviour.md#the-oauthtoken-object-lists-approvals), where an app
	// without one shows its ClientID so its rows can still be told apart.
	Name string `json:"name,omitempty"`
	// OrgID, when set, limits the app to users of that org.
	OrgID string `json:"orgId,omitempty"`
	// CertificatePEM (an X.509 certificate) or PublicKeyPEM (PKIX or PKCS#1 RSA public key)
	// verifies JWT bearer assertions
	// (docs/salesforce-behaviour.md#jwt-bearer-needs-a-prior-approval). Without either, every
	// assertion is invalid.
	CertificatePEM string `json:"certificatePEM,omitempty"`
	PublicKeyPEM   string `json:"publicKeyPEM,omitempty"`
	// Flows lists the enabled flows; empty means all. A request for a flow that is not enabled
	// answers unsupported_grant_type / grant type not supported
	// (docs/salesforce-behaviour.md#error-strings-and-their-classes).
	Flows []Flow `json:"flows,omitempty"`
	// Scope is the space-separated scope granted by the app; empty means DefaultScope.
	Scope string `json:"scope,omitempty"`
	// ClientCredentialsUser is the Run As username of the client-credentials flow
	// (docs/salesforce-behaviour.md#client-credentials-need-a-run-as-user).
	ClientCredentialsUser string `json:"clientCredentialsUser,omitempty"`
	// SessionTimeout overrides the profile and org timeouts when set
	// (docs/salesforce-behaviour.md#lifetime-is-the-session-timeout).
	SessionTimeout Duration `json:"sessionTimeout,omitempty"`
	// RefreshTokenRotation turns on RTR
	// (docs/salesforce-behaviour.md#refresh-token-rotation-and-replay).
	RefreshTokenRotation bool `json:"refreshTokenRotation,omitempty"`
	// RefreshTokenPolicy is infinite (default), zero, specific_lifetime:N:UNIT or
	// specific_inactivity:N:UNIT with UNIT HOURS, DAYS or MONTHS
	// (docs/salesforce-behaviour.md#refresh-token-policies), case-insensitive. As an
	// emulator-only extension UNIT may also be MINUTES or SECONDS, so e2e tests on real time
	// need not wait an hour.
	RefreshTokenPolicy string `json:"refreshTokenPolicy,omitempty"`
	// AdminApproved is "Admin approved users are pre-authorized": only PreAuthorizedUsers may
	// log in with the password flow or approve the app; they also pass the JWT prior approval
	// check without holding a refresh token
	// (docs/salesforce-behaviour.md#jwt-bearer-needs-a-prior-approval).
	AdminApproved      bool     `json:"adminApproved,omitempty"`
	PreAuthorizedUsers []string `json:"preAuthorizedUsers,omitempty"`
	// RequireSecretForRefreshToken is isSecretRequiredForRefreshToken; nil means true. When
	// false a secret that is sent is still checked
	// (docs/salesforce-behaviour.md#the-refresh-grant-and-the-client-secret).
	RequireSecretForRefreshToken *bool `json:"requireSecretForRefreshToken,omitempty"`
	// IntrospectAllTokens lets the app introspect tokens of other apps
	// (docs/salesforce-behaviour.md#which-tokens-can-be-introspected).
	IntrospectAllTokens bool `json:"introspectAllTokens,omitempty"`
}

// User is a Salesforce user.
type User struct {
	Username string `json:"username"`
	Password string `json:"password,omitempty"`
	// SecurityToken must be appended to Password in the password flow
	// (docs/salesforce-behaviour.md#username-password-needs-the-security-token). Empty means
	// the user logs in from a trusted IP range and needs none.
	SecurityToken string `json:"securityToken,omitempty"`
	// ID is the 18-character user ID (005…); empty gets a generated one.
	ID string `json:"id,omitempty"`
	// OrgID is the user's org; empty is allowed when exactly one org exists.
	OrgID string `json:"orgId,omitempty"`
	// Active is nil or true for active users. Inactive users get inactive_user and their
	// sessions stop working.
	Active *bool `json:"active,omitempty"`
	// ProfileSessionTimeout is the profile's session timeout, used when the app sets
	// none (docs/salesforce-behaviour.md#lifetime-is-the-session-timeout).
	ProfileSessionTimeout Duration `json:"profileSessionTimeout,omitempty"`
	// LoginRateLimit caps logins per rolling hour; 0 means the emulator default
	// (DefaultLoginRateLimit unless WithLoginRateLimit), negative means no cap.
	LoginRateLimit int `json:"loginRateLimit,omitempty"`
	// Name and Email show up in userinfo and the identity URL.
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	// CustomizeApplication is the Customize Application permission. Salesforce shows a user
	// without it only their own OauthToken rows; with it, the rows of every user of the
	// org. An operator that counts approvals must therefore query as the approving user
	// or as an admin.
	CustomizeApplication bool `json:"customizeApplication,omitempty"`
}

// IsActive reports whether the user is active (Active nil or true).
func (u User) IsActive() bool { return u.Active == nil || *u.Active }

// SecretRequiredForRefresh reports isSecretRequiredForRefreshToken (default true).
func (a ConnectedApp) SecretRequiredForRefresh() bool {
	return a.RequireSecretForRefreshToken == nil || *a.RequireSecretForRefreshToken
}

// State is the whole configured model: what the admin API and the config file carry.
type State struct {
	Orgs  []Org          `json:"orgs,omitempty"`
	Apps  []ConnectedApp `json:"apps,omitempty"`
	Users []User         `json:"users,omitempty"`
}

// appEntry is a connected app with its parsed JWT key and refresh token policy.
type appEntry struct {
	ConnectedApp
	key    *rsa.PublicKey // nil when the app has no certificate
	policy refreshPolicy
	flows  map[Flow]bool
}

func (a *appEntry) enabled(f Flow) bool { return len(a.flows) == 0 || a.flows[f] }

func (a *appEntry) scope() string {
	if a.Scope == "" {
		return DefaultScope
	}
	return a.Scope
}

func (a *appEntry) preAuthorized(username string) bool {
	if !a.AdminApproved {
		return false
	}
	for _, u := range a.PreAuthorizedUsers {
		if strings.EqualFold(u, username) {
			return true
		}
	}
	return false
}

func validateOrg(o *Org, gen func(prefix string) string) error {
	id, err := normalizeID(o.ID, "00D", gen)
	if err != nil {
		return fmt.Errorf("org %q: %w", o.ID, err)
	}
	o.ID = id
	if o.InstanceURL != "" {
		if err := checkBaseURL(o.InstanceURL); err != nil {
			return fmt.Errorf("org %s: instanceURL: %w", o.ID, err)
		}
		o.InstanceURL = strings.TrimRight(o.InstanceURL, "/")
	}
	if o.SessionTimeout < 0 {
		return fmt.Errorf("org %s: sessionTimeout must not be negative", o.ID)
	}
	return nil
}

func newAppEntry(a ConnectedApp) (*appEntry, error) {
	if a.ClientID == "" {
		return nil, fmt.Errorf("connected app %q: clientId is required", a.Name)
	}
	e := &appEntry{ConnectedApp: a, flows: map[Flow]bool{}}
	for _, f := range a.Flows {
		known := false
		for _, k := range allFlows {
			if f == k {
				known = true
			}
		}
		if !known {
			return nil, fmt.Errorf("connected app %s: unknown flow %q (want one of %v)", a.ClientID, f, allFlows)
		}
		e.flows[f] = true
	}
	key, err := parseVerificationKey(a.CertificatePEM, a.PublicKeyPEM)
	if err != nil {
		return nil, fmt.Errorf("connected app %s: %w", a.ClientID, err)
	}
	e.key = key
	p, err := parseRefreshTokenPolicy(a.RefreshTokenPolicy)
	if err != nil {
		return nil, fmt.Errorf("connected app %s: %w", a.ClientID, err)
	}
	e.policy = p
	if a.SessionTimeout < 0 {
		return nil, fmt.Errorf("connected app %s: sessionTimeout must not be negative", a.ClientID)
	}
	return e, nil
}

func checkBaseURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL", s)
	}
	return nil
}

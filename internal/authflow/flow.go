// Package authflow holds the ways a connection obtains a token, one type per flow of
// spec.auth: password, client credentials, refresh token, JWT bearer with a key from the
// credentials Secret, JWT bearer with a key the operator generated, and device login. Each
// says which Secret keys it needs, how its inputs are hashed (a token obtained from other
// inputs must be replaced), and how it logs in; the controller asks For once and never
// looks at spec.auth itself.
package authflow

import (
	"context"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/failure"
	"github.com/sfconn/sfconn-operator/internal/rotation"
	"github.com/sfconn/sfconn-operator/internal/salesforce"
)

// LoginTimeout bounds one call to Salesforce, so a hung server never holds a worker.
const LoginTimeout = time.Minute

// Flow is one way of obtaining a token.
type Flow interface {
	// Name is the spec.auth field that chose the flow.
	Name() string
	// CredentialsSecret is the credentials Secret the flow reads, "" when it needs none.
	CredentialsSecret() string
	// HoldsApproval says whether the flow's token comes with an approval (a refresh
	// token), one of the five Salesforce keeps per user and connected app.
	HoldsApproval() bool
	// Inputs builds the login from the spec and the credentials Secret (an empty one when
	// the flow names none). Pure. The failure says which key is missing or unusable.
	Inputs(secret *corev1.Secret) (*Inputs, *failure.Failure)
	// Login obtains a token. An error is a *failure.Failure when the login failed
	// (Salesforce refused, or could not be reached), classified; any other error is the
	// API server's. A flow that obtains no token without a failed login says why in
	// Result.Pending.
	Login(ctx context.Context, env *Env, in *Inputs) (*Result, error)
}

// Inputs is everything a login needs. It holds secrets: never log it.
type Inputs struct {
	Request salesforce.LoginRequest
	// Hash identifies the inputs: a token obtained from other inputs must be replaced.
	Hash string
	// CredentialsVersion is the credentials Secret's resourceVersion.
	CredentialsVersion string
	// IntrospectionSecret is the client secret that may introspect a new token; empty
	// when its expiry follows spec.sessionTimeout.
	IntrospectionSecret string
	// Unread is set when the credentials were not read (their version matches the
	// stored token's): Request holds no secret, and a login must read them first.
	Unread bool
}

// Env is what a login works with.
type Env struct {
	Salesforce salesforce.Client
	// Chains keep the refresh tokens of rotating chains and device logins.
	Chains *rotation.Chains
	// State keeps a pending device login's code in the connection's state Secret.
	State *rotation.Store
	// Keys is the generated key pair of spec.auth.jwtBearer.generateKey.
	Keys Keys
	// ReserveApproval is asked before a device login makes a new approval: a
	// *failure.Failure when the connection may not make one.
	ReserveApproval func(ctx context.Context) error
	// CheckApprovals counts again, before a pending device login is polled, whether the
	// connection may still make its approval: a *failure.Failure when it may not.
	CheckApprovals func(ctx context.Context) error
	// Record records a Kubernetes event about the connection.
	Record func(eventType, reason, action, note string)
	Now    time.Time
	Log    logr.Logger
}

func (e *Env) checkApprovals(ctx context.Context) error {
	if e.CheckApprovals == nil {
		return nil
	}
	return e.CheckApprovals(ctx)
}

// Result is what a login obtained.
type Result struct {
	// Token is the answer, nil while the flow waits for a person.
	Token *salesforce.Token
	// ApprovalSource is the refresh token the approval was granted as, for flows that
	// hold one: the user's, or a device login's marker. Approvals are named after it.
	ApprovalSource string
	// Minted is set when the operator made the approval itself (device login).
	Minted bool
	// Username is who the token speaks for, as Salesforce said it; empty when the flow
	// did not ask.
	Username string
	// Device is a pending device login's instructions for a person.
	Device *sfv1.DeviceLoginStatus
	// Pending says why no token came although no login failed: the flow waits for a
	// person, may not make an approval, or starts over. It is not recorded as a failed
	// login, and the flow has told a person what it did.
	Pending *failure.Failure
}

// For is the flow spec.auth chooses.
func For(conn *sfv1.SalesforceConnection) (Flow, *failure.Failure) {
	a := conn.Spec.Auth
	switch {
	case a.JWTBearer != nil && a.JWTBearer.GenerateKey:
		if _, ok := a.JWTBearer.CredentialsSecretRef.Keys[KeyPrivateKey]; ok {
			return nil, failure.New(failure.Terminal, sfv1.ReasonInvalidSpec,
				"with generateKey the operator signs with its own key (Secret %s, key tls.key): credentialsSecretRef.keys cannot map private_key", KeySecretName(conn))
		}
		return withBase(conn, &a.JWTBearer.CredentialsSecretRef, func(b base) Flow { return &generatedKey{jwtBearer{b, a.JWTBearer}} })
	case a.JWTBearer != nil:
		return withBase(conn, &a.JWTBearer.CredentialsSecretRef, func(b base) Flow { return &jwtBearer{b, a.JWTBearer} })
	case a.Password != nil:
		return withBase(conn, &a.Password.CredentialsSecretRef, func(b base) Flow { return &password{b, a.Password} })
	case a.RefreshToken != nil:
		return withBase(conn, &a.RefreshToken.CredentialsSecretRef, func(b base) Flow { return &refreshToken{b, a.RefreshToken} })
	case a.ClientCredentials != nil:
		return withBase(conn, &a.ClientCredentials.CredentialsSecretRef, func(b base) Flow { return &clientCredentials{b, a.ClientCredentials} })
	case a.DeviceLogin != nil:
		return withBase(conn, a.DeviceLogin.CredentialsSecretRef, func(b base) Flow { return &deviceLogin{b, a.DeviceLogin} })
	}
	return nil, failure.New(failure.Terminal, sfv1.ReasonInvalidSpec,
		"spec.auth must set exactly one of jwtBearer, password, refreshToken, clientCredentials or deviceLogin")
}

// base is what every flow has: its connection and its credentials Secret, with the keys
// of that Secret that hold the values the flow reads.
type base struct {
	conn   *sfv1.SalesforceConnection
	secret string
	keys   keyMap
}

// withBase makes a flow on the base of its credentials Secret ref (none when nil), or
// refuses a keys map that would read the wrong values (checkKeys).
func withBase(conn *sfv1.SalesforceConnection, ref *sfv1.SecretReference, flow func(base) Flow) (Flow, *failure.Failure) {
	if ref == nil {
		return flow(base{conn: conn}), nil
	}
	if fl := checkKeys(ref.Name, ref.Keys); fl != nil {
		return nil, fl
	}
	return flow(base{conn: conn, secret: ref.Name, keys: ref.Keys}), nil
}

// values reads secret through the flow's keys.
func (b base) values(secret *corev1.Secret) values { return values{secret: secret, keys: b.keys} }

func (b base) CredentialsSecret() string { return b.secret }
func (b base) HoldsApproval() bool       { return false }

// LoginURL is spec.loginURL without a trailing slash, or Salesforce's production login.
func LoginURL(conn *sfv1.SalesforceConnection) string {
	if u := trimSlash(conn.Spec.LoginURL); u != "" {
		return u
	}
	return "https://login.salesforce.com"
}

// statusTime is t as status stores it: whole seconds.
func statusTime(t time.Time) metav1.Time { return metav1.NewTime(t.Truncate(time.Second)) }

// login runs one token request. It is not cancelled with the pass: a shutdown must not
// drop a refresh Salesforce already carried out, whose rotated token the caller stores.
func login(ctx context.Context, env *Env, req salesforce.LoginRequest) (*salesforce.Token, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), LoginTimeout)
	defer cancel()
	return env.Salesforce.Login(ctx, req)
}

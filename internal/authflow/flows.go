package authflow

import (
	"context"
	"errors"

	corev1 "k8s.io/api/core/v1"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/failure"
	"github.com/sfconn/sfconn-operator/internal/rotation"
	"github.com/sfconn/sfconn-operator/internal/salesforce"
)

// password is the username-password flow. Its tokens cannot be introspected
// (docs/salesforce-behaviour.md#which-tokens-can-be-introspected).
type password struct {
	base
	spec *sfv1.PasswordAuth
}

func (f *password) Name() string { return "password" }

func (f *password) Inputs(secret *corev1.Secret) (*Inputs, *failure.Failure) {
	v := f.values(secret)
	req := salesforce.LoginRequest{LoginURL: LoginURL(f.conn), Grant: salesforce.GrantPassword}
	req.ClientID = v.inlineOr(f.spec.ClientID, KeyClientID)
	req.ClientSecret = v.required(KeyClientSecret)
	req.Username = v.inlineOr(f.spec.Username, KeyUsername)
	req.Password = v.required(KeyPassword)
	req.SecurityToken = v.optional(KeySecurityToken)
	return v.inputs(f.conn, req, "password", f.spec.ClientID, f.spec.Username)
}

func (f *password) Login(ctx context.Context, env *Env, in *Inputs) (*Result, error) {
	hint := ""
	if in.Request.SecurityToken == "" {
		// Salesforce wants the security token appended unless the user logs in from a
		// trusted IP range (docs/salesforce-behaviour.md#username-password-needs-the-security-token).
		hint = "The credentials Secret has no security_token: unless the user logs in from a trusted IP range, Salesforce needs it appended to the password. "
	}
	return f.loginOnce(ctx, env, in, hint)
}

// clientCredentials is the client credentials flow, which runs as the connected app's
// run-as user.
type clientCredentials struct {
	base
	spec *sfv1.ClientCredentialsAuth
}

func (f *clientCredentials) Name() string { return "clientCredentials" }

func (f *clientCredentials) Inputs(secret *corev1.Secret) (*Inputs, *failure.Failure) {
	v := f.values(secret)
	req := salesforce.LoginRequest{LoginURL: LoginURL(f.conn), Grant: salesforce.GrantClientCredentials}
	req.ClientID = v.inlineOr(f.spec.ClientID, KeyClientID)
	req.ClientSecret = v.required(KeyClientSecret)
	in, fl := v.inputs(f.conn, req, "clientCredentials", f.spec.ClientID)
	if in != nil {
		in.IntrospectionSecret = req.ClientSecret
	}
	return in, fl
}

func (f *clientCredentials) Login(ctx context.Context, env *Env, in *Inputs) (*Result, error) {
	return f.loginOnce(ctx, env, in, "")
}

// jwtBearer is the JWT bearer flow with the key in the credentials Secret.
type jwtBearer struct {
	base
	spec *sfv1.JWTBearerAuth
}

func (f *jwtBearer) Name() string { return "jwtBearer" }

func (f *jwtBearer) Inputs(secret *corev1.Secret) (*Inputs, *failure.Failure) {
	return f.inputs(secret, true)
}

// inputs reads the credentials; withKey reads the private key too. A client_secret may
// be added for introspection alone: the login never sends it and the hash leaves it out,
// so adding it costs no login.
func (f *jwtBearer) inputs(secret *corev1.Secret, withKey bool) (*Inputs, *failure.Failure) {
	v := f.values(secret)
	req := salesforce.LoginRequest{LoginURL: LoginURL(f.conn), Grant: salesforce.GrantJWTBearer, Audience: f.spec.Audience}
	req.ClientID = v.inlineOr(f.spec.ClientID, KeyClientID)
	req.Username = v.inlineOr(f.spec.Username, KeyUsername)
	if withKey {
		if pem := v.required(KeyPrivateKey); pem != "" {
			key, fl := v.privateKey(pem)
			if fl != nil {
				return nil, fl
			}
			req.PrivateKey = key
		}
	}
	in, fl := v.inputs(f.conn, req, "jwtBearer", f.spec.ClientID, f.spec.Username, f.spec.Audience)
	if in != nil {
		in.IntrospectionSecret = v.peek(KeyClientSecret)
	}
	return in, fl
}

func (f *jwtBearer) Login(ctx context.Context, env *Env, in *Inputs) (*Result, error) {
	return f.loginOnce(ctx, env, in, "")
}

// refreshToken is the refresh token flow, with a refresh token a person obtained. Its
// approval is one of the user's five.
type refreshToken struct {
	base
	spec *sfv1.RefreshTokenAuth
}

func (f *refreshToken) Name() string        { return "refreshToken" }
func (f *refreshToken) HoldsApproval() bool { return true }

func (f *refreshToken) Inputs(secret *corev1.Secret) (*Inputs, *failure.Failure) {
	v := f.values(secret)
	req := salesforce.LoginRequest{LoginURL: LoginURL(f.conn), Grant: salesforce.GrantRefreshToken}
	req.ClientID = v.inlineOr(f.spec.ClientID, KeyClientID)
	req.ClientSecret = v.optional(KeyClientSecret)
	req.RefreshToken = v.required(KeyRefreshToken)
	in, fl := v.inputs(f.conn, req, "refreshToken", f.spec.ClientID)
	if in != nil {
		in.IntrospectionSecret = req.ClientSecret
	}
	return in, fl
}

func (f *refreshToken) Login(ctx context.Context, env *Env, in *Inputs) (*Result, error) {
	ch := env.Chains.Of(f.conn, in.Request.RefreshToken, in.Request.LoginURL, false)
	tok, err := f.refresh(ctx, env, in.Request, ch)
	if err != nil {
		return nil, f.refused(err, "")
	}
	return &Result{Token: tok, ApprovalSource: in.Request.RefreshToken}, nil
}

// loginOnce is a login of a flow that keeps nothing between logins: one token request,
// and hint as the likeliest cause of a refusal.
func (b base) loginOnce(ctx context.Context, env *Env, in *Inputs, hint string) (*Result, error) {
	tok, err := login(ctx, env, in.Request)
	if err != nil {
		return nil, b.refused(err, hint)
	}
	return &Result{Token: tok}, nil
}

// refresh runs the refresh token grant on the chain that starts at source, which every
// connection holding source shares: with the chain's latest refresh token, storing the
// next one, under rotation, before the new access token goes anywhere.
func (b base) refresh(ctx context.Context, env *Env, req salesforce.LoginRequest, ch rotation.Chain) (*salesforce.Token, error) {
	tok, err := env.Chains.Refresh(ctx, ch, func(ctx context.Context, rt string) (*salesforce.Token, error) {
		r := req
		r.RefreshToken = rt
		return login(ctx, env, r)
	})
	var unsaved *rotation.UnsavedError
	if errors.As(err, &unsaved) {
		// The access token is good; the refresh token stays in memory, is stored before
		// the chain's next refresh, and the connection says so meanwhile.
		env.Log.Error(unsaved.Err, "Storing the rotated refresh token failed; keeping it in memory until it can be stored")
		return tok, nil
	}
	return tok, err
}

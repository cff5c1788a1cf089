package authflow

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/failure"
	"github.com/sfconn/sfconn-operator/internal/rotation"
	"github.com/sfconn/sfconn-operator/internal/salesforce"
)

// deviceLogin obtains a refresh token with a person's approval (the device flow), then
// refreshes it like the refresh token flow. The approval is one of the user's five and
// the operator's own: it is counted before it is made, and revoked when the connection
// goes (docs/salesforce-behaviour.md#device-flow).
type deviceLogin struct {
	base
	spec *sfv1.DeviceLoginAuth
}

func (f *deviceLogin) Name() string        { return "deviceLogin" }
func (f *deviceLogin) HoldsApproval() bool { return true }

// Marker stands for the refresh token of a device login, which is only known once a
// person approves: the chain of the connection's approval starts at it.
func Marker(conn *sfv1.SalesforceConnection) string { return "device-login:" + string(conn.UID) }

func (f *deviceLogin) Inputs(secret *corev1.Secret) (*Inputs, *failure.Failure) {
	v := f.values(secret)
	req := salesforce.LoginRequest{LoginURL: LoginURL(f.conn), Grant: salesforce.GrantRefreshToken,
		Username: f.spec.Username, RefreshToken: Marker(f.conn)}
	req.ClientID = v.inlineOr(f.spec.ClientID, KeyClientID)
	req.ClientSecret = v.optional(KeyClientSecret)
	in, fl := v.inputs(f.conn, req, "deviceLogin", f.spec.ClientID, f.spec.Username, f.spec.Scope)
	if in != nil {
		in.IntrospectionSecret = req.ClientSecret
	}
	return in, fl
}

func (f *deviceLogin) Login(ctx context.Context, env *Env, in *Inputs) (*Result, error) {
	marker := Marker(f.conn)
	ch := f.chain(env, in)
	rt, err := env.Chains.Current(ctx, ch)
	if err != nil {
		return nil, fmt.Errorf("reading the device login's refresh token: %w", err)
	}
	if rt == marker {
		return f.approve(ctx, env, in)
	}
	tok, err := f.refresh(ctx, env, in.Request, ch)
	if salesforce.ClassOf(err) == salesforce.Revoked {
		// The operator obtained this token with a person's approval, and only a person
		// can approve again: drop the dead token and start a new device login, which
		// makes no approval until someone approves it.
		if err := env.Chains.Drop(ctx, ch); err != nil {
			return nil, err
		}
		restart := &failure.Failure{Class: failure.Retryable, Reason: sfv1.ReasonRevoked, RetryAt: env.Now.Add(time.Second),
			Message: fmt.Sprintf("Salesforce rejected the refresh token obtained by device login (%v); starting a new device login", err)}
		env.Log.Info("Login failed", "reason", restart.Reason, "error", err.Error())
		env.Record(corev1.EventTypeWarning, restart.Reason, "Login", restart.Message)
		return &Result{Pending: restart}, nil
	}
	if err != nil {
		return nil, f.refused(err, "")
	}
	if f.conn.Status.Principal == nil {
		// The approver was never confirmed (Salesforce could not say at the time).
		return f.verified(ctx, env, tok, in)
	}
	return &Result{Token: tok, ApprovalSource: marker, Minted: true, Username: f.conn.Status.Principal.Username}, nil
}

// verified checks who approved a device login before its token goes anywhere. The user
// code is shown to whoever can read the connection or its events, and any Salesforce user
// of any org who enters it first would become the connection's principal: Salesforce must
// say the token belongs to spec.auth.deviceLogin.username (and to the org the connection
// knew, if any), or the token is revoked at once and a new device login starts. The
// principal's name then comes from Salesforce, not from the spec.
func (f *deviceLogin) verified(ctx context.Context, env *Env, tok *salesforce.Token, in *Inputs) (*Result, error) {
	vctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), LoginTimeout)
	defer cancel()
	info, err := env.Salesforce.UserInfo(vctx, tok.InstanceURL, tok.AccessToken)
	if err != nil {
		// Not known to be wrong: the refresh token stays stored, and the next pass asks
		// again before the token is used.
		return nil, &failure.Failure{Class: failure.Retryable, Reason: sfv1.ReasonSalesforceUnavailable,
			Message: fmt.Sprintf("Salesforce could not say who approved the device login (%v); the operator asks again before it uses the token", err)}
	}
	wantOrg := ""
	if p := f.conn.Status.Principal; p != nil {
		wantOrg = p.OrgID
	}
	if strings.EqualFold(info.Username, f.spec.Username) && (wantOrg == "" || info.OrgID == wantOrg) {
		return &Result{Token: tok, ApprovalSource: Marker(f.conn), Minted: true, Username: info.Username}, nil
	}
	// Someone else approved: neither their token nor their approval may stay.
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), LoginTimeout)
	defer rcancel()
	ch := f.chain(env, in)
	refresh, _ := env.Chains.Current(rctx, ch)
	for _, t := range []string{refresh, tok.AccessToken} {
		if t != "" && t != Marker(f.conn) {
			if err := env.Salesforce.Revoke(rctx, in.Request.LoginURL, t); err != nil {
				env.Log.Info("Revoking the token of a device login approved by someone else failed", "error", err.Error())
			}
		}
	}
	if err := env.Chains.Drop(ctx, ch); err != nil {
		return nil, err
	}
	who := info.Username
	if wantOrg != "" && info.OrgID != wantOrg {
		who += " of org " + info.OrgID
	}
	restart := &failure.Failure{Class: failure.WaitingForPerson, Reason: sfv1.ReasonAwaitingApproval, RetryAt: env.Now.Add(time.Second),
		Message: fmt.Sprintf("The device login was approved by %s, not by %s: the operator revoked that token at once and starts a new device login, whose code only %s may enter",
			who, f.spec.Username, f.spec.Username)}
	env.Log.Info("A device login was approved by someone else; its token was revoked", "approver", info.Username)
	env.Record(corev1.EventTypeWarning, sfv1.EventDeviceLoginWrongUser, "DeviceLogin", restart.Message)
	return &Result{Pending: restart}, nil
}

// chain is the device login's chain: it starts at the connection's marker, with the
// first refresh token the operator obtained.
func (f *deviceLogin) chain(env *Env, in *Inputs) rotation.Chain {
	return env.Chains.Of(f.conn, Marker(f.conn), in.Request.LoginURL, true)
}

// request is the device flow request of the connection.
func (f *deviceLogin) request(in *Inputs) salesforce.DeviceLoginRequest {
	return salesforce.DeviceLoginRequest{LoginURL: in.Request.LoginURL, ClientID: in.Request.ClientID,
		ClientSecret: in.Request.ClientSecret, Scope: f.spec.Scope}
}

// approve runs one step of the device flow for a connection that holds no refresh token
// yet: start, or poll while the code is valid.
func (f *deviceLogin) approve(ctx context.Context, env *Env, in *Inputs) (*Result, error) {
	state, err := env.State.Read(ctx, f.conn)
	if err != nil {
		return nil, err
	}
	prev := f.conn.Status.DeviceLogin
	if state != nil && len(state.Data[rotation.KeyDeviceCode]) > 0 && prev != nil && env.Now.Before(prev.ExpiresAt.Time) {
		// Counted again before each poll: the approval is made when the answer to a poll
		// carries the token, and since the code was shown other approvals may have been
		// made. A refusal abandons the code.
		if err := env.checkApprovals(ctx); err != nil {
			if fl := failure.As(err); fl != nil {
				if err := env.State.Update(ctx, f.conn, func(s *corev1.Secret) { delete(s.Data, rotation.KeyDeviceCode) }); err != nil {
					return nil, err
				}
				return &Result{Pending: fl}, nil
			}
			return nil, err
		}
		return f.poll(ctx, env, in, state)
	}
	if err := env.ReserveApproval(ctx); err != nil {
		if fl := failure.As(err); fl != nil {
			return &Result{Pending: fl}, nil
		}
		return nil, err
	}
	auth, err := env.Salesforce.StartDeviceLogin(ctx, f.request(in))
	if err != nil {
		return nil, f.refused(err, "")
	}
	if err := env.State.Update(ctx, f.conn, func(s *corev1.Secret) {
		s.Data[rotation.KeyDeviceCode] = []byte(auth.DeviceCode)
		s.Annotations[rotation.AnnotationDeviceInterval] = auth.Interval.String()
	}); err != nil {
		return nil, fmt.Errorf("storing the device code: %w", err)
	}
	device := &sfv1.DeviceLoginStatus{VerificationURI: auth.VerificationURI, UserCode: auth.UserCode,
		ExpiresAt: statusTime(auth.ExpiresAt)}
	waiting := f.awaiting(device, env.Now.Add(auth.Interval))
	env.Log.Info("Device login started", "verificationURI", auth.VerificationURI)
	env.Record(corev1.EventTypeNormal, sfv1.ReasonAwaitingApproval, "DeviceLogin", waiting.Message)
	return &Result{Device: device, Pending: waiting}, nil
}

func (f *deviceLogin) poll(ctx context.Context, env *Env, in *Inputs, state *corev1.Secret) (*Result, error) {
	interval, err := time.ParseDuration(state.Annotations[rotation.AnnotationDeviceInterval])
	if err != nil || interval <= 0 {
		interval = salesforce.DefaultDeviceInterval
	}
	device := f.conn.Status.DeviceLogin.DeepCopy()
	// Neither the poll nor storing its answer is cancelled with the pass, as with login: once
	// the person approved, the poll makes the approval, and its refresh token is the only
	// copy. Lost, it would hold one of the user's five approvals that nobody can revoke.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), LoginTimeout)
	defer cancel()
	tok, err := env.Salesforce.PollDeviceLogin(pctx, f.request(in), string(state.Data[rotation.KeyDeviceCode]))
	switch {
	case err == nil && tok.RefreshToken == "":
		return nil, f.refused(&salesforce.Error{Class: salesforce.Terminal,
			Message: "the device login was approved without a refresh token: add the refresh_token scope to spec.auth.deviceLogin.scope and to the connected app"}, "")
	case err == nil:
		// Stored before anything else: it is the only copy.
		if err := env.Chains.Start(pctx, f.chain(env, in), tok.RefreshToken); err != nil {
			env.Log.Error(err, "Storing the device login's refresh token failed; keeping it in memory")
		} else if err := env.State.Update(pctx, f.conn, func(s *corev1.Secret) { delete(s.Data, rotation.KeyDeviceCode) }); err != nil {
			// The code is spent; left behind, it is only stale.
			env.Log.V(1).Info("Dropping the spent device code failed", "error", err.Error())
		}
		return f.verified(ctx, env, tok, in)
	case salesforce.ClassOf(err) == salesforce.Pending:
		if salesforce.IsSlowDown(err) {
			interval += 5 * time.Second
			if err := env.State.Update(ctx, f.conn, func(s *corev1.Secret) {
				s.Annotations[rotation.AnnotationDeviceInterval] = interval.String()
			}); err != nil {
				return nil, err
			}
		}
		return &Result{Device: device, Pending: f.awaiting(device, env.Now.Add(interval))}, nil
	case salesforce.ClassOf(err) == salesforce.Terminal:
		// The code expired or the person declined: start over with a new code.
		if err := env.State.Update(ctx, f.conn, func(s *corev1.Secret) { delete(s.Data, rotation.KeyDeviceCode) }); err != nil {
			return nil, err
		}
		return &Result{Pending: &failure.Failure{Class: failure.WaitingForPerson, Reason: sfv1.ReasonAwaitingApproval, RetryAt: env.Now.Add(time.Second),
			Message: fmt.Sprintf("The device login ended without approval (%v); starting a new one", err)}}, nil
	}
	return &Result{Device: device}, f.refused(err, "")
}

func (f *deviceLogin) awaiting(d *sfv1.DeviceLoginStatus, retryAt time.Time) *failure.Failure {
	return &failure.Failure{Class: failure.WaitingForPerson, Reason: sfv1.ReasonAwaitingApproval, RetryAt: retryAt,
		Message: fmt.Sprintf("Waiting for %s to approve the connected app: open %s and enter the code %s before %s",
			f.spec.Username, d.VerificationURI, d.UserCode, d.ExpiresAt.UTC().Format(time.RFC3339))}
}

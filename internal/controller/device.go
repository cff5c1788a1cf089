package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/salesforce"
)

// A device login makes a new approval, which Salesforce counts against the user's five
// for the connected app: it goes through the ledger before it starts, and the refresh
// token it yields is the operator's to revoke when the connection goes.

// FinalizerRevoke holds a connection until the refresh token the operator obtained for it
// is revoked.
const FinalizerRevoke = "salesforce.sfconn.io/revoke-approval"

// revokeGrace bounds how long a deletion waits for Salesforce to revoke.
const revokeGrace = time.Minute

// deviceMarker stands for the refresh token of a device login in the rotation state: the
// token itself is only known once a person approves.
func deviceMarker(conn *sfv1.SalesforceConnection) string {
	return "device-login:" + string(conn.UID)
}

// deviceRequest is the device flow request of a connection.
func deviceRequest(conn *sfv1.SalesforceConnection, in *loginInputs) salesforce.DeviceLoginRequest {
	return salesforce.DeviceLoginRequest{LoginURL: in.request.LoginURL, ClientID: in.request.ClientID,
		ClientSecret: in.request.ClientSecret, Scope: conn.Spec.Auth.DeviceLogin.Scope}
}

// deviceLogin runs one step of the device flow for a connection that holds no refresh
// token yet: check the ledger, start, or poll. It returns the token answer once a person
// approved, else fills o with what the person must do.
func (r *Reconciler) deviceLogin(ctx context.Context, conn *sfv1.SalesforceConnection, f *facts, o *outcome) (*salesforce.Token, error) {
	state, err := r.readStateSecret(ctx, conn)
	if err != nil {
		return nil, clusterError{err}
	}
	prev := conn.Status.DeviceLogin
	if state != nil && len(state.Data[keyDeviceCode]) > 0 && prev != nil && f.now.Before(prev.ExpiresAt.Time) {
		return r.pollDeviceLogin(ctx, conn, f, o, state)
	}

	if refusal, err := r.approvalRefusal(ctx, conn, f); err != nil || refusal != nil {
		o.failure = refusal
		return nil, err
	}
	if !controllerutil.ContainsFinalizer(conn, FinalizerRevoke) {
		patch := client.MergeFrom(conn.DeepCopy())
		controllerutil.AddFinalizer(conn, FinalizerRevoke)
		if err := r.Client.Patch(ctx, conn, patch); err != nil {
			return nil, clusterError{fmt.Errorf("adding the finalizer: %w", err)}
		}
	}
	auth, err := r.Salesforce.StartDeviceLogin(ctx, deviceRequest(conn, f.inputs))
	if err != nil {
		return nil, err
	}
	if err := r.updateStateSecret(ctx, conn, func(s *corev1.Secret) {
		s.Data[keyDeviceCode] = []byte(auth.DeviceCode)
		s.Annotations[AnnotationDeviceInterval] = auth.Interval.String()
	}); err != nil {
		return nil, clusterError{fmt.Errorf("storing the device code: %w", err)}
	}
	o.device = &sfv1.DeviceLoginStatus{VerificationURI: auth.VerificationURI, UserCode: auth.UserCode, ExpiresAt: statusTime(auth.ExpiresAt)}
	o.failure = awaitingApproval(conn, o.device, f.now.Add(auth.Interval))
	logf.FromContext(ctx).Info("Device login started", "connection", klog.KObj(conn), "verificationURI", auth.VerificationURI)
	r.event(conn, o, corev1.EventTypeNormal, sfv1.ReasonAwaitingApproval, "DeviceLogin", "%s", o.failure.message)
	return nil, nil
}

func (r *Reconciler) pollDeviceLogin(ctx context.Context, conn *sfv1.SalesforceConnection, f *facts, o *outcome, state *corev1.Secret) (*salesforce.Token, error) {
	interval, err := time.ParseDuration(state.Annotations[AnnotationDeviceInterval])
	if err != nil || interval <= 0 {
		interval = salesforce.DefaultDeviceInterval
	}
	o.device = conn.Status.DeviceLogin.DeepCopy()
	tok, err := r.Salesforce.PollDeviceLogin(ctx, deviceRequest(conn, f.inputs), string(state.Data[keyDeviceCode]))
	switch {
	case err == nil && tok.RefreshToken == "":
		o.device = nil
		return nil, &salesforce.Error{Class: salesforce.Terminal,
			Message: "the device login was approved without a refresh token: add the refresh_token scope to spec.auth.deviceLogin.scope and to the connected app"}
	case err == nil:
		// The refresh token is stored before anything else: it is the only copy. The login
		// URL goes with it, so a deletion revokes it where it was obtained.
		if err := r.updateStateSecret(ctx, conn, func(s *corev1.Secret) {
			s.Annotations[AnnotationSourceHash] = tokenDigest(deviceMarker(conn))
			s.Annotations[AnnotationLoginURL] = f.inputs.request.LoginURL
			s.Data[keyRefreshToken] = []byte(tok.RefreshToken)
			delete(s.Data, keyDeviceCode)
		}); err != nil {
			r.unsaved.Store(conn.UID, unsavedRefreshToken{sourceDigest: tokenDigest(deviceMarker(conn)), token: tok.RefreshToken})
			logf.FromContext(ctx).Error(err, "Storing the device login's refresh token failed; keeping it in memory", "connection", klog.KObj(conn))
		}
		o.device = nil
		return tok, nil
	case salesforce.ClassOf(err) == salesforce.Pending:
		if salesforce.IsSlowDown(err) {
			interval += 5 * time.Second
			if err := r.updateStateSecret(ctx, conn, func(s *corev1.Secret) {
				s.Annotations[AnnotationDeviceInterval] = interval.String()
			}); err != nil {
				return nil, clusterError{err}
			}
		}
		o.failure = awaitingApproval(conn, o.device, f.now.Add(interval))
		return nil, nil
	case salesforce.ClassOf(err) == salesforce.Terminal:
		// The code expired or the person declined: start over with a new code.
		if err := r.updateStateSecret(ctx, conn, func(s *corev1.Secret) { delete(s.Data, keyDeviceCode) }); err != nil {
			return nil, clusterError{err}
		}
		o.device = nil
		o.failure = &failure{reason: sfv1.ReasonAwaitingApproval, retryAt: f.now.Add(time.Second),
			message: fmt.Sprintf("The device login ended without approval (%v); starting a new one", err)}
		return nil, nil
	}
	return nil, err
}

// firstRevokeAttempt is when this process first tried to revoke for the connection. The
// grace runs on the injected clock rather than from the deletion timestamp (the API
// server's clock); a restart starts it again, which only lengthens the wait.
func (r *Reconciler) firstRevokeAttempt(conn *sfv1.SalesforceConnection) time.Time {
	t, _ := r.revokeAttempts.LoadOrStore(conn.UID, r.Clock.Now())
	return t.(time.Time)
}

func awaitingApproval(conn *sfv1.SalesforceConnection, d *sfv1.DeviceLoginStatus, retryAt time.Time) *failure {
	return &failure{reason: sfv1.ReasonAwaitingApproval, retryAt: retryAt,
		message: fmt.Sprintf("Waiting for %s to approve the connected app: open %s and enter the code %s before %s",
			conn.Spec.Auth.DeviceLogin.Username, d.VerificationURI, d.UserCode, stamp(d.ExpiresAt.Time))}
}

// approvalRefusal checks the ledger before a new approval is made: at five, the next one
// evicts the oldest, which may belong to another system. Refused unless the spec says
// EvictOldest.
func (r *Reconciler) approvalRefusal(ctx context.Context, conn *sfv1.SalesforceConnection, f *facts) (*failure, error) {
	if conn.Spec.ApprovalPolicy == sfv1.ApprovalPolicyEvictOldest {
		return nil, nil
	}
	self := conn.DeepCopy()
	self.Status.Approval = nil
	key := principalNameKey(f.inputs.request.ClientID, conn.Spec.Auth.DeviceLogin.Username)
	if p := conn.Status.Principal; p != nil && p.UserID != "" {
		key = principalIDKey(p)
	}
	view, err := r.ledger(ctx, key, self)
	if err != nil {
		return nil, clusterError{err}
	}
	if view.count() < approvalLimit {
		// Salesforce's own count, when the connection asked for it, sees the approvals
		// made outside the cluster too.
		if a := conn.Status.Approvals; a != nil && a.Salesforce != nil && a.Salesforce.AppName == conn.Spec.ConnectedAppName &&
			salesforceCount(a.Salesforce) >= approvalLimit {
			return &failure{reason: sfv1.ReasonApprovalLimitReached, terminal: true,
				message: fmt.Sprintf("A device login would make a sixth approval for %s and the connected app: Salesforce held %d approvals for them at %s (%s), and would revoke the oldest. "+
					"Release one (revoke it in Salesforce Setup, Connected Apps OAuth Usage), share an existing refresh token, or set spec.approvalPolicy: EvictOldest",
					conn.Spec.Auth.DeviceLogin.Username, *a.Salesforce.Count, stamp(a.Salesforce.CheckedAt.Time), describeOldest(a.Salesforce))}, nil
		}
		return nil, nil
	}
	return &failure{reason: sfv1.ReasonApprovalLimitReached, terminal: true,
		message: fmt.Sprintf("A device login would make a sixth approval for %s and the connected app, and Salesforce would revoke the oldest: %s. "+
			"Release one (revoke it in Salesforce Setup, Connected Apps OAuth Usage, or delete a deviceLogin connection, which revokes its token), share an existing refresh token, or set spec.approvalPolicy: EvictOldest",
			conn.Spec.Auth.DeviceLogin.Username, view.describe())}, nil
}

// finalize revokes the refresh token the operator obtained, then lets the connection go.
// Salesforce gets revokeGrace to answer; after that the finalizer goes anyway and a
// Warning event says what was left behind.
func (r *Reconciler) finalize(ctx context.Context, conn *sfv1.SalesforceConnection) (time.Duration, error) {
	if !controllerutil.ContainsFinalizer(conn, FinalizerRevoke) {
		return 0, nil
	}
	log := logf.FromContext(ctx)
	var leftBehind error
	token, loginURL := "", conn.Spec.LoginURL
	if state, err := r.readStateSecret(ctx, conn); err != nil {
		return 0, err
	} else if state != nil && state.Annotations[AnnotationSourceHash] == tokenDigest(deviceMarker(conn)) {
		token = string(state.Data[keyRefreshToken])
		if u := state.Annotations[AnnotationLoginURL]; u != "" {
			loginURL = u
		}
	}
	if u, ok := r.unsaved.Load(conn.UID); ok {
		token = u.(unsavedRefreshToken).token
	}
	if err := r.LoginHosts.Check(loginURL); token != "" && err != nil {
		// Never send a token to a host the operator may not contact.
		leftBehind, token = err, ""
	}
	if token != "" {
		rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		err := r.Salesforce.Revoke(rctx, loginURL, token)
		cancel()
		var sfErr *salesforce.Error
		switch {
		case err == nil:
			r.Recorder.Eventf(conn, nil, corev1.EventTypeNormal, "ApprovalRevoked", "Delete",
				"Revoked the refresh token obtained by device login")
		case errors.As(err, &sfErr) && sfErr.Code == "invalid_token":
			// Already dead: nothing left behind.
		case r.Clock.Since(r.firstRevokeAttempt(conn)) < revokeGrace:
			log.Info("Revoking the refresh token failed; retrying", "connection", klog.KObj(conn), "error", err.Error())
			return 10 * time.Second, nil
		default:
			leftBehind = err
		}
	}
	if leftBehind != nil {
		user := "the user"
		if p := conn.Status.Principal; p != nil && p.Username != "" {
			user = p.Username
		}
		r.Recorder.Eventf(conn, nil, corev1.EventTypeWarning, "RevocationFailed", "Delete",
			"Could not revoke the refresh token obtained by device login within %s (%v): it is still an approval of %s for the connected app; revoke it in Salesforce Setup, Connected Apps OAuth Usage",
			revokeGrace, leftBehind, user)
	}
	r.unsaved.Delete(conn.UID)
	r.revokeAttempts.Delete(conn.UID)
	patch := client.MergeFrom(conn.DeepCopy())
	controllerutil.RemoveFinalizer(conn, FinalizerRevoke)
	return 0, client.IgnoreNotFound(r.Client.Patch(ctx, conn, patch))
}

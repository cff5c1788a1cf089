package controller

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/authflow"
	"github.com/sfconn/sfconn-operator/internal/failure"
	"github.com/sfconn/sfconn-operator/internal/owned"
	"github.com/sfconn/sfconn-operator/internal/pacing"
	"github.com/sfconn/sfconn-operator/internal/salesforce"
	"github.com/sfconn/sfconn-operator/internal/tokensecret"
)

// token keeps a valid token in the token Secret. It reads the stored token, decides
// whether a login is due, logs in through the connection's flow only then, and writes
// the Secret only when it changed. It owns the token fields of status, the device login
// instructions, lastFailure and lastHandledReconcileAt; it is due at the renewal (when the
// renewal plan wakes it, or by itself without a plan) and at the expiry of the token.
func (r *Reconciler) token(ctx context.Context, p *pass) (time.Time, error) {
	f, err := r.observeToken(ctx, p)
	if err != nil {
		return time.Time{}, err
	}
	p.tokenChecked = true
	d := decide(f)
	if d.login {
		// Asked before the credentials are read: a connection that must wait for its turn
		// reads them once, when the turn comes.
		if wait := r.Users.Admit(f.user, f.now); wait > 0 {
			p.log.V(1).Info("Waiting for the user's login budget", "for", wait)
			p.deferred = true
			return f.now.Add(wait), nil
		}
		if wait := r.Limiter.Admit(r.orgOf(p), p.key, f.now); wait > 0 {
			// Waiting for a login slot changes nothing a person needs to see: the status
			// stays as it is (a new connection reads as in progress), and the turn is kept.
			p.log.V(1).Info("Waiting for a login slot", "for", wait)
			p.deferred = true
			return f.now.Add(wait), nil
		}
	}
	p.failure = d.blocked
	switch {
	case d.rewrite:
		err = r.rewrite(ctx, p, f)
	case d.login:
		p.forced = d.forced
		err = r.renew(ctx, p, f, d.why)
	}
	if p.failure != nil && p.failure.RetryAt.IsZero() {
		p.failure.RetryAt = retryAt(p.failure, consecutiveFailures(f), f.uid, f.now)
	}
	if p.loginFailed && p.failure.Class == failure.RateLimited {
		r.Users.Block(f.user, p.failure.RetryAt)
	}
	p.status.LastFailure = nextLastFailure(p, f)
	p.status.LastHandledReconcileAt = f.requestedAt
	p.status.CredentialsMissing = p.credentialsMissing
	if f.adoptable && p.secretWritten && err == nil {
		p.log.Info("Adopted token Secret")
		r.event(p, corev1.EventTypeNormal, sfv1.EventTokenSecretAdopted, "Adopt",
			"Took over Secret %s, left by a deleted connection with deletionPolicy Orphan and written by the operator for the same inputs", tokensecret.Name(p.conn))
	}
	// Status says what the token Secret holds even when a write failed.
	return r.tokenStatus(p, f), err
}

// rewrite writes the stored token again: its lifetime or its Secret's metadata changed,
// or the Secret was deleted or edited while this process remembers the token.
func (r *Reconciler) rewrite(ctx context.Context, p *pass, f *facts) error {
	tok := f.stored.Clone()
	tok.SetLifetime(f.sessionTimeout)
	if err := r.writeTokenSecret(ctx, p, tok); err != nil {
		return err
	}
	p.token = tok
	if f.restored {
		p.log.Info("Restored token Secret")
		r.event(p, corev1.EventTypeNormal, sfv1.EventTokenRestored, "Repair",
			"Restored Secret %s, deleted or edited by someone else, with the current token: no new login", tokensecret.Name(p.conn))
	}
	return nil
}

// renew logs in through the connection's flow and writes the new token.
func (r *Reconciler) renew(ctx context.Context, p *pass, f *facts, why string) error {
	if f.inputs.Unread {
		// A login is due: it needs the credentials, and they may say more than their
		// version did (a key gone missing since).
		problem, err := r.readCredentials(ctx, p, f)
		if err != nil {
			return err
		}
		if problem != nil {
			p.failure = problem
			return nil
		}
	}
	p.inputs = f.inputs
	p.log.Info("Logging in to Salesforce", "grant", f.inputs.Request.Grant, "why", why)
	if f.tokenRejected {
		r.event(p, corev1.EventTypeWarning, sfv1.EventTokenRejected, "Verify",
			"Salesforce refused the token of Secret %s before its expiry at %s (revoked, or its session ended): renewing now",
			tokensecret.Name(p.conn), stamp(f.stored.ExpiresAt))
	}
	res, err := p.flow.Login(ctx, r.loginEnv(p), f.inputs)
	// A failed poll of a device login still shows the code a person may be typing.
	p.login = res
	if fl := failure.As(err); fl != nil {
		p.failure, p.loginFailed = fl, true
		r.recordLoginFailure(p, fl, err)
		return nil
	} else if err != nil {
		return err
	}
	if res.Token == nil {
		p.failure = res.Pending
		return nil
	}
	if err := r.LoginHosts.CheckInstance(res.Token.InstanceURL); err != nil {
		// Workloads send the token wherever instance_url points, so it goes nowhere, and
		// Salesforce is asked to forget it. Recorded as a failed login that backs off
		// rather than waits for a change: the remedy is the operator's
		// --allowed-login-hosts, which the connection does not see change.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), authflow.LoginTimeout)
		revokeErr := r.Salesforce.Revoke(rctx, f.inputs.Request.LoginURL, res.Token.AccessToken)
		cancel()
		revoked := "the operator revoked it"
		if revokeErr != nil {
			revoked = fmt.Sprintf("revoking it failed (%v); it lapses with its session", revokeErr)
		}
		p.failure = failure.New(failure.Retryable, sfv1.ReasonInvalidSpec,
			"Salesforce answered with an instance_url the operator will not hand to workloads: %v; %s. Add its host to --allowed-login-hosts if it is right", err, revoked)
		p.loginFailed = true
		r.recordLoginFailure(p, p.failure, err)
		return nil
	}
	return r.issue(ctx, p, f, res.Token)
}

// issue writes a new token to the token Secret.
func (r *Reconciler) issue(ctx context.Context, p *pass, f *facts, answer *salesforce.Token) error {
	tok := tokensecret.FromAnswer(answer, f.sessionTimeout, f.inputs.Hash)
	if exp, ok := r.introspectedExpiry(ctx, p, f.inputs, answer); ok {
		tok.SetIntrospectedExpiry(exp)
	}
	tok.InputsVersion = inputsVersionOf(p.conn.Generation, f.inputs.CredentialsVersion)
	// Remembered before the write: if the API server fails the write, the next pass
	// restores this token instead of logging in again.
	r.rememberToken(p.key, tok, nil)
	if err := r.writeTokenSecret(ctx, p, tok); err != nil {
		return err
	}
	p.token, p.renewed, p.failure, p.rejected = tok, true, nil, false
	reason, verb, announce := issueEvent(f)
	p.log.Info(verb+" token", "expiresAt", tok.ExpiresAt)
	if announce {
		r.event(p, corev1.EventTypeNormal, reason, "Login",
			"%s a token valid until %s into Secret %s", verb, stamp(tok.ExpiresAt), tokensecret.Name(p.conn))
	}
	r.reportLifetime(p, f, tok)
	return nil
}

// issueEvent says which event a successful login records, and whether it records one at
// all. A routine issuance or renewal is no news, and an event each would be a third of the
// operator's writes at scale: Ready's message, status and the log tell of it. A person
// who asked for the renewal (the requestedAt annotation, kubectl sfconn renew) hears the
// answer. Transitions that matter (Ready regained, failures) have events of their own
// (transitionEvents). Pure.
func issueEvent(f *facts) (reason, verb string, announce bool) {
	reason, verb = sfv1.EventTokenRenewed, "Renewed"
	if f.stored == nil {
		reason, verb = sfv1.EventTokenIssued, "Issued"
	}
	return reason, verb, renewalRequested(f)
}

// writeTokenSecret creates or updates the token Secret, only when it differs, and
// remembers what it wrote. A template that fails with this token still lets the token
// through; the next pass reports the template.
func (r *Reconciler) writeTokenSecret(ctx context.Context, p *pass, tok *tokensecret.Token) error {
	desired, _ := tokensecret.Desired(p.conn, tok, r.sealKey)
	s := &corev1.Secret{}
	s.Namespace, s.Name = desired.Namespace, desired.Name
	opts := owned.Options{Orphan: tokensecret.Orphaned(p.conn), Claim: func(o client.Object) bool { return r.claims(p, o.(*corev1.Secret)) }}
	clients := r.clients()
	// The Secret is written over what it holds: its template keys of an earlier write
	// are pruned, and nothing is written if nothing changed.
	clients.Read = tokenSecretReader{r: r, known: p.tokenSecret}
	err := owned.EnsureWith(ctx, clients, p.conn, s, opts, func() error {
		applyDesired(s, desired)
		return nil
	})
	if err != nil {
		return err
	}
	p.secretWritten = true
	r.rememberToken(p.key, tok, s)
	return nil
}

// applyDesired makes the token Secret s what desired says, keeping the metadata of others.
func applyDesired(s, desired *corev1.Secret) {
	tokensecret.PruneTemplateMetadata(s, desired)
	s.Labels = owned.MergeMaps(s.Labels, desired.Labels)
	s.Annotations = owned.MergeMaps(s.Annotations, desired.Annotations)
	// The unkeyed hash of operators before seals means nothing any more.
	delete(s.Annotations, tokensecret.AnnotationDataHash)
	if _, ok := desired.Annotations[tokensecret.AnnotationWrittenFor]; !ok {
		// Owned again (deletionPolicy Delete): the seal no longer covers it.
		delete(s.Annotations, tokensecret.AnnotationWrittenFor)
	}
	s.Type = desired.Type
	s.Data = desired.Data
}

// clients are the operator's for its own objects: read from the cache first.
func (r *Reconciler) clients() owned.Clients {
	return owned.Clients{Client: r.Client, Read: r.Client, Uncached: r.APIReader, Writes: &r.echoes}
}

// loginEnv is what the connection's flow logs in with.
func (r *Reconciler) loginEnv(p *pass) *authflow.Env {
	env := &authflow.Env{
		Salesforce: r.Salesforce,
		State:      r.state,
		Chains:     r.chains,
		Now:        p.now,
		Log:        p.log,
		Record: func(eventType, reason, action, note string) {
			r.event(p, eventType, reason, action, "%s", note)
		},
		ReserveApproval: func(ctx context.Context) error { return r.reserveApproval(ctx, p) },
		CheckApprovals:  func(ctx context.Context) error { return r.approvalRefusal(ctx, p) },
	}
	if p.keys != nil {
		env.Keys = &generatedKeys{r: r, p: p}
	}
	return env
}

// tokenStatus sets the token fields of status from the token the pass leaves, books its
// renewal in the renewal plan, and returns when the token step is next due by itself.
func (r *Reconciler) tokenStatus(p *pass, f *facts) time.Time {
	st := p.status
	if p.login != nil {
		st.DeviceLogin = p.login.Device
	} else {
		st.DeviceLogin = nil
	}
	if p.token == nil {
		st.IssuedAt, st.ExpiresAt, st.RenewAt, st.ExpirySource, st.TokenSecretName = nil, nil, nil, "", ""
		r.Planner.Unbook(p.key)
		return time.Time{}
	}
	renew := f.renewalOf(p.token)
	st.InstanceURL = p.token.InstanceURL()
	st.OrgID = p.token.OrgID()
	st.UserID = p.token.UserID()
	st.IssuedAt = timePtr(p.token.IssuedAt)
	st.ExpiresAt = timePtr(p.token.ExpiresAt)
	st.ExpirySource = p.token.ExpirySource()
	st.RenewAt = timePtr(renew)
	st.TokenSecretName = tokensecret.Name(p.conn)

	next := renew
	if !p.now.Before(renew) {
		// Past renewal (a failure holds it back): the expiry still turns Expiring from
		// RenewalFailing to Expired on time.
		next = p.token.ExpiresAt
	}
	// The renewal plan wakes the connection when its renewal starts (earlier than its
	// renewal time in a crowded stretch of the user or the org): a requeue of its own
	// would cost a pass whenever the plan moved, and another after the renewal.
	if r.Planner.Book(r.orgOf(p), plannedUser(p, f), p.key, p.token.IssuedAt, renew, p.now) {
		return time.Time{}
	}
	return next
}

// orgOf names the org of the connection's logins, for pacing.
func (r *Reconciler) orgOf(p *pass) string {
	return pacing.OrgKey(p.conn.Status.OrgID, authflow.LoginURL(p.conn))
}

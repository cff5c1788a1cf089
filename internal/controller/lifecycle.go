package controller

// Lifecycle controls: spec.suspend, and the grace a missing credentials Secret gets
// before the connection is Stalled. The decisions are pure functions (lifecycle_test.go).

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/failure"
)

// suspended is the whole pass of a suspended connection: it reads the token Secret to say
// what it holds, and writes nothing else than status. No step runs, so no login, no
// write to the token Secret, no device login poll, no probe, approval check or restart.
// It comes back when the token expires, for Ready to say so; resuming is a spec change,
// which wakes it anyway.
func (r *Reconciler) suspended(ctx context.Context, p *pass) error {
	p.suspended = true
	// The renewal plan must not hold a turn for a connection that will not log in.
	r.Planner.Unbook(p.key)
	// Nothing waits for the credentials while suspended: resuming starts a new grace.
	p.status.CredentialsMissing = nil
	if p.flow == nil {
		return nil
	}
	secret, state, err := r.getTokenSecret(ctx, p.conn)
	if err != nil {
		return err
	}
	if state != secretOurs {
		return nil
	}
	if tok, intact := r.readTokenSecret(p, secret); intact {
		p.token = tok
		p.wakeAt(tok.ExpiresAt)
	}
	return nil
}

// setSuspendedConditions derives the conditions of a suspended connection. Suspended
// says it; Ready keeps describing the token in the Secret. Reconciling goes: nothing is
// in progress, and kstatus (Flux's health checks) must not wait for a suspended
// connection forever, which Flux's own suspended objects were fixed not to make it do.
// With a valid token, kstatus reads it as Current. Without one, kstatus would read Ready
// False as in progress forever, so Stalled says what is true: only a person setting
// spec.suspend to false brings a token, and a health check fails at once rather than
// time out. Expiring goes: no renewal is failing, none is tried. Revoked and
// ApprovalLimit stay as the last pass that looked found them.
func setSuspendedConditions(p *pass) {
	st, gen := p.status, p.conn.Generation
	set := func(c metav1.Condition) {
		c.ObservedGeneration = gen
		meta.SetStatusCondition(&st.Conditions, c)
	}
	set(metav1.Condition{Type: sfv1.ConditionSuspended, Status: metav1.ConditionTrue, Reason: sfv1.ReasonSuspended,
		Message: "spec.suspend is true: the operator does not log in or write the token Secret until it is false"})
	ready := metav1.Condition{Type: sfv1.ConditionReady, Status: metav1.ConditionFalse, Reason: sfv1.ReasonSuspended}
	switch {
	case tokenValid(p):
		ready.Status, ready.Reason = metav1.ConditionTrue, sfv1.ReasonTokenIssued
		ready.Message = fmt.Sprintf("Token valid until %s; not renewed while the connection is suspended", stamp(p.token.ExpiresAt))
	case p.token != nil && !p.rejected:
		ready.Message = fmt.Sprintf("The token in the Secret expired at %s; the connection is suspended, so no new one is obtained until spec.suspend is false", stamp(p.token.ExpiresAt))
	default:
		ready.Message = "The token Secret holds no token the operator can vouch for; the connection is suspended, so none is obtained until spec.suspend is false"
	}
	set(ready)
	if ready.Status == metav1.ConditionFalse {
		set(metav1.Condition{Type: sfv1.ConditionStalled, Status: metav1.ConditionTrue, Reason: sfv1.ReasonSuspended, Message: ready.Message})
	} else {
		meta.RemoveStatusCondition(&st.Conditions, sfv1.ConditionStalled)
	}
	for _, t := range []string{sfv1.ConditionReconciling, sfv1.ConditionExpiring} {
		meta.RemoveStatusCondition(&st.Conditions, t)
	}
}

// credentialsGrace decides what a missing credentials Secret does. GitOps tools apply a
// connection and its credentials together, and External Secrets creates the Secret only
// once it has fetched it: for grace from when the connection first found the Secret
// missing under this name, the connection waits for it (WaitingForPerson: Reconciling,
// not Stalled) and is woken at the end of the grace to say it is Stalled; the Secret
// appearing wakes it at once, through the watch of Secret versions. The start is kept in
// status, so a restart of the operator neither restarts nor ends the grace. missing is
// the name of the Secret found missing this pass, "" when none was; terminal is the
// failure that reports it.
func credentialsGrace(missing string, prev *sfv1.MissingSecret, now time.Time, grace time.Duration, terminal *failure.Failure) (*sfv1.MissingSecret, *failure.Failure) {
	if missing == "" {
		return nil, terminal
	}
	rec := prev
	if rec == nil || rec.Name != missing {
		rec = &sfv1.MissingSecret{Name: missing, Since: statusTime(now)}
	}
	deadline := rec.Since.Add(grace)
	if grace <= 0 || !now.Before(deadline) {
		if grace > 0 {
			terminal = failure.New(terminal.Class, terminal.Reason, "%s (missing since %s)", terminal.Message, stamp(rec.Since.Time))
		}
		return rec, terminal
	}
	waiting := failure.New(failure.WaitingForPerson, sfv1.ReasonCredentialsNotFound,
		"%s: waiting for it until %s (--credentials-grace-period), as Flux or External Secrets may create it after the connection",
		terminal.Message, stamp(deadline))
	waiting.RetryAt = deadline
	return rec, waiting
}

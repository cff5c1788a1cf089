package controller

import (
	"fmt"
	"math"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/authflow"
	"github.com/sfconn/sfconn-operator/internal/failure"
)

// handling is what a class of failure does to a connection.
type handling struct {
	// stalled: progress needs a person's change of the spec or credentials (Stalled=True,
	// nothing is tried); otherwise the operator tries again (Reconciling=True).
	stalled bool
	// keepsReady: Ready stays True while the token in the Secret is still valid; the
	// workloads are not affected yet.
	keepsReady bool
	// retry is the wait after the count-th consecutive failure; nil when nothing is tried
	// (stalled) or the controller's own backoff retries (the API server's failures).
	retry func(count int32, uid string) time.Duration
	// event is the type of the event that reports a failed login of this class.
	event string
}

// handlings is the one place a failure becomes conditions, events and requeues.
var handlings = map[failure.Class]handling{
	failure.Retryable:   {keepsReady: true, retry: exponential(5*time.Second, 5*time.Minute), event: corev1.EventTypeWarning},
	failure.RateLimited: {keepsReady: true, retry: exponential(15*time.Minute, time.Hour), event: corev1.EventTypeWarning},
	// A person is at work elsewhere: a steady retry the docs can promise, without jitter
	// (a person, not a crowd, is waited for).
	failure.WaitingForPerson: {keepsReady: true, retry: func(int32, string) time.Duration { return authflow.AwaitingAdminRetry },
		event: corev1.EventTypeWarning},
	failure.Terminal: {stalled: true, event: corev1.EventTypeWarning},
	failure.Revoked:  {stalled: true, event: corev1.EventTypeWarning},
	failure.Cluster:  {keepsReady: true, event: corev1.EventTypeWarning},
}

const backoffJitter = 0.2

// exponential backs off from base, doubling per consecutive failure up to ceiling, with
// up to 20% jitter from the connection's UID, so connections failing together spread out.
// The login rate limit (3,600 logins per user per hour) is only made worse by retrying,
// so it starts long (docs/salesforce-behaviour.md#login-rate-limit-3600-per-user-per-hour).
func exponential(base, ceiling time.Duration) func(int32, string) time.Duration {
	return func(count int32, uid string) time.Duration {
		count = max(count, 1)
		d := min(float64(base)*math.Pow(2, float64(count-1)), float64(ceiling))
		return time.Duration(d * (1 + backoffJitter*fraction(uid, backoffSalt(count))))
	}
}

// backoff is the wait after the count-th consecutive failure of class.
func backoff(class failure.Class, count int32, uid string) time.Duration {
	if h := handlings[class]; h.retry != nil {
		return h.retry(count, uid)
	}
	return 0
}

// retryAt is when a failure is tried again by the operator itself; zero when nothing is
// tried, or the controller's backoff tries.
func retryAt(f *failure.Failure, count int32, uid string, now time.Time) time.Time {
	if !f.RetryAt.IsZero() || handlings[f.Class].retry == nil {
		return f.RetryAt
	}
	return now.Add(backoff(f.Class, count, uid))
}

// tokenValid says whether the token Secret holds a token that works now.
func tokenValid(p *pass) bool {
	return p.token != nil && p.now.Before(p.token.ExpiresAt) && !p.rejected
}

// setTokenConditions derives Ready, Stalled, Reconciling, Expiring and Revoked from the
// token the pass leaves and the failure it ends with.
func setTokenConditions(p *pass) {
	st, gen, fl := p.status, p.conn.Generation, p.failure
	set := func(c metav1.Condition) {
		c.ObservedGeneration = gen
		meta.SetStatusCondition(&st.Conditions, c)
	}
	h := handling{}
	if fl != nil {
		h = handlings[fl.Class]
	}

	ready := metav1.Condition{Type: sfv1.ConditionReady, Status: metav1.ConditionTrue, Reason: sfv1.ReasonTokenIssued}
	switch {
	case fl == nil:
		ready.Message = fmt.Sprintf("Token valid until %s; renewal at %s", stamp(p.token.ExpiresAt), stamp(st.RenewAt.Time))
	case h.keepsReady && tokenValid(p):
		ready.Message = fmt.Sprintf("Token valid until %s; renewing failed (%s), %s", stamp(p.token.ExpiresAt), fl.Message, nextAttempt(fl))
	default:
		ready.Status, ready.Reason, ready.Message = metav1.ConditionFalse, fl.Reason, failureMessage(p)
	}
	set(ready)

	if fl != nil && h.stalled {
		set(metav1.Condition{Type: sfv1.ConditionStalled, Status: metav1.ConditionTrue, Reason: fl.Reason, Message: fl.Message})
	} else {
		meta.RemoveStatusCondition(&st.Conditions, sfv1.ConditionStalled)
	}
	if fl != nil && !h.stalled {
		setReconciling(st, gen, fl)
	} else {
		meta.RemoveStatusCondition(&st.Conditions, sfv1.ConditionReconciling)
	}
	meta.RemoveStatusCondition(&st.Conditions, sfv1.ConditionSuspended)

	// Expiring: the renewal time has passed without a new token.
	if p.token == nil || p.renewed || p.now.Before(st.RenewAt.Time) {
		meta.RemoveStatusCondition(&st.Conditions, sfv1.ConditionExpiring)
	} else {
		c := metav1.Condition{Type: sfv1.ConditionExpiring, Status: metav1.ConditionTrue,
			Reason: sfv1.ReasonExpiredToken, Message: fmt.Sprintf("The token in the Secret expired at %s", stamp(p.token.ExpiresAt))}
		if tokenValid(p) {
			c.Reason = sfv1.ReasonRenewalFailing
			c.Message = fmt.Sprintf("The token expires at %s and has not been renewed yet", stamp(p.token.ExpiresAt))
		}
		if fl != nil {
			c.Message += ": " + fl.Message
		}
		set(c)
	}

	// Revoked restates Salesforce's answer: the refresh token is dead.
	if fl != nil && fl.Reason == sfv1.ReasonRevoked {
		set(metav1.Condition{Type: sfv1.ConditionRevoked, Status: metav1.ConditionTrue, Reason: sfv1.ReasonRefreshTokenRevoked, Message: fl.Message})
	} else {
		meta.RemoveStatusCondition(&st.Conditions, sfv1.ConditionRevoked)
	}
}

// setReconciling says the operator is at work on a failure it tries again.
func setReconciling(st *sfv1.SalesforceConnectionStatus, gen int64, fl *failure.Failure) {
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: sfv1.ConditionReconciling, Status: metav1.ConditionTrue,
		ObservedGeneration: gen, Reason: fl.Reason, Message: fmt.Sprintf("Obtaining a token: %s; %s", fl.Message, nextAttempt(fl))})
}

// nextAttempt says when the operator tries again.
func nextAttempt(f *failure.Failure) string {
	if f.RetryAt.IsZero() {
		return "trying again with backoff"
	}
	return "next attempt at " + stamp(f.RetryAt)
}

// failureMessage is Ready's message when the failure leaves no valid token.
func failureMessage(p *pass) string {
	fl := p.failure
	msg := fl.Message
	if !handlings[fl.Class].stalled {
		msg = fmt.Sprintf("%s; %s", msg, nextAttempt(fl))
	}
	switch {
	case p.token != nil && p.rejected:
		msg = fmt.Sprintf("%s; Salesforce refused the token in the Secret before its expiry (revoked, or its session ended)", msg)
	case p.token != nil && !tokenValid(p):
		msg = fmt.Sprintf("%s; the token in the Secret expired at %s", msg, stamp(p.token.ExpiresAt))
	}
	return msg
}

// recordLoginFailure tells a person that a login failed, in the log and in an event of
// the class's type.
func (r *Reconciler) recordLoginFailure(p *pass, fl *failure.Failure, err error) {
	p.log.Info("Login failed", "reason", fl.Reason, "error", err.Error())
	r.event(p, handlings[fl.Class].event, fl.Reason, "Login", "%s", fl.Message)
}

// nextLastFailure is status.lastFailure after a pass: a failed login is recorded with
// the inputs it was made with, so that backoff and "wait for a change" survive restarts;
// a pass without a failure clears it; any other failure leaves it as it was.
func nextLastFailure(p *pass, f *facts) *sfv1.LoginFailure {
	switch {
	case p.failure == nil:
		return nil
	case !p.loginFailed:
		return p.conn.Status.LastFailure
	}
	lf := &sfv1.LoginFailure{
		Time:               statusTime(f.now),
		Count:              consecutiveFailures(f),
		Reason:             p.failure.Reason,
		Class:              string(p.failure.Class),
		Message:            p.failure.Message,
		ObservedGeneration: f.generation,
		Requested:          p.forced,
	}
	if f.inputs != nil {
		lf.CredentialsResourceVersion = f.inputs.CredentialsVersion
	}
	return lf
}

// statusTime is t as status stores it: RFC 3339 keeps whole seconds, so a time with a
// fraction would differ from its own stored copy and cause a write every pass.
func statusTime(t time.Time) metav1.Time { return metav1.NewTime(t.Truncate(time.Second)) }

func timePtr(t time.Time) *metav1.Time {
	mt := statusTime(t)
	return &mt
}

package controller

import (
	"fmt"
	"hash/fnv"
	"time"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/authflow"
	"github.com/sfconn/sfconn-operator/internal/failure"
	"github.com/sfconn/sfconn-operator/internal/tokensecret"
)

const (
	// defaultSessionTimeout is the session timeout when the spec leaves it out: what
	// Salesforce gives when nothing is set (docs/salesforce-behaviour.md#two-hours-when-nothing-is-set).
	defaultSessionTimeout = 2 * time.Hour
	// renewJitter spreads renewals of tokens issued at the same moment over this fraction
	// of renewBefore, always earlier than renewAt would otherwise be, never later.
	renewJitter = 0.1
)

// secretState is what the pass found under the token Secret's name.
type secretState int

const (
	secretMissing secretState = iota
	secretOurs
	// secretForeign: a Secret the connection does not control; never overwritten.
	secretForeign
	// secretUnclaimed: an ownerless token Secret the operator sealed, left by a deleted
	// connection; adopted only when its inputs are this connection's (token_adoption.go).
	secretUnclaimed
)

// facts is everything the token step observed. decide reads nothing else: no clients,
// no clock.
type facts struct {
	now        time.Time
	generation int64
	uid        string

	sessionTimeout time.Duration
	renewBefore    time.Duration
	// renewBeforeSet is set when renewBefore comes from the spec rather than the default.
	renewBeforeSet bool

	// inputs are the login's inputs; Unread when the credentials were not read.
	inputs *authflow.Inputs
	// blocked is what prevents any login: the spec, the credentials, the login host, the
	// template, the generated key, or a token Secret name taken by someone else.
	blocked *failure.Failure
	// tokenRejected is set when Salesforce refused the stored token before its expiry.
	tokenRejected bool
	// plannedStart is when the renewal plan starts the stored token's renewal: earlier
	// than the renewal time when the user's login budget or the org's login limit needs
	// it; zero without a plan.
	plannedStart time.Time
	// userBlockedUntil is set while Salesforce's rate limit of the user, met by any of the
	// user's connections, holds every login of the user back.
	userBlockedUntil time.Time

	secret secretState
	// stored is the token in the token Secret, nil when there is none usable.
	stored *tokensecret.Token
	// intact is false when someone else edited the token Secret's data.
	intact bool
	// metadataDrift is set when the token Secret lost the labels or annotations the
	// operator puts on it (without them it drops out of the operator's cache).
	metadataDrift bool
	// restored is set when the token Secret was deleted or edited and stored holds the
	// token this process last wrote to it, to be written back without a login.
	restored bool
	// adoptable is set when the token Secret is an ownerless one the operator sealed for
	// these inputs: the connection takes it over, without a login while it is valid.
	// notAdoptable is set when it is an ownerless one the connection may not take.
	adoptable, notAdoptable bool

	lastFailure *sfv1.LoginFailure

	// requestedAt is the reconcile.fluxcd.io/requestedAt annotation; lastHandled the value
	// the operator last acted on.
	requestedAt, lastHandled string
	// user names the Salesforce user the connection logs in as (userKey).
	user string
}

// decision is what the token step will do.
type decision struct {
	// login is set when a new token is needed; why says which rule asked for it.
	login bool
	why   string
	// blocked is set when no login may be attempted now.
	blocked *failure.Failure
	// rewrite is set when the stored token stays but its Secret must be rewritten: a new
	// session timeout changes expires_at, or its labels or annotations were lost.
	rewrite bool
	// forced is set when a renewal request let the login go past a held failure.
	forced bool
}

// loginTrigger is one rule of the renewal policy chain: it returns why a new token is
// needed, or "" when it sees no reason.
type loginTrigger func(f *facts) string

// loginTriggers are checked in order; the first that fires gives the reason.
var loginTriggers = []loginTrigger{
	func(f *facts) string {
		if f.secret == secretMissing {
			return "the token Secret does not exist"
		}
		return ""
	},
	func(f *facts) string {
		if f.stored == nil || !f.intact {
			return "the token Secret was changed by someone else"
		}
		return ""
	},
	func(f *facts) string {
		if f.stored.InputsHash != f.inputs.Hash {
			return "the spec or the credentials changed"
		}
		return ""
	},
	func(f *facts) string {
		if f.tokenRejected {
			return "Salesforce refused the token before its expiry (userinfo): it was revoked, or its session ended"
		}
		return ""
	},
	func(f *facts) string {
		if renewalRequested(f) {
			return "a renewal was requested (" + sfv1.AnnotationRequestedAt + ")"
		}
		return ""
	},
	func(f *facts) string {
		if !f.now.Before(f.renewalOf(f.stored)) {
			return "the renewal time was reached"
		}
		return ""
	},
	func(f *facts) string {
		if !f.plannedStart.IsZero() && !f.now.Before(f.plannedStart) {
			return "the renewal plan starts this renewal early, so that the user's login budget (--user-logins-per-hour) and the org's login limit (--salesforce-qps) admit every renewal due around the same time before its renewal time"
		}
		return ""
	},
}

// decide chooses between keeping the stored token, logging in, and waiting.
func decide(f *facts) decision {
	if f.blocked != nil {
		return decision{blocked: f.blocked}
	}
	why := ""
	for _, trigger := range loginTriggers {
		if why = trigger(f); why != "" {
			break
		}
	}
	if why == "" {
		return decision{rewrite: f.metadataDrift || !f.stored.LifetimeMatches(f.sessionTimeout)}
	}
	// Nothing goes past a rate limit: another login only prolongs it, for every
	// connection of the user.
	if !f.userBlockedUntil.IsZero() {
		return decision{blocked: &failure.Failure{Class: failure.RateLimited, Reason: sfv1.ReasonRateLimited, RetryAt: f.userBlockedUntil,
			Message: fmt.Sprintf("Salesforce refused a login of this user as over its login rate limit (3,600 logins per user per hour); every connection of the user waits until %s", stamp(f.userBlockedUntil))}}
	}
	held := heldByFailure(f)
	if held != nil && !requestPasses(f, held) {
		return decision{blocked: held}
	}
	return decision{login: true, why: why, forced: held != nil}
}

// requestPasses says whether a new renewal request goes past a held failure. A request is
// a person saying "try now", after fixing something the operator cannot see (a Salesforce
// setting): it goes past a terminal failure each time, and past a backoff once per step
// of it, so that a tool setting requestedAt in a loop cannot make a login storm; never
// past a rate limit.
func requestPasses(f *facts, held *failure.Failure) bool {
	switch {
	case !renewalRequested(f), held.Class == failure.RateLimited:
		return false
	case held.Class.WaitsForChange():
		return true
	}
	return !f.lastFailure.Requested
}

// renewalRequested says whether the requestedAt annotation holds a value not acted on yet.
func renewalRequested(f *facts) bool { return f.requestedAt != "" && f.requestedAt != f.lastHandled }

// sameInputs says whether the last failure was made with the inputs of this pass: the
// same spec generation and credentials Secret version.
func sameInputs(f *facts) bool {
	lf := f.lastFailure
	return lf != nil && f.inputs != nil && lf.ObservedGeneration == f.generation &&
		lf.CredentialsResourceVersion == f.inputs.CredentialsVersion
}

// heldByFailure returns the last failure when it still applies: it was made with the same
// inputs, and it waits for a change or its retry time is ahead. Kept in status, so neither
// a restart nor a resync turns a wrong password into a login storm.
func heldByFailure(f *facts) *failure.Failure {
	if !sameInputs(f) {
		return nil
	}
	lf := f.lastFailure
	held := &failure.Failure{Class: classOf(lf), Reason: lf.Reason, Message: lf.Message}
	if held.Class.WaitsForChange() {
		return held
	}
	held.RetryAt = lf.Time.Add(backoff(held.Class, lf.Count, f.uid))
	if f.now.Before(held.RetryAt) {
		return held
	}
	return nil
}

// classOf is the class status recorded for a failure; an operator before classes
// recorded none, and a retry is the safe reading of that.
func classOf(lf *sfv1.LoginFailure) failure.Class {
	if lf.Class == "" {
		return failure.Retryable
	}
	return failure.Class(lf.Class)
}

// consecutiveFailures counts a login failing now: one more than the last failure when that
// was made with the same inputs, else the first.
func consecutiveFailures(f *facts) int32 {
	if sameInputs(f) {
		return f.lastFailure.Count + 1
	}
	return 1
}

// renewalOf is when a token is renewed. Its expiry is issued-at plus the session timeout,
// or Salesforce's introspected exp, which a change of spec does not move. An introspected
// lifetime no longer than renewBefore (Salesforce's session timeout is shorter than the
// spec says) renews a third of its lifetime before the end rather than at once, which
// would renew in a loop; so does the default renewBefore, a third of the lifetime.
func (f *facts) renewalOf(t *tokensecret.Token) time.Time {
	expires, before := t.IssuedAt.Add(f.sessionTimeout), f.renewBefore
	if t.Introspected {
		expires = t.ExpiresAt
		if lifetime := expires.Sub(t.IssuedAt); !f.renewBeforeSet || before >= lifetime {
			before = lifetime / 3
		}
	}
	return renewAt(expires, before, f.uid)
}

// renewAt is when a token expiring at expiresAt is renewed: renewBefore ahead of expiry,
// moved earlier by a per-connection jitter so tokens issued together do not all renew in
// the same second. The jitter comes from the UID, so it is stable across restarts.
func renewAt(expiresAt time.Time, renewBefore time.Duration, uid string) time.Time {
	jitter := time.Duration(fraction(uid, "renew") * renewJitter * float64(renewBefore))
	// Whole seconds, as status stores it; rounding down keeps it early, never late.
	return expiresAt.Add(-renewBefore - jitter).Truncate(time.Second)
}

// fraction maps (uid, salt) to [0, 1), deterministically.
func fraction(uid, salt string) float64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(uid))
	_, _ = h.Write([]byte(salt))
	return float64(h.Sum64()%10000) / 10000
}

// effectiveDurations applies the spec's defaults.
func effectiveDurations(spec *sfv1.SalesforceConnectionSpec) (sessionTimeout, renewBefore time.Duration) {
	sessionTimeout = defaultSessionTimeout
	if spec.SessionTimeout != nil && spec.SessionTimeout.Duration > 0 {
		sessionTimeout = spec.SessionTimeout.Duration
	}
	renewBefore = sessionTimeout / 3
	if spec.RenewBefore != nil && spec.RenewBefore.Duration > 0 && spec.RenewBefore.Duration < sessionTimeout {
		renewBefore = spec.RenewBefore.Duration
	}
	return sessionTimeout, renewBefore
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// backoffSalt names a failure count in the jitter of its backoff.
func backoffSalt(count int32) string { return fmt.Sprint("backoff", count) }

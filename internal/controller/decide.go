package controller

import (
	"fmt"
	"hash/fnv"
	"math"
	"time"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

// Durations the spec may leave out.
const (
	defaultSessionTimeout = 2 * time.Hour
	// renewJitter spreads renewals of tokens issued at the same moment over this fraction
	// of renewBefore, always earlier than renewAt would otherwise be, never later.
	renewJitter = 0.1
)

// Backoff after failed logins. Transient failures retry quickly; the login rate limit
// (3,600 logins per user per hour) is only made worse by retrying, so it waits long.
const (
	retryBase     = 5 * time.Second
	retryMax      = 5 * time.Minute
	rateLimitBase = 15 * time.Minute
	rateLimitMax  = time.Hour
	backoffJitter = 0.2
)

// secretState is what the pass found under the token Secret's name.
type secretState int

const (
	secretMissing secretState = iota
	secretOurs
	// secretForeign: a Secret the connection does not control; never overwritten.
	secretForeign
)

// facts is everything one pass observed. decide reads nothing else: no clients, no clock.
type facts struct {
	now        time.Time
	generation int64
	uid        string

	sessionTimeout time.Duration
	renewBefore    time.Duration
	// renewBeforeSet is set when renewBefore comes from the spec rather than the default.
	renewBeforeSet bool

	inputs  *loginInputs
	problem *inputsProblem
	// inputsUnread is set when inputs holds no secret: the credentials were not read,
	// since their version matches the stored token's. A login reads them first.
	inputsUnread bool
	// jwtKey is the generated key pair of spec.auth.jwtBearer.generateKey.
	jwtKey *keyMaterial
	// tokenRejected is set when Salesforce refused the stored token before its expiry
	// (spec.verifyInterval); verifyWake is when the next probe is due.
	tokenRejected bool
	verifyWake    time.Time
	// plannedStart is when the org's renewal plan starts the stored token's renewal, when
	// the login limiter needs it earlier than the renewal time; zero without a plan.
	plannedStart time.Time
	// hostProblem is set when the login host is not allowed.
	hostProblem string
	// templateProblem is set when spec.tokenSecret.template cannot be rendered.
	templateProblem string
	// keyProblem is set when a generated JWT key cannot be kept or published.
	keyProblem string

	secret secretState
	// stored is the token in the token Secret, nil when there is none usable.
	stored *issuedToken
	// intact is false when someone else edited the token Secret's data.
	intact bool
	// metadataDrift is set when the token Secret lost the labels or annotations the
	// operator puts on it (without them it drops out of the operator's cache).
	metadataDrift bool
	// restored is set when the token Secret was deleted or edited and stored holds the
	// token this process last wrote to it, to be written back without a login.
	restored bool

	lastFailure *sfv1.LoginFailure

	// requestedAt is the reconcile.fluxcd.io/requestedAt annotation; lastHandled the value
	// the operator last acted on.
	requestedAt, lastHandled string
}

// failure is why a pass ends without a valid, current token.
type failure struct {
	reason  string
	message string
	// terminal failures wait for a change of spec or credentials; others retry at retryAt.
	terminal bool
	retryAt  time.Time
}

// decision is what the pass will do.
type decision struct {
	// login is set when a new token is needed; why says which rule asked for it.
	login bool
	why   string
	// blocked is set when no login may be attempted now.
	blocked *failure
	// rewrite is set when the stored token stays but its Secret must be rewritten: a new
	// session timeout changes expires_at, or its labels or annotations were lost.
	rewrite bool
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
		if f.stored.inputsHash != f.inputs.hash {
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
			return "the org's login limit (--salesforce-qps) starts this renewal early, so that every renewal due around the same time gets its turn before its renewal time"
		}
		return ""
	},
}

// decide chooses between keeping the stored token, logging in, and waiting.
func decide(f *facts) decision {
	if f.problem != nil {
		return decision{blocked: &failure{reason: f.problem.reason, message: f.problem.message, terminal: true}}
	}
	if f.hostProblem != "" {
		return decision{blocked: &failure{reason: sfv1.ReasonInvalidSpec, message: f.hostProblem, terminal: true}}
	}
	if f.templateProblem != "" {
		return decision{blocked: &failure{reason: sfv1.ReasonInvalidSpec, message: f.templateProblem, terminal: true}}
	}
	if f.keyProblem != "" {
		return decision{blocked: &failure{reason: sfv1.ReasonInvalidSpec, message: f.keyProblem, terminal: true}}
	}
	if f.secret == secretForeign {
		return decision{blocked: &failure{reason: sfv1.ReasonInvalidSpec, terminal: true,
			message: "the token Secret exists and is not controlled by this SalesforceConnection; the operator will not overwrite it: delete it or choose another spec.tokenSecret.name"}}
	}
	why := ""
	for _, trigger := range loginTriggers {
		if why = trigger(f); why != "" {
			break
		}
	}
	if why == "" {
		return decision{rewrite: f.metadataDrift || !f.stored.lifetimeMatches(f.sessionTimeout)}
	}
	// A new renewal request is a person saying "try now" (after fixing something the
	// operator cannot see, such as a Salesforce setting): it goes past a backoff or a
	// terminal failure, once.
	if held := heldByFailure(f); held != nil && !renewalRequested(f) {
		return decision{blocked: held}
	}
	return decision{login: true, why: why}
}

// renewalRequested says whether the requestedAt annotation holds a value not acted on yet.
func renewalRequested(f *facts) bool { return f.requestedAt != "" && f.requestedAt != f.lastHandled }

// heldByFailure returns the last failure when it still applies: it was made with the same
// spec generation and credentials, and it is terminal or its retry time is ahead. Kept in
// status, so neither a restart nor a resync turns a wrong password into a login storm.
func heldByFailure(f *facts) *failure {
	lf := f.lastFailure
	if lf == nil || lf.ObservedGeneration != f.generation || lf.CredentialsResourceVersion != f.inputs.credentialsVersion {
		return nil
	}
	if isTerminalReason(lf.Reason) {
		return &failure{reason: lf.Reason, terminal: true, message: lf.Message}
	}
	retryAt := lf.Time.Add(backoff(lf.Reason, lf.Count, f.uid))
	if f.now.Before(retryAt) {
		return &failure{reason: lf.Reason, message: lf.Message, retryAt: retryAt}
	}
	return nil
}

// isTerminalReason says whether a failure reason waits for a person.
func isTerminalReason(reason string) bool {
	switch reason {
	case sfv1.ReasonSalesforceUnavailable, sfv1.ReasonRateLimited, sfv1.ReasonAwaitingAdmin, "":
		return false
	}
	return true
}

// renewalOf is when a token is renewed. Its expiry is issued-at plus the session timeout,
// or Salesforce's introspected exp, which a change of spec does not move. An introspected
// lifetime no longer than renewBefore (Salesforce's session timeout is shorter than the
// spec says) renews a third of its lifetime before the end rather than at once, which
// would renew in a loop; so does the default renewBefore, a third of the lifetime.
func (f *facts) renewalOf(t *issuedToken) time.Time {
	expires, before := t.issuedAt.Add(f.sessionTimeout), f.renewBefore
	if t.introspected {
		expires = t.expiresAt
		if lifetime := expires.Sub(t.issuedAt); !f.renewBeforeSet || before >= lifetime {
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

// backoff is the wait after the count-th consecutive failure with the given reason,
// exponential with jitter, capped.
func backoff(reason string, count int32, uid string) time.Duration {
	base, ceiling := retryBase, retryMax
	switch reason {
	case sfv1.ReasonRateLimited:
		base, ceiling = rateLimitBase, rateLimitMax
	case sfv1.ReasonAwaitingAdmin:
		// A person is at work in Salesforce Setup: a steady retry the docs can promise,
		// without jitter (a person, not a crowd, is waited for).
		return awaitingAdminRetry
	}
	if count < 1 {
		count = 1
	}
	d := float64(base) * math.Pow(2, float64(count-1))
	if d > float64(ceiling) {
		d = float64(ceiling)
	}
	d *= 1 + backoffJitter*fraction(uid, fmt.Sprint("backoff", count))
	return time.Duration(d)
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

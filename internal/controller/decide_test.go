package controller

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/authflow"
	"github.com/sfconn/sfconn-operator/internal/failure"
	"github.com/sfconn/sfconn-operator/internal/tokensecret"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// factsOption shapes a facts value for one table row.
type factsOption func(*facts)

func newFacts(opts ...factsOption) *facts {
	f := &facts{
		now:            t0,
		generation:     1,
		uid:            "uid-1",
		sessionTimeout: 2 * time.Hour,
		renewBefore:    40 * time.Minute,
		inputs:         &authflow.Inputs{Hash: "inputs-1", CredentialsVersion: "100"},
		secret:         secretOurs,
		stored:         &tokensecret.Token{IssuedAt: t0.Add(-10 * time.Minute), ExpiresAt: t0.Add(110 * time.Minute), InputsHash: "inputs-1", Data: map[string][]byte{}},
		intact:         true,
	}
	for _, o := range opts {
		o(f)
	}
	return f
}

func at(d time.Duration) factsOption { return func(f *facts) { f.now = t0.Add(d) } }
func noSecret() factsOption {
	return func(f *facts) { f.secret, f.stored, f.intact = secretMissing, nil, false }
}

// classes are the classes of the failures the table rows record.
var classes = map[string]failure.Class{
	sfv1.ReasonAuthenticationFailed:  failure.Terminal,
	sfv1.ReasonRevoked:               failure.Revoked,
	sfv1.ReasonSalesforceUnavailable: failure.Retryable,
	sfv1.ReasonRateLimited:           failure.RateLimited,
	sfv1.ReasonAwaitingAdmin:         failure.WaitingForPerson,
}

func withFailure(reason string, count int32, ago time.Duration) factsOption {
	return func(f *facts) {
		f.lastFailure = &sfv1.LoginFailure{Time: metav1.NewTime(f.now.Add(-ago)), Count: count, Reason: reason, Class: string(classes[reason]),
			Message: "failed", ObservedGeneration: f.generation, CredentialsResourceVersion: f.inputs.CredentialsVersion}
	}
}

func TestDecide(t *testing.T) {
	// renewAt for the stored token is 110m-40m = 70m from t0, minus at most 4m of jitter.
	tests := []struct {
		name      string
		facts     *facts
		login     bool
		blocked   string // reason
		terminal  bool
		rewrite   bool
		whyPrefix string
	}{
		{name: "valid token is kept", facts: newFacts()},
		{name: "no token Secret yet", facts: newFacts(noSecret()), login: true, whyPrefix: "the token Secret does not exist"},
		{name: "token Secret unusable", facts: newFacts(func(f *facts) { f.stored = nil }), login: true, whyPrefix: "the token Secret was changed"},
		{name: "token Secret edited", facts: newFacts(func(f *facts) { f.intact = false }), login: true, whyPrefix: "the token Secret was changed"},
		{name: "inputs changed", facts: newFacts(func(f *facts) { f.inputs.Hash = "inputs-2" }), login: true, whyPrefix: "the spec or the credentials changed"},
		{name: "before renewal time", facts: newFacts(at(60 * time.Minute))},
		{name: "renewal requested", facts: newFacts(func(f *facts) { f.requestedAt = "2026-11-25T12:00:00Z" }), login: true, whyPrefix: "a renewal was requested"},
		{name: "renewal request already handled", facts: newFacts(func(f *facts) { f.requestedAt, f.lastHandled = "x", "x" })},
		{name: "a new renewal request goes past a terminal failure, once", facts: newFacts(noSecret(), func(f *facts) { f.requestedAt = "y" },
			withFailure(sfv1.ReasonAuthenticationFailed, 1, time.Minute)), login: true, whyPrefix: "the token Secret does not exist"},
		{name: "a handled renewal request leaves the failure in place", facts: newFacts(noSecret(), func(f *facts) { f.requestedAt, f.lastHandled = "y", "y" },
			withFailure(sfv1.ReasonAuthenticationFailed, 1, time.Minute)), blocked: sfv1.ReasonAuthenticationFailed, terminal: true},
		{name: "a new renewal request goes past a backoff", facts: newFacts(noSecret(), func(f *facts) { f.requestedAt = "z" },
			withFailure(sfv1.ReasonAwaitingAdmin, 1, time.Minute)), login: true, whyPrefix: "the token Secret does not exist"},
		{name: "renewal time reached", facts: newFacts(at(70 * time.Minute)), login: true, whyPrefix: "the renewal time was reached"},
		{name: "expired", facts: newFacts(at(3 * time.Hour)), login: true, whyPrefix: "the renewal time was reached"},
		{name: "planned start of a crowded renewal wave reached", facts: newFacts(at(60*time.Minute), func(f *facts) {
			f.plannedStart = t0.Add(60 * time.Minute)
		}), login: true, whyPrefix: "the renewal plan starts this renewal early"},
		{name: "planned start ahead", facts: newFacts(at(60*time.Minute), func(f *facts) {
			f.plannedStart = t0.Add(61 * time.Minute)
		})},
		{name: "planned start reached, last failure still backing off", facts: newFacts(at(60*time.Minute), func(f *facts) {
			f.plannedStart = t0.Add(59 * time.Minute)
		}, withFailure(sfv1.ReasonSalesforceUnavailable, 1, time.Second)), blocked: sfv1.ReasonSalesforceUnavailable},
		{name: "session timeout shortened: rewrite expiry, no login yet", facts: newFacts(func(f *facts) {
			f.sessionTimeout, f.renewBefore = 30*time.Minute, 10*time.Minute
		}), rewrite: true},
		{name: "session timeout shortened: renew by the new lifetime", facts: newFacts(at(15*time.Minute), func(f *facts) {
			f.sessionTimeout, f.renewBefore = 30*time.Minute, 10*time.Minute
		}), login: true, whyPrefix: "the renewal time was reached"},
		{name: "session timeout lengthened: rewrite expiry, no login", facts: newFacts(func(f *facts) {
			f.sessionTimeout = 4 * time.Hour
		}), rewrite: true},
		{name: "labels removed: rewrite, no login", facts: newFacts(func(f *facts) { f.metadataDrift = true }), rewrite: true},
		{name: "credentials missing", facts: newFacts(func(f *facts) {
			f.inputs, f.blocked = nil, failure.New(failure.Terminal, sfv1.ReasonCredentialsNotFound, "not found")
		}), blocked: sfv1.ReasonCredentialsNotFound, terminal: true},
		{name: "generated key's Secret taken by someone else", facts: newFacts(noSecret(), func(f *facts) {
			f.blocked = failure.New(failure.Terminal, sfv1.ReasonInvalidSpec, "Secret crm-jwt exists")
		}),
			blocked: sfv1.ReasonInvalidSpec, terminal: true},
		{name: "login host not allowed", facts: newFacts(noSecret(), func(f *facts) { f.blocked = failure.New(failure.Terminal, sfv1.ReasonInvalidSpec, "not allowed") }),
			blocked: sfv1.ReasonInvalidSpec, terminal: true},
		{name: "token Secret of someone else", facts: newFacts(func(f *facts) { f.secret, f.stored, f.blocked = secretForeign, nil, foreign(secretForeign) }),
			blocked: sfv1.ReasonInvalidSpec, terminal: true},
		{name: "wrong password is not retried", facts: newFacts(noSecret(), withFailure(sfv1.ReasonAuthenticationFailed, 1, time.Hour)),
			blocked: sfv1.ReasonAuthenticationFailed, terminal: true},
		{name: "revoked is not retried", facts: newFacts(at(80*time.Minute), withFailure(sfv1.ReasonRevoked, 1, time.Minute)),
			blocked: sfv1.ReasonRevoked, terminal: true},
		{name: "wrong password retried once credentials change", facts: newFacts(noSecret(), withFailure(sfv1.ReasonAuthenticationFailed, 1, time.Hour),
			func(f *facts) { f.inputs.CredentialsVersion = "101" }), login: true, whyPrefix: "the token Secret does not exist"},
		{name: "wrong password retried once the spec changes", facts: newFacts(noSecret(), withFailure(sfv1.ReasonAuthenticationFailed, 1, time.Hour),
			func(f *facts) { f.generation = 2 }), login: true, whyPrefix: "the token Secret does not exist"},
		{name: "transient failure waits for backoff", facts: newFacts(noSecret(), withFailure(sfv1.ReasonSalesforceUnavailable, 3, 10*time.Second)),
			blocked: sfv1.ReasonSalesforceUnavailable},
		{name: "transient failure retried after backoff", facts: newFacts(noSecret(), withFailure(sfv1.ReasonSalesforceUnavailable, 3, time.Minute)),
			login: true, whyPrefix: "the token Secret does not exist"},
		{name: "rate limit waits long", facts: newFacts(noSecret(), withFailure(sfv1.ReasonRateLimited, 1, 10*time.Minute)),
			blocked: sfv1.ReasonRateLimited},
		{name: "rate limit retried after the wait", facts: newFacts(noSecret(), withFailure(sfv1.ReasonRateLimited, 1, 20*time.Minute)),
			login: true, whyPrefix: "the token Secret does not exist"},
		{name: "a failure does not block when nothing needs a login", facts: newFacts(withFailure(sfv1.ReasonAuthenticationFailed, 1, time.Hour))},
		{name: "a new renewal request never goes past a rate limit", facts: newFacts(noSecret(), func(f *facts) { f.requestedAt = "r" },
			withFailure(sfv1.ReasonRateLimited, 1, time.Minute)), blocked: sfv1.ReasonRateLimited},
		{name: "a request goes past a backoff once per step: not past the failure of a forced attempt", facts: newFacts(noSecret(),
			withFailure(sfv1.ReasonSalesforceUnavailable, 2, time.Second), func(f *facts) { f.lastFailure.Requested, f.requestedAt = true, "again" }),
			blocked: sfv1.ReasonSalesforceUnavailable},
		{name: "a request goes past a terminal failure each time", facts: newFacts(noSecret(),
			withFailure(sfv1.ReasonAuthenticationFailed, 2, time.Second), func(f *facts) { f.lastFailure.Requested, f.requestedAt = true, "again" }),
			login: true, whyPrefix: "the token Secret does not exist"},
		{name: "a rate limit met by another connection of the user holds this one back, requests too", facts: newFacts(at(80*time.Minute), func(f *facts) {
			f.userBlockedUntil, f.requestedAt = t0.Add(95*time.Minute), "r"
		}), blocked: sfv1.ReasonRateLimited},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := decide(tt.facts)
			if d.login != tt.login {
				t.Fatalf("login = %v (why %q, blocked %+v), want %v", d.login, d.why, d.blocked, tt.login)
			}
			if tt.login && d.why != tt.whyPrefix && (len(d.why) < len(tt.whyPrefix) || d.why[:len(tt.whyPrefix)] != tt.whyPrefix) {
				t.Errorf("why = %q, want prefix %q", d.why, tt.whyPrefix)
			}
			if d.rewrite != tt.rewrite {
				t.Errorf("rewrite = %v, want %v", d.rewrite, tt.rewrite)
			}
			switch {
			case tt.blocked == "" && d.blocked != nil:
				t.Errorf("blocked by %+v, want not blocked", d.blocked)
			case tt.blocked != "" && d.blocked == nil:
				t.Errorf("not blocked, want %s", tt.blocked)
			case tt.blocked != "":
				if d.blocked.Reason != tt.blocked || d.blocked.Class.WaitsForChange() != tt.terminal {
					t.Errorf("blocked = %+v, want reason %s terminal %v", d.blocked, tt.blocked, tt.terminal)
				}
				if !d.blocked.Class.WaitsForChange() && tt.blocked != sfv1.ReasonInvalidSpec && !d.blocked.RetryAt.After(tt.facts.now) {
					t.Errorf("retryAt %v is not after now %v", d.blocked.RetryAt, tt.facts.now)
				}
			}
		})
	}
}

func TestRenewAtIsEarlyNeverLate(t *testing.T) {
	expires := t0.Add(2 * time.Hour)
	seen := map[time.Time]bool{}
	for _, uid := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		r := renewAt(expires, 40*time.Minute, uid)
		if r.After(expires.Add(-40*time.Minute)) || r.Before(expires.Add(-44*time.Minute)) {
			t.Errorf("renewAt(%s) = %v, want within 4m before %v", uid, r, expires.Add(-40*time.Minute))
		}
		if !renewAt(expires, 40*time.Minute, uid).Equal(r) {
			t.Errorf("renewAt(%s) is not stable", uid)
		}
		seen[r] = true
	}
	if len(seen) < 2 {
		t.Errorf("renewAt gave the same time to every connection: no jitter")
	}
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		class    failure.Class
		count    int32
		min, max time.Duration
	}{
		{failure.Retryable, 0, 5 * time.Second, 6 * time.Second},
		{failure.Retryable, 1, 5 * time.Second, 6 * time.Second},
		{failure.Retryable, 2, 10 * time.Second, 12 * time.Second},
		{failure.Retryable, 4, 40 * time.Second, 48 * time.Second},
		{failure.Retryable, 30, 5 * time.Minute, 6 * time.Minute},
		{failure.RateLimited, 1, 15 * time.Minute, 18 * time.Minute},
		{failure.RateLimited, 3, time.Hour, 72 * time.Minute},
		{failure.WaitingForPerson, 1, 5 * time.Minute, 5 * time.Minute},
		{failure.WaitingForPerson, 7, 5 * time.Minute, 5 * time.Minute},
		{failure.Terminal, 1, 0, 0},
		{failure.Cluster, 1, 0, 0},
	}
	for _, tt := range tests {
		got := backoff(tt.class, tt.count, "uid-1")
		if got < tt.min || got > tt.max {
			t.Errorf("backoff(%s, %d) = %v, want in [%v, %v]", tt.class, tt.count, got, tt.min, tt.max)
		}
	}
}

func TestEffectiveDurations(t *testing.T) {
	d := func(x time.Duration) *metav1.Duration { return &metav1.Duration{Duration: x} }
	tests := []struct {
		name           string
		spec           sfv1.SalesforceConnectionSpec
		session, renew time.Duration
	}{
		{"defaults", sfv1.SalesforceConnectionSpec{}, 2 * time.Hour, 40 * time.Minute},
		{"renewBefore defaults to a third", sfv1.SalesforceConnectionSpec{SessionTimeout: d(time.Minute)}, time.Minute, 20 * time.Second},
		{"explicit", sfv1.SalesforceConnectionSpec{SessionTimeout: d(time.Hour), RenewBefore: d(10 * time.Minute)}, time.Hour, 10 * time.Minute},
		{"renewBefore too long is ignored", sfv1.SalesforceConnectionSpec{SessionTimeout: d(time.Hour), RenewBefore: d(time.Hour)}, time.Hour, 20 * time.Minute},
	}
	for _, tt := range tests {
		s, r := effectiveDurations(&tt.spec)
		if s != tt.session || r != tt.renew {
			t.Errorf("%s: got (%v, %v), want (%v, %v)", tt.name, s, r, tt.session, tt.renew)
		}
	}
}

// A successful login records an event only when a person asked for it.
func TestIssueEvent(t *testing.T) {
	requested := func(f *facts) { f.requestedAt = "now" }
	for _, tc := range []struct {
		name     string
		facts    *facts
		reason   string
		announce bool
	}{
		{"routine first login", newFacts(noSecret()), sfv1.EventTokenIssued, false},
		{"routine renewal", newFacts(at(80 * time.Minute)), sfv1.EventTokenRenewed, false},
		{"renewal after someone edited the Secret", newFacts(func(f *facts) { f.intact = false }), sfv1.EventTokenRenewed, false},
		{"requested renewal", newFacts(requested), sfv1.EventTokenRenewed, true},
		{"requested first login", newFacts(noSecret(), requested), sfv1.EventTokenIssued, true},
		{"request already handled", newFacts(func(f *facts) { f.requestedAt, f.lastHandled = "x", "x" }), sfv1.EventTokenRenewed, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reason, _, announce := issueEvent(tc.facts)
			if reason != tc.reason || announce != tc.announce {
				t.Errorf("issueEvent = %s, %v; want %s, %v", reason, announce, tc.reason, tc.announce)
			}
		})
	}
}

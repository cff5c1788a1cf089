package controller

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/failure"
	"github.com/sfconn/sfconn-operator/internal/tokensecret"
)

func statusToken() *tokensecret.Token {
	tok := &tokensecret.Token{IssuedAt: t0.Add(-10 * time.Minute), InputsHash: "inputs-1", Data: map[string][]byte{
		tokensecret.KeyInstanceURL: []byte("https://acme.my.salesforce.com"),
		tokensecret.KeyOrgID:       []byte("00D000000000001AAA"),
		tokensecret.KeyUserID:      []byte("005000000000001AAA"),
	}}
	tok.SetLifetime(2 * time.Hour)
	return tok
}

// outcome is what a table row's pass ended with.
type outcome struct {
	token       *tokensecret.Token
	renewed     bool
	failure     *failure.Failure
	loginFailed bool
}

// finish runs what the token step and the summary do with an outcome, without clients.
func finish(conn *sfv1.SalesforceConnection, f *facts, o outcome) *sfv1.SalesforceConnectionStatus {
	p := &pass{conn: conn, now: f.now, status: conn.Status.DeepCopy(), token: o.token, renewed: o.renewed,
		failure: o.failure, loginFailed: o.loginFailed, tokenChecked: true}
	(&Reconciler{}).tokenStatus(p, f)
	p.status.LastFailure = nextLastFailure(p, f)
	setTokenConditions(p)
	return p.status
}

func TestTokenConditions(t *testing.T) {
	fail := func(class failure.Class, reason string, retry time.Duration) *failure.Failure {
		fl := &failure.Failure{Class: class, Reason: reason, Message: reason + " message"}
		if retry > 0 {
			fl.RetryAt = t0.Add(retry)
		}
		return fl
	}
	type want struct {
		ready, readyReason      string
		stalled, reconciling    string // reason, "" for absent
		expiring, revoked       string // reason, "" for absent
		lastFailure             bool
		instanceURL, secretName string
	}
	const instance, secret = "https://acme.my.salesforce.com", "crm-token"
	tests := []struct {
		name  string
		facts *facts
		out   outcome
		want  want
	}{
		{"new token", newFacts(noSecret()), outcome{token: statusToken(), renewed: true},
			want{ready: "True", readyReason: sfv1.ReasonTokenIssued, instanceURL: instance, secretName: secret}},
		{"kept token", newFacts(), outcome{token: statusToken()},
			want{ready: "True", readyReason: sfv1.ReasonTokenIssued, instanceURL: instance, secretName: secret}},
		{"wrong password, no token", newFacts(noSecret()), outcome{failure: fail(failure.Terminal, sfv1.ReasonAuthenticationFailed, 0), loginFailed: true},
			want{ready: "False", readyReason: sfv1.ReasonAuthenticationFailed, stalled: sfv1.ReasonAuthenticationFailed, lastFailure: true}},
		{"missing credentials", newFacts(noSecret()), outcome{failure: fail(failure.Terminal, sfv1.ReasonCredentialsNotFound, 0)},
			want{ready: "False", readyReason: sfv1.ReasonCredentialsNotFound, stalled: sfv1.ReasonCredentialsNotFound}},
		{"outage before renewal time with a valid token", newFacts(at(80 * time.Minute)),
			outcome{token: statusToken(), failure: fail(failure.Retryable, sfv1.ReasonSalesforceUnavailable, 81*time.Minute), loginFailed: true},
			want{ready: "True", readyReason: sfv1.ReasonTokenIssued, reconciling: sfv1.ReasonSalesforceUnavailable, expiring: sfv1.ReasonRenewalFailing,
				lastFailure: true, instanceURL: instance, secretName: secret}},
		{"outage after expiry", newFacts(at(3 * time.Hour)),
			outcome{token: statusToken(), failure: fail(failure.Retryable, sfv1.ReasonSalesforceUnavailable, 181*time.Minute), loginFailed: true},
			want{ready: "False", readyReason: sfv1.ReasonSalesforceUnavailable, reconciling: sfv1.ReasonSalesforceUnavailable, expiring: sfv1.ReasonExpired,
				lastFailure: true, instanceURL: instance, secretName: secret}},
		{"revoked keeps the token until it expires", newFacts(at(80 * time.Minute)),
			outcome{token: statusToken(), failure: fail(failure.Revoked, sfv1.ReasonRevoked, 0), loginFailed: true},
			want{ready: "False", readyReason: sfv1.ReasonRevoked, stalled: sfv1.ReasonRevoked, expiring: sfv1.ReasonRenewalFailing, revoked: sfv1.ReasonRefreshTokenRevoked,
				lastFailure: true, instanceURL: instance, secretName: secret}},
		{"waiting for an admin with a valid token", newFacts(at(80 * time.Minute)),
			outcome{token: statusToken(), failure: fail(failure.WaitingForPerson, sfv1.ReasonAwaitingAdmin, 85*time.Minute), loginFailed: true},
			want{ready: "True", readyReason: sfv1.ReasonTokenIssued, reconciling: sfv1.ReasonAwaitingAdmin, expiring: sfv1.ReasonRenewalFailing,
				lastFailure: true, instanceURL: instance, secretName: secret}},
		{"the API server refused a write, no token yet", newFacts(noSecret()),
			outcome{failure: fail(failure.Cluster, sfv1.ReasonClusterError, 0)},
			want{ready: "False", readyReason: sfv1.ReasonClusterError, reconciling: sfv1.ReasonClusterError}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := &sfv1.SalesforceConnection{ObjectMeta: metav1.ObjectMeta{Name: "crm", Namespace: "ns", Generation: 1}}
			// Leftovers of an earlier pass must not survive unless this pass says so.
			conn.Status.Conditions = []metav1.Condition{
				{Type: sfv1.ConditionStalled, Status: metav1.ConditionTrue, Reason: "Old"},
				{Type: sfv1.ConditionRevoked, Status: metav1.ConditionTrue, Reason: "Old"},
			}
			st := finish(conn, tt.facts, tt.out)
			ready := meta.FindStatusCondition(st.Conditions, sfv1.ConditionReady)
			if ready == nil || string(ready.Status) != tt.want.ready || ready.Reason != tt.want.readyReason || ready.ObservedGeneration != 1 {
				t.Errorf("Ready = %+v, want %s/%s", ready, tt.want.ready, tt.want.readyReason)
			}
			if ready != nil && ready.Message == "" {
				t.Errorf("Ready has no message")
			}
			for _, c := range []struct{ typ, reason string }{
				{sfv1.ConditionStalled, tt.want.stalled}, {sfv1.ConditionReconciling, tt.want.reconciling},
				{sfv1.ConditionExpiring, tt.want.expiring}, {sfv1.ConditionRevoked, tt.want.revoked},
			} {
				got := meta.FindStatusCondition(st.Conditions, c.typ)
				switch {
				case c.reason == "" && got != nil:
					t.Errorf("%s present (%s), want absent", c.typ, got.Reason)
				case c.reason != "" && (got == nil || got.Status != metav1.ConditionTrue || got.Reason != c.reason):
					t.Errorf("%s = %+v, want True/%s", c.typ, got, c.reason)
				}
			}
			if (st.LastFailure != nil) != tt.want.lastFailure {
				t.Errorf("lastFailure = %+v, want present=%v", st.LastFailure, tt.want.lastFailure)
			}
			if st.LastFailure != nil && st.LastFailure.Class != string(tt.out.failure.Class) {
				t.Errorf("lastFailure.class = %q, want %s", st.LastFailure.Class, tt.out.failure.Class)
			}
			if st.InstanceURL != tt.want.instanceURL || st.TokenSecretName != tt.want.secretName {
				t.Errorf("instanceURL, tokenSecretName = %q, %q", st.InstanceURL, st.TokenSecretName)
			}
			if tt.out.token != nil && (st.ExpiresAt == nil || !st.ExpiresAt.Time.Equal(tt.out.token.ExpiresAt) || st.RenewAt == nil || !st.RenewAt.Before(st.ExpiresAt)) {
				t.Errorf("times: expiresAt %v renewAt %v", st.ExpiresAt, st.RenewAt)
			}
		})
	}
}

func TestLastFailureCounts(t *testing.T) {
	f := newFacts(noSecret(), withFailure(sfv1.ReasonSalesforceUnavailable, 2, time.Minute))
	conn := &sfv1.SalesforceConnection{ObjectMeta: metav1.ObjectMeta{Name: "crm", Generation: 1}}
	conn.Status.LastFailure = f.lastFailure
	o := outcome{failure: &failure.Failure{Class: failure.Retryable, Reason: sfv1.ReasonSalesforceUnavailable, Message: "503"}, loginFailed: true}
	if got := finish(conn, f, o).LastFailure.Count; got != 3 {
		t.Errorf("count = %d, want 3", got)
	}
	f.inputs.CredentialsVersion = "200"
	if got := finish(conn, f, o).LastFailure.Count; got != 1 {
		t.Errorf("count after a credentials change = %d, want 1", got)
	}
	o.loginFailed = false
	if got := finish(conn, f, o).LastFailure; got != conn.Status.LastFailure {
		t.Errorf("a failure that is no failed login replaced lastFailure: %+v", got)
	}
	if got := finish(conn, f, outcome{token: statusToken()}).LastFailure; got != nil {
		t.Errorf("a pass without failure kept lastFailure: %+v", got)
	}
}

func TestTokenStepWake(t *testing.T) {
	tok := statusToken()
	r := &Reconciler{}
	wake := func(f *facts, tok *tokensecret.Token) time.Time {
		p := &pass{conn: &sfv1.SalesforceConnection{}, now: f.now, status: &sfv1.SalesforceConnectionStatus{}, token: tok}
		return r.tokenStatus(p, f)
	}
	renew := newFacts().renewalOf(tok)
	if w := wake(newFacts(), tok); !w.Equal(renew) {
		t.Errorf("wake for a fresh token = %v, want its renewal %v", w, renew)
	}
	if w := wake(newFacts(noSecret()), nil); !w.IsZero() {
		t.Errorf("wake without token = %v, want none", w)
	}
	if w := wake(newFacts(at(90*time.Minute)), tok); !w.Equal(tok.ExpiresAt) {
		t.Errorf("wake after the renewal time = %v, want the expiry %v", w, tok.ExpiresAt)
	}
}

func TestRetryAt(t *testing.T) {
	given := t0.Add(7 * time.Second)
	if got := retryAt(&failure.Failure{Class: failure.WaitingForPerson, RetryAt: given}, 1, "u", t0); !got.Equal(given) {
		t.Errorf("a retry time the cause gave was replaced by %v", got)
	}
	if got := retryAt(&failure.Failure{Class: failure.Terminal}, 1, "u", t0); !got.IsZero() {
		t.Errorf("a terminal failure is retried at %v", got)
	}
	if got := retryAt(&failure.Failure{Class: failure.Retryable}, 1, "u", t0); got.Before(t0.Add(5*time.Second)) || got.After(t0.Add(6*time.Second)) {
		t.Errorf("first retry at %v, want 5-6 s later", got.Sub(t0))
	}
}

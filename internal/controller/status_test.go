package controller

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

func TestComputeStatus(t *testing.T) {
	token := func() *issuedToken {
		tok := &issuedToken{issuedAt: t0.Add(-10 * time.Minute), inputsHash: "inputs-1", data: map[string][]byte{
			KeyInstanceURL: []byte("https://acme.my.salesforce.com"), KeyOrgID: []byte("00D000000000001AAA"), KeyUserID: []byte("005000000000001AAA"),
		}}
		tok.setLifetime(2 * time.Hour)
		return tok
	}
	type want struct {
		ready, readyReason      string
		stalled, reconciling    string // reason, "" for absent
		expiring, revoked       string // reason, "" for absent
		lastFailure             bool
		instanceURL, secretName string
	}
	tests := []struct {
		name  string
		facts *facts
		out   *outcome
		want  want
	}{
		{"new token", newFacts(noSecret()), &outcome{token: token(), renewed: true},
			want{ready: "True", readyReason: sfv1.ReasonTokenIssued, instanceURL: "https://acme.my.salesforce.com", secretName: "crm-token"}},
		{"kept token", newFacts(), &outcome{token: token()},
			want{ready: "True", readyReason: sfv1.ReasonTokenIssued, instanceURL: "https://acme.my.salesforce.com", secretName: "crm-token"}},
		{"wrong password, no token", newFacts(noSecret()), &outcome{failure: &failure{reason: sfv1.ReasonAuthenticationFailed, message: "m", terminal: true}, newFailure: true},
			want{ready: "False", readyReason: sfv1.ReasonAuthenticationFailed, stalled: sfv1.ReasonAuthenticationFailed, lastFailure: true}},
		{"missing credentials", newFacts(noSecret()), &outcome{failure: &failure{reason: sfv1.ReasonCredentialsNotFound, message: "m", terminal: true}},
			want{ready: "False", readyReason: sfv1.ReasonCredentialsNotFound, stalled: sfv1.ReasonCredentialsNotFound}},
		{"outage before renewal time with a valid token", newFacts(at(80 * time.Minute)),
			&outcome{token: token(), failure: &failure{reason: sfv1.ReasonSalesforceUnavailable, message: "503", retryAt: t0.Add(81 * time.Minute)}, newFailure: true},
			want{ready: "True", readyReason: sfv1.ReasonTokenIssued, reconciling: sfv1.ReasonSalesforceUnavailable, expiring: sfv1.ReasonRenewalFailing,
				lastFailure: true, instanceURL: "https://acme.my.salesforce.com", secretName: "crm-token"}},
		{"outage after expiry", newFacts(at(3 * time.Hour)),
			&outcome{token: token(), failure: &failure{reason: sfv1.ReasonSalesforceUnavailable, message: "503", retryAt: t0.Add(181 * time.Minute)}, newFailure: true},
			want{ready: "False", readyReason: sfv1.ReasonSalesforceUnavailable, reconciling: sfv1.ReasonSalesforceUnavailable, expiring: sfv1.ReasonExpired,
				lastFailure: true, instanceURL: "https://acme.my.salesforce.com", secretName: "crm-token"}},
		{"revoked keeps the token until it expires", newFacts(at(80 * time.Minute)),
			&outcome{token: token(), failure: &failure{reason: sfv1.ReasonRevoked, message: "revoked", terminal: true}, newFailure: true},
			want{ready: "False", readyReason: sfv1.ReasonRevoked, stalled: sfv1.ReasonRevoked, expiring: sfv1.ReasonRenewalFailing, revoked: sfv1.ReasonRefreshTokenRevoked,
				lastFailure: true, instanceURL: "https://acme.my.salesforce.com", secretName: "crm-token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := &sfv1.SalesforceConnection{ObjectMeta: metav1.ObjectMeta{Name: "crm", Namespace: "ns", Generation: 1}}
			// Leftovers of an earlier pass must not survive unless this pass says so.
			conn.Status.Conditions = []metav1.Condition{
				{Type: sfv1.ConditionStalled, Status: metav1.ConditionTrue, Reason: "Old"},
				{Type: sfv1.ConditionRevoked, Status: metav1.ConditionTrue, Reason: "Old"},
			}
			st := computeStatus(conn, tt.facts, tt.out)
			if st.ObservedGeneration != 1 {
				t.Errorf("observedGeneration = %d", st.ObservedGeneration)
			}
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
			if st.InstanceURL != tt.want.instanceURL || st.TokenSecretName != tt.want.secretName {
				t.Errorf("instanceURL, tokenSecretName = %q, %q", st.InstanceURL, st.TokenSecretName)
			}
			if tt.out.token != nil && (st.ExpiresAt == nil || !st.ExpiresAt.Time.Equal(tt.out.token.expiresAt) || st.RenewAt == nil || !st.RenewAt.Before(st.ExpiresAt)) {
				t.Errorf("times: expiresAt %v renewAt %v", st.ExpiresAt, st.RenewAt)
			}
		})
	}
}

func TestLastFailureCounts(t *testing.T) {
	f := newFacts(noSecret(), withFailure(sfv1.ReasonSalesforceUnavailable, 2, time.Minute))
	o := &outcome{failure: &failure{reason: sfv1.ReasonSalesforceUnavailable, message: "503"}, newFailure: true}
	conn := &sfv1.SalesforceConnection{ObjectMeta: metav1.ObjectMeta{Name: "crm", Generation: 1}}
	conn.Status.LastFailure = f.lastFailure
	if got := computeStatus(conn, f, o).LastFailure.Count; got != 3 {
		t.Errorf("count = %d, want 3", got)
	}
	f.inputs.credentialsVersion = "200"
	if got := computeStatus(conn, f, o).LastFailure.Count; got != 1 {
		t.Errorf("count after a credentials change = %d, want 1", got)
	}
}

func TestNextWake(t *testing.T) {
	tok := &issuedToken{issuedAt: t0, data: map[string][]byte{}}
	tok.setLifetime(2 * time.Hour)
	f := newFacts()
	if w := nextWake(f, &outcome{token: tok}); w.After(t0.Add(80*time.Minute)) || w.Before(t0.Add(76*time.Minute)) {
		t.Errorf("wake for a fresh token = %v, want renewAt", w)
	}
	if w := nextWake(newFacts(noSecret()), &outcome{failure: &failure{terminal: true}}); !w.IsZero() {
		t.Errorf("wake for a terminal failure without token = %v, want none", w)
	}
	retry := t0.Add(10 * time.Second)
	if w := nextWake(newFacts(noSecret()), &outcome{failure: &failure{retryAt: retry}}); !w.Equal(retry) {
		t.Errorf("wake for a transient failure = %v, want %v", w, retry)
	}
	revokedLater := newFacts(at(90 * time.Minute))
	if w := nextWake(revokedLater, &outcome{token: tok, failure: &failure{terminal: true}}); !w.Equal(tok.expiresAt) {
		t.Errorf("wake after renewAt with a terminal failure = %v, want the expiry %v", w, tok.expiresAt)
	}
}

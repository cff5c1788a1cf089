package metrics

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

// maxSeriesPerConnection is the bound docs/metrics.md promises for a connection in any
// state a real flow reaches: what a scrape and a Prometheus pay per connection.
const maxSeriesPerConnection = 6

// TestSeriesPerConnection counts the series one connection costs in each state it
// commonly sits in, so that a series added for everyone shows up here as a cost.
func TestSeriesPerConnection(t *testing.T) {
	now := time.Unix(1795600000, 0)
	expires, renew := metav1.NewTime(now.Add(2*time.Hour)), metav1.NewTime(now.Add(time.Hour))
	cond := func(typ string, status metav1.ConditionStatus, reason string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: status, Reason: reason}
	}
	issued := cond(sfv1.ConditionReady, metav1.ConditionTrue, sfv1.ReasonTokenIssued)
	cert := &sfv1.GeneratedCertificate{Fingerprint: "aa", NotAfter: metav1.NewTime(now.Add(365 * 24 * time.Hour))}
	pending := cert.DeepCopy()
	pending.NextFingerprint = "bb"

	for _, tt := range []struct {
		name string
		st   sfv1.SalesforceConnectionStatus
		want int
	}{
		{"healthy client credentials", sfv1.SalesforceConnectionStatus{ExpiresAt: &expires, RenewAt: &renew,
			// Conditions that are False or absent cost nothing.
			Conditions: []metav1.Condition{issued, cond(sfv1.ConditionStalled, metav1.ConditionFalse, "x"),
				cond(sfv1.ConditionReconciling, metav1.ConditionTrue, "x"), cond(sfv1.ConditionExpiring, metav1.ConditionFalse, "x")}}, 1},
		{"renewal failing, token still valid", sfv1.SalesforceConnectionStatus{ExpiresAt: &expires, RenewAt: &renew,
			Conditions: []metav1.Condition{issued, cond(sfv1.ConditionExpiring, metav1.ConditionTrue, sfv1.ReasonRenewalFailing)}}, 2},
		{"refresh token with approvals", sfv1.SalesforceConnectionStatus{ExpiresAt: &expires, RenewAt: &renew,
			Approvals: &sfv1.ApprovalsSummary{Count: 2, Limit: 5}, Conditions: []metav1.Condition{issued}}, 2},
		{"refresh token at the approval limit", sfv1.SalesforceConnectionStatus{ExpiresAt: &expires, RenewAt: &renew,
			Approvals:  &sfv1.ApprovalsSummary{Count: 5, Limit: 5},
			Conditions: []metav1.Condition{issued, cond(sfv1.ConditionApprovalLimit, metav1.ConditionTrue, sfv1.ReasonAtLimit)}}, 3},
		{"generated-key JWT", sfv1.SalesforceConnectionStatus{ExpiresAt: &expires, RenewAt: &renew, JWTCertificate: cert,
			Conditions: []metav1.Condition{issued}}, 2},
		{"generated-key JWT with the next certificate pending", sfv1.SalesforceConnectionStatus{ExpiresAt: &expires, RenewAt: &renew,
			JWTCertificate: pending, Conditions: []metav1.Condition{issued}}, 3},
		{"revoked and stalled, token not expired yet", sfv1.SalesforceConnectionStatus{ExpiresAt: &expires, RenewAt: &renew,
			Approvals: &sfv1.ApprovalsSummary{Count: 1, Limit: 5},
			Conditions: []metav1.Condition{cond(sfv1.ConditionReady, metav1.ConditionFalse, sfv1.ReasonRevoked),
				cond(sfv1.ConditionStalled, metav1.ConditionTrue, sfv1.ReasonRevoked),
				cond(sfv1.ConditionRevoked, metav1.ConditionTrue, sfv1.ReasonRefreshTokenRevoked)}}, 5},
		{"revoked, stalled and expired", sfv1.SalesforceConnectionStatus{ExpiresAt: &expires, RenewAt: &renew,
			Approvals: &sfv1.ApprovalsSummary{Count: 1, Limit: 5},
			Conditions: []metav1.Condition{cond(sfv1.ConditionReady, metav1.ConditionFalse, sfv1.ReasonRevoked),
				cond(sfv1.ConditionStalled, metav1.ConditionTrue, sfv1.ReasonRevoked),
				cond(sfv1.ConditionRevoked, metav1.ConditionTrue, sfv1.ReasonRefreshTokenRevoked),
				cond(sfv1.ConditionExpiring, metav1.ConditionTrue, sfv1.ReasonExpiredToken)}}, 6},
		// Suspension keeps the times of the token in the Secret.
		{"suspended", sfv1.SalesforceConnectionStatus{ExpiresAt: &expires, RenewAt: &renew,
			Conditions: []metav1.Condition{cond(sfv1.ConditionReady, metav1.ConditionFalse, sfv1.ReasonSuspended),
				cond(sfv1.ConditionSuspended, metav1.ConditionTrue, sfv1.ReasonSuspended)}}, 3},
		{"suspended with its token expired, refresh token", sfv1.SalesforceConnectionStatus{ExpiresAt: &expires, RenewAt: &renew,
			Approvals: &sfv1.ApprovalsSummary{Count: 1, Limit: 5},
			Conditions: []metav1.Condition{cond(sfv1.ConditionReady, metav1.ConditionFalse, sfv1.ReasonSuspended),
				cond(sfv1.ConditionSuspended, metav1.ConditionTrue, sfv1.ReasonSuspended),
				cond(sfv1.ConditionStalled, metav1.ConditionTrue, sfv1.ReasonSuspended)}}, 5},
		{"new, not reconciled yet", sfv1.SalesforceConnectionStatus{}, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := seriesOf(t, tt.st); got != tt.want || got > maxSeriesPerConnection {
				t.Errorf("%d series, want %d (at most %d)", got, tt.want, maxSeriesPerConnection)
			}
		})
	}

	// The worst case no flow reaches: a status with every field and every reported
	// condition True (approvals and a generated certificate belong to different flows).
	// docs/metrics.md gives this number too.
	all := sfv1.SalesforceConnectionStatus{ExpiresAt: &expires, RenewAt: &renew,
		Approvals: &sfv1.ApprovalsSummary{Count: 5, Limit: 5}, JWTCertificate: pending,
		Conditions: []metav1.Condition{cond(sfv1.ConditionReady, metav1.ConditionFalse, sfv1.ReasonRevoked)}}
	for _, typ := range ReportedConditions {
		all.Conditions = append(all.Conditions, cond(typ, metav1.ConditionTrue, "x"))
	}
	if got := seriesOf(t, all); got != 10 {
		t.Errorf("worst case: %d series, want 10", got)
	}
}

// seriesOf collects one SalesforceConnection with status st and counts its series.
func seriesOf(t *testing.T, st sfv1.SalesforceConnectionStatus) int {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := sfv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	st.ObservedGeneration = 1
	conn := &sfv1.SalesforceConnection{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "c", Generation: 1}, Status: st}
	reader := fake.NewClientBuilder().WithScheme(scheme).WithObjects(conn).Build()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewConnectionCollector(reader, func() bool { return true }, false))
	n, err := testutil.GatherAndCount(reg)
	if err != nil {
		t.Fatal(err)
	}
	// Every reported connection has a token expiry or a not-ready series, which the
	// alerts read as "the leader reports this connection now".
	if r, err := testutil.GatherAndCount(reg, TokenExpiration, NotReady); err != nil || r == 0 {
		t.Errorf("%d %s or %s series (%v), want at least 1", r, TokenExpiration, NotReady, err)
	}
	return n
}

func TestReadyStatusLabel(t *testing.T) {
	for _, tt := range []struct{ in, want metav1.ConditionStatus }{
		{metav1.ConditionTrue, metav1.ConditionTrue},
		{metav1.ConditionFalse, metav1.ConditionFalse},
		{metav1.ConditionUnknown, metav1.ConditionUnknown},
		// A status the schema would refuse, written by something else: not a new value.
		{"", metav1.ConditionUnknown},
		{"true", metav1.ConditionUnknown},
		{"Maybe", metav1.ConditionUnknown},
	} {
		if got := readyStatusLabel(tt.in); got != tt.want {
			t.Errorf("readyStatusLabel(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

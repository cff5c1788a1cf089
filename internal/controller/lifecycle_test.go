package controller

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/failure"
	"github.com/sfconn/sfconn-operator/internal/tokensecret"
)

func TestSetSuspendedConditions(t *testing.T) {
	valid := &tokensecret.Token{IssuedAt: t0.Add(-time.Hour), ExpiresAt: t0.Add(time.Hour)}
	expired := &tokensecret.Token{IssuedAt: t0.Add(-3 * time.Hour), ExpiresAt: t0.Add(-time.Hour)}
	// What the last pass before the suspension left.
	before := []metav1.Condition{
		{Type: sfv1.ConditionReady, Status: metav1.ConditionFalse, Reason: sfv1.ReasonSalesforceUnavailable},
		{Type: sfv1.ConditionReconciling, Status: metav1.ConditionTrue, Reason: sfv1.ReasonSalesforceUnavailable},
		{Type: sfv1.ConditionStalled, Status: metav1.ConditionTrue, Reason: sfv1.ReasonAuthenticationFailed},
		{Type: sfv1.ConditionExpiring, Status: metav1.ConditionTrue, Reason: sfv1.ReasonRenewalFailing},
		{Type: sfv1.ConditionApprovalLimit, Status: metav1.ConditionTrue, Reason: sfv1.ReasonAtLimit},
	}
	tests := []struct {
		name      string
		token     *tokensecret.Token
		rejected  bool
		ready     string
		inMessage string
	}{
		{"valid token: Ready stays True", valid, false, "True/TokenIssued", "not renewed while the connection is suspended"},
		{"expired token", expired, false, "False/Suspended", "expired at " + stamp(expired.ExpiresAt)},
		{"no token", nil, false, "False/Suspended", "holds no token"},
		{"token Salesforce refused", valid, true, "False/Suspended", "holds no token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := &sfv1.SalesforceConnection{ObjectMeta: metav1.ObjectMeta{Generation: 3}}
			st := &sfv1.SalesforceConnectionStatus{Conditions: append([]metav1.Condition(nil), before...)}
			p := &pass{conn: conn, now: t0, status: st, token: tt.token, rejected: tt.rejected}
			setSuspendedConditions(p)
			if got := conditionOf(st, sfv1.ConditionSuspended); got != "True/Suspended" {
				t.Errorf("Suspended = %q", got)
			}
			if got := conditionOf(st, sfv1.ConditionReady); got != tt.ready {
				t.Errorf("Ready = %q, want %q", got, tt.ready)
			}
			if msg := conditionMessage(st, sfv1.ConditionReady); !strings.Contains(msg, tt.inMessage) {
				t.Errorf("Ready message %q does not say %q", msg, tt.inMessage)
			}
			// kstatus: never in progress; Current with a valid token, else Failed.
			for _, gone := range []string{sfv1.ConditionReconciling, sfv1.ConditionExpiring} {
				if got := conditionOf(st, gone); got != "" {
					t.Errorf("%s = %q, want absent", gone, got)
				}
			}
			wantStalled := ""
			if strings.HasPrefix(tt.ready, "False") {
				wantStalled = "True/Suspended"
			}
			if got := conditionOf(st, sfv1.ConditionStalled); got != wantStalled {
				t.Errorf("Stalled = %q, want %q", got, wantStalled)
			}
			if got := conditionOf(st, sfv1.ConditionApprovalLimit); got != "True/AtLimit" {
				t.Errorf("ApprovalLimit = %q, want it kept", got)
			}
			// The conditions it sets describe this generation; ApprovalLimit keeps the one
			// its check saw.
			for _, c := range st.Conditions {
				if c.Type != sfv1.ConditionApprovalLimit && c.ObservedGeneration != 3 {
					t.Errorf("%s observedGeneration = %d, want 3", c.Type, c.ObservedGeneration)
				}
			}
		})
	}
}

// A token pass after a suspension drops the Suspended condition.
func TestTokenConditionsDropSuspended(t *testing.T) {
	conn := &sfv1.SalesforceConnection{ObjectMeta: metav1.ObjectMeta{Generation: 2}}
	renew := metav1.NewTime(t0.Add(time.Hour))
	st := &sfv1.SalesforceConnectionStatus{RenewAt: &renew, Conditions: []metav1.Condition{
		{Type: sfv1.ConditionSuspended, Status: metav1.ConditionTrue, Reason: sfv1.ReasonSuspended}}}
	p := &pass{conn: conn, now: t0, status: st, token: &tokensecret.Token{IssuedAt: t0, ExpiresAt: t0.Add(2 * time.Hour)}}
	setTokenConditions(p)
	if got := conditionOf(st, sfv1.ConditionSuspended); got != "" {
		t.Errorf("Suspended = %q after resuming, want absent", got)
	}
}

func TestCredentialsGrace(t *testing.T) {
	notFound := failure.New(failure.Terminal, sfv1.ReasonCredentialsNotFound, `credentials Secret "creds" not found`)
	since := func(name string, ago time.Duration) *sfv1.MissingSecret {
		return &sfv1.MissingSecret{Name: name, Since: metav1.NewTime(t0.Add(-ago))}
	}
	tests := []struct {
		name      string
		missing   string
		prev      *sfv1.MissingSecret
		grace     time.Duration
		wantSince time.Time // zero: no record
		class     failure.Class
		retryAt   time.Time
	}{
		{"found: no record, failure unchanged", "", since("creds", time.Minute), 5 * time.Minute, time.Time{}, failure.Terminal, time.Time{}},
		{"first found missing: waits the whole grace", "creds", nil, 5 * time.Minute, t0, failure.WaitingForPerson, t0.Add(5 * time.Minute)},
		{"still missing within the grace: the start stays", "creds", since("creds", 2*time.Minute), 5 * time.Minute,
			t0.Add(-2 * time.Minute), failure.WaitingForPerson, t0.Add(3 * time.Minute)},
		{"grace over: Stalled", "creds", since("creds", 5*time.Minute), 5 * time.Minute, t0.Add(-5 * time.Minute), failure.Terminal, time.Time{}},
		{"another Secret named: the grace starts again", "other", since("creds", time.Hour), 5 * time.Minute, t0, failure.WaitingForPerson, t0.Add(5 * time.Minute)},
		{"no grace: Stalled at once", "creds", nil, 0, t0, failure.Terminal, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, fl := credentialsGrace(tt.missing, tt.prev, t0, tt.grace, notFound)
			switch {
			case tt.wantSince.IsZero() && rec != nil:
				t.Errorf("record = %+v, want none", rec)
			case !tt.wantSince.IsZero() && (rec == nil || !rec.Since.Time.Equal(tt.wantSince) || rec.Name != tt.missing):
				t.Errorf("record = %+v, want %s since %s", rec, tt.missing, tt.wantSince)
			}
			if fl.Class != tt.class || fl.Reason != sfv1.ReasonCredentialsNotFound {
				t.Errorf("failure = %s/%s, want %s/CredentialsNotFound", fl.Class, fl.Reason, tt.class)
			}
			if !fl.RetryAt.Equal(tt.retryAt) {
				t.Errorf("retry at %s, want %s", fl.RetryAt, tt.retryAt)
			}
			if handlings[fl.Class].stalled != (tt.class == failure.Terminal) {
				t.Errorf("class %s stalls = %v", fl.Class, handlings[fl.Class].stalled)
			}
			if !strings.Contains(fl.Message, `"creds" not found`) {
				t.Errorf("message %q lost what is missing", fl.Message)
			}
		})
	}
}

func TestOwnerlessState(t *testing.T) {
	tests := []struct {
		name string
		o    ownerless
		want secretState
	}{
		{"written for this connection", ownerless{sealed: true, writtenFor: "u1", uid: "u1"}, secretOurs},
		{"written for it, seal broken: still its own to repair", ownerless{writtenFor: "u1", uid: "u1"}, secretOurs},
		{"controlled by another object", ownerless{controlled: true, sealed: true, writtenFor: "u1", uid: "u1"}, secretForeign},
		{"left by a deleted connection", ownerless{sealed: true, writtenFor: "u0", uid: "u1"}, secretUnclaimed},
		{"sealed, no written-for (its owner reference removed)", ownerless{sealed: true, uid: "u1"}, secretUnclaimed},
		{"seal broken: crafted or edited", ownerless{writtenFor: "u0", uid: "u1"}, secretForeign},
		{"someone's Secret", ownerless{uid: "u1"}, secretForeign},
		{"named by another live connection", ownerless{sealed: true, writtenFor: "u0", uid: "u1", heldByOther: true}, secretForeign},
		{"deviceLogin: its token was revoked", ownerless{sealed: true, writtenFor: "u0", uid: "u1", device: true}, secretForeign},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ownerlessState(tt.o); got != tt.want {
				t.Errorf("ownerlessState = %d, want %d", got, tt.want)
			}
		})
	}
}

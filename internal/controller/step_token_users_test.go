package controller

import (
	"strings"
	"testing"
	"time"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/pacing"
	"github.com/sfconn/sfconn-operator/internal/salesforce/emulator"
)

// Salesforce's login limit is per user: a rate limit met by one connection holds back
// every connection of the same user, and no request goes past it.
func TestTokenRateLimitHoldsBackTheUsersOtherConnections(t *testing.T) {
	h := newHarness(t)
	h.add(credentials(), h.newConn(), h.newConn(named("other")))
	if err := h.sf.InjectFault(emulator.Fault{Endpoint: emulator.EndpointToken, Count: 1, Status: 400,
		Body: `{"error":"invalid_grant","error_description":"login rate exceeded"}`, ContentType: "application/json"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.reconcile(hName); err != nil {
		t.Fatal(err)
	}
	if got := conditionOf(&h.getConn(hName).Status, sfv1.ConditionReady); got != "False/RateLimited" {
		t.Fatalf("Ready = %s after a rate-limited login", got)
	}
	requests := h.requests(emulator.EndpointToken)

	other := h.getConn("other")
	h.update(other, func() { other.Annotations = map[string]string{sfv1.AnnotationRequestedAt: "now"} })
	h.mustReconcile("other")
	if n := h.requests(emulator.EndpointToken); n != requests {
		t.Fatalf("the user's other connection logged in (%d requests, want %d) while the user is rate limited", n, requests)
	}
	st := h.getConn("other").Status
	if got := conditionOf(&st, sfv1.ConditionReady); got != "False/RateLimited" || st.LastFailure != nil {
		t.Fatalf("Ready = %s, lastFailure %+v: want RateLimited, and no failed login of its own", got, st.LastFailure)
	}
	if msg := conditionMessage(&st, sfv1.ConditionReady); !strings.Contains(msg, "every connection of the user waits") {
		t.Fatalf("Ready message %q does not say why", msg)
	}

	h.clk.Step(time.Hour + 15*time.Minute)
	h.mustReconcile("other")
	if got := conditionOf(&h.getConn("other").Status, sfv1.ConditionReady); got != "True/TokenIssued" {
		t.Fatalf("after the block: Ready = %s", got)
	}
}

// The operator's own budget of logins per user defers a login over it without a word in
// status: the connection waits for its turn.
func TestTokenUserBudgetDefersLogins(t *testing.T) {
	h := newHarness(t)
	h.r.Users = pacing.NewUserBudget(1)
	h.add(credentials(), h.newConn(), h.newConn(named("other")))
	h.mustReconcile(hName)
	res := h.mustReconcile("other")
	if h.logins() != 1 || res.RequeueAfter < time.Hour-time.Minute {
		t.Fatalf("logins %d, requeue after %v: want the second login of the hour deferred by about an hour", h.logins(), res.RequeueAfter)
	}
	if st := h.getConn("other").Status; len(st.Conditions) != 0 {
		t.Fatalf("a deferred login wrote conditions: %+v", st.Conditions)
	}
}

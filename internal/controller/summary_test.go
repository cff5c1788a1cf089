package controller

import (
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

func forbidden(name string) error {
	return apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, name, errors.New("denied by an admission webhook"))
}

// The API server refusing the token Secret's update ends the pass with a status patch
// that says so (Reconciling/ClusterError) and the error; Ready stays True while the token
// already in the Secret is valid.
func TestSummaryClusterErrorKeepsReadyWithValidToken(t *testing.T) {
	h := newHarness(t)
	h.add(h.newConn(), credentials())
	h.mustReconcile(hName)
	renewAt := h.getConn(hName).Status.RenewAt.Time

	h.resetWrites()
	h.failWrites("update", "Secret", "crm-token", forbidden("crm-token"))
	h.clk.SetTime(renewAt)
	res, err := h.reconcile(hName)
	if !apierrors.IsForbidden(err) {
		t.Fatalf("err = %v, want the Forbidden", err)
	}
	if res.RequeueAfter != 0 {
		t.Errorf("requeue after %v: an error leaves the retry to the controller's backoff", res.RequeueAfter)
	}
	if n := h.countWrites("patch/status", "", ""); n != 1 {
		t.Errorf("status patches = %d, want 1", n)
	}
	st := h.getConn(hName).Status
	if got := conditionOf(&st, sfv1.ConditionReconciling); got != "True/"+sfv1.ReasonClusterError ||
		!strings.Contains(conditionMessage(&st, sfv1.ConditionReconciling), "denied by an admission webhook") {
		t.Errorf("Reconciling = %s %q", got, conditionMessage(&st, sfv1.ConditionReconciling))
	}
	if got := conditionOf(&st, sfv1.ConditionReady); got != "True/"+sfv1.ReasonTokenIssued ||
		!strings.Contains(conditionMessage(&st, sfv1.ConditionReady), "renewing failed") {
		t.Errorf("Ready = %s %q, want True while the token in the Secret is valid", got, conditionMessage(&st, sfv1.ConditionReady))
	}
	if got := conditionOf(&st, sfv1.ConditionExpiring); got != "True/"+sfv1.ReasonRenewalFailing {
		t.Errorf("Expiring = %s", got)
	}
	if st.LastFailure != nil {
		t.Errorf("lastFailure = %+v: no login failed", st.LastFailure)
	}
	if got := conditionOf(&st, sfv1.ConditionStalled); got != "" {
		t.Errorf("Stalled = %s, want absent", got)
	}
}

// Without a token yet, the same refusal leaves Ready False with the cluster's reason.
func TestSummaryClusterErrorWithoutToken(t *testing.T) {
	h := newHarness(t)
	h.add(h.newConn(), credentials())
	h.failWrites("create", "Secret", "crm-token", forbidden("crm-token"))

	if _, err := h.reconcile(hName); !apierrors.IsForbidden(err) {
		t.Fatalf("err = %v, want the Forbidden", err)
	}
	st := h.getConn(hName).Status
	if got := conditionOf(&st, sfv1.ConditionReady); got != "False/"+sfv1.ReasonClusterError {
		t.Errorf("Ready = %s, want False/ClusterError", got)
	}
	if got := conditionOf(&st, sfv1.ConditionReconciling); got != "True/"+sfv1.ReasonClusterError {
		t.Errorf("Reconciling = %s", got)
	}
	if st.ObservedGeneration != 1 {
		t.Errorf("observedGeneration = %d, want 1", st.ObservedGeneration)
	}
	if e := eventWith(h.events(), corev1.EventTypeWarning, sfv1.ReasonClusterError); e == "" {
		t.Errorf("no ClusterError event")
	}
}

// A lost race is returned as it is, without a status patch: the next pass repeats the
// work, and reuses the token the failed one obtained.
func TestSummaryConflictIsNotPatched(t *testing.T) {
	h := newHarness(t)
	h.add(h.newConn(), credentials())
	h.failWrites("create", "Secret", "crm-token",
		apierrors.NewConflict(schema.GroupResource{Resource: "secrets"}, "crm-token", errors.New("the object has been modified")))

	if _, err := h.reconcile(hName); !apierrors.IsConflict(err) {
		t.Fatalf("err = %v, want the conflict", err)
	}
	if n := h.countWrites("patch/status", "", ""); n != 0 {
		t.Errorf("status patches = %d, want none", n)
	}
	if st := h.getConn(hName).Status; len(st.Conditions) != 0 || st.ObservedGeneration != 0 {
		t.Errorf("status = %+v, want untouched", st)
	}
	if evs := h.events(); eventWith(evs, corev1.EventTypeWarning, sfv1.ReasonClusterError) != "" {
		t.Errorf("events = %v: a conflict is no cluster error", evs)
	}

	h.clearWriteFaults()
	h.mustReconcile(hName)
	if n := h.logins(); n != 1 {
		t.Errorf("logins = %d, want 1: the retry writes the token the failed pass obtained", n)
	}
	if got := conditionOf(ptrStatus(h.getConn(hName).Status), sfv1.ConditionReady); got != "True/"+sfv1.ReasonTokenIssued {
		t.Errorf("Ready = %s", got)
	}
}

// A pass that changes nothing in status does not patch it.
func TestSummaryUnchangedStatusIsNotPatched(t *testing.T) {
	h := newHarness(t)
	h.add(h.newConn(), credentials())
	h.mustReconcile(hName)
	if n := h.countWrites("patch/status", "", ""); n != 1 {
		t.Fatalf("status patches on the first pass = %d, want 1", n)
	}
	renewAt := h.getConn(hName).Status.RenewAt.Time

	h.resetWrites()
	h.events()
	for range 3 {
		h.clk.Step(time.Minute)
		res := h.mustReconcile(hName)
		if want := renewAt.Sub(h.clk.Now()); res.RequeueAfter != want {
			t.Errorf("requeue after %v, want the renewal in %v", res.RequeueAfter, want)
		}
	}
	if w := h.allWrites(); len(w) != 0 {
		t.Errorf("writes = %v, want none (no status patch)", w)
	}
	if evs := h.events(); len(evs) != 0 {
		t.Errorf("events = %v, want none", evs)
	}
}

// issue() remembers a new token before writing it, "so that if the API server fails the
// write, the next pass restores this token instead of logging in again". That holds when
// the write was the Secret's creation (TestSummaryConflictIsNotPatched), not when it was a
// renewal's update.
func TestSummaryFailedRenewalWriteIsRestoredWithoutLogin(t *testing.T) {
	h := newHarness(t)
	h.add(h.newConn(), credentials())
	h.mustReconcile(hName)
	h.clk.SetTime(h.getConn(hName).Status.RenewAt.Time)

	h.failWrites("update", "Secret", "crm-token", forbidden("crm-token"))
	if _, err := h.reconcile(hName); !apierrors.IsForbidden(err) {
		t.Fatalf("err = %v, want the Forbidden", err)
	}
	issued, ok := h.r.mem.issued.load(types.NamespacedName{Namespace: hNamespace, Name: hName})
	if !ok || h.logins() != 2 {
		t.Fatalf("logins = %d, remembered %v: want the renewal's token remembered", h.logins(), ok)
	}
	renewed := issued.token.Unpack().AccessToken()

	h.clearWriteFaults()
	h.clk.Step(time.Second)
	h.mustReconcile(hName)
	if n := h.logins(); n != 2 {
		t.Errorf("logins = %d, want 2: the remembered token should be written without a login", n)
	}
	if got := h.storedToken(hName).AccessToken(); got != renewed {
		t.Errorf("the Secret holds another token than the one the failed pass obtained")
	}
}

func ptrStatus(st sfv1.SalesforceConnectionStatus) *sfv1.SalesforceConnectionStatus { return &st }

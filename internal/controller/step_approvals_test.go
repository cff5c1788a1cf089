package controller

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/approvals"
	"github.com/sfconn/sfconn-operator/internal/authflow"
	"github.com/sfconn/sfconn-operator/internal/salesforce/emulator"
)

// A refresh token connection learns who its token speaks for, holds the approval of its
// refresh token, and reports the principal's approvals.
func TestApprovalsRefreshTokenConnection(t *testing.T) {
	h := newHarness(t)
	creds := h.refreshCredentials()
	h.add(h.newConn(viaRefreshToken()), creds)

	p, _ := h.tokenPass(hName)
	if !p.renewed {
		t.Fatalf("no login: %+v", p.failure)
	}
	next, err := h.r.approvals(h.ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if !next.IsZero() {
		t.Errorf("next = %v, want none without connectedAppName", next)
	}
	st := p.status
	want := sfv1.Principal{OrgID: hOrgID, ClientID: hClientID, UserID: hUserID, Username: hUsername}
	if st.Principal == nil || *st.Principal != want {
		t.Errorf("principal = %+v, want %+v", st.Principal, want)
	}
	if n := h.requests(emulator.EndpointUserInfo); n != 1 {
		t.Errorf("userinfo requests = %d, want 1 (the username)", n)
	}
	id := approvals.ID(h.r.ApprovalKey, string(creds.Data[authflow.KeyRefreshToken]))
	if a := st.Approval; a == nil || a.ID != id || !a.Since.Time.Equal(p.now) || a.MintedByOperator {
		t.Errorf("approval = %+v, want %s since %v", a, id, p.now)
	}
	if a := st.Approvals; a == nil || a.Count != 1 || a.Limit != approvals.Limit || len(a.Holders) != 1 || a.Holders[0] != "ns/crm" || a.Salesforce != nil {
		t.Errorf("approvals = %+v, want one held by ns/crm", a)
	}
	if got := conditionOf(st, sfv1.ConditionApprovalLimit); got != "False/"+sfv1.ReasonWithinLimit ||
		!strings.Contains(conditionMessage(st, sfv1.ConditionApprovalLimit), "1 of 5") {
		t.Errorf("ApprovalLimit = %s %q", got, conditionMessage(st, sfv1.ConditionApprovalLimit))
	}
}

// With spec.connectedAppName, Salesforce is asked for the user's approvals after a login,
// and then not again before approvalCheckInterval.
func TestApprovalsAsksSalesforceAfterLoginThenEveryInterval(t *testing.T) {
	h := newHarness(t)
	h.add(h.newConn(viaRefreshToken(), withConnectedApp(hAppName, 30*time.Minute)), h.refreshCredentials())

	res := h.mustReconcile(hName)
	if n := h.requests(emulator.EndpointData); n != 1 {
		t.Fatalf("queries = %d after the login, want 1", n)
	}
	sf := h.getConn(hName).Status.Approvals.Salesforce
	if sf == nil || sf.AppName != hAppName || sf.Count == nil || *sf.Count != 1 || !sf.CheckedAt.Time.Equal(hStart) {
		t.Fatalf("status.approvals.salesforce = %+v, want one approval checked at %v", sf, hStart)
	}
	if res.RequeueAfter != 30*time.Minute {
		t.Errorf("requeue after %v, want the check interval", res.RequeueAfter)
	}

	h.clk.Step(10 * time.Minute)
	h.mustReconcile(hName)
	if n := h.requests(emulator.EndpointData); n != 1 {
		t.Errorf("queries = %d within the interval, want still 1", n)
	}
	if sf := h.getConn(hName).Status.Approvals.Salesforce; sf == nil || sf.Count == nil || !sf.CheckedAt.Time.Equal(hStart) {
		t.Errorf("the last answer must stand within the interval: %+v", sf)
	}

	// A login within the interval asks again: a new token may mean a new approval.
	conn := h.getConn(hName)
	h.update(conn, func() { conn.Annotations = map[string]string{sfv1.AnnotationRequestedAt: "renew"} })
	h.mustReconcile(hName)
	if n, logins := h.requests(emulator.EndpointData), h.logins(); n != 2 || logins != 2 {
		t.Fatalf("queries = %d, logins = %d after a requested renewal, want 2 and 2", n, logins)
	}
	checked := h.clk.Now()

	h.clk.Step(29 * time.Minute)
	h.mustReconcile(hName)
	if n := h.requests(emulator.EndpointData); n != 2 {
		t.Errorf("queries = %d within the interval of the last check, want still 2", n)
	}

	h.clk.Step(time.Minute)
	h.mustReconcile(hName)
	if n := h.requests(emulator.EndpointData); n != 3 {
		t.Errorf("queries = %d once the interval passed, want 3", n)
	}
	if n := h.logins(); n != 2 {
		t.Errorf("logins = %d, want 2: the check needs no login", n)
	}
	if sf := h.getConn(hName).Status.Approvals.Salesforce; sf == nil || !sf.CheckedAt.Time.Equal(checked.Add(30*time.Minute)) {
		t.Errorf("checkedAt = %+v, want now", sf)
	}
}

// A refresh token Salesforce rejects gets the ledger's numbers: the other approvals the
// cluster holds for the user and app are the likeliest cause.
func TestApprovalsRevokedFailureGetsTheLedgerFacts(t *testing.T) {
	principal := &sfv1.Principal{OrgID: hOrgID, ClientID: hClientID, UserID: hUserID, Username: hUsername}
	for _, tc := range []struct {
		name   string
		others int
		want   []string
	}{
		{"no other approval in the cluster", 0, []string{"The cluster holds no other approval for this user and connected app"}},
		{"another connection holds one", 1, []string{"The cluster holds 1 other approval(s)", "ns/other (since 2026-11-24T09:00:00Z)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.add(h.newConn(viaRefreshToken()), h.refreshCredentials())
			if tc.others > 0 {
				other := h.newConn(named("other"), viaRefreshToken(), withStatus(func(st *sfv1.SalesforceConnectionStatus) {
					st.Principal = principal.DeepCopy()
					st.Approval = &sfv1.ApprovalRef{ID: "approval-of-other", Since: metav1.NewTime(hStart.Add(-24 * time.Hour))}
				}))
				h.add(other)
			}
			h.mustReconcile(hName)
			if a := h.getConn(hName).Status.Approval; a == nil {
				t.Fatal("no approval after the login")
			}

			// Every approval of the user and app revoked in Salesforce; a renewal is asked for.
			h.sf.RevokeApprovals(hClientID, hUsername)
			conn := h.getConn(hName)
			h.update(conn, func() { conn.Annotations = map[string]string{sfv1.AnnotationRequestedAt: "now"} })
			h.clk.Step(time.Minute)
			h.mustReconcile(hName)

			st := h.getConn(hName).Status
			if got := conditionOf(&st, sfv1.ConditionRevoked); got != "True/"+sfv1.ReasonRefreshTokenRevoked {
				t.Fatalf("Revoked = %q, want True/RefreshTokenRevoked; status %+v", got, st)
			}
			for _, typ := range []string{sfv1.ConditionRevoked, sfv1.ConditionStalled, sfv1.ConditionReady} {
				msg := conditionMessage(&st, typ)
				for _, w := range tc.want {
					if !strings.Contains(msg, w) {
						t.Errorf("%s message %q lacks %q", typ, msg, w)
					}
				}
			}
			if st.Approval != nil {
				t.Errorf("approval = %+v, want none once revoked", st.Approval)
			}
			if st.Principal == nil || st.Principal.UserID != hUserID {
				t.Errorf("principal = %+v, want it kept while the token in the Secret lasts", st.Principal)
			}
		})
	}
}

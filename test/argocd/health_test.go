package argocd

import (
	"encoding/json"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

// fixedNow is the clock of the tests: 09:00 UTC, given in another zone on purpose.
var fixedNow = time.Date(2026, 11, 25, 10, 0, 0, 123456789, time.FixedZone("CET", 3600))

// Messages as the operator writes them (internal/controller/status.go).
const (
	msgReady       = "Token valid until 2026-11-25T11:00:00Z; renewal at 2026-11-25T10:20:00Z"
	msgUnavailable = "Salesforce answered 503 Service Unavailable"
	msgObtaining   = "Obtaining a token: " + msgUnavailable + "; next attempt at 2026-11-25T09:01:00Z"
	msgDevice      = "Waiting for integration@acme.com to approve the connected app: open " +
		"https://login.salesforce.com/setup/connect and enter the code ABCD1234 before 2026-11-25T09:10:00Z"
	msgWrongPassword    = "Salesforce refused the credentials: authentication failure"
	msgRevoked          = "Salesforce rejected the refresh token as revoked or expired (invalid_grant)"
	msgOverLimit        = "The user and connected app already hold 5 approvals in the cluster; a new one would revoke billing/old"
	msgAtLimit          = "The cluster holds 5 approvals for this user and connected app (Salesforce keeps five)"
	msgRenewing         = "The token expires at 2026-11-25T11:00:00Z and has not been renewed yet: " + msgUnavailable
	msgExpired          = "The token in the Secret expired at 2026-11-25T08:30:00Z: " + msgUnavailable
	msgSuspended        = "spec.suspend is true: the operator does not log in or write the token Secret until it is false"
	msgSuspendedValid   = "Token valid until 2026-11-25T11:00:00Z; not renewed while the connection is suspended"
	msgSuspendedExpired = "The token in the Secret expired at 2026-11-25T08:30:00Z; the connection is suspended, so no new one is obtained until spec.suspend is false"
)

// connection is a SalesforceConnection at generation 2 with no status.
func connection() *sfv1.SalesforceConnection {
	return &sfv1.SalesforceConnection{
		TypeMeta: metav1.TypeMeta{APIVersion: sfv1.GroupVersion.String(), Kind: "SalesforceConnection"},
		ObjectMeta: metav1.ObjectMeta{Name: "crm", Namespace: "billing", Generation: 2, UID: "6c1f0b4e-2d1a-4f7e-9a51-3c2b8d7e6f10",
			ResourceVersion: "4711", CreationTimestamp: metav1.NewTime(fixedNow.Add(-time.Hour))},
		Spec: sfv1.SalesforceConnectionSpec{
			LoginURL: "https://login.salesforce.com",
			Auth: sfv1.AuthSpec{JWTBearer: &sfv1.JWTBearerAuth{ClientID: "3MVG9", Username: "integration@acme.com",
				CredentialsSecretRef: sfv1.SecretReference{Name: "crm-credentials"}}},
			SessionTimeout: &metav1.Duration{Duration: 2 * time.Hour},
			ApprovalPolicy: sfv1.ApprovalPolicyRefuse,
		},
	}
}

func cond(typ string, status metav1.ConditionStatus, reason, message string) metav1.Condition {
	return metav1.Condition{Type: typ, Status: status, ObservedGeneration: 2, Reason: reason, Message: message,
		LastTransitionTime: metav1.NewTime(fixedNow.Add(-time.Minute).Truncate(time.Second))}
}

// observed is a connection whose status describes generation 2 with these conditions.
func observed(conditions ...metav1.Condition) *sfv1.SalesforceConnection {
	c := connection()
	c.Status.ObservedGeneration = 2
	c.Status.TokenSecretName = "crm-token"
	c.Status.Conditions = conditions
	return c
}

func readyConnection() *sfv1.SalesforceConnection {
	c := observed(cond(sfv1.ConditionReady, metav1.ConditionTrue, sfv1.ReasonTokenIssued, msgReady))
	issued := metav1.NewTime(fixedNow.Add(-time.Hour))
	c.Status.IssuedAt = &issued
	return c
}

// toObject is what kubectl get -o json gives for c.
func toObject(t *testing.T, c *sfv1.SalesforceConnection) map[string]any {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := json.Unmarshal(b, &obj); err != nil {
		t.Fatal(err)
	}
	return obj
}

func TestHealth(t *testing.T) {
	ready := cond(sfv1.ConditionReady, metav1.ConditionTrue, sfv1.ReasonTokenIssued, msgReady)
	unavailable := cond(sfv1.ConditionReady, metav1.ConditionFalse, sfv1.ReasonSalesforceUnavailable, msgUnavailable)
	reconciling := cond(sfv1.ConditionReconciling, metav1.ConditionTrue, sfv1.ReasonSalesforceUnavailable, msgObtaining)

	deleting := readyConnection()
	deleting.DeletionTimestamp = &metav1.Time{Time: fixedNow.Truncate(time.Second)}
	deleting.Finalizers = []string{"salesforce.sfconn.io/revoke"}

	notObserved := readyConnection()
	notObserved.Status.ObservedGeneration = 1

	noObservedGeneration := readyConnection()
	noObservedGeneration.Status.ObservedGeneration = 0

	tests := []struct {
		name    string
		conn    *sfv1.SalesforceConnection
		status  string
		message types.GomegaMatcher
	}{
		{"ready", readyConnection(), Healthy, Equal(msgReady)},
		{"ready, fewer than five approvals", observed(ready,
			cond(sfv1.ConditionApprovalLimit, metav1.ConditionFalse, sfv1.ReasonWithinLimit, "The cluster holds 2 of 5 approvals")),
			Healthy, Equal(msgReady)},
		{"ready, at the approval limit", observed(ready,
			cond(sfv1.ConditionApprovalLimit, metav1.ConditionTrue, sfv1.ReasonAtLimit, msgAtLimit)),
			Healthy, Equal(msgReady + ". AtLimit: " + msgAtLimit)},
		{"new: no status yet", connection(), Progressing,
			Equal("Waiting for the operator to reconcile the SalesforceConnection")},
		{"status without observedGeneration", noObservedGeneration, Progressing,
			Equal("Waiting for the operator to reconcile the SalesforceConnection")},
		{"generation not observed yet", notObserved, Progressing,
			Equal("Waiting for the operator to reconcile generation 2 (the status describes generation 1)")},
		{"obtaining a token", observed(unavailable, reconciling), Progressing, Equal(msgObtaining)},
		{"renewal requested, still valid token", observed(ready, reconciling), Progressing, Equal(msgObtaining)},
		{"awaiting device approval", observed(
			cond(sfv1.ConditionReady, metav1.ConditionFalse, sfv1.ReasonAwaitingApproval, msgDevice),
			cond(sfv1.ConditionReconciling, metav1.ConditionTrue, sfv1.ReasonAwaitingApproval,
				"Obtaining a token: "+msgDevice+"; next attempt at 2026-11-25T09:00:05Z")),
			Progressing, And(HavePrefix("Obtaining a token: Waiting for integration@acme.com"), ContainSubstring("ABCD1234"))},
		{"wrong password", observed(
			cond(sfv1.ConditionReady, metav1.ConditionFalse, sfv1.ReasonAuthenticationFailed, msgWrongPassword),
			cond(sfv1.ConditionStalled, metav1.ConditionTrue, sfv1.ReasonAuthenticationFailed, msgWrongPassword)),
			Degraded, Equal("AuthenticationFailed: " + msgWrongPassword)},
		{"revoked", observed(
			cond(sfv1.ConditionReady, metav1.ConditionFalse, sfv1.ReasonRevoked, msgRevoked),
			cond(sfv1.ConditionStalled, metav1.ConditionTrue, sfv1.ReasonRevoked, msgRevoked),
			cond(sfv1.ConditionRevoked, metav1.ConditionTrue, sfv1.ReasonRefreshTokenRevoked, msgRevoked)),
			Degraded, Equal("Revoked: " + msgRevoked)},
		{"revoked condition alone", observed(
			cond(sfv1.ConditionReady, metav1.ConditionFalse, sfv1.ReasonRevoked, msgRevoked),
			cond(sfv1.ConditionRevoked, metav1.ConditionTrue, sfv1.ReasonRefreshTokenRevoked, msgRevoked)),
			Degraded, Equal("RefreshTokenRevoked: " + msgRevoked)},
		{"over the approval limit", observed(
			cond(sfv1.ConditionApprovalLimit, metav1.ConditionTrue, sfv1.ReasonExceeded, msgOverLimit),
			cond(sfv1.ConditionReady, metav1.ConditionFalse, sfv1.ReasonApprovalLimitReached, msgOverLimit),
			cond(sfv1.ConditionStalled, metav1.ConditionTrue, sfv1.ReasonApprovalLimitReached, msgOverLimit)),
			Degraded, Equal("ApprovalLimitReached: " + msgOverLimit)},
		{"expiring: renewal failing, token still valid", observed(
			cond(sfv1.ConditionReady, metav1.ConditionTrue, sfv1.ReasonTokenIssued,
				"Token valid until 2026-11-25T11:00:00Z; renewing failed ("+msgUnavailable+"), next attempt at 2026-11-25T09:01:00Z"),
			reconciling,
			cond(sfv1.ConditionExpiring, metav1.ConditionTrue, sfv1.ReasonRenewalFailing, msgRenewing)),
			Healthy, Equal("Renewal is failing; the token is still valid. RenewalFailing: " + msgRenewing)},
		{"expired while Salesforce is unavailable", observed(
			cond(sfv1.ConditionReady, metav1.ConditionFalse, sfv1.ReasonSalesforceUnavailable,
				msgUnavailable+"; the token in the Secret expired at 2026-11-25T08:30:00Z"),
			reconciling,
			cond(sfv1.ConditionExpiring, metav1.ConditionTrue, sfv1.ReasonExpiredToken, msgExpired)),
			Degraded, Equal("Expired: " + msgExpired)},
		{"expired: Ready reason Expired", observed(
			cond(sfv1.ConditionReady, metav1.ConditionFalse, sfv1.ReasonExpired, "The token in the Secret expired at 2026-11-25T08:30:00Z")),
			Degraded, Equal("Expired: The token in the Secret expired at 2026-11-25T08:30:00Z")},
		{"suspended, token still valid", observed(
			cond(sfv1.ConditionReady, metav1.ConditionTrue, sfv1.ReasonTokenIssued, msgSuspendedValid),
			cond(sfv1.ConditionSuspended, metav1.ConditionTrue, sfv1.ReasonSuspended, msgSuspended)),
			Suspended, Equal("Suspended: " + msgSuspended + ". Ready True, TokenIssued: " + msgSuspendedValid)},
		{"suspended, token expired", observed(
			cond(sfv1.ConditionReady, metav1.ConditionFalse, sfv1.ReasonSuspended, msgSuspendedExpired),
			cond(sfv1.ConditionStalled, metav1.ConditionTrue, sfv1.ReasonSuspended, msgSuspendedExpired),
			cond(sfv1.ConditionSuspended, metav1.ConditionTrue, sfv1.ReasonSuspended, msgSuspended)),
			Suspended, Equal("Suspended: " + msgSuspended + ". Ready False, Suspended: " + msgSuspendedExpired)},
		{"suspend not observed yet", func() *sfv1.SalesforceConnection {
			c := readyConnection()
			c.Spec.Suspend = true
			c.Status.ObservedGeneration = 1
			return c
		}(), Progressing, HavePrefix("Waiting for the operator to reconcile generation 2")},
		{"resumed: Suspended gone", readyConnection(), Healthy, Equal(msgReady)},
		{"deleting", deleting, Progressing, Equal("The SalesforceConnection is being deleted")},
		{"Ready False without Reconciling or Stalled", observed(unavailable), Progressing,
			Equal("SalesforceUnavailable: " + msgUnavailable)},
		{"Ready Unknown", observed(cond(sfv1.ConditionReady, metav1.ConditionUnknown, "Pending", "")), Progressing, Equal("Pending")},
		{"no Ready condition", observed(), Progressing, Equal("Waiting for the Ready condition")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			st, err := Health(toObject(t, tt.conn))
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(st.Status).To(Equal(tt.status))
			g.Expect(st.Message).To(tt.message)
		})
	}
}

// TestHealthDefaultedStatus: the CRD defaults status to {observedGeneration: 0}, so a
// new connection read from the API server has a status before the operator's first pass.
func TestHealthDefaultedStatus(t *testing.T) {
	g := NewWithT(t)
	c := connection()
	c.Generation = 1
	obj := toObject(t, c)
	obj["status"] = map[string]any{"observedGeneration": int64(0)}
	st, err := Health(obj)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(st).To(Equal(Status{Status: Progressing, Message: "Waiting for the operator to reconcile the SalesforceConnection"}))
}

// TestHealthMalformed: objects that are not what the operator writes give a status, never
// a script error.
func TestHealthMalformed(t *testing.T) {
	tests := []struct {
		name   string
		obj    map[string]any
		status string
	}{
		{"empty object", map[string]any{}, Progressing},
		{"nil object", nil, Progressing},
		{"metadata not an object", map[string]any{"metadata": "x", "status": map[string]any{"observedGeneration": 1}}, Progressing},
		{"status not an object", map[string]any{"status": "ready"}, Progressing},
		{"empty status", map[string]any{"metadata": map[string]any{"generation": 1}, "status": map[string]any{}}, Progressing},
		{"conditions not a list", map[string]any{"status": map[string]any{"observedGeneration": 1, "conditions": "Ready"}}, Progressing},
		{"conditions of the wrong shape", map[string]any{"status": map[string]any{"observedGeneration": 1,
			"conditions": []any{"Ready", 1, nil, map[string]any{"type": "Ready", "status": "True", "reason": 7}}}}, Healthy},
		{"a condition without reason or message", map[string]any{"status": map[string]any{"observedGeneration": 1,
			"conditions": []any{map[string]any{"type": "Stalled", "status": "True"}}}}, Degraded},
		{"no generation in metadata", map[string]any{"metadata": map[string]any{}, "status": map[string]any{"observedGeneration": 3,
			"conditions": []any{map[string]any{"type": "Ready", "status": "True", "message": "ok"}}}}, Healthy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			st, err := Health(tt.obj)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(st.Status).To(Equal(tt.status))
		})
	}
}

func TestHealthStatusInvalid(t *testing.T) {
	g := NewWithT(t)
	out, err := run(`return {status = "Fine", message = "x"}`, nil, fixedNow)
	g.Expect(err).NotTo(HaveOccurred())
	st, err := healthStatus(out)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(st).To(Equal(Status{Status: Unknown, Message: "Lua returned an invalid health status"}))

	out, err = run(`return {"Healthy"}`, nil, fixedNow)
	g.Expect(err).NotTo(HaveOccurred())
	_, err = healthStatus(out)
	g.Expect(err).To(MatchError(ContainSubstring("not a table with status and message")))
}

// TestHealthOfClusterConnection: a ClusterSalesforceConnection, whose status has the same
// shape, gets the same health from the same script, and its messages name its kind.
func TestHealthOfClusterConnection(t *testing.T) {
	g := NewWithT(t)
	obj := clusterObject(t, readyClusterConnection())
	st, err := Health(obj)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(st.Status).To(Equal(Healthy))

	obj["status"] = map[string]any{"observedGeneration": int64(0)}
	st, err = Health(obj)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(st).To(Equal(Status{Status: Progressing, Message: "Waiting for the operator to reconcile the ClusterSalesforceConnection"}))
}

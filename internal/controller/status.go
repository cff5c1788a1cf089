package controller

import (
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

// outcome is what a pass ended with: the token now in the token Secret (new or kept) and
// the failure that prevented a current one, if any.
type outcome struct {
	token   *issuedToken
	renewed bool
	// tokenRejected is set while the token in the Secret is one Salesforce refused.
	tokenRejected bool
	failure       *failure
	// newFailure is set when this pass attempted a login and it failed; it is recorded in
	// status so that backoff and "wait for a change" survive restarts.
	newFailure bool

	// approvalID is the approval a login of this pass used, for flows that hold one.
	approvalID string
	// mintedApproval is set when the operator made the approval itself (device login).
	mintedApproval bool
	// username is who the token of this pass's login speaks for, when known.
	username string

	// principal and approval are what status will say; ledger is the cluster's view of
	// the principal's approvals (nil when not applicable).
	principal *sfv1.Principal
	approval  *sfv1.ApprovalRef
	ledger    *ledgerView
	// salesforceApprovals is Salesforce's own count of the principal's approvals
	// (spec.connectedAppName), nil when not asked; approvalCheckWake is when to ask again.
	salesforceApprovals *sfv1.SalesforceApprovals
	approvalCheckWake   time.Time
	// device is a pending device login's instructions for a person.
	device *sfv1.DeviceLoginStatus

	// rolloutRestart is status.rolloutRestart after this pass; restartWake is when a
	// restart held back or failed is due.
	rolloutRestart *sfv1.RolloutRestartStatus
	restartWake    time.Time

	// announced holds the reasons of the events this pass recorded.
	announced map[string]bool
}

// computeStatus derives the whole status from this pass's facts and outcome. Pure: no
// condition is carried over from the last pass except what the facts say.
func computeStatus(conn *sfv1.SalesforceConnection, f *facts, o *outcome) sfv1.SalesforceConnectionStatus {
	st := *conn.Status.DeepCopy()
	st.ObservedGeneration = f.generation
	st.LastHandledReconcileAt = f.requestedAt
	if o.token != nil {
		renew := f.renewalOf(o.token)
		st.InstanceURL = o.token.instanceURL()
		st.OrgID = o.token.orgID()
		st.UserID = o.token.userID()
		st.IssuedAt = timePtr(o.token.issuedAt)
		st.ExpiresAt = timePtr(o.token.expiresAt)
		st.ExpirySource = o.token.expirySource()
		st.RenewAt = timePtr(renew)
		st.TokenSecretName = tokenSecretName(conn)
	} else {
		st.IssuedAt, st.ExpiresAt, st.RenewAt, st.ExpirySource = nil, nil, nil, ""
		st.TokenSecretName = ""
	}
	st.LastFailure = nextLastFailure(conn.Status.LastFailure, f, o)
	st.Principal, st.Approval, st.DeviceLogin = o.principal, o.approval, o.device
	st.JWTCertificate = generatedCertificateStatus(conn, f.jwtKey)
	st.RolloutRestart = o.rolloutRestart
	st.Approvals = nil
	if o.ledger != nil {
		st.Approvals = &sfv1.ApprovalsSummary{Count: int32(o.ledger.count()), Limit: approvalLimit, Holders: o.ledger.holders()}
	}
	if o.salesforceApprovals != nil {
		if st.Approvals == nil {
			// A flow that holds no approval itself: none of the user's are the cluster's.
			st.Approvals = &sfv1.ApprovalsSummary{Limit: approvalLimit}
		}
		st.Approvals.Salesforce = o.salesforceApprovals
	}
	setApprovalLimit(&st, f, o)

	setReady(&st, f, o)
	setStalled(&st, f, o)
	setReconciling(&st, f, o)
	setExpiring(&st, f, o)
	setRevoked(&st, f, o)
	return st
}

func nextLastFailure(prev *sfv1.LoginFailure, f *facts, o *outcome) *sfv1.LoginFailure {
	switch {
	case o.failure == nil:
		return nil
	case !o.newFailure:
		return prev
	}
	lf := &sfv1.LoginFailure{
		Time:               statusTime(f.now),
		Count:              consecutiveFailures(f),
		Reason:             o.failure.reason,
		Message:            o.failure.message,
		ObservedGeneration: f.generation,
	}
	if f.inputs != nil {
		lf.CredentialsResourceVersion = f.inputs.credentialsVersion
	}
	return lf
}

// consecutiveFailures counts a login failing now: one more than the last failure when that
// was made with the same inputs, else the first.
func consecutiveFailures(f *facts) int32 {
	if lf := f.lastFailure; lf != nil && f.inputs != nil && lf.ObservedGeneration == f.generation &&
		lf.CredentialsResourceVersion == f.inputs.credentialsVersion {
		return lf.Count + 1
	}
	return 1
}

// tokenValid says whether the token Secret holds a token that works now.
func tokenValid(f *facts, o *outcome) bool {
	return o.token != nil && f.now.Before(o.token.expiresAt) && !o.tokenRejected
}

func setReady(st *sfv1.SalesforceConnectionStatus, f *facts, o *outcome) {
	c := metav1.Condition{Type: sfv1.ConditionReady, ObservedGeneration: f.generation}
	switch {
	case o.failure == nil:
		c.Status, c.Reason = metav1.ConditionTrue, sfv1.ReasonTokenIssued
		c.Message = fmt.Sprintf("Token valid until %s; renewal at %s", stamp(o.token.expiresAt), stamp(st.RenewAt.Time))
	case !o.failure.terminal && tokenValid(f, o):
		// A transient failure leaves the current token in place: it still works.
		c.Status, c.Reason = metav1.ConditionTrue, sfv1.ReasonTokenIssued
		c.Message = fmt.Sprintf("Token valid until %s; renewing failed (%s), next attempt at %s",
			stamp(o.token.expiresAt), o.failure.message, stamp(o.failure.retryAt))
	default:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, o.failure.reason, failureMessage(f, o)
	}
	meta.SetStatusCondition(&st.Conditions, c)
}

func failureMessage(f *facts, o *outcome) string {
	msg := o.failure.message
	if !o.failure.terminal && !o.failure.retryAt.IsZero() {
		msg = fmt.Sprintf("%s; next attempt at %s", msg, stamp(o.failure.retryAt))
	}
	switch {
	case o.token != nil && o.tokenRejected:
		msg = fmt.Sprintf("%s; Salesforce refused the token in the Secret before its expiry (revoked, or its session ended)", msg)
	case o.token != nil && !tokenValid(f, o):
		msg = fmt.Sprintf("%s; the token in the Secret expired at %s", msg, stamp(o.token.expiresAt))
	}
	return msg
}

// setStalled follows kstatus: present only while True.
func setStalled(st *sfv1.SalesforceConnectionStatus, f *facts, o *outcome) {
	if o.failure == nil || !o.failure.terminal {
		meta.RemoveStatusCondition(&st.Conditions, sfv1.ConditionStalled)
		return
	}
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: sfv1.ConditionStalled, Status: metav1.ConditionTrue,
		ObservedGeneration: f.generation, Reason: o.failure.reason, Message: o.failure.message})
}

// setReconciling follows kstatus: present only while True, that is while a retry is due.
func setReconciling(st *sfv1.SalesforceConnectionStatus, f *facts, o *outcome) {
	if o.failure == nil || o.failure.terminal {
		meta.RemoveStatusCondition(&st.Conditions, sfv1.ConditionReconciling)
		return
	}
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: sfv1.ConditionReconciling, Status: metav1.ConditionTrue,
		ObservedGeneration: f.generation, Reason: o.failure.reason,
		Message: fmt.Sprintf("Obtaining a token: %s; next attempt at %s", o.failure.message, stamp(o.failure.retryAt))})
}

// setExpiring is present only while True: the renewal time has passed without a new token.
func setExpiring(st *sfv1.SalesforceConnectionStatus, f *facts, o *outcome) {
	if o.token == nil || o.renewed || f.now.Before(st.RenewAt.Time) {
		meta.RemoveStatusCondition(&st.Conditions, sfv1.ConditionExpiring)
		return
	}
	c := metav1.Condition{Type: sfv1.ConditionExpiring, Status: metav1.ConditionTrue, ObservedGeneration: f.generation}
	if tokenValid(f, o) {
		c.Reason = sfv1.ReasonRenewalFailing
		c.Message = fmt.Sprintf("The token expires at %s and has not been renewed yet", stamp(o.token.expiresAt))
	} else {
		c.Reason = sfv1.ReasonExpiredToken
		c.Message = fmt.Sprintf("The token in the Secret expired at %s", stamp(o.token.expiresAt))
	}
	if o.failure != nil {
		c.Message += ": " + o.failure.message
	}
	meta.SetStatusCondition(&st.Conditions, c)
}

// setRevoked is present only while True: Salesforce rejected the refresh token.
func setRevoked(st *sfv1.SalesforceConnectionStatus, f *facts, o *outcome) {
	if o.failure == nil || o.failure.reason != sfv1.ReasonRevoked {
		meta.RemoveStatusCondition(&st.Conditions, sfv1.ConditionRevoked)
		return
	}
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: sfv1.ConditionRevoked, Status: metav1.ConditionTrue,
		ObservedGeneration: f.generation, Reason: sfv1.ReasonRefreshTokenRevoked, Message: o.failure.message})
}

// setApprovalLimit reports the principal's approvals: True/AtLimit at five (the next
// approval anywhere evicts the oldest), True/Exceeded when this connection was refused one.
func setApprovalLimit(st *sfv1.SalesforceConnectionStatus, f *facts, o *outcome) {
	c := metav1.Condition{Type: sfv1.ConditionApprovalLimit, ObservedGeneration: f.generation}
	switch {
	case o.failure != nil && o.failure.reason == sfv1.ReasonApprovalLimitReached:
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, sfv1.ReasonExceeded, o.failure.message
	case o.ledger == nil && salesforceCount(o.salesforceApprovals) < 0:
		meta.RemoveStatusCondition(&st.Conditions, sfv1.ConditionApprovalLimit)
		return
	case salesforceCount(o.salesforceApprovals) >= approvalLimit:
		sa := o.salesforceApprovals
		c.Status, c.Reason = metav1.ConditionTrue, sfv1.ReasonAtLimit
		c.Message = fmt.Sprintf("Salesforce holds %d approvals for this user and connected app %q (it keeps five), %d of them in the cluster; "+
			"the next approval for them, made anywhere, revokes the oldest: %s", *sa.Count, sa.AppName, clusterCount(o), describeOldest(sa))
	case o.ledger == nil:
		sa := o.salesforceApprovals
		c.Status, c.Reason = metav1.ConditionFalse, sfv1.ReasonWithinLimit
		c.Message = fmt.Sprintf("Salesforce holds %d of %d approvals for this user and connected app %q, none of them in the cluster",
			*sa.Count, approvalLimit, sa.AppName)
	case o.ledger.count() >= approvalLimit:
		c.Status, c.Reason = metav1.ConditionTrue, sfv1.ReasonAtLimit
		c.Message = fmt.Sprintf("The cluster holds %d approvals for this user and connected app (Salesforce keeps five): %s. "+
			"The next approval for them, made anywhere, revokes the oldest (%s)",
			o.ledger.count(), o.ledger.describe(), strings.Join(o.ledger.approvals[0].holders, " and "))
	default:
		c.Status, c.Reason = metav1.ConditionFalse, sfv1.ReasonWithinLimit
		c.Message = fmt.Sprintf("The cluster holds %d of %d approvals for this user and connected app: %s",
			o.ledger.count(), approvalLimit, o.ledger.describe())
		if n := salesforceCount(o.salesforceApprovals); n >= 0 {
			c.Message = fmt.Sprintf("Salesforce holds %d of %d approvals for this user and connected app %q, %d of them in the cluster: %s",
				n, approvalLimit, o.salesforceApprovals.AppName, o.ledger.count(), o.ledger.describe())
		}
	}
	if sa := o.salesforceApprovals; sa != nil && sa.Count == nil {
		c.Message += ". " + sa.Message
	}
	meta.SetStatusCondition(&st.Conditions, c)
}

// clusterCount is how many of the principal's approvals the cluster holds.
func clusterCount(o *outcome) int {
	if o.ledger == nil {
		return 0
	}
	return o.ledger.count()
}

// nextWake is when the status will next change on its own: the renewal, the retry, or the
// expiry of the stored token (so Expiring turns from RenewalFailing to Expired on time).
// Zero means nothing is due: a watch event will wake the connection.
func nextWake(f *facts, o *outcome) time.Time {
	var next time.Time
	consider := func(t time.Time) {
		if t.After(f.now) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	if o.token != nil {
		consider(f.renewalOf(o.token))
		consider(o.token.expiresAt)
	}
	if o.failure != nil && !o.failure.terminal {
		consider(o.failure.retryAt)
	}
	consider(o.restartWake)
	consider(o.approvalCheckWake)
	consider(f.verifyWake)
	if f.jwtKey != nil {
		consider(f.jwtKey.rotationAt())
	}
	return next
}

// statusTime is t as status stores it: RFC 3339 keeps whole seconds, so a time with a
// fraction would differ from its own stored copy and cause a write every pass.
func statusTime(t time.Time) metav1.Time { return metav1.NewTime(t.Truncate(time.Second)) }

func timePtr(t time.Time) *metav1.Time {
	mt := statusTime(t)
	return &mt
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

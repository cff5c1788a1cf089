package controller

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/approvals"
	"github.com/sfconn/sfconn-operator/internal/authflow"
	"github.com/sfconn/sfconn-operator/internal/failure"
)

// FinalizerRevoke holds a connection until the refresh token the operator obtained for it
// (device login) is revoked.
const FinalizerRevoke = "salesforce.sfconn.io/revoke-approval"

// approvals keeps the count of the principal's approvals: who the token speaks for, the
// approval the connection holds, what the cluster holds for that principal (the ledger),
// and, with spec.connectedAppName, what Salesforce holds. It owns status.principal,
// approval and approvals and the ApprovalLimit condition, and is due when Salesforce's
// count is next to be asked.
func (r *Reconciler) approvals(ctx context.Context, p *pass) (time.Time, error) {
	st := p.status
	holds := p.flow != nil && p.flow.HoldsApproval()
	revoked := p.failure != nil && p.failure.Reason == sfv1.ReasonRevoked
	var clientID, orgID, userID, username, approvalID string
	var minted bool
	if p.token != nil {
		orgID, userID = p.token.OrgID(), p.token.UserID()
	}
	if p.renewed {
		clientID, username = p.inputs.Request.ClientID, p.inputs.Request.Username
		if p.login.Username != "" {
			// What Salesforce said beats what the spec says.
			username = p.login.Username
		}
		if holds && p.login.ApprovalSource != "" {
			approvalID, minted = approvals.ID(r.ApprovalKey, p.login.ApprovalSource), p.login.Minted
		}
		if holds && username == "" {
			username = r.username(ctx, p)
		}
	}
	st.Principal = approvals.NextPrincipal(p.conn.Status.Principal, p.token != nil, p.renewed, clientID, orgID, userID, username)
	st.Approval = approvals.NextApproval(p.conn.Status.Approval, holds, revoked, approvalID, minted, p.now)

	var view *approvals.View
	if st.Principal != nil && holds {
		self := p.conn.DeepCopy()
		self.Status.Principal, self.Status.Approval = st.Principal, st.Approval
		var err error
		if view, err = approvals.Ledger(ctx, r.Client, approvals.IDKey(st.Principal), self, r.ClusterConnections); err != nil {
			return time.Time{}, err
		}
		if revoked {
			p.failure.Message += revokedFacts(view)
		}
	}
	sf, next := r.salesforceApprovals(ctx, p)

	st.Approvals = nil
	if view != nil {
		st.Approvals = &sfv1.ApprovalsSummary{Count: int32(view.Count()), Limit: approvals.Limit, Holders: view.Holders()}
	}
	if sf != nil {
		if st.Approvals == nil {
			// A flow that holds no approval itself: none of the user's are the cluster's.
			st.Approvals = &sfv1.ApprovalsSummary{Limit: approvals.Limit}
		}
		st.Approvals.Salesforce = sf
	}
	setApprovalLimit(p, view, sf)
	setRefreshTokenUnsaved(p, st.Approval != nil && r.chains.Unsaved(st.Approval.ID))
	return next, nil
}

// setRefreshTokenUnsaved says, while it is so, that the connection's chain holds its
// rotated refresh token in the operator's memory only.
func setRefreshTokenUnsaved(p *pass, unsaved bool) {
	if !unsaved {
		meta.RemoveStatusCondition(&p.status.Conditions, sfv1.ConditionRefreshTokenUnsaved)
		return
	}
	meta.SetStatusCondition(&p.status.Conditions, metav1.Condition{Type: sfv1.ConditionRefreshTokenUnsaved, Status: metav1.ConditionTrue,
		ObservedGeneration: p.conn.Generation, Reason: sfv1.ReasonStoreFailed,
		Message: "Salesforce rotated the refresh token and the API server did not store the new one: it is held in the operator's memory only, and stored before the next refresh. " +
			"A restart of the operator now would lose it; see the operator's log and the ClusterError of this or another connection of the same refresh token"})
}

// revokedFacts gives the first likely cause of a revocation its numbers.
func revokedFacts(view *approvals.View) string {
	if view.Count() == 0 {
		return ". The cluster holds no other approval for this user and connected app, so a sixth one was made elsewhere, if that was the cause"
	}
	return fmt.Sprintf(". The cluster holds %d other approval(s) for this user and connected app, oldest first: %s", view.Count(), view.Describe())
}

// username asks Salesforce who a refresh token speaks for, once per user: the ledger
// needs it to check a device login for the same user before it is made. A failure only
// leaves the name unknown.
func (r *Reconciler) username(ctx context.Context, p *pass) string {
	if prev := p.conn.Status.Principal; prev != nil && prev.UserID == p.token.UserID() && prev.Username != "" {
		return prev.Username
	}
	info, err := r.Salesforce.UserInfo(ctx, p.token.InstanceURL(), p.token.AccessToken())
	if err != nil {
		p.log.V(1).Info("Could not learn the username", "error", err.Error())
		return ""
	}
	return info.Username
}

// salesforceApprovals asks Salesforce, with the connection's own token, for the user's
// approvals of spec.connectedAppName: after a login, when the app name changed, and
// approvalCheckInterval after the last check; in between, the last answer stands. A
// refusal leaves the count unknown with a message, never fails the connection.
func (r *Reconciler) salesforceApprovals(ctx context.Context, p *pass) (*sfv1.SalesforceApprovals, time.Time) {
	name := p.conn.Spec.ConnectedAppName
	if name == "" || p.token == nil {
		return nil, time.Time{}
	}
	interval := approvals.CheckInterval(&p.conn.Spec)
	if prev := lastSalesforceCount(p.conn); prev != nil && !p.renewed && p.now.Before(prev.CheckedAt.Add(interval)) {
		return prev.DeepCopy(), prev.CheckedAt.Add(interval)
	}
	qctx, cancel := context.WithTimeout(ctx, authflow.LoginTimeout)
	defer cancel()
	found, err := r.Salesforce.QueryApprovals(qctx, p.token.InstanceURL(), p.token.AccessToken(), name, p.token.UserID())
	if err != nil {
		p.log.Info("Listing the user's approvals in Salesforce failed", "connectedAppName", name, "error", err.Error())
	}
	return approvals.Summarize(name, p.now, found, err), p.now.Add(interval)
}

// lastSalesforceCount is Salesforce's count in status, when it is of the app the spec
// names now.
func lastSalesforceCount(conn *sfv1.SalesforceConnection) *sfv1.SalesforceApprovals {
	if a := conn.Status.Approvals; a != nil && a.Salesforce != nil && a.Salesforce.AppName == conn.Spec.ConnectedAppName {
		return a.Salesforce
	}
	return nil
}

// reserveApproval is asked before a device login makes a new approval: at five, the next
// one evicts the oldest, which may belong to another system, so it is refused unless the
// spec says EvictOldest. Once allowed, the connection gets the finalizer that revokes the
// approval when it goes.
func (r *Reconciler) reserveApproval(ctx context.Context, p *pass) error {
	conn := p.conn
	if err := r.approvalRefusal(ctx, p); err != nil {
		return err
	}
	// The finalizer goes on the object the API server has: for a cluster connection's
	// view, the ClusterSalesforceConnection.
	if obj := p.subject(); !controllerutil.ContainsFinalizer(obj, FinalizerRevoke) {
		patch := client.MergeFrom(obj.DeepCopyObject().(client.Object))
		controllerutil.AddFinalizer(obj, FinalizerRevoke)
		if err := r.Client.Patch(ctx, obj, patch); err != nil {
			return fmt.Errorf("adding the finalizer: %w", err)
		}
		controllerutil.AddFinalizer(conn, FinalizerRevoke)
	}
	return nil
}

// approvalRefusal says whether a device login may make its approval: a failure when the
// user and app hold five in the cluster (other connections' approvals, and their pending
// device logins, which reserve one each) or in Salesforce's last count.
func (r *Reconciler) approvalRefusal(ctx context.Context, p *pass) error {
	conn := p.conn
	if conn.Spec.ApprovalPolicy == sfv1.ApprovalPolicyEvictOldest {
		return nil
	}
	username := conn.Spec.Auth.DeviceLogin.Username
	self := conn.DeepCopy()
	self.Status.Approval, self.Status.DeviceLogin = nil, nil
	key := approvals.NameKey(p.inputs.Request.ClientID, username)
	if prev := conn.Status.Principal; prev != nil && prev.UserID != "" {
		key = approvals.IDKey(prev)
	}
	view, err := approvals.Ledger(ctx, r.Client, key, self, r.ClusterConnections)
	if err != nil {
		return err
	}
	if refusal := approvals.NewApprovalRefusal(username, view, lastSalesforceCount(conn)); refusal != "" {
		return failure.New(failure.Terminal, sfv1.ReasonApprovalLimitReached, "%s", refusal)
	}
	return nil
}

// setApprovalLimit reports the principal's approvals: True/AtLimit at five (the next
// approval anywhere evicts the oldest), True/Exceeded when this connection was refused one.
func setApprovalLimit(p *pass, view *approvals.View, sa *sfv1.SalesforceApprovals) {
	st := p.status
	c := metav1.Condition{Type: sfv1.ConditionApprovalLimit, ObservedGeneration: p.conn.Generation}
	sfCount := approvals.SalesforceCount(sa)
	switch {
	case p.failure != nil && p.failure.Reason == sfv1.ReasonApprovalLimitReached:
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, sfv1.ReasonExceeded, p.failure.Message
	case view == nil && sfCount < 0:
		meta.RemoveStatusCondition(&st.Conditions, sfv1.ConditionApprovalLimit)
		return
	case sfCount >= approvals.Limit:
		c.Status, c.Reason = metav1.ConditionTrue, sfv1.ReasonAtLimit
		c.Message = fmt.Sprintf("Salesforce holds %d approvals for this user and connected app %q (it keeps five), %d of them in the cluster; "+
			"the next approval for them, made anywhere, revokes the oldest: %s", sfCount, sa.AppName, view.Count(), approvals.DescribeOldest(sa))
	case view == nil:
		c.Status, c.Reason = metav1.ConditionFalse, sfv1.ReasonWithinLimit
		c.Message = fmt.Sprintf("Salesforce holds %d of %d approvals for this user and connected app %q, none of them in the cluster",
			sfCount, approvals.Limit, sa.AppName)
	case view.Count() >= approvals.Limit:
		c.Status, c.Reason = metav1.ConditionTrue, sfv1.ReasonAtLimit
		c.Message = fmt.Sprintf("The cluster holds %d approvals for this user and connected app (Salesforce keeps five): %s. "+
			"The next approval for them, made anywhere, revokes the oldest (%s)",
			view.Count(), view.Describe(), approvals.JoinHolders(view.Approvals[0].Holders))
	case sfCount >= 0:
		c.Status, c.Reason = metav1.ConditionFalse, sfv1.ReasonWithinLimit
		c.Message = fmt.Sprintf("Salesforce holds %d of %d approvals for this user and connected app %q, %d of them in the cluster: %s",
			sfCount, approvals.Limit, sa.AppName, view.Count(), view.Describe())
	default:
		c.Status, c.Reason = metav1.ConditionFalse, sfv1.ReasonWithinLimit
		c.Message = fmt.Sprintf("The cluster holds %d of %d approvals for this user and connected app: %s",
			view.Count(), approvals.Limit, view.Describe())
	}
	if sa != nil && sa.Count == nil {
		c.Message += ". " + sa.Message
	}
	meta.SetStatusCondition(&st.Conditions, c)
}

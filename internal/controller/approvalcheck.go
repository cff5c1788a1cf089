package controller

import (
	"context"
	"fmt"
	"slices"
	"time"

	"k8s.io/klog/v2"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/salesforce"
)

// defaultApprovalCheckInterval is how often Salesforce is asked for a user's approvals
// between logins.
const defaultApprovalCheckInterval = time.Hour

func approvalCheckInterval(spec *sfv1.SalesforceConnectionSpec) time.Duration {
	if spec.ApprovalCheckInterval != nil && spec.ApprovalCheckInterval.Duration > 0 {
		return spec.ApprovalCheckInterval.Duration
	}
	return defaultApprovalCheckInterval
}

// checkApprovals asks Salesforce, with the connection's own token, for the user's
// approvals of spec.connectedAppName: the cluster's ledger sees only the approvals its
// connections hold, while Salesforce's five-approval limit counts those made anywhere (an
// integration platform, a developer's laptop). It asks after a login, when the app name
// changed, and approvalCheckInterval after the last check; in between, the last answer
// stands. A refusal leaves the count unknown with a message, never fails the connection.
func (r *Reconciler) checkApprovals(ctx context.Context, conn *sfv1.SalesforceConnection, f *facts, o *outcome) {
	name := conn.Spec.ConnectedAppName
	if name == "" || o.token == nil {
		return
	}
	interval := approvalCheckInterval(&conn.Spec)
	var prev *sfv1.SalesforceApprovals
	if a := conn.Status.Approvals; a != nil && a.Salesforce != nil && a.Salesforce.AppName == name {
		prev = a.Salesforce
	}
	if prev != nil && !o.renewed && f.now.Before(prev.CheckedAt.Add(interval)) {
		o.salesforceApprovals = prev.DeepCopy()
		o.approvalCheckWake = prev.CheckedAt.Add(interval)
		return
	}

	qctx, cancel := context.WithTimeout(ctx, loginTimeout)
	defer cancel()
	found, err := r.Salesforce.QueryApprovals(qctx, o.token.instanceURL(), string(o.token.data[KeyAccessToken]), name, o.token.userID())
	o.salesforceApprovals = salesforceApprovals(name, f.now, found, err)
	o.approvalCheckWake = f.now.Add(interval)
	if err != nil {
		logf.FromContext(ctx).Info("Listing the user's approvals in Salesforce failed", "connection", klog.KObj(conn),
			"connectedAppName", name, "error", err.Error())
	}
}

// salesforceApprovals is what status says about an OauthToken query's answer.
func salesforceApprovals(appName string, now time.Time, found []salesforce.OAuthApproval, err error) *sfv1.SalesforceApprovals {
	sa := &sfv1.SalesforceApprovals{AppName: appName, CheckedAt: statusTime(now)}
	if err != nil {
		sa.Message = fmt.Sprintf("Salesforce did not list the approvals (%v). The ApprovalLimit condition counts the cluster's approvals only. "+
			"The integration user needs API access; check that spec.connectedAppName is the connected app's name", err)
		return sa
	}
	n := int32(len(found))
	sa.Count = &n
	oldest := slices.Clone(found)
	slices.SortStableFunc(oldest, func(a, b salesforce.OAuthApproval) int { return a.Created.Compare(b.Created) })
	for _, a := range oldest[:min(len(oldest), approvalLimit)] {
		entry := sfv1.SalesforceApproval{ID: a.ID, CreatedDate: statusTime(a.Created), UseCount: int32(a.UseCount)}
		if !a.LastUsed.IsZero() {
			entry.LastUsedDate = timePtr(a.LastUsed)
		}
		sa.Oldest = append(sa.Oldest, entry)
	}
	return sa
}

// salesforceCount is Salesforce's count of the principal's approvals, -1 when unknown.
func salesforceCount(sa *sfv1.SalesforceApprovals) int {
	if sa == nil || sa.Count == nil {
		return -1
	}
	return int(*sa.Count)
}

// describeOldest names the approval the next one evicts, by its dates.
func describeOldest(sa *sfv1.SalesforceApprovals) string {
	if len(sa.Oldest) == 0 {
		return ""
	}
	a := sa.Oldest[0]
	s := fmt.Sprintf("the oldest, %s, was created %s", a.ID, stamp(a.CreatedDate.Time))
	if a.LastUsedDate != nil {
		s += " and last used " + stamp(a.LastUsedDate.Time)
	}
	return s
}

package approvals

import (
	"fmt"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/salesforce"
)

// The cluster's ledger sees only the approvals its connections hold, while Salesforce's
// limit counts those made anywhere (an integration platform, a developer's laptop). With
// spec.connectedAppName set, the operator asks Salesforce, with the connection's own
// token, for the user's OauthToken rows of that app.

// DefaultCheckInterval is how often Salesforce is asked for a user's approvals between
// logins.
const DefaultCheckInterval = time.Hour

// CheckInterval is spec.approvalCheckInterval, or its default.
func CheckInterval(spec *sfv1.SalesforceConnectionSpec) time.Duration {
	if spec.ApprovalCheckInterval != nil && spec.ApprovalCheckInterval.Duration > 0 {
		return spec.ApprovalCheckInterval.Duration
	}
	return DefaultCheckInterval
}

// Summarize is what status says about an OauthToken query's answer: the count and the
// oldest approvals, or why Salesforce did not list them.
func Summarize(appName string, now time.Time, found []salesforce.OAuthApproval, err error) *sfv1.SalesforceApprovals {
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
	for _, a := range oldest[:min(len(oldest), Limit)] {
		entry := sfv1.SalesforceApproval{ID: a.ID, CreatedDate: statusTime(a.Created), UseCount: int32(a.UseCount)}
		if !a.LastUsed.IsZero() {
			t := statusTime(a.LastUsed)
			entry.LastUsedDate = &t
		}
		sa.Oldest = append(sa.Oldest, entry)
	}
	return sa
}

// SalesforceCount is Salesforce's count of the principal's approvals, -1 when unknown.
func SalesforceCount(sa *sfv1.SalesforceApprovals) int {
	if sa == nil || sa.Count == nil {
		return -1
	}
	return int(*sa.Count)
}

// DescribeOldest names the approval the next one evicts, by its dates.
func DescribeOldest(sa *sfv1.SalesforceApprovals) string {
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

// shareAdvice says how to share a refresh token safely: within the cluster, connections
// that hold one share its rotation chain; outside it, a copy is replayed under rotation.
const shareAdvice = "use a refresh token a connection of this cluster holds " +
	"(connections holding one refresh token share its rotation chain; a copy used outside the cluster would be replayed if the app rotates refresh tokens)"

// NewApprovalRefusal says why a new approval for username must not be made, "" when it
// may: at five, the next one evicts the oldest, which may belong to another system. view
// is the cluster's count without the asking connection; sf is Salesforce's last count of
// the app the connection names, nil when not asked.
func NewApprovalRefusal(username string, view *View, sf *sfv1.SalesforceApprovals) string {
	if view.Count() >= Limit {
		return fmt.Sprintf("A device login would make a sixth approval for %s and the connected app, and Salesforce would revoke the oldest: %s. "+
			"Release one (revoke it in Salesforce Setup, Connected Apps OAuth Usage, or delete a deviceLogin connection, which revokes its token), "+shareAdvice+", or set spec.approvalPolicy: EvictOldest",
			username, view.Describe())
	}
	if SalesforceCount(sf) >= Limit {
		return fmt.Sprintf("A device login would make a sixth approval for %s and the connected app: Salesforce held %d approvals for them at %s (%s), and would revoke the oldest. "+
			"Release one (revoke it in Salesforce Setup, Connected Apps OAuth Usage), "+shareAdvice+", or set spec.approvalPolicy: EvictOldest",
			username, *sf.Count, stamp(sf.CheckedAt.Time), DescribeOldest(sf))
	}
	return ""
}

// statusTime is t as status stores it: whole seconds, so a time with a fraction does not
// differ from its own stored copy.
func statusTime(t time.Time) metav1.Time { return metav1.NewTime(t.Truncate(time.Second)) }

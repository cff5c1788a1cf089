package controller

import (
	"time"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

// nextPrincipal is who the token in the token Secret speaks for: learnt from the identity
// URL of the last token answer (org and user ids) and the client id that asked for it.
func nextPrincipal(prev *sfv1.Principal, f *facts, o *outcome) *sfv1.Principal {
	if !o.renewed || f.inputs == nil {
		if o.token == nil {
			return nil
		}
		return prev
	}
	p := &sfv1.Principal{OrgID: o.token.orgID(), ClientID: f.inputs.request.ClientID, UserID: o.token.userID(), Username: o.username}
	if p.OrgID == "" || p.UserID == "" {
		return nil
	}
	if p.Username == "" && prev != nil && prev.UserID == p.UserID {
		p.Username = prev.Username
	}
	return p
}

// nextApproval is the approval the connection holds after this pass: the one its last
// login used, none once Salesforce said the refresh token is dead.
func nextApproval(prev *sfv1.ApprovalRef, spec *sfv1.SalesforceConnectionSpec, o *outcome, now time.Time) *sfv1.ApprovalRef {
	switch {
	case !usesApprovals(spec):
		return nil
	case o.failure != nil && o.failure.reason == sfv1.ReasonRevoked:
		return nil
	case o.approvalID == "":
		return prev
	case prev != nil && prev.ID == o.approvalID:
		return prev
	}
	return &sfv1.ApprovalRef{ID: o.approvalID, Since: statusTime(now), MintedByOperator: o.mintedApproval}
}

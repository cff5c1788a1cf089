// Package approvals counts what Salesforce limits: five approvals (refresh tokens) per
// user and connected app, where a sixth silently revokes the oldest, even one held by
// another system (docs/salesforce-behaviour.md#five-approvals-per-user-per-connected-app).
// The ledger counts the approvals connections in the cluster hold, per principal, from
// their status through a cache index, so a restart loses nothing; Salesforce's own count
// comes from a query of its OauthToken object.
package approvals

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

// Limit is Salesforce's number of approvals per user and connected app.
const Limit = 5

// Index indexes connections by principal: "id:<client>/<org>/<user>" once a login told
// who the token is for, and "name:<client>/<username>" when the username is known, so a
// device login can be checked before anyone knows the user's id.
const Index = "status.principal"

// IDKey is the index key of a principal known by its ids.
func IDKey(p *sfv1.Principal) string {
	return "id:" + p.ClientID + "/" + p.OrgID + "/" + p.UserID
}

// NameKey is the index key of a principal known by its username.
func NameKey(clientID, username string) string {
	return "name:" + clientID + "/" + strings.ToLower(username)
}

// Keys are the index keys a connection is found under: its principal's, and for a device
// login the user it names.
func Keys(c *sfv1.SalesforceConnection) []string {
	var keys []string
	if p := c.Status.Principal; p != nil && p.UserID != "" {
		keys = append(keys, IDKey(p))
		if p.Username != "" {
			keys = append(keys, NameKey(p.ClientID, p.Username))
		}
	}
	if d := c.Spec.Auth.DeviceLogin; d != nil && d.ClientID != "" && d.Username != "" {
		if k := NameKey(d.ClientID, d.Username); !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return keys
}

// Held is one approval and the connections that hold it.
type Held struct {
	ID      string
	Since   time.Time
	Holders []string
	// Pending is set for the approval a device login waiting for a person reserves.
	Pending bool
}

// View is what the cluster holds for one principal.
type View struct {
	// Approvals, oldest first.
	Approvals []Held
}

// Count is how many approvals the cluster holds; nil counts none.
func (v *View) Count() int {
	if v == nil {
		return 0
	}
	return len(v.Approvals)
}

// Bounds of what status and messages list: a principal may have hundreds of connections
// in a cluster, and a status or an event that named them all would pass the API server's
// limits. Counts say how many there are.
const (
	// MaxHolders is how many holders status.approvals.holders names.
	MaxHolders = 10
	// maxDescribed is how many approvals, and holders of each, a message names.
	maxDescribed = 5
)

// Holders lists namespace/name of the first MaxHolders holders, oldest approval first,
// then "and N more" when there are more.
func (v *View) Holders() []string {
	var out []string
	for _, a := range v.Approvals {
		out = append(out, a.Holders...)
	}
	return bounded(out, MaxHolders)
}

// Describe lists the approvals for a message: "ns/a (since ...), ns/b and ns/c (since
// ...)", naming at most five approvals and five holders of each.
func (v *View) Describe() string {
	parts := make([]string, 0, min(len(v.Approvals), maxDescribed))
	for _, a := range v.Approvals[:min(len(v.Approvals), maxDescribed)] {
		if a.Pending {
			parts = append(parts, fmt.Sprintf("%s (device login waiting for approval)", JoinHolders(a.Holders)))
			continue
		}
		parts = append(parts, fmt.Sprintf("%s (since %s)", JoinHolders(a.Holders), stamp(a.Since)))
	}
	if extra := len(v.Approvals) - maxDescribed; extra > 0 {
		parts = append(parts, fmt.Sprintf("and %d more", extra))
	}
	return strings.Join(parts, ", ")
}

// JoinHolders names the holders of one approval, "ns/a and ns/b", at most five of them.
func JoinHolders(holders []string) string {
	return strings.Join(bounded(holders, maxDescribed), " and ")
}

// bounded keeps the first n of list, and says how many it left out.
func bounded(list []string, n int) []string {
	if len(list) <= n {
		return list
	}
	return append(slices.Clone(list[:n]), fmt.Sprintf("and %d more", len(list)-n))
}

// Compute groups the connections' approvals. Pure: table tests cover it.
func Compute(conns []sfv1.SalesforceConnection) *View {
	byID := map[string]*Held{}
	for i := range conns {
		c := &conns[i]
		if !c.DeletionTimestamp.IsZero() {
			continue
		}
		if c.Status.Approval == nil || c.Status.Approval.ID == "" {
			if d := c.Status.DeviceLogin; d != nil {
				// A device login shown to a person reserves the approval it will make.
				byID["pending:"+HolderName(c)] = &Held{ID: "pending:" + HolderName(c),
					Since: d.ExpiresAt.Time, Holders: []string{HolderName(c)}, Pending: true}
			}
			continue
		}
		a := byID[c.Status.Approval.ID]
		if a == nil {
			a = &Held{ID: c.Status.Approval.ID, Since: c.Status.Approval.Since.Time}
			byID[a.ID] = a
		}
		if c.Status.Approval.Since.Time.Before(a.Since) {
			a.Since = c.Status.Approval.Since.Time
		}
		a.Holders = append(a.Holders, HolderName(c))
	}
	view := &View{}
	for _, a := range byID {
		slices.Sort(a.Holders)
		view.Approvals = append(view.Approvals, *a)
	}
	slices.SortFunc(view.Approvals, func(a, b Held) int {
		if c := a.Since.Compare(b.Since); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return view
}

// HolderName names a holder of an approval: namespace/name, or
// ClusterSalesforceConnection/name for a cluster connection (a kind is never a namespace's
// name, which is lower case).
func HolderName(c *sfv1.SalesforceConnection) string {
	if c.IsClusterView() {
		return sfv1.ClusterSalesforceConnectionKind + "/" + c.Name
	}
	return c.Namespace + "/" + c.Name
}

// Ledger lists the connections, namespaced and cluster, found under key in the index and
// computes the view, with self as the caller's pass leaves it (its status in the cache is
// the last pass's). A cluster connection is one holder, however many namespaces it serves.
//
// withCluster is false where the operator does not reconcile cluster connections
// (--watch-namespaces), which it may not read then.
func Ledger(ctx context.Context, c client.Reader, key string, self *sfv1.SalesforceConnection, withCluster bool) (*View, error) {
	var list sfv1.SalesforceConnectionList
	if err := c.List(ctx, &list, client.MatchingFields{Index: key}); err != nil {
		return nil, fmt.Errorf("listing connections of the principal: %w", err)
	}
	var clusterList sfv1.ClusterSalesforceConnectionList
	if withCluster {
		if err := c.List(ctx, &clusterList, client.MatchingFields{Index: key}); err != nil {
			return nil, fmt.Errorf("listing cluster connections of the principal: %w", err)
		}
	}
	conns := make([]sfv1.SalesforceConnection, 0, len(list.Items)+len(clusterList.Items)+1)
	for _, c := range list.Items {
		if c.UID != self.UID {
			conns = append(conns, c)
		}
	}
	for i := range clusterList.Items {
		if c := &clusterList.Items[i]; c.UID != self.UID {
			conns = append(conns, *c.AsConnection(""))
		}
	}
	conns = append(conns, *self)
	return Compute(conns), nil
}

// NextPrincipal is who the token in the token Secret speaks for, after a pass that logged
// in (renewed) or not: the org and user ids of the token answer and the client id that
// asked for it; nil without a token.
func NextPrincipal(prev *sfv1.Principal, hasToken, renewed bool, clientID, orgID, userID, username string) *sfv1.Principal {
	if !renewed {
		if !hasToken {
			return nil
		}
		return prev
	}
	p := &sfv1.Principal{OrgID: orgID, ClientID: clientID, UserID: userID, Username: username}
	if p.OrgID == "" || p.UserID == "" {
		return nil
	}
	if p.Username == "" && prev != nil && prev.UserID == p.UserID {
		p.Username = prev.Username
	}
	return p
}

// NextApproval is the approval a connection holds after a pass: the one its last login
// used (id, empty when the pass made none), none once Salesforce said the refresh token
// is dead or when its flow holds none.
func NextApproval(prev *sfv1.ApprovalRef, holds, revoked bool, id string, minted bool, now time.Time) *sfv1.ApprovalRef {
	switch {
	case !holds, revoked:
		return nil
	case id == "":
		return prev
	case prev != nil && prev.ID == id:
		return prev
	}
	return &sfv1.ApprovalRef{ID: id, Since: statusTime(now), MintedByOperator: minted}
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

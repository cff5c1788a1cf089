package controller

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

// Salesforce keeps at most five approvals (refresh tokens) per user and connected app; a
// new one revokes the oldest, silently, even when another system holds it
// (salesforce-oauth.md section 3). The ledger counts the approvals that connections in the
// cluster hold per principal. It is computed from the connections' status through a cache
// index, never kept in memory, so a restart loses nothing.

// approvalLimit is Salesforce's number of approvals per user and connected app.
const approvalLimit = 5

// principalIndex indexes connections by principal: "id:<client>/<org>/<user>" once a
// login told who the token is for, and "name:<client>/<username>" when the username is
// known, so a device login can be checked before anyone knows the user's id.
const principalIndex = "status.principal"

func principalIDKey(p *sfv1.Principal) string {
	return "id:" + p.ClientID + "/" + p.OrgID + "/" + p.UserID
}

func principalNameKey(clientID, username string) string {
	return "name:" + clientID + "/" + strings.ToLower(username)
}

// principalKeys is the index function: the keys a connection is found under.
func principalKeys(c *sfv1.SalesforceConnection) []string {
	var keys []string
	if p := c.Status.Principal; p != nil && p.UserID != "" {
		keys = append(keys, principalIDKey(p))
		if p.Username != "" {
			keys = append(keys, principalNameKey(p.ClientID, p.Username))
		}
	}
	if d := c.Spec.Auth.DeviceLogin; d != nil && d.ClientID != "" && d.Username != "" {
		if k := principalNameKey(d.ClientID, d.Username); !contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return keys
}

// principalIndexKeys are a connection's keys in principalIndex: none unless its flow holds
// an approval.
func principalIndexKeys(c *sfv1.SalesforceConnection) []string {
	if !usesApprovals(&c.Spec) {
		return nil
	}
	return principalKeys(c)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// usesApprovals says whether a connection's flow holds an approval.
func usesApprovals(spec *sfv1.SalesforceConnectionSpec) bool {
	return spec.Auth.RefreshToken != nil || spec.Auth.DeviceLogin != nil
}

// approvalID is a keyed hash of the refresh token an approval was granted as. Keyed, so
// that status (readable by more people than Secrets) reveals nothing a dictionary could
// match; truncated, since it only has to tell a handful of tokens apart.
func approvalID(key []byte, refreshToken string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(refreshToken))
	return hex.EncodeToString(mac.Sum(nil))[:32]
}

// heldApproval is one approval and the connections that hold it.
type heldApproval struct {
	id      string
	since   time.Time
	holders []string
}

// ledgerView is what the cluster holds for one principal.
type ledgerView struct {
	// approvals, oldest first.
	approvals []heldApproval
}

func (l *ledgerView) count() int { return len(l.approvals) }

// holders lists namespace/name of the holders, oldest approval first.
func (l *ledgerView) holders() []string {
	var out []string
	for _, a := range l.approvals {
		out = append(out, a.holders...)
	}
	return out
}

// describe lists the approvals for a message: "ns/a (since ...), ns/b and ns/c (since ...)".
func (l *ledgerView) describe() string {
	parts := make([]string, 0, len(l.approvals))
	for _, a := range l.approvals {
		parts = append(parts, fmt.Sprintf("%s (since %s)", strings.Join(a.holders, " and "), stamp(a.since)))
	}
	return strings.Join(parts, ", ")
}

// computeLedger groups the connections' approvals. Pure: table tests cover it.
func computeLedger(conns []sfv1.SalesforceConnection) *ledgerView {
	byID := map[string]*heldApproval{}
	for i := range conns {
		c := &conns[i]
		if !c.DeletionTimestamp.IsZero() || c.Status.Approval == nil || c.Status.Approval.ID == "" {
			continue
		}
		a := byID[c.Status.Approval.ID]
		if a == nil {
			a = &heldApproval{id: c.Status.Approval.ID, since: c.Status.Approval.Since.Time}
			byID[a.id] = a
		}
		if c.Status.Approval.Since.Time.Before(a.since) {
			a.since = c.Status.Approval.Since.Time
		}
		a.holders = append(a.holders, c.Namespace+"/"+c.Name)
	}
	view := &ledgerView{}
	for _, a := range byID {
		sort.Strings(a.holders)
		view.approvals = append(view.approvals, *a)
	}
	sort.Slice(view.approvals, func(i, j int) bool {
		ai, aj := view.approvals[i], view.approvals[j]
		if !ai.since.Equal(aj.since) {
			return ai.since.Before(aj.since)
		}
		return ai.id < aj.id
	})
	return view
}

// ledger lists the connections found under key and computes the view, with self as this
// pass leaves it (its status in the cache is the last pass's).
func (r *Reconciler) ledger(ctx context.Context, key string, self *sfv1.SalesforceConnection) (*ledgerView, error) {
	var list sfv1.SalesforceConnectionList
	if err := r.Client.List(ctx, &list, client.MatchingFields{principalIndex: key}); err != nil {
		return nil, fmt.Errorf("listing connections of the principal: %w", err)
	}
	conns := make([]sfv1.SalesforceConnection, 0, len(list.Items)+1)
	for _, c := range list.Items {
		if c.UID != self.UID {
			conns = append(conns, c)
		}
	}
	conns = append(conns, *self)
	return computeLedger(conns), nil
}

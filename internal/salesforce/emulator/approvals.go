package emulator

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// approval is one OAuth 2.0 approval of a connected app by a user: "For OAuth 2.0, the
// table lists each refresh token that counts as an approval"
// (docs/salesforce-behaviour.md#five-approvals-per-user-per-connected-app). Under refresh
// token rotation the approval keeps its identity while its token changes
// (docs/salesforce-behaviour.md#refresh-token-rotation-and-replay).
type approval struct {
	id       string
	clientID string
	username string
	source   string // authorization_code, device or issued
	token    string // the current refresh token
	retired  []string
	created  time.Time
	lastUsed time.Time
	useCount int
	seq      uint64
}

// Approval describes a live approval, as Setup's "Connected Apps OAuth Usage" page (or the
// OauthToken object, docs/salesforce-behaviour.md#the-oauthtoken-object-lists-approvals)
// would. It never carries the token itself.
type Approval struct {
	ID       string    `json:"id"`
	ClientID string    `json:"clientId"`
	Username string    `json:"username"`
	Source   string    `json:"source"`
	Created  time.Time `json:"created"`
	LastUsed time.Time `json:"lastUsed"`
	// UseCount counts refresh-token grants: "Requests for refresh tokens increase the use
	// count" (docs/salesforce-behaviour.md#five-approvals-per-user-per-connected-app).
	UseCount int `json:"useCount"`
	// Rotations is how many times refresh token rotation replaced the token.
	Rotations int `json:"rotations"`
	// ExpiresAt is when the app's refresh token policy ends the token, if it does.
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
}

// Sources of approvals.
const (
	SourceAuthorizationCode = "authorization_code"
	SourceDevice            = "device"
	SourceIssued            = "issued"
)

// ErrNotAdminApproved is returned when an app with "Admin approved users are
// pre-authorized" is approved by a user who is not on its list (invalid_app_access,
// docs/salesforce-behaviour.md#error-strings-and-their-classes).
var ErrNotAdminApproved = errors.New("user is not admin approved to access this app")

// IssueRefreshToken creates an approval as if the user had completed the web-server flow in
// a browser, and returns its refresh token. Like every new approval it may evict the oldest
// one of the same user and app
// (docs/salesforce-behaviour.md#five-approvals-per-user-per-connected-app).
func (e *Emulator) IssueRefreshToken(clientID, username string) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	app, u, err := e.approverLocked(clientID, username)
	if err != nil {
		return "", err
	}
	return e.issueApprovalLocked(app, u, SourceIssued).token, nil
}

// Approvals lists the live approvals of a user for an app, oldest first. An empty clientID
// or username matches all. Approvals whose refresh token expired by a lifetime or
// inactivity policy are gone; those of apps with the zero policy stay listed, since the
// approval stands even though its token cannot be used
// (docs/salesforce-behaviour.md#refresh-token-policies).
func (e *Emulator) Approvals(clientID, username string) []Approval {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.purgeExpiredApprovalsLocked()
	var out []Approval
	for _, a := range e.sortedApprovalsLocked(clientID, username) {
		v := Approval{
			ID: a.id, ClientID: a.clientID, Username: a.username, Source: a.source,
			Created: a.created, LastUsed: a.lastUsed, UseCount: a.useCount, Rotations: len(a.retired),
		}
		if app, ok := e.apps[a.clientID]; ok {
			if exp, ok := app.policy.expiry(a.created, a.lastUsed); ok {
				v.ExpiresAt = &exp
			}
		}
		out = append(out, v)
	}
	return out
}

// RevokeApproval revokes one approval by ID, with its access tokens, as an admin clicking
// Revoke on the OAuth usage page would.
func (e *Emulator) RevokeApproval(id string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.approvals[id]; !ok {
		return fmt.Errorf("unknown approval %q", id)
	}
	e.deleteApprovalLocked(id, true)
	return nil
}

// RevokeApprovals revokes every approval of a user for an app (empty matches all) and
// returns how many were revoked.
func (e *Emulator) RevokeApprovals(clientID, username string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	list := e.sortedApprovalsLocked(clientID, username)
	for _, a := range list {
		e.deleteApprovalLocked(a.id, true)
	}
	return len(list)
}

// RevokeToken revokes an access token, or a refresh token with its access tokens, as the
// revoke endpoint does (docs/salesforce-behaviour.md#revoking-a-token). It reports whether
// the token was live.
func (e *Emulator) RevokeToken(token string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.revokeTokenLocked(token)
}

func (e *Emulator) revokeTokenLocked(token string) bool {
	if s, _ := e.liveSessionLocked(token); s != nil {
		delete(e.sessions, token)
		return true
	}
	if id, ok := e.refreshTokens[token]; ok {
		e.deleteApprovalLocked(id, true)
		return true
	}
	return false
}

// approverLocked checks that a user may approve an app: both exist, the user is active and
// in the app's org, and an admin-approved app lists the user.
func (e *Emulator) approverLocked(clientID, username string) (*appEntry, *User, error) {
	app, ok := e.apps[clientID]
	if !ok {
		return nil, nil, fmt.Errorf("unknown connected app %q", clientID)
	}
	u, ok := e.users[strings.ToLower(username)]
	if !ok {
		return nil, nil, fmt.Errorf("unknown user %q", username)
	}
	if !u.IsActive() {
		return nil, nil, fmt.Errorf("user %q is inactive", username)
	}
	if app.OrgID != "" && app.OrgID != u.OrgID {
		return nil, nil, fmt.Errorf("user %q is not in the org of app %q", username, clientID)
	}
	if app.AdminApproved && !app.preAuthorized(u.Username) {
		return nil, nil, ErrNotAdminApproved
	}
	return app, u, nil
}

// issueApprovalLocked records a new approval. "Each connected app allows five unique
// approvals per user. … the oldest approval is revoked"
// (docs/salesforce-behaviour.md#five-approvals-per-user-per-connected-app): the safe
// reading is at most five live refresh tokens, so a sixth evicts the oldest, and the
// eviction cascades to its access tokens like an explicit revoke
// (docs/salesforce-behaviour.md#eviction-ends-the-access-tokens-too).
func (e *Emulator) issueApprovalLocked(app *appEntry, u *User, source string) *approval {
	now := e.now()
	e.purgeExpiredApprovalsLocked()
	live := e.sortedApprovalsLocked(app.ClientID, u.Username)
	for i := 0; e.approvalLimit > 0 && len(live)-i >= e.approvalLimit; i++ {
		e.deleteApprovalLocked(live[i].id, true)
	}
	e.seq++
	a := &approval{
		id:       fmt.Sprintf("apv-%06d", e.seq),
		clientID: app.ClientID,
		username: u.Username,
		source:   source,
		token:    newRefreshToken(),
		created:  now,
		lastUsed: now,
		seq:      e.seq,
	}
	e.approvals[a.id] = a
	e.refreshTokens[a.token] = a.id
	return a
}

// deleteApprovalLocked removes an approval and its refresh tokens; with cascade its access
// tokens die too. Policy expiry does not cascade: the policy "doesn't affect a user's
// current session" (docs/salesforce-behaviour.md#refresh-token-policies).
func (e *Emulator) deleteApprovalLocked(id string, cascade bool) {
	a, ok := e.approvals[id]
	if !ok {
		return
	}
	delete(e.approvals, id)
	delete(e.refreshTokens, a.token)
	for _, t := range a.retired {
		delete(e.retired, t)
	}
	if cascade {
		e.revokeSessionsOfApprovalLocked(id)
	}
}

// policyExpiredLocked reports whether the app's refresh token policy has ended the token.
func (e *Emulator) policyExpiredLocked(a *approval, app *appEntry) bool {
	exp, ok := app.policy.expiry(a.created, a.lastUsed)
	return ok && !e.now().Before(exp)
}

// purgeExpiredApprovalsLocked forgets approvals ended by a lifetime or inactivity policy, so
// they neither count toward the five nor satisfy the JWT prior-approval rule.
func (e *Emulator) purgeExpiredApprovalsLocked() {
	for id, a := range e.approvals {
		app, ok := e.apps[a.clientID]
		if ok && app.policy.kind != "zero" && e.policyExpiredLocked(a, app) {
			e.deleteApprovalLocked(id, false)
		}
	}
}

func (e *Emulator) sortedApprovalsLocked(clientID, username string) []*approval {
	var list []*approval
	for _, a := range e.approvals {
		if (clientID == "" || a.clientID == clientID) && (username == "" || strings.EqualFold(a.username, username)) {
			list = append(list, a)
		}
	}
	slices.SortFunc(list, func(x, y *approval) int {
		if c := x.created.Compare(y.created); c != 0 {
			return c
		}
		return cmp.Compare(x.seq, y.seq)
	})
	return list
}

// hasApprovalLocked is the JWT bearer prior-approval check
// (docs/salesforce-behaviour.md#jwt-bearer-needs-a-prior-approval): pre-authorized by an
// admin, or holding a live approval for the app.
func (e *Emulator) hasApprovalLocked(app *appEntry, u *User) bool {
	if app.preAuthorized(u.Username) {
		return true
	}
	e.purgeExpiredApprovalsLocked()
	return len(e.sortedApprovalsLocked(app.ClientID, u.Username)) > 0
}

package emulator

import (
	"strings"
	"time"
)

// session is one access token. Salesforce access tokens are session IDs whose life is the
// session timeout, not a value announced to the client
// (docs/salesforce-behaviour.md#no-expires_in-in-the-token-answer,
// docs/salesforce-behaviour.md#lifetime-is-the-session-timeout).
type session struct {
	token      string
	clientID   string
	username   string
	orgID      string
	grant      string
	scope      string
	approvalID string // the refresh-token approval that minted it; "" for other grants
	issued     time.Time
	lastActive time.Time
	timeout    time.Duration
	// introspectable is false for username-password tokens, which "cannot be introspected"
	// (docs/salesforce-behaviour.md#which-tokens-can-be-introspected).
	introspectable bool
}

func (s *session) expires() time.Time { return s.lastActive.Add(s.timeout) }

// sessionTimeout applies the precedence "connected app Timeout Value → profile → org
// Session Settings" (docs/salesforce-behaviour.md#lifetime-is-the-session-timeout).
func sessionTimeout(app *appEntry, u *User, org *Org) time.Duration {
	switch {
	case app != nil && app.SessionTimeout > 0:
		return time.Duration(app.SessionTimeout)
	case u.ProfileSessionTimeout > 0:
		return time.Duration(u.ProfileSessionTimeout)
	case org != nil && org.SessionTimeout > 0:
		return time.Duration(org.SessionTimeout)
	}
	return DefaultOrgSessionTimeout
}

// mintLocked creates a new, independent access token: each login answers with a fresh token
// and never invalidates the user's other sessions (whether Salesforce sometimes hands back
// the same token is unknown, docs/salesforce-behaviour.md#repeated-logins-and-old-tokens,
// so clients must cope with both).
func (e *Emulator) mintLocked(app *appEntry, u *User, grant, approvalID string) *session {
	now := e.now()
	org := e.orgs[u.OrgID]
	s := &session{
		token:          newAccessToken(u.OrgID),
		clientID:       app.ClientID,
		username:       u.Username,
		orgID:          u.OrgID,
		grant:          grant,
		scope:          app.scope(),
		approvalID:     approvalID,
		issued:         now,
		lastActive:     now,
		timeout:        sessionTimeout(app, u, org),
		introspectable: grant != GrantPassword,
	}
	e.sessions[s.token] = s
	if len(e.sessions) >= e.pruneAt {
		e.pruneSessionsLocked(now)
	}
	return s
}

// pruneSessionsLocked drops dead sessions; it runs when the map has doubled since the last
// prune, so long-running demos stay small at amortised constant cost.
func (e *Emulator) pruneSessionsLocked(now time.Time) {
	for t, s := range e.sessions {
		if !now.Before(s.expires()) {
			delete(e.sessions, t)
		}
	}
	e.pruneAt = max(1024, 2*len(e.sessions))
}

// liveSessionLocked returns the session of a live access token: known, not past its
// timeout, and its user still active.
func (e *Emulator) liveSessionLocked(token string) (*session, *User) {
	s, ok := e.sessions[token]
	if !ok {
		return nil, nil
	}
	if !e.now().Before(s.expires()) {
		delete(e.sessions, token)
		return nil, nil
	}
	u, ok := e.users[strings.ToLower(s.username)]
	if !ok || !u.IsActive() {
		return nil, nil
	}
	return s, u
}

// touchLocked records activity on a session: the timeout is an inactivity timeout and "a
// successful request to the Salesforce API resets the session timeout"
// (docs/salesforce-behaviour.md#the-session-timeout-is-an-inactivity-timeout).
func (e *Emulator) touchLocked(s *session) {
	if e.extendSessions {
		s.lastActive = e.now()
	}
}

// revokeSessionsOfApprovalLocked kills the access tokens minted from one approval: revoking
// a refresh token "revokes it and any associated access tokens"
// (docs/salesforce-behaviour.md#revoking-a-token).
func (e *Emulator) revokeSessionsOfApprovalLocked(approvalID string) {
	for t, s := range e.sessions {
		if s.approvalID == approvalID {
			delete(e.sessions, t)
		}
	}
}

package emulator

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Apply adds or replaces (by org ID, client ID and username) the orgs, apps and users of s.
// Nothing changes when any entry is invalid. Replacing an entry keeps its approvals and
// sessions; a password change therefore revokes nothing (that Salesforce revokes refresh
// tokens on password change is unknown,
// docs/salesforce-behaviour.md#what-else-ends-a-refresh-token).
func (e *Emulator) Apply(s State) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.applyLocked(s, false)
}

// Replace makes s the whole model. Approvals, sessions and codes of apps and users that no
// longer exist are dropped.
func (e *Emulator) Replace(s State) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.applyLocked(s, true)
}

// PutOrg adds or replaces an org and returns it as stored (with a generated or widened ID).
func (e *Emulator) PutOrg(o Org) (Org, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.applyLocked(State{Orgs: []Org{o}}, false); err != nil {
		return Org{}, err
	}
	return *e.orgs[e.lastOrgID], nil
}

// PutApp adds or replaces a connected app.
func (e *Emulator) PutApp(a ConnectedApp) error { return e.Apply(State{Apps: []ConnectedApp{a}}) }

// PutUser adds or replaces a user and returns it as stored (with its org and ID filled in).
func (e *Emulator) PutUser(u User) (User, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.applyLocked(State{Users: []User{u}}, false); err != nil {
		return User{}, err
	}
	return *e.users[strings.ToLower(u.Username)], nil
}

// SetUserActive activates or deactivates a user. A deactivated user's sessions stop working
// and every grant answers inactive_user
// (docs/salesforce-behaviour.md#error-strings-and-their-classes).
func (e *Emulator) SetUserActive(username string, active bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	u, ok := e.users[strings.ToLower(username)]
	if !ok {
		return fmt.Errorf("unknown user %q", username)
	}
	c := *u
	c.Active = &active
	e.users[strings.ToLower(username)] = &c
	return nil
}

// DeleteApp removes a connected app with its approvals and sessions.
func (e *Emulator) DeleteApp(clientID string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.apps, clientID)
	e.dropOrphansLocked()
}

// DeleteUser removes a user with its approvals and sessions.
func (e *Emulator) DeleteUser(username string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.users, strings.ToLower(username))
	e.dropOrphansLocked()
}

// DeleteOrg removes an org with its users.
func (e *Emulator) DeleteOrg(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.orgs, id)
	for k, u := range e.users {
		if u.OrgID == id {
			delete(e.users, k)
		}
	}
	e.dropOrphansLocked()
}

// State returns a copy of the configured orgs, apps and users, sorted by key.
func (e *Emulator) State() State {
	e.mu.Lock()
	defer e.mu.Unlock()
	var s State
	for _, k := range slices.Sorted(maps.Keys(e.orgs)) {
		s.Orgs = append(s.Orgs, *e.orgs[k])
	}
	for _, k := range slices.Sorted(maps.Keys(e.apps)) {
		a := e.apps[k].ConnectedApp
		a.Flows = slices.Clone(a.Flows)
		a.PreAuthorizedUsers = slices.Clone(a.PreAuthorizedUsers)
		a.RequireSecretForRefreshToken = cloneBool(a.RequireSecretForRefreshToken)
		s.Apps = append(s.Apps, a)
	}
	for _, k := range slices.Sorted(maps.Keys(e.users)) {
		u := *e.users[k]
		u.Active = cloneBool(u.Active)
		s.Users = append(s.Users, u)
	}
	return s
}

func (e *Emulator) genID(prefix string) string {
	e.seq++
	return to18(fmt.Sprintf("%s%012d", prefix, e.seq))
}

func (e *Emulator) applyLocked(s State, replace bool) error {
	orgs, apps, users := maps.Clone(e.orgs), maps.Clone(e.apps), maps.Clone(e.users)
	if replace {
		orgs, apps, users = map[string]*Org{}, map[string]*appEntry{}, map[string]*User{}
	}
	seq := e.seq // restored on failure so generated IDs stay dense
	fail := func(err error) error { e.seq = seq; return err }
	lastOrg := ""
	for _, o := range s.Orgs {
		if err := validateOrg(&o, e.genID); err != nil {
			return fail(err)
		}
		orgs[o.ID] = &o
		lastOrg = o.ID
	}
	for _, u := range s.Users {
		if u.Username == "" {
			return fail(fmt.Errorf("user: username is required"))
		}
		if u.OrgID == "" {
			if len(orgs) != 1 {
				return fail(fmt.Errorf("user %s: orgId is required when there is not exactly one org", u.Username))
			}
			for id := range orgs {
				u.OrgID = id
			}
		}
		if id, err := normalizeID(u.OrgID, "00D", nil); err == nil {
			u.OrgID = id
		}
		if _, ok := orgs[u.OrgID]; !ok {
			return fail(fmt.Errorf("user %s: unknown org %q", u.Username, u.OrgID))
		}
		key := strings.ToLower(u.Username)
		if u.ID == "" {
			if old, ok := e.users[key]; ok {
				u.ID = old.ID // keep the identity when a fixture omits it
			}
		}
		id, err := normalizeID(u.ID, "005", e.genID)
		if err != nil {
			return fail(fmt.Errorf("user %s: %w", u.Username, err))
		}
		u.ID = id
		if u.ProfileSessionTimeout < 0 {
			return fail(fmt.Errorf("user %s: profileSessionTimeout must not be negative", u.Username))
		}
		u.Active = cloneBool(u.Active) // the caller keeps no handle on stored state
		users[key] = &u
	}
	for _, a := range s.Apps {
		if a.OrgID != "" {
			if id, err := normalizeID(a.OrgID, "00D", nil); err == nil {
				a.OrgID = id
			}
			if _, ok := orgs[a.OrgID]; !ok {
				return fail(fmt.Errorf("connected app %s: unknown org %q", a.ClientID, a.OrgID))
			}
		}
		a.Flows = slices.Clone(a.Flows)
		a.PreAuthorizedUsers = slices.Clone(a.PreAuthorizedUsers)
		a.RequireSecretForRefreshToken = cloneBool(a.RequireSecretForRefreshToken)
		entry, err := newAppEntry(a)
		if err != nil {
			return fail(err)
		}
		apps[a.ClientID] = entry
	}
	e.orgs, e.apps, e.users = orgs, apps, users
	e.lastOrgID = lastOrg
	e.dropOrphansLocked()
	return nil
}

// dropOrphansLocked forgets approvals, sessions and codes whose app or user is gone.
func (e *Emulator) dropOrphansLocked() {
	gone := func(clientID, username string) bool {
		_, okApp := e.apps[clientID]
		_, okUser := e.users[strings.ToLower(username)]
		return !okApp || !okUser
	}
	for id, a := range e.approvals {
		if gone(a.clientID, a.username) {
			e.deleteApprovalLocked(id, true)
		}
	}
	for t, s := range e.sessions {
		if gone(s.clientID, s.username) {
			delete(e.sessions, t)
		}
	}
	for c, ac := range e.codes {
		if gone(ac.clientID, ac.username) {
			delete(e.codes, c)
		}
	}
	for dc, d := range e.devices {
		if _, ok := e.apps[d.clientID]; !ok {
			delete(e.devices, dc)
			delete(e.userCodes, d.userCode)
		}
	}
}

func cloneBool(b *bool) *bool {
	if b == nil {
		return nil
	}
	v := *b
	return &v
}

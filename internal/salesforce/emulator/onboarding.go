package emulator

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// The methods below are the steps a Salesforce admin takes to let a JWT bearer client in
// (docs/salesforce-behaviour.md#jwt-bearer-needs-a-prior-approval), one at a time, so that
// a test can play the admin after the client has started and see the error each missing
// step causes. Each changes one setting of an existing app and keeps the rest, the secret
// included; replacing the app with PutApp or Apply would need it all resent. Approvals and
// sessions are kept: whether Salesforce ends sessions when these settings change is unknown
// (docs/salesforce-behaviour.md#app-setting-changes-and-existing-sessions), and keeping
// them lets a test see that only new assertions are affected. The propagation delay of up
// to ten minutes (docs/salesforce-behaviour.md#jwt-bearer-needs-a-prior-approval) is not
// modelled.

// SetAppCertificate uploads the X.509 certificate of "Use digital signatures"
// (docs/salesforce-behaviour.md#jwt-bearer-needs-a-prior-approval) to a connected app.
// Salesforce holds a single certificate per app, so it replaces whatever verified
// assertions before, a PublicKeyPEM included. An empty certificatePEM removes the
// certificate; the app then refuses every assertion with invalid_grant / invalid assertion.
// The certificate must hold an RSA key, since only RS256 is accepted
// (docs/salesforce-behaviour.md#jwt-bearer-claims).
func (e *Emulator) SetAppCertificate(clientID, certificatePEM string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.updateAppLocked(clientID, func(a *ConnectedApp) error {
		a.CertificatePEM = certificatePEM
		a.PublicKeyPEM = ""
		return nil
	})
}

// SetPreAuthorized assigns (authorized true) or unassigns the user's profile or permission
// set to a connected app. The assignment pre-authorizes the user only while the app is
// AdminApproved (SetAdminApproved), as in Setup, where assignments are kept but ignored
// under "All users may self-authorize".
func (e *Emulator) SetPreAuthorized(clientID, username string, authorized bool) error {
	if username == "" {
		return errors.New("username is required")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.updateAppLocked(clientID, func(a *ConnectedApp) error {
		listed := slices.IndexFunc(a.PreAuthorizedUsers, func(u string) bool { return strings.EqualFold(u, username) })
		u := e.userLocked(username)
		// A name that is neither a user nor listed is almost always a typo in a test; saying
		// so beats a silent no-op that leaves the test waiting for the wrong error.
		if u == nil && (authorized || listed < 0) {
			return fmt.Errorf("unknown user %q", username)
		}
		if !authorized {
			a.PreAuthorizedUsers = slices.DeleteFunc(a.PreAuthorizedUsers, func(n string) bool { return strings.EqualFold(n, username) })
			return nil
		}
		if a.OrgID != "" && a.OrgID != u.OrgID {
			return fmt.Errorf("user %q is not in the org of app %q", username, clientID)
		}
		if listed < 0 {
			a.PreAuthorizedUsers = append(a.PreAuthorizedUsers, u.Username)
		}
		return nil
	})
}

// SetAdminApproved sets the app's Permitted Users policy: true is "Admin approved users are
// pre-authorized", false "All users may self-authorize"
// (docs/salesforce-behaviour.md#jwt-bearer-needs-a-prior-approval). Assignments made with
// SetPreAuthorized are kept either way.
func (e *Emulator) SetAdminApproved(clientID string, adminApproved bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.updateAppLocked(clientID, func(a *ConnectedApp) error {
		a.AdminApproved = adminApproved
		return nil
	})
}

// updateAppLocked changes a copy of an app and stores it only when change and the app's
// validation both pass, so a rejected change leaves the old settings working.
func (e *Emulator) updateAppLocked(clientID string, change func(*ConnectedApp) error) error {
	old, ok := e.apps[clientID]
	if !ok {
		return fmt.Errorf("unknown connected app %q", clientID)
	}
	a := old.ConnectedApp
	a.Flows = slices.Clone(a.Flows)
	a.PreAuthorizedUsers = slices.Clone(a.PreAuthorizedUsers)
	a.RequireSecretForRefreshToken = cloneBool(a.RequireSecretForRefreshToken)
	if err := change(&a); err != nil {
		return err
	}
	entry, err := newAppEntry(a)
	if err != nil {
		return err
	}
	e.apps[clientID] = entry
	return nil
}

package main

import (
	"fmt"
	"time"

	"github.com/sfconn/sfconn-operator/internal/salesforce/emulator"
)

// expiryConnectionsPerUser is how many of the expiry phase's connections log in as one
// Salesforce user. An integration user behind a few dozen connections (one per namespace
// or workload of a team) is the common shape; thousands behind one user would be past
// Salesforce's 3,600 logins per user per hour by design. At the manager's default budget
// (2,400 logins per user per hour, one every 1.5 s) the renewal plan needs 50 × 1.5 s =
// 75 s to start a user's wave, which renewBefore (90 s by default here, less than the
// jitter's 10% of it) covers: every renewal can start before its renewal time.
const expiryConnectionsPerUser = 50

// defaultUserPace is the spacing of one user's planned renewals at the manager's default
// --user-logins-per-hour (2,400): the harness leaves room for that much of a wave.
const defaultUserPace = 1500 * time.Millisecond

// expiryUserCount is how many users the expiry phase's n connections are spread over.
func expiryUserCount(n int) int {
	return max(1, (n+expiryConnectionsPerUser-1)/expiryConnectionsPerUser)
}

// planLead is how long before the earliest renewal time the manager's plan may start a
// user's wave at the default budget.
func planLead(n int) time.Duration {
	return time.Duration(min(n, expiryConnectionsPerUser)) * defaultUserPace
}

// addExpiryUsers adds count users to the emulator, with the password of the bench user and
// Salesforce's own cap of 3,600 logins per user per hour on (the one bench user of the
// other phases has it off): a plan that overspent a user would show as failed logins.
func (s *salesforce) addExpiryUsers(count int) ([]string, error) {
	names := make([]string, count)
	for i := range names {
		names[i] = fmt.Sprintf("expiry-%03d@sfconn.example", i)
		if _, err := s.emu.PutUser(emulator.User{Username: names[i], Password: s.password,
			LoginRateLimit: emulator.DefaultLoginRateLimit}); err != nil {
			return nil, err
		}
		if err := s.emu.SetPreAuthorized(s.clientID, names[i], true); err != nil {
			return nil, err
		}
	}
	return names, nil
}

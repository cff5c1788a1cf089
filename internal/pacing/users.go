package pacing

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Salesforce allows each user 3,600 logins an hour, counted over every client that logs
// in as the user (docs/salesforce-behaviour.md#login-rate-limit-3600-per-user-per-hour);
// past it, every login of the user fails until the hour turns. The operator keeps its own
// logins well under that, by default a third, and when Salesforce refuses one login of a
// user as rate limited, holds back every connection of that user, not just the one that
// was refused.

// DefaultLoginsPerUserPerHour is the operator's default budget of logins per user: two
// thirds of Salesforce's, leaving the rest to other systems of the same user.
const DefaultLoginsPerUserPerHour = 2400

// UserBudget spaces the logins of each Salesforce user, keyed by whatever names the user
// before the first login tells who it is (see the controller's userKey).
type UserBudget struct {
	mu sync.Mutex
	// byUser is nil without a budget.
	byUser  *keyedLimiter
	blocked map[string]time.Time
}

// NewUserBudget allows perHour logins per user. Salesforce counts an hour's logins, so a
// user may spend the hour's budget at once (creating many connections), and it refills
// over the hour. Without a budget (perHour not positive), a rate limit of one connection
// still holds back the user's others.
func NewUserBudget(perHour float64) *UserBudget {
	b := &UserBudget{blocked: map[string]time.Time{}}
	if perHour > 0 {
		k := newKeyedLimiter(rate.Limit(perHour/3600), max(int(perHour), 1))
		b.byUser = &k
	}
	return b
}

// Blocked returns until when Salesforce's rate limit of user holds every login of the
// user back; zero when it does not.
func (b *UserBudget) Blocked(user string, now time.Time) time.Time {
	if b == nil {
		return time.Time{}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	until, ok := b.blocked[user]
	if ok && !now.Before(until) {
		delete(b.blocked, user)
		return time.Time{}
	}
	return until
}

// Admit says how long the budget asks a login of user to wait: 0 to go now. A login told
// to wait takes no turn: it asks again.
func (b *UserBudget) Admit(user string, now time.Time) time.Duration {
	if b == nil || b.byUser == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.byUser.wait(user, now)
}

// Block holds back every login of user until until: Salesforce refused one as rate
// limited, and another would only prolong the block.
func (b *UserBudget) Block(user string, until time.Time) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if until.After(b.blocked[user]) {
		b.blocked[user] = until
	}
}

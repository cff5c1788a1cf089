// Package pacing spaces what the operator asks of Salesforce: logins per user within a
// budget, logins per org under --salesforce-qps, renewals due together planned so that
// both admit each before its renewal time, and liveness probes per org under --verify-qps. It keeps no state a
// restart would miss: a new process books each connection again on its first pass.
package pacing

import (
	"net/url"
	"sync"
	"time"

	"golang.org/x/time/rate"
	"k8s.io/apimachinery/pkg/types"
)

// LoginLimiter spaces the operator's logins to each Salesforce org, so that thousands of
// connections created or expiring together reach an org at a rate it tolerates. A
// connection told to wait keeps its turn: the limiter reserved a slot for it, and its next
// pass at or after that time goes ahead without asking again. Renewals due together are
// planned so that the limit admits each before its renewal time (see RenewalPlanner).
type LoginLimiter struct {
	limit rate.Limit
	burst int

	mu       sync.Mutex
	byOrg    map[string]*rate.Limiter
	reserved map[types.NamespacedName]time.Time
	// guard holds the same limit per org, taken when a login actually goes: turns are
	// handed out in advance, and a manager held up for a few seconds (a long GC, a slow
	// API server) would otherwise let every turn that fell due meanwhile go at once.
	guard map[string]*rate.Limiter
}

// NewLoginLimiter returns a limiter of qps logins per second per org, with bursts of
// burst; nil (no limit) when qps is not positive.
func NewLoginLimiter(qps float64, burst int) *LoginLimiter {
	if qps <= 0 {
		return nil
	}
	return &LoginLimiter{
		limit: rate.Limit(qps), burst: max(burst, 1),
		byOrg: map[string]*rate.Limiter{}, reserved: map[types.NamespacedName]time.Time{},
		guard: map[string]*rate.Limiter{},
	}
}

// Admit returns 0 when the connection may log in now, else how long it must wait.
func (l *LoginLimiter) Admit(org string, key types.NamespacedName, now time.Time) time.Duration {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if at, ok := l.reserved[key]; ok {
		if now.Before(at) {
			return at.Sub(now)
		}
		if wait := l.take(l.guard, org, now, false); wait > 0 {
			// The turn came while others whose turns came earlier are still going:
			// kept, a moment later.
			l.reserved[key] = now.Add(wait)
			return wait
		}
		delete(l.reserved, key)
		return 0
	}
	wait := l.take(l.byOrg, org, now, true)
	if wait <= 0 {
		if wait = l.take(l.guard, org, now, false); wait <= 0 {
			return 0
		}
	}
	l.reserved[key] = now.Add(wait)
	return wait
}

// take reserves one login of org in limiters: 0 when it may go now, else the wait. A
// reservation that must wait is kept when keep is set (a turn), else given back.
func (l *LoginLimiter) take(limiters map[string]*rate.Limiter, org string, now time.Time, keep bool) time.Duration {
	lim, ok := limiters[org]
	if !ok {
		lim = rate.NewLimiter(l.limit, l.burst)
		limiters[org] = lim
	}
	r := lim.ReserveN(now, 1)
	wait := r.DelayFrom(now)
	if wait > 0 && !keep {
		r.CancelAt(now)
	}
	return max(wait, 0)
}

// Forget drops the turn of a connection that no longer exists.
func (l *LoginLimiter) Forget(key types.NamespacedName) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.reserved, key)
}

// OrgKey names the org a login goes to: its ID once a login told it, else the login host
// (a My Domain host is one org; the shared login hosts group their orgs, which errs on the
// side of fewer logins).
func OrgKey(orgID, loginURL string) string {
	if orgID != "" {
		return orgID
	}
	if u, err := url.Parse(loginURL); err == nil {
		return u.Host
	}
	return loginURL
}

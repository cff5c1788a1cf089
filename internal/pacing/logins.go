// Package pacing spaces what the operator asks of Salesforce: logins per org under
// --salesforce-qps, with renewals due together planned so the limit admits each before
// its renewal time, and liveness probes per org under --verify-qps. It keeps no state a
// restart would miss: a new process books each connection again on its first pass.
package pacing

import (
	"context"
	"net/url"
	"sync"
	"time"

	"golang.org/x/time/rate"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"
)

// LoginLimiter spaces the operator's logins to each Salesforce org, so that thousands of
// connections created or expiring together reach an org at a rate it tolerates. A
// connection told to wait keeps its turn: the limiter reserved a slot for it, and its next
// pass at or after that time goes ahead without asking again. Renewals due together are
// planned so that the limit admits each before its renewal time (see renewalPlanner).
type LoginLimiter struct {
	limit   rate.Limit
	burst   int
	planner *renewalPlanner

	mu       sync.Mutex
	byOrg    map[string]*rate.Limiter
	reserved map[types.NamespacedName]time.Time
	// guard holds the same limit per org, taken when a login actually goes: turns are
	// handed out in advance, and a manager held up for a few seconds (a long GC, a slow
	// API server) would otherwise let every turn that fell due meanwhile go at once.
	guard map[string]*rate.Limiter
}

// NewLoginLimiter returns a limiter of qps logins per second per org, with bursts of
// burst; nil (no limit) when qps is not positive. The manager must run it (Start) for
// renewals to be planned.
func NewLoginLimiter(qps float64, burst int, clk clock.Clock) *LoginLimiter {
	if qps <= 0 {
		return nil
	}
	return &LoginLimiter{
		limit: rate.Limit(qps), burst: max(burst, 1), planner: newRenewalPlanner(qps, clk),
		byOrg: map[string]*rate.Limiter{}, reserved: map[types.NamespacedName]time.Time{},
		guard: map[string]*rate.Limiter{},
	}
}

// Start plans renewals until ctx ends; the manager runs it on the leader.
func (l *LoginLimiter) Start(ctx context.Context) error { return l.planner.Start(ctx) }

// NeedLeaderElection says the planner runs where the reconciler does: on the leader.
func (l *LoginLimiter) NeedLeaderElection() bool { return true }

// WakeSource delivers the namespaced connections whose planned renewal start has come.
func (l *LoginLimiter) WakeSource() source.Source { return wakeSource(l.planner.wakes) }

// ClusterWakeSource delivers the cluster-scoped connections (keys without a namespace)
// whose planned renewal start has come. A manager that books such keys must watch it, or
// the planner waits for it to take them.
func (l *LoginLimiter) ClusterWakeSource() source.Source { return wakeSource(l.planner.clusterWakes) }

func wakeSource(wakes <-chan event.TypedGenericEvent[types.NamespacedName]) source.Source {
	return source.Channel(wakes, handler.TypedEnqueueRequestsFromMapFunc(
		func(_ context.Context, key types.NamespacedName) []reconcile.Request {
			return []reconcile.Request{{NamespacedName: key}}
		}))
}

// Book records a connection's next renewal in its org's plan, and returns its planned
// start when one is known, else zero.
func (l *LoginLimiter) Book(org string, key types.NamespacedName, renewAt, wakeAt time.Time) time.Time {
	if l == nil {
		return time.Time{}
	}
	return l.planner.book(org, key, renewAt, wakeAt)
}

// Unbook drops the renewal of a connection that holds no token.
func (l *LoginLimiter) Unbook(key types.NamespacedName) {
	if l == nil {
		return
	}
	l.planner.unbook(key)
}

// PlannedStart is when the renewal at renewAt starts by the plan, zero when unplanned.
func (l *LoginLimiter) PlannedStart(key types.NamespacedName, renewAt time.Time) time.Time {
	if l == nil {
		return time.Time{}
	}
	return l.planner.plannedStart(key, renewAt)
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

// Forget drops the turn and the renewal of a connection that no longer exists.
func (l *LoginLimiter) Forget(key types.NamespacedName) {
	if l == nil {
		return
	}
	l.planner.unbook(key)
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

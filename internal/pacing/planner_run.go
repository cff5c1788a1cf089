package pacing

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"
)

// The planner's loop, on the leader: when to plan again, and how a planned start reaches
// the controllers.

// Start runs the planner until ctx ends: it plans the users and orgs whose bookings
// changed, and wakes each connection when its planned start comes.
func (p *RenewalPlanner) Start(ctx context.Context) error {
	timer := p.clock.NewTimer(time.Hour)
	defer timer.Stop()
	// The pause between plans is real time, whatever the planner's clock: it bounds CPU.
	var planned time.Time
	// look says the starts must be looked through: at the start, after a plan, and when
	// the timer fires. A booking kicked in during the pause has no start yet, so until the
	// next plan the timer set before still stands.
	look := true
	var next time.Time
	for {
		var replan <-chan time.Time
		var due []types.NamespacedName
		p.mu.Lock()
		now := p.clock.Now()
		if len(p.dirty) > 0 {
			if since := time.Since(planned); since >= p.replanEvery {
				p.replanLocked(now)
				planned, look = time.Now(), true
			} else {
				replan = time.After(p.replanEvery - since)
			}
		}
		if look {
			due, next = p.dueLocked(now)
			look = false
		}
		p.mu.Unlock()
		for _, key := range due {
			wakes := p.wakes
			if key.Namespace == "" {
				wakes = p.clusterWakes
			}
			select {
			case wakes <- event.TypedGenericEvent[types.NamespacedName]{Object: key}:
			case <-ctx.Done():
				return nil
			}
		}
		wait := time.Hour
		if !next.IsZero() {
			if wait = next.Sub(p.clock.Now()); wait <= 0 {
				look = true
				continue
			}
		}
		timer.Stop()
		timer.Reset(wait)
		if !next.IsZero() && !p.clock.Now().Before(next) {
			// The clock passed the next start while the timer was set: a timer set after
			// that, for the wait measured before, would wake it late.
			look = true
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-p.kick:
		case <-replan:
		case <-timer.C():
			look = true
		}
	}
}

// NeedLeaderElection says the planner runs where the reconciler does: on the leader.
func (p *RenewalPlanner) NeedLeaderElection() bool { return true }

// WakeSource delivers the namespaced connections whose planned renewal start has come.
func (p *RenewalPlanner) WakeSource() source.Source { return wakeSource(p.wakes) }

// ClusterWakeSource delivers the cluster-scoped connections (keys without a namespace)
// whose planned renewal start has come. A manager that books such keys must watch it, or
// the planner waits for it to take them.
func (p *RenewalPlanner) ClusterWakeSource() source.Source { return wakeSource(p.clusterWakes) }

func wakeSource(wakes <-chan event.TypedGenericEvent[types.NamespacedName]) source.Source {
	return source.Channel(wakes, handler.TypedEnqueueRequestsFromMapFunc(
		func(_ context.Context, key types.NamespacedName) []reconcile.Request {
			return []reconcile.Request{{NamespacedName: key}}
		}))
}

package pacing

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/event"
)

// renewalPlanner makes the login limit and the renewal times agree. A limit of q logins per
// second needs N/q seconds for N renewals, and tokens issued together are due together:
// without a plan, a wave larger than q × renewBefore would leave the last tokens of the
// wave to expire while they wait for a turn. The planner knows every booked renewal of an
// org and starts the earlier ones of a crowded stretch ahead of their renewal time, as
// late as the limit allows and never later than renewAt. Renewals that are spread out are
// left alone: their planned start is their renewal time.
//
// status.renewAt keeps the renewal time of the token itself; a start the planner brings
// forward is a scheduling matter, which would otherwise patch status whenever another
// connection of the org came or went.
type renewalPlanner struct {
	// interval is the limiter's spacing of logins, 1/qps.
	interval time.Duration
	clock    clock.Clock
	// wakes carries the connections whose planned start has come, to the controller:
	// the namespaced ones, and on clusterWakes the cluster-scoped ones (no namespace),
	// which another controller reconciles.
	wakes, clusterWakes chan event.TypedGenericEvent[types.NamespacedName]
	kick                chan struct{}

	mu    sync.Mutex
	orgs  map[string]map[types.NamespacedName]*booking
	orgOf map[types.NamespacedName]string
	dirty map[string]bool
}

// booking is one connection's next renewal.
type booking struct {
	renewAt time.Time
	// start is the planned start, zero until the org is planned.
	start time.Time
	// wakeAt is when the connection's own requeue brings it back anyway.
	wakeAt time.Time
	// woken is the start the planner last woke the connection for, so that a start is
	// delivered once.
	woken time.Time
}

func newRenewalPlanner(qps float64, clk clock.Clock) *renewalPlanner {
	return &renewalPlanner{
		interval:     time.Duration(float64(time.Second) / qps),
		clock:        clk,
		wakes:        make(chan event.TypedGenericEvent[types.NamespacedName], 64),
		clusterWakes: make(chan event.TypedGenericEvent[types.NamespacedName], 64),
		kick:         make(chan struct{}, 1),
		orgs:         map[string]map[types.NamespacedName]*booking{},
		orgOf:        map[types.NamespacedName]string{},
		dirty:        map[string]bool{},
	}
}

// planStarts returns, for renewal times sorted in ascending order, the latest start times
// that keep each start at or before its renewal time and consecutive starts at least
// interval apart: the schedule a limiter of one login per interval can keep.
func planStarts(renewAts []time.Time, interval time.Duration) []time.Time {
	starts := make([]time.Time, len(renewAts))
	for i := len(renewAts) - 1; i >= 0; i-- {
		starts[i] = renewAts[i]
		if i+1 < len(renewAts) {
			if latest := starts[i+1].Add(-interval); latest.Before(starts[i]) {
				starts[i] = latest
			}
		}
	}
	return starts
}

// Book records the next renewal of a connection and when its pass will come back on its
// own. It returns the planned start when one is known for this renewal time, else zero.
func (p *renewalPlanner) book(org string, key types.NamespacedName, renewAt, wakeAt time.Time) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	if old, ok := p.orgOf[key]; ok && old != org {
		p.removeLocked(key)
	}
	bookings := p.orgs[org]
	if bookings == nil {
		bookings = map[types.NamespacedName]*booking{}
		p.orgs[org] = bookings
	}
	p.orgOf[key] = org
	b := bookings[key]
	if b != nil && b.renewAt.Equal(renewAt) {
		b.wakeAt = wakeAt
		// The pass has seen this start: it comes back by itself when the start is ahead,
		// and has acted on it when it is not.
		b.woken = b.start
		return b.start
	}
	bookings[key] = &booking{renewAt: renewAt, wakeAt: wakeAt}
	p.markLocked(org)
	return time.Time{}
}

// unbook drops the renewal of a connection that holds no token or is gone.
func (p *renewalPlanner) unbook(key types.NamespacedName) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.removeLocked(key)
}

func (p *renewalPlanner) removeLocked(key types.NamespacedName) {
	org, ok := p.orgOf[key]
	if !ok {
		return
	}
	delete(p.orgOf, key)
	delete(p.orgs[org], key)
	if len(p.orgs[org]) == 0 {
		delete(p.orgs, org)
		delete(p.dirty, org)
		return
	}
	p.markLocked(org)
}

func (p *renewalPlanner) markLocked(org string) {
	p.dirty[org] = true
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// plannedStart is the planned start of the renewal at renewAt, zero when none is planned
// for that renewal time.
func (p *renewalPlanner) plannedStart(key types.NamespacedName, renewAt time.Time) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	org, ok := p.orgOf[key]
	if !ok {
		return time.Time{}
	}
	if b := p.orgs[org][key]; b != nil && b.renewAt.Equal(renewAt) {
		return b.start
	}
	return time.Time{}
}

// replanLocked plans the orgs whose bookings changed.
func (p *renewalPlanner) replanLocked() {
	for org := range p.dirty {
		bookings := p.orgs[org]
		keys := make([]types.NamespacedName, 0, len(bookings))
		for k := range bookings {
			keys = append(keys, k)
		}
		// Ties broken by name: renewAt has whole seconds, so a wave holds hundreds of
		// equal times, and an order that changed from one plan to the next would hand
		// their starts round and wake every connection again for nothing.
		slices.SortFunc(keys, func(a, b types.NamespacedName) int {
			if c := bookings[a].renewAt.Compare(bookings[b].renewAt); c != 0 {
				return c
			}
			return strings.Compare(a.String(), b.String())
		})
		renewAts := make([]time.Time, len(keys))
		for i, k := range keys {
			renewAts[i] = bookings[k].renewAt
		}
		for i, start := range planStarts(renewAts, p.interval) {
			bookings[keys[i]].start = start
		}
	}
	clear(p.dirty)
}

// dueLocked returns the connections whose planned start has come before their own
// requeue would bring them, and the next time one will.
func (p *renewalPlanner) dueLocked(now time.Time) ([]types.NamespacedName, time.Time) {
	var due []types.NamespacedName
	var next time.Time
	for _, bookings := range p.orgs {
		for key, b := range bookings {
			if b.start.IsZero() || !b.start.Before(b.wakeAt) || b.start.Equal(b.woken) {
				continue
			}
			if now.Before(b.start) {
				if next.IsZero() || b.start.Before(next) {
					next = b.start
				}
				continue
			}
			b.woken = b.start
			due = append(due, key)
		}
	}
	return due, next
}

// Start runs the planner until ctx ends: it plans the orgs whose bookings changed, and
// wakes each connection when its planned start comes before its own requeue.
func (p *renewalPlanner) Start(ctx context.Context) error {
	timer := p.clock.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		p.mu.Lock()
		p.replanLocked()
		due, next := p.dueLocked(p.clock.Now())
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
				continue
			}
		}
		timer.Stop()
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-p.kick:
		case <-timer.C():
		}
	}
}

package pacing

import (
	"cmp"
	"slices"
	"strings"
	"sync"
	"time"
	"unique"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/event"
)

// RenewalPlanner decides when each renewal starts, and wakes the connection then.
//
// Tokens issued together are due together. A user's login budget refills at
// loginsPerHour/3600 a second, so a user whose N tokens are due in the same second could
// either spend the hour's burst at once (and find nothing left for a connection created or
// changed in the next hour) or wait, and be late. The planner knows every booked renewal
// and starts the earlier ones of a crowded stretch ahead of their renewal time, one per
// pace of the user (3600 s / loginsPerHour), as late as the pace allows and never later
// than renewAt while the pace can fit them in. Under --salesforce-qps the org's renewals
// are planned the same way at 1/qps, and a renewal starts at the earlier of its two starts.
// Renewals that are spread out are left alone: their planned start is their renewal time.
//
// It is the one source of truth for when a renewal starts: a connection it plans for does
// not requeue itself for its renewal, so a start that moves costs no pass, and a renewal
// costs the one pass that logs in.
//
// status.renewAt keeps the renewal time of the token itself; a start the planner brings
// forward is a scheduling matter, which would otherwise patch status whenever another
// connection of the user came or went.
type RenewalPlanner struct {
	// userPace and orgPace space the planned starts of one user, of one org; zero plans
	// nothing by that key.
	userPace, orgPace time.Duration
	clock             clock.Clock
	// wakes carries the connections whose planned start has come, to the controller:
	// the namespaced ones, and on clusterWakes the cluster-scoped ones (no namespace),
	// which another controller reconciles.
	wakes, clusterWakes chan event.TypedGenericEvent[types.NamespacedName]
	kick                chan struct{}

	// replanEvery is the least real time between two plans. Creating thousands of
	// connections of one user books thousands of renewals a minute, and a plan sorts the
	// user's every booking: planned at each booking, that was a quarter of the manager's
	// CPU at 5,000 connections. A booking waits at most this long for its start, which
	// lies half a token lifetime ahead; starts already planned are woken on time.
	replanEvery time.Duration

	mu       sync.Mutex
	bookings map[types.NamespacedName]*booking
	// groups holds the bookings of each user and of each org. A slice, not a map: where
	// every connection logs in as a user of its own, a map per user was a few hundred
	// bytes of each connection's memory, for a group of one.
	groups map[group][]*booking
	dirty  map[group]bool
}

// booking is one connection's next renewal. Its times are instants: there is a booking
// for every connection, and five times.Time were half of it.
type booking struct {
	key       types.NamespacedName
	user, org string
	renewAt   instant
	// earliest is when the token has lived half its time to renewAt: no plan starts the
	// renewal before (see Book).
	earliest instant
	// byUser and byOrg are the starts of the user's and the org's plans, none until
	// planned or without that plan.
	byUser, byOrg instant
	// woken is the start the planner woke the connection for (or the pass saw come), so
	// that a start is delivered once.
	woken instant
}

// instant is a time in Unix nanoseconds; 0 is none, as time.Time's zero is.
type instant int64

func instantOf(t time.Time) instant {
	if t.IsZero() {
		return 0
	}
	return instant(t.UnixNano())
}

func (i instant) time() time.Time {
	if i == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(i)).UTC()
}

// start is the planned start, none until planned.
func (b *booking) start() instant {
	switch {
	case b.byUser == 0:
		return b.byOrg
	case b.byOrg == 0 || b.byUser < b.byOrg:
		return b.byUser
	}
	return b.byOrg
}

// delivered says the connection was woken for its current start: it takes no part in the
// next plans, or a plan made after its start would move it again and wake it twice.
func (b *booking) delivered() bool {
	return b.woken != 0 && b.woken == b.start()
}

// NewRenewalPlanner plans renewals at loginsPerUserPerHour per user and, when orgQPS is
// positive, at orgQPS per org; nil (renewals start at their renewal time) when neither is
// set. The manager must run it (Start).
func NewRenewalPlanner(loginsPerUserPerHour, orgQPS float64, clk clock.Clock) *RenewalPlanner {
	p := &RenewalPlanner{
		clock:        clk,
		wakes:        make(chan event.TypedGenericEvent[types.NamespacedName], 64),
		clusterWakes: make(chan event.TypedGenericEvent[types.NamespacedName], 64),
		kick:         make(chan struct{}, 1),
		bookings:     map[types.NamespacedName]*booking{},
		groups:       map[group][]*booking{},
		dirty:        map[group]bool{},
		replanEvery:  100 * time.Millisecond,
	}
	if loginsPerUserPerHour > 0 {
		p.userPace = time.Duration(float64(time.Hour) / loginsPerUserPerHour)
	}
	if orgQPS > 0 {
		p.orgPace = time.Duration(float64(time.Second) / orgQPS)
	}
	if p.userPace <= 0 && p.orgPace <= 0 {
		return nil
	}
	return p
}

// planStarts returns, for renewal times sorted in ascending order, the latest start times
// that keep each start at or before its renewal time and consecutive starts at least pace
// apart: the schedule a budget of one login per pace can keep. A start that would fall
// before floor (now, or after the starts already delivered) goes at floor and the rest
// follow at the pace: a stretch too crowded for the pace is late rather than spent at
// once, which would take the next hour's logins in advance.
func planStarts(renewAts, earliest []time.Time, pace time.Duration, floor time.Time) []time.Time {
	starts := make([]time.Time, len(renewAts))
	for i := len(renewAts) - 1; i >= 0; i-- {
		starts[i] = renewAts[i]
		if i+1 < len(renewAts) {
			if latest := starts[i+1].Add(-pace); latest.Before(starts[i]) {
				starts[i] = latest
			}
		}
	}
	for i := range starts {
		if starts[i].Before(floor) {
			starts[i] = floor
		}
		if starts[i].Before(earliest[i]) {
			starts[i] = earliest[i]
		}
		floor = starts[i].Add(pace)
	}
	return starts
}

// group names the plan of a user or of an org; the two never share a name.
type group struct {
	kind byte
	name string
}

const (
	byUserKind = 'u'
	byOrgKind  = 'o'
)

// Book records the next renewal of a connection, of user to org, in the plans. It returns
// true when the planner will wake the connection at its planned start (at renewAt at the
// latest while the pace allows), so that the connection need not requeue itself for its
// renewal; false when the start has come already (now, the pass's time), and the
// connection's own requeue and retries take over.
//
// issuedAt is when the token was issued (zero when unknown). A renewal is never planned
// before the token has lived half its time to renewAt: a user with more connections than
// its pace can renew within one token lifetime would otherwise have its fresh tokens
// renewed at once, and again, and again, spending the budget on tokens that need nothing.
// Such a stretch is late instead: no pace could serve it within the tokens' lifetime.
func (p *RenewalPlanner) Book(org, user string, key types.NamespacedName, issuedAt, renewAt, now time.Time) bool {
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.bookings[key]
	if b != nil && b.user == user && b.org == org && b.renewAt == instantOf(renewAt) {
		if s := b.start(); s != 0 && instantOf(now) >= s {
			// The pass has seen its start come: it did not renew (a failure, a
			// turn), and what holds it back brings it back.
			b.woken = s
			return false
		}
		return true
	}
	if b != nil {
		p.removeLocked(key)
	}
	// Thousands of connections share a few users and orgs: one copy of each key.
	b = &booking{key: key, user: unique.Make(user).Value(), org: unique.Make(org).Value(), renewAt: instantOf(renewAt)}
	if !issuedAt.IsZero() && issuedAt.Before(renewAt) {
		b.earliest = instantOf(issuedAt.Add(renewAt.Sub(issuedAt) / 2))
	}
	p.bookings[key] = b
	for _, g := range p.groupsOf(b) {
		p.groups[g] = append(p.groups[g], b)
		p.markLocked(g)
	}
	return true
}

// groupsOf names the plans a booking takes part in.
func (p *RenewalPlanner) groupsOf(b *booking) []group {
	var gs []group
	if p.userPace > 0 {
		gs = append(gs, group{byUserKind, b.user})
	}
	if p.orgPace > 0 {
		gs = append(gs, group{byOrgKind, b.org})
	}
	return gs
}

// Unbook drops the renewal of a connection that holds no token or is gone.
func (p *RenewalPlanner) Unbook(key types.NamespacedName) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.removeLocked(key)
}

func (p *RenewalPlanner) removeLocked(key types.NamespacedName) {
	b, ok := p.bookings[key]
	if !ok {
		return
	}
	delete(p.bookings, key)
	for _, g := range p.groupsOf(b) {
		// The order of a group does not matter: a plan sorts it.
		bs := p.groups[g]
		if i := slices.Index(bs, b); i >= 0 {
			bs[i] = bs[len(bs)-1]
			bs[len(bs)-1] = nil
			bs = bs[:len(bs)-1]
		}
		if len(bs) == 0 {
			delete(p.groups, g)
			delete(p.dirty, g)
			continue
		}
		p.groups[g] = bs
		p.markLocked(g)
	}
}

func (p *RenewalPlanner) markLocked(g group) {
	p.dirty[g] = true
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// PlannedStart is the planned start of the renewal at renewAt, zero when none is planned
// for that renewal time.
func (p *RenewalPlanner) PlannedStart(key types.NamespacedName, renewAt time.Time) time.Time {
	if p == nil {
		return time.Time{}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if b := p.bookings[key]; b != nil && b.renewAt == instantOf(renewAt) {
		return b.start().time()
	}
	return time.Time{}
}

// replanLocked plans the users and orgs whose bookings changed.
func (p *RenewalPlanner) replanLocked(now time.Time) {
	for g := range p.dirty {
		pace, user := p.orgPace, g.kind == byUserKind
		if user {
			pace = p.userPace
		}
		bookings := p.groups[g]
		entries := make([]*booking, 0, len(bookings))
		floor := now
		for _, b := range bookings {
			if !b.delivered() {
				entries = append(entries, b)
			} else if next := b.start().time().Add(pace); next.After(floor) {
				floor = next
			}
		}
		// Ties broken by name: renewAt has whole seconds, so a wave holds hundreds of
		// equal times, and an order that changed from one plan to the next would hand
		// their starts round.
		slices.SortFunc(entries, func(x, y *booking) int {
			return cmp.Or(cmp.Compare(x.renewAt, y.renewAt),
				strings.Compare(x.key.Namespace, y.key.Namespace), strings.Compare(x.key.Name, y.key.Name))
		})
		renewAts, earliest := make([]time.Time, len(entries)), make([]time.Time, len(entries))
		for i, b := range entries {
			renewAts[i], earliest[i] = b.renewAt.time(), b.earliest.time()
		}
		for i, start := range planStarts(renewAts, earliest, pace, floor) {
			if user {
				entries[i].byUser = instantOf(start)
			} else {
				entries[i].byOrg = instantOf(start)
			}
		}
	}
	clear(p.dirty)
}

// dueLocked returns the connections whose planned start has come, and the next time one
// will.
func (p *RenewalPlanner) dueLocked(now time.Time) ([]types.NamespacedName, time.Time) {
	var due []types.NamespacedName
	var next time.Time
	for key, b := range p.bookings {
		start := b.start()
		if start == 0 || b.delivered() {
			continue
		}
		if t := start.time(); now.Before(t) {
			if next.IsZero() || t.Before(next) {
				next = t
			}
			continue
		}
		b.woken = start
		due = append(due, key)
	}
	return due, next
}

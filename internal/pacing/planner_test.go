package pacing

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/types"
	testingclock "k8s.io/utils/clock/testing"
)

func TestPlanStarts(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	at := func(secs ...float64) []time.Time {
		var ts []time.Time
		for _, s := range secs {
			ts = append(ts, t0.Add(time.Duration(s*float64(time.Second))))
		}
		return ts
	}
	past := t0.Add(-time.Hour)
	for _, tc := range []struct {
		name     string
		renewAts []time.Time
		pace     time.Duration
		floor    time.Time
		want     []time.Time
		earliest []time.Time
	}{
		{"none", nil, time.Second, past, []time.Time{}, nil},
		{"one starts at its renewal time", at(10), time.Second, past, at(10), nil},
		{"spread out renewals are left alone", at(0, 5, 10), time.Second, past, at(0, 5, 10), nil},
		{"a wave starts early, the last on time", at(10, 10, 10, 10), time.Second, past, at(7, 8, 9, 10), nil},
		{"a crowded stretch pushes back into a quiet one", at(0, 5, 6, 6, 6), time.Second, past, at(0, 3, 4, 5, 6), nil},
		{"at the default budget, 1.5 s apart", at(4, 4, 4), 1500 * time.Millisecond, past, at(1, 2.5, 4), nil},
		{"a gap absorbs the wave", at(0, 9, 10, 10), 2 * time.Second, past, at(0, 6, 8, 10), nil},
		{"never after its own renewal time", at(1, 10, 10), 5 * time.Second, past, at(0, 5, 10), nil},
		{"a floor before every start changes nothing", at(10, 10, 10), time.Second, t0, at(8, 9, 10), nil},
		{"too crowded for the pace: from the floor on at the pace, the last ones late", at(2, 2, 2, 2), time.Second, t0, at(0, 1, 2, 3), nil},
		{"a floor after a delivered start pushes the wave", at(10, 10), time.Second, t0.Add(9500 * time.Millisecond), at(9.5, 10.5), nil},
		{"past the floor the plan is the latest again", at(1, 1, 20, 20), time.Second, t0, at(0, 1, 19, 20), nil},
		{"never before the token's half-life", at(10, 10, 10, 10), time.Second, past, at(8, 9, 10, 11), at(8, 8, 8, 8)},
		{"a half-life before the plan changes nothing", at(10, 10, 10), time.Second, past, at(8, 9, 10), at(5, 5, 5)},
		{"a user too large for its pace waits for the half-life, not now", at(3600, 3600, 3600), time.Hour, t0, at(1800, 5400, 9000), at(1800, 1800, 1800)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			earliest := tc.earliest
			if earliest == nil {
				earliest = make([]time.Time, len(tc.renewAts))
			}
			got := planStarts(tc.renewAts, earliest, tc.pace, tc.floor)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d starts, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if !got[i].Equal(tc.want[i]) {
					t.Fatalf("start %d = %v, want %v (all: %v)", i, got[i].Sub(t0), tc.want[i].Sub(t0), got)
				}
			}
		})
	}
}

func TestNewRenewalPlanner(t *testing.T) {
	clk := testingclock.NewFakeClock(time.Now())
	if p := NewRenewalPlanner(0, 0, clk); p != nil {
		t.Fatal("no budget and no org limit must plan nothing")
	}
	var none *RenewalPlanner
	key := types.NamespacedName{Namespace: "ns", Name: "a"}
	if none.Book("org", "user", key, time.Time{}, time.Now(), time.Now()) {
		t.Fatal("no planner promised a wake")
	}
	none.Unbook(key)
	if !none.PlannedStart(key, time.Now()).IsZero() {
		t.Fatal("no planner planned a start")
	}
	for _, tc := range []struct {
		perHour, qps    float64
		userPace, orgPc time.Duration
	}{
		{DefaultLoginsPerUserPerHour, 0, 1500 * time.Millisecond, 0},
		{0, 20, 0, 50 * time.Millisecond},
		{3600, 2, time.Second, 500 * time.Millisecond},
	} {
		p := NewRenewalPlanner(tc.perHour, tc.qps, clk)
		if p.userPace != tc.userPace || p.orgPace != tc.orgPc {
			t.Fatalf("%v/h, %v/s: paces %v, %v; want %v, %v", tc.perHour, tc.qps, p.userPace, p.orgPace, tc.userPace, tc.orgPc)
		}
	}
}

func key(i int) types.NamespacedName {
	return types.NamespacedName{Namespace: "ns", Name: fmt.Sprint("c", i)}
}

// run starts p and returns a function that stops it and checks it ended well.
func run(t *testing.T, p *RenewalPlanner) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Start(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

func TestRenewalPlannerPacesAUsersWave(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	clk := testingclock.NewFakeClock(t0)
	p := NewRenewalPlanner(3600, 0, clk) // one login a second per user

	// Five renewals of one user due at t0+60s: the plan starts them at t0+56s..60s. A lone
	// renewal of another user in the same org starts at its renewal time. Every one is
	// woken by the planner: none requeues itself.
	renew := t0.Add(time.Minute)
	for i := range 5 {
		if !p.Book("org", "alice", key(i), time.Time{}, renew, t0) {
			t.Fatal("a booked renewal is not woken by the planner")
		}
	}
	p.Book("org", "bob", key(9), time.Time{}, renew, t0)
	defer run(t, p)()

	waitFor(t, func() bool { return !p.PlannedStart(key(0), renew).IsZero() })
	select {
	case w := <-p.wakes:
		t.Fatalf("woke %v before its planned start", w.Object)
	default:
	}
	starts := map[types.NamespacedName]time.Time{}
	for i := range 5 {
		starts[key(i)] = p.PlannedStart(key(i), renew)
	}
	if got := p.PlannedStart(key(9), renew); !got.Equal(renew) {
		t.Fatalf("lone renewal planned at %v, want its renewal time", got.Sub(t0))
	}
	if got := p.PlannedStart(key(0), renew.Add(time.Second)); !got.IsZero() {
		t.Fatal("a planned start was given for another renewal time")
	}

	clk.SetTime(t0.Add(58 * time.Second))
	woken := map[types.NamespacedName]bool{}
	for range 3 { // the starts at 56, 57 and 58 s
		w := receive(t, p)
		if s := starts[w]; s.After(clk.Now()) || !s.Before(renew) {
			t.Fatalf("woke %v planned at %v", w, s.Sub(t0))
		}
		woken[w] = true
	}
	// A woken connection whose pass did not renew books the same renewal again: it is not
	// woken twice, and its own requeue takes over.
	for w := range woken {
		if p.Book("org", "alice", w, time.Time{}, renew, clk.Now()) {
			t.Fatalf("%v, woken, is promised another wake", w)
		}
	}
	clk.SetTime(t0.Add(59 * time.Second))
	if w := receive(t, p); woken[w] || !starts[w].Equal(t0.Add(59*time.Second)) {
		t.Fatalf("woke %v (planned %v) at 59 s", w, starts[w].Sub(t0))
	}
	clk.SetTime(renew)
	last := map[types.NamespacedName]bool{receive(t, p): true, receive(t, p): true}
	if !last[key(9)] || len(last) != 2 {
		t.Fatalf("at the renewal time woke %v, want the last of the wave and the lone renewal", last)
	}
	clk.SetTime(t0.Add(2 * time.Minute))
	waitFor(t, func() bool { return clk.HasWaiters() })
	select {
	case w := <-p.wakes:
		t.Fatalf("woke %v again", w.Object)
	default:
	}
}

func TestRenewalPlannerMovesStartsWithoutWaking(t *testing.T) {
	// A start that moves costs nothing: the connection is woken once, at the start the
	// plan holds when it comes. Connections gone make room: the rest start later.
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	clk := testingclock.NewFakeClock(t0)
	p := NewRenewalPlanner(3600, 0, clk)
	defer run(t, p)()
	renew := t0.Add(time.Minute)
	p.Book("org", "alice", key(4), time.Time{}, renew, t0)
	waitFor(t, func() bool { return p.PlannedStart(key(4), renew).Equal(renew) })
	for i := range 4 {
		p.Book("org", "alice", key(i), time.Time{}, renew, t0)
	}
	waitFor(t, func() bool { return p.PlannedStart(key(0), renew).Equal(t0.Add(56 * time.Second)) })
	for i := 1; i < 4; i++ {
		p.Unbook(key(i))
	}
	waitFor(t, func() bool { return p.PlannedStart(key(0), renew).Equal(t0.Add(59 * time.Second)) })
	clk.SetTime(t0.Add(59 * time.Second))
	if w := receive(t, p); w != key(0) {
		t.Fatalf("woke %v at 59 s, want %v", w, key(0))
	}
	clk.SetTime(renew)
	if w := receive(t, p); w != key(4) {
		t.Fatalf("woke %v at the renewal time, want %v", w, key(4))
	}
	waitFor(t, func() bool { return clk.HasWaiters() })
	select {
	case w := <-p.wakes:
		t.Fatalf("woke %v twice", w.Object)
	default:
	}
}

func TestRenewalPlannerKeepsDeliveredStarts(t *testing.T) {
	// A wave too large for the user's pace: the plan starts from now, one per pace, and
	// a booking that comes later neither moves nor wakes again the starts already
	// delivered; it queues behind them.
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	clk := testingclock.NewFakeClock(t0)
	p := NewRenewalPlanner(3600, 0, clk)
	defer run(t, p)()
	renew := t0.Add(2 * time.Second)
	for i := range 4 {
		p.Book("org", "alice", key(i), time.Time{}, renew, t0)
	}
	waitFor(t, func() bool { return !p.PlannedStart(key(3), renew).IsZero() })
	if w := receive(t, p); w != key(0) {
		t.Fatalf("woke %v first, want %v", w, key(0))
	}
	clk.SetTime(t0.Add(1500 * time.Millisecond))
	if w := receive(t, p); w != key(1) {
		t.Fatalf("woke %v second, want %v", w, key(1))
	}
	p.Book("org", "alice", key(5), time.Time{}, renew, clk.Now())
	waitFor(t, func() bool { return !p.PlannedStart(key(5), renew).IsZero() })
	for i, want := range []float64{0, 1, 2, 3, 4} {
		k := key(i)
		if i == 4 {
			k = key(5)
		}
		if got := p.PlannedStart(k, renew); !got.Equal(t0.Add(time.Duration(want * float64(time.Second)))) {
			t.Fatalf("%v planned at %v, want %vs", k, got.Sub(t0), want)
		}
	}
	select {
	case w := <-p.wakes:
		t.Fatalf("woke %v again", w.Object)
	default:
	}
}

func TestRenewalPlannerTakesTheEarlierOfUserAndOrg(t *testing.T) {
	// Under --salesforce-qps the org's plan applies too: two users' waves, each user at one
	// login per 2 s, share an org that admits two a second. Each user's first renewal
	// starts by the user's pace, the second ones by the org's.
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	clk := testingclock.NewFakeClock(t0)
	p := NewRenewalPlanner(1800, 2, clk)
	renew := t0.Add(time.Minute)
	for i := range 4 {
		p.Book("org", fmt.Sprint("user", i%2), key(i), time.Time{}, renew, t0)
	}
	defer run(t, p)()
	waitFor(t, func() bool { return !p.PlannedStart(key(0), renew).IsZero() })
	for i, want := range []float64{58, 58, 59.5, 60} {
		if got := p.PlannedStart(key(i), renew); !got.Equal(t0.Add(time.Duration(want * float64(time.Second)))) {
			t.Fatalf("%v planned at %v, want %vs", key(i), got.Sub(t0), want)
		}
	}
}

func TestRenewalPlanIsStable(t *testing.T) {
	// Many renewals due in the same second get the same starts from one plan to the next,
	// whatever order the bookings are kept in.
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	p := NewRenewalPlanner(3600, 10, testingclock.NewFakeClock(t0))
	var keys []types.NamespacedName
	for i := range 200 {
		k := types.NamespacedName{Namespace: "ns", Name: fmt.Sprintf("c%03d", i)}
		keys = append(keys, k)
		p.Book("org", "alice", k, time.Time{}, t0.Add(time.Hour), t0)
	}
	plan := func() map[types.NamespacedName]time.Time {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.dirty[group{byUserKind, "alice"}] = true
		p.dirty[group{byOrgKind, "org"}] = true
		p.replanLocked(t0)
		out := map[types.NamespacedName]time.Time{}
		for _, k := range keys {
			out[k] = p.bookings[k].start().time()
		}
		return out
	}
	first := plan()
	for range 5 {
		for k, s := range plan() {
			if !s.Equal(first[k]) {
				t.Fatalf("%v moved from %v to %v on a replan of the same bookings", k, first[k].Sub(t0), s.Sub(t0))
			}
		}
	}
	if !first[keys[0]].Before(first[keys[199]]) {
		t.Fatal("equal renewal times are not ordered by name")
	}
}

func receive(t *testing.T, p *RenewalPlanner) types.NamespacedName {
	t.Helper()
	select {
	case w := <-p.wakes:
		return w.Object
	case <-time.After(10 * time.Second):
		t.Fatal("no wake within 10 s")
	}
	return types.NamespacedName{}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	gomega.NewWithT(t).Eventually(cond).WithTimeout(10 * time.Second).WithPolling(time.Millisecond).Should(gomega.BeTrue())
}

func TestRenewalPlannerWakesClusterConnectionsApart(t *testing.T) {
	// A cluster-scoped connection (no namespace) and a namespaced one share a user's plan;
	// each is woken on its own channel, for the controller of its kind.
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	clk := testingclock.NewFakeClock(t0)
	p := NewRenewalPlanner(3600, 0, clk)
	renew := t0.Add(time.Minute)
	cluster := types.NamespacedName{Name: "shared"}
	namespaced := types.NamespacedName{Namespace: "ns", Name: "shared"}
	last := types.NamespacedName{Namespace: "ns", Name: "z"}
	for _, k := range []types.NamespacedName{cluster, namespaced, last} {
		p.Book("org", "alice", k, time.Time{}, renew, t0)
	}
	defer run(t, p)()
	waitFor(t, func() bool { return !p.PlannedStart(cluster, renew).IsZero() })

	clk.SetTime(renew.Add(-time.Second))
	if w := receive(t, p); w != namespaced {
		t.Fatalf("woke %v on the namespaced channel, want %v", w, namespaced)
	}
	select {
	case w := <-p.clusterWakes:
		if w.Object != cluster {
			t.Fatalf("woke %v on the cluster channel, want %v", w.Object, cluster)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the cluster connection was not woken within 10 s")
	}
}

func TestRenewalPlannerPlansAtMostEveryInterval(t *testing.T) {
	// Bookings that come within the pause after a plan wait for the next plan; a start
	// planned already is still woken when it comes.
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	clk := testingclock.NewFakeClock(t0)
	p := NewRenewalPlanner(3600, 0, clk)
	p.replanEvery = time.Hour
	defer run(t, p)()
	first := types.NamespacedName{Namespace: "ns", Name: "first"}
	renew := t0.Add(time.Minute)
	p.Book("org", "alice", first, time.Time{}, renew, t0)
	waitFor(t, func() bool { return p.PlannedStart(first, renew).Equal(renew) })

	later := t0.Add(time.Hour)
	for i := range 50 {
		p.Book("org", "alice", types.NamespacedName{Namespace: "ns", Name: fmt.Sprint("later-", i)}, time.Time{}, later, t0)
	}
	clk.SetTime(renew)
	if w := receive(t, p); w != first {
		t.Fatalf("woke %v, want %v", w, first)
	}
	for i := range 50 {
		if s := p.PlannedStart(types.NamespacedName{Namespace: "ns", Name: fmt.Sprint("later-", i)}, later); !s.IsZero() {
			t.Fatalf("later-%d planned at %v within the pause after the first plan", i, s.Sub(t0))
		}
	}
}

func TestRenewalPlannerForgetsEmptyGroups(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	p := NewRenewalPlanner(3600, 10, testingclock.NewFakeClock(t0))
	for i := range 3 {
		p.Book("org", fmt.Sprintf("user-%d", i%2), key(i), time.Time{}, t0.Add(time.Hour), t0)
	}
	if len(p.groups) != 3 || len(p.groups[group{byUserKind, "user-0"}]) != 2 {
		t.Fatalf("groups after three bookings of two users of one org: %v", p.groups)
	}
	for i := range 3 {
		p.Unbook(key(i))
	}
	if len(p.groups) != 0 || len(p.dirty) != 0 || len(p.bookings) != 0 {
		t.Fatalf("after every booking went: %d groups, %d to plan, %d bookings", len(p.groups), len(p.dirty), len(p.bookings))
	}
}

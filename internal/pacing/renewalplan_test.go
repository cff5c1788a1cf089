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
	for _, tc := range []struct {
		name     string
		renewAts []time.Time
		interval time.Duration
		want     []time.Time
	}{
		{"none", nil, time.Second, []time.Time{}},
		{"one starts at its renewal time", at(10), time.Second, at(10)},
		{"spread out renewals are left alone", at(0, 5, 10), time.Second, at(0, 5, 10)},
		{"a wave starts early, the last on time", at(10, 10, 10, 10), time.Second, at(7, 8, 9, 10)},
		{"a crowded stretch pushes back into a quiet one", at(0, 5, 6, 6, 6), time.Second, at(0, 3, 4, 5, 6)},
		{"half a second apart at 2 per second", at(4, 4, 4), 500 * time.Millisecond, at(3, 3.5, 4)},
		{"a gap absorbs the wave", at(0, 9, 10, 10), 2 * time.Second, at(0, 6, 8, 10)},
		{"never after its own renewal time", at(1, 10, 10), 5 * time.Second, at(0, 5, 10)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := planStarts(tc.renewAts, tc.interval)
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

func TestRenewalPlannerWakesEarlyStarts(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	clk := testingclock.NewFakeClock(t0)
	p := newRenewalPlanner(1, clk) // one login a second
	key := func(i int) types.NamespacedName {
		return types.NamespacedName{Namespace: "ns", Name: fmt.Sprint("c", i)}
	}

	// Five renewals due at t0+60s in one org, each connection requeued for its renewal
	// time: the plan starts them at t0+56s..60s, so four need waking. A lone renewal in
	// another org is left to its own requeue.
	renew := t0.Add(time.Minute)
	for i := range 5 {
		if start := p.book("org", key(i), renew, renew); !start.IsZero() {
			t.Fatalf("a new booking has a planned start %v before any plan", start)
		}
	}
	p.book("other", key(9), renew, renew)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error)
	go func() { done <- p.Start(ctx) }()

	// Nothing is due before t0+56s.
	waitFor(t, func() bool { return !p.plannedStart(key(0), renew).IsZero() })
	select {
	case w := <-p.wakes:
		t.Fatalf("woke %v before its planned start", w.Object)
	default:
	}
	starts := map[types.NamespacedName]time.Time{}
	for i := range 5 {
		starts[key(i)] = p.plannedStart(key(i), renew)
	}
	if got := p.plannedStart(key(9), renew); !got.Equal(renew) {
		t.Fatalf("lone renewal planned at %v, want its renewal time", got.Sub(t0))
	}
	if got := p.plannedStart(key(0), renew.Add(time.Second)); !got.IsZero() {
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
	// A woken connection that books the same renewal again is not woken twice.
	for w := range woken {
		p.book("org", w, renew, renew)
	}
	clk.SetTime(t0.Add(59 * time.Second))
	if w := receive(t, p); woken[w] || !starts[w].Equal(t0.Add(59*time.Second)) {
		t.Fatalf("woke %v (planned %v) at 59 s", w, starts[w].Sub(t0))
	}
	clk.SetTime(t0.Add(2 * time.Minute))
	waitFor(t, func() bool { return clk.HasWaiters() })
	select {
	case w := <-p.wakes:
		t.Fatalf("woke %v: the rest start at their renewal time, when their own requeue comes", w.Object)
	default:
	}

	// Connections gone from the org make room: the first of the wave moves to its renewal
	// time once it is alone.
	first := key(0)
	for k, s := range starts {
		if s.Before(starts[first]) {
			first = k
		}
	}
	if want := t0.Add(56 * time.Second); !starts[first].Equal(want) {
		t.Fatalf("the wave starts at %v, want 56 s", starts[first].Sub(t0))
	}
	for i := range 5 {
		if key(i) != first {
			p.unbook(key(i))
		}
	}
	waitFor(t, func() bool { return p.plannedStart(first, renew).Equal(renew) })

	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestRenewalPlanIsStable(t *testing.T) {
	// Many renewals due in the same second get the same starts from one plan to the next,
	// whatever order the bookings are kept in.
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	p := newRenewalPlanner(10, testingclock.NewFakeClock(t0))
	var keys []types.NamespacedName
	for i := range 200 {
		k := types.NamespacedName{Namespace: "ns", Name: fmt.Sprintf("c%03d", i)}
		keys = append(keys, k)
		p.book("org", k, t0.Add(time.Minute), t0.Add(time.Minute))
	}
	plan := func() map[types.NamespacedName]time.Time {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.dirty["org"] = true
		p.replanLocked()
		out := map[types.NamespacedName]time.Time{}
		for _, k := range keys {
			out[k] = p.orgs["org"][k].start
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

func receive(t *testing.T, p *renewalPlanner) types.NamespacedName {
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
	// A cluster-scoped connection (no namespace) and a namespaced one share an org's plan;
	// each is woken on its own channel, for the controller of its kind.
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	clk := testingclock.NewFakeClock(t0)
	p := newRenewalPlanner(1, clk)
	renew := t0.Add(time.Minute)
	cluster := types.NamespacedName{Name: "shared"}
	namespaced := types.NamespacedName{Namespace: "ns", Name: "shared"}
	last := types.NamespacedName{Namespace: "ns", Name: "z"}
	for _, k := range []types.NamespacedName{cluster, namespaced, last} {
		p.book("org", k, renew, renew)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error)
	go func() { done <- p.Start(ctx) }()
	waitFor(t, func() bool { return !p.plannedStart(cluster, renew).IsZero() })

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
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

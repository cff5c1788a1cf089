package pacing

import (
	"testing"
	"time"
)

func TestUserBudget(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	var none *UserBudget
	if none.Admit("u", now) != 0 || !none.Blocked("u", now).IsZero() {
		t.Fatal("no budget held a login back")
	}

	b := NewUserBudget(2) // two an hour, both at once
	b.byUser.limit = 1    // then one a second, to keep the test short
	for i := range 2 {
		if w := b.Admit("ann", now); w != 0 {
			t.Fatalf("login %d of the hour's budget waited %v", i+1, w)
		}
	}
	if w := b.Admit("ann", now); w != time.Second {
		t.Fatalf("third login waits %v, want 1s", w)
	}
	if w := b.Admit("bob", now); w != 0 {
		t.Fatal("budgets are per user")
	}
	// A login told to wait took no turn.
	if w := b.Admit("ann", now.Add(time.Second)); w != 0 {
		t.Fatalf("login after its wait waited %v", w)
	}

	until := now.Add(15 * time.Minute)
	b.Block("ann", until)
	b.Block("ann", now.Add(time.Minute)) // an earlier end does not shorten the block
	if got := b.Blocked("ann", now.Add(10*time.Minute)); !got.Equal(until) {
		t.Fatalf("blocked until %v, want %v", got, until)
	}
	if got := b.Blocked("bob", now.Add(10*time.Minute)); !got.IsZero() {
		t.Fatal("a rate limit of one user held back another")
	}
	if got := b.Blocked("ann", until); !got.IsZero() {
		t.Fatalf("after the block: blocked until %v", got)
	}

	off := NewUserBudget(0)
	for range 100 {
		if w := off.Admit("ann", now); w != 0 {
			t.Fatal("a budget of 0 held a login back")
		}
	}
	off.Block("ann", until)
	if got := off.Blocked("ann", now); !got.Equal(until) {
		t.Fatal("without a budget, a rate limit must still hold the user back")
	}
}

func TestUserBudgetDropsRefilledBuckets(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	b := NewUserBudget(DefaultLoginsPerUserPerHour)
	for _, user := range []string{"ann", "bob", "cy"} {
		if w := b.Admit(user, now); w != 0 {
			t.Fatalf("first login of %s waited %v", user, w)
		}
	}
	// ann spends her whole budget: her bucket refills over the hour, and must be kept.
	for b.Admit("ann", now) == 0 {
	}
	if n := len(b.byUser.byKey); n != 3 {
		t.Fatalf("%d buckets after three users' logins, want 3", n)
	}
	ann := b.byUser.byKey["ann"]
	later := now.Add(sweepEvery + time.Minute)
	if w := b.Admit("dee", later); w != 0 {
		t.Fatalf("first login of dee waited %v", w)
	}
	if _, ok := b.byUser.byKey["bob"]; ok {
		t.Fatal("bob's bucket, full again, was kept")
	}
	if b.byUser.byKey["ann"] != ann {
		t.Fatal("ann's bucket, still short of her budget, was dropped: she could spend it again at once")
	}
	if w := b.Admit("bob", later); w != 0 {
		t.Fatalf("bob, whose bucket was dropped full, waited %v", w)
	}
}

package pacing

import (
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

func TestLoginLimiter(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	key := func(n string) types.NamespacedName { return types.NamespacedName{Namespace: "ns", Name: n} }

	var none *LoginLimiter
	if NewLoginLimiter(0, 5) != nil {
		t.Fatal("qps 0 must mean no limiter")
	}
	if w := none.Admit("org", key("a"), now); w != 0 {
		t.Fatalf("no limiter waited %v", w)
	}

	l := NewLoginLimiter(2, 2) // two at once, then one every 500ms
	if w := l.Admit("org", key("a"), now); w != 0 {
		t.Fatalf("first login waited %v", w)
	}
	if w := l.Admit("org", key("b"), now); w != 0 {
		t.Fatalf("second login (burst) waited %v", w)
	}
	wc := l.Admit("org", key("c"), now)
	wd := l.Admit("org", key("d"), now)
	if wc != 500*time.Millisecond || wd != time.Second {
		t.Fatalf("waits = %v, %v; want 500ms, 1s", wc, wd)
	}
	if w := l.Admit("other-org", key("e"), now); w != 0 {
		t.Fatalf("another org waited %v: limits are per org", w)
	}

	// A connection told to wait keeps its turn: asked again too early it learns the rest of
	// its wait, not a new place at the back of the queue.
	if w := l.Admit("org", key("c"), now.Add(200*time.Millisecond)); w != 300*time.Millisecond {
		t.Fatalf("early retry waits %v, want the remaining 300ms", w)
	}
	if w := l.Admit("org", key("c"), now.Add(500*time.Millisecond)); w != 0 {
		t.Fatalf("retry on time waited %v", w)
	}
	if w := l.Admit("org", key("d"), now.Add(time.Second)); w != 0 {
		t.Fatalf("retry on time waited %v", w)
	}

	// A manager held up for a while finds many turns due at once: they go at the limit's
	// pace, not all together.
	stalled := NewLoginLimiter(2, 2)
	for i := range 10 {
		stalled.Admit("org", key(fmt.Sprint("s", i)), now)
	}
	later, went := now.Add(time.Minute), 0
	for i := range 10 {
		if stalled.Admit("org", key(fmt.Sprint("s", i)), later) == 0 {
			went++
		}
	}
	if went != 2 {
		t.Fatalf("%d logins went at once after a stall, want the burst of 2", went)
	}

	l.Admit("org", key("f"), now.Add(time.Second))
	l.Forget(key("f"))
	if _, held := l.reserved[key("f")]; held {
		t.Fatal("forget kept the turn of a deleted connection")
	}
}

func TestOrgKey(t *testing.T) {
	if k := OrgKey("", "https://acme.my.salesforce.com"); k != "acme.my.salesforce.com" {
		t.Fatalf("OrgKey before the first login = %q", k)
	}
	if k := OrgKey("00D000000000001AAA", "https://login.salesforce.com"); k != "00D000000000001AAA" {
		t.Fatalf("OrgKey after a login = %q", k)
	}
}

package pacing

import (
	"testing"
	"time"
)

func TestProbeLimiter(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	l := NewProbeLimiter(1, 2)
	if NewProbeLimiter(0, 2) != nil {
		t.Fatal("qps 0 must mean no limit")
	}
	if w := (*ProbeLimiter)(nil).Wait("org", t0); w != 0 {
		t.Fatalf("no limiter waited %v", w)
	}
	for i := range 2 {
		if w := l.Wait("org", t0); w != 0 {
			t.Fatalf("probe %d of the burst waited %v", i+1, w)
		}
	}
	if w := l.Wait("org", t0); w != time.Second {
		t.Fatalf("third probe waits %v, want 1s", w)
	}
	// A probe told to wait takes no turn: asked again a second later, it goes.
	if w := l.Wait("org", t0.Add(time.Second)); w != 0 {
		t.Fatalf("probe after its wait waited %v", w)
	}
	if l.Wait("other", t0) != 0 {
		t.Fatal("limits are per org")
	}

}

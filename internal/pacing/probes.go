package pacing

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// ProbeLimiter spaces liveness probes per Salesforce org, so that a restart or many
// connections with the same verifyInterval do not hit an org at once. Unlike logins,
// a probe told to wait simply comes back later: it holds no turn.
type ProbeLimiter struct {
	mu    sync.Mutex
	byOrg keyedLimiter
}

// NewProbeLimiter allows qps probes per second per org, with bursts of burst; nil (no
// limit) when qps is not positive.
func NewProbeLimiter(qps float64, burst int) *ProbeLimiter {
	if qps <= 0 {
		return nil
	}
	return &ProbeLimiter{byOrg: newKeyedLimiter(rate.Limit(qps), max(burst, 1))}
}

// Wait returns 0 when a probe of org may go now, else how long until it may.
func (l *ProbeLimiter) Wait(org string, now time.Time) time.Duration {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.byOrg.wait(org, now)
}

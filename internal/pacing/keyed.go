package pacing

import (
	"time"

	"golang.org/x/time/rate"
)

// keyedLimiter is a token bucket per key (an org, a user), made on the key's first
// request. Its owner guards it with its own lock.
type keyedLimiter struct {
	limit rate.Limit
	burst int
	byKey map[string]*rate.Limiter
}

func newKeyedLimiter(limit rate.Limit, burst int) keyedLimiter {
	return keyedLimiter{limit: limit, burst: burst, byKey: map[string]*rate.Limiter{}}
}

// wait returns 0 when a request of key may go now, taking a token, else how long until it
// may; a request told to wait takes no token, and asks again.
func (k *keyedLimiter) wait(key string, now time.Time) time.Duration {
	lim, ok := k.byKey[key]
	if !ok {
		lim = rate.NewLimiter(k.limit, k.burst)
		k.byKey[key] = lim
	}
	res := lim.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d
	}
	return 0
}

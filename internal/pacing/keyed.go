package pacing

import (
	"maps"
	"time"

	"golang.org/x/time/rate"
)

// keyedLimiter is a token bucket per key (an org, a user), made on the key's first
// request. Its owner guards it with its own lock.
type keyedLimiter struct {
	limit rate.Limit
	burst int
	byKey map[string]*rate.Limiter
	// nextSweep is when the buckets that refilled are next dropped.
	nextSweep time.Time
}

// sweepEvery is how often the buckets that refilled are dropped. A full bucket is what a
// key's first request gets anyway, so dropping it changes no answer; kept, every user that
// ever logged in would hold a bucket and its key for the life of the process, thousands of
// them at scale. A login takes a user's bucket a second or two below full at the default
// budget.
const sweepEvery = 10 * time.Second

func newKeyedLimiter(limit rate.Limit, burst int) keyedLimiter {
	return keyedLimiter{limit: limit, burst: burst, byKey: map[string]*rate.Limiter{}}
}

// wait returns 0 when a request of key may go now, taking a token, else how long until it
// may; a request told to wait takes no token, and asks again.
func (k *keyedLimiter) wait(key string, now time.Time) time.Duration {
	k.sweep(now)
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

// sweep drops the buckets that are full again, at most every sweepEvery. The map is made
// anew when any is dropped, since a Go map keeps the room of the entries deleted from it.
func (k *keyedLimiter) sweep(now time.Time) {
	if now.Before(k.nextSweep) {
		return
	}
	k.nextSweep = now.Add(sweepEvery)
	full := func(_ string, lim *rate.Limiter) bool { return lim.TokensAt(now) >= float64(k.burst) }
	for key, lim := range k.byKey {
		if full(key, lim) {
			maps.DeleteFunc(k.byKey, full)
			kept := make(map[string]*rate.Limiter, len(k.byKey))
			maps.Copy(kept, k.byKey)
			k.byKey = kept
			return
		}
	}
}

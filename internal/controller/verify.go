package controller

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/salesforce"
)

// ProbeLimiter spaces liveness probes per Salesforce org, so that a restart or many
// connections with the same verifyInterval do not hit an org at once. Unlike logins,
// a probe told to wait simply comes back later: it holds no turn.
type ProbeLimiter struct {
	limit rate.Limit
	burst int

	mu    sync.Mutex
	byOrg map[string]*rate.Limiter
}

// NewProbeLimiter allows qps probes per second per org, with bursts of burst; nil (no
// limit) when qps is not positive.
func NewProbeLimiter(qps float64, burst int) *ProbeLimiter {
	if qps <= 0 {
		return nil
	}
	return &ProbeLimiter{limit: rate.Limit(qps), burst: max(burst, 1), byOrg: map[string]*rate.Limiter{}}
}

// wait returns 0 when a probe of org may go now, else how long until it may.
func (l *ProbeLimiter) wait(org string, now time.Time) time.Duration {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.byOrg[org]
	if !ok {
		lim = rate.NewLimiter(l.limit, l.burst)
		l.byOrg[org] = lim
	}
	res := lim.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d
	}
	return 0
}

// verification is the last time a token was found alive.
type verification struct {
	issuedAt time.Time
	at       time.Time
}

// verify probes the stored token when spec.verifyInterval says it is due: Salesforce may
// revoke a token hours before its expiry (an admin, an evicted approval, a password
// reset), and workloads would fail with it until the renewal. It sets f.tokenRejected when
// Salesforce refused the token, and returns when the next probe is due. The times live in
// memory only, so probing costs no write: a new process starts counting afresh, except
// for a connection whose last login failed, which it probes at once.
func (r *Reconciler) verify(ctx context.Context, conn *sfv1.SalesforceConnection, f *facts) time.Time {
	key := types.NamespacedName{Namespace: conn.Namespace, Name: conn.Name}
	if conn.Spec.VerifyInterval == nil || conn.Spec.VerifyInterval.Duration <= 0 {
		r.verified.Delete(key)
		return time.Time{}
	}
	if f.stored == nil || !f.intact || f.secret != secretOurs || !f.now.Before(f.stored.expiresAt) {
		return time.Time{}
	}
	if at, ok := r.rejected.Load(key); ok && at.(time.Time).Equal(f.stored.issuedAt) {
		f.tokenRejected = true
		return time.Time{}
	}
	interval := conn.Spec.VerifyInterval.Duration
	v, seen := r.verified.Load(key)
	if !seen || !v.(verification).issuedAt.Equal(f.stored.issuedAt) {
		if conn.Status.LastFailure == nil {
			r.verified.Store(key, verification{issuedAt: f.stored.issuedAt, at: f.now})
			return f.now.Add(interval)
		}
		v = verification{issuedAt: f.stored.issuedAt}
	}
	if due := v.(verification).at.Add(interval); f.now.Before(due) {
		return due
	}
	if wait := r.ProbeLimiter.wait(orgKey(conn, loginURLOf(conn)), f.now); wait > 0 {
		return f.now.Add(wait)
	}

	log := logf.FromContext(ctx)
	pctx, cancel := context.WithTimeout(ctx, loginTimeout)
	defer cancel()
	_, err := r.Salesforce.UserInfo(pctx, f.stored.instanceURL(), string(f.stored.data[KeyAccessToken]))
	if tokenRefused(err) {
		log.Info("Salesforce refused the token before its expiry", "connection", klog.KObj(conn), "error", err.Error())
		r.rejected.Store(key, f.stored.issuedAt)
		f.tokenRejected = true
		return time.Time{}
	}
	if err != nil {
		// Salesforce could not say: the token is not known to be dead. Ask again next time.
		log.V(1).Info("The liveness probe failed", "connection", klog.KObj(conn), "error", err.Error())
	}
	r.verified.Store(key, verification{issuedAt: f.stored.issuedAt, at: f.now})
	return f.now.Add(interval)
}

// verifiedNow records a token just issued as alive, and returns when to probe it.
func (r *Reconciler) verifiedNow(conn *sfv1.SalesforceConnection, tok *issuedToken, now time.Time) time.Time {
	if conn.Spec.VerifyInterval == nil || conn.Spec.VerifyInterval.Duration <= 0 {
		return time.Time{}
	}
	r.verified.Store(types.NamespacedName{Namespace: conn.Namespace, Name: conn.Name}, verification{issuedAt: tok.issuedAt, at: now})
	return now.Add(conn.Spec.VerifyInterval.Duration)
}

// tokenRefused says whether userinfo refused the token itself (401 or 403), rather than
// failing to answer.
func tokenRefused(err error) bool {
	var e *salesforce.Error
	return errors.As(err, &e) && e.Class == salesforce.Terminal &&
		(e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden)
}

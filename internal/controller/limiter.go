package controller

import (
	"net/url"
	"sync"
	"time"

	"golang.org/x/time/rate"
	"k8s.io/apimachinery/pkg/types"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

// LoginLimiter spaces the operator's logins to each Salesforce org, so that thousands of
// connections created or expiring together reach an org at a rate it tolerates. A
// connection told to wait keeps its turn: the limiter reserved a slot for it, and its next
// pass at or after that time goes ahead without asking again.
type LoginLimiter struct {
	limit rate.Limit
	burst int

	mu       sync.Mutex
	byOrg    map[string]*rate.Limiter
	reserved map[types.NamespacedName]time.Time
}

// NewLoginLimiter returns a limiter of qps logins per second per org, with bursts of
// burst; nil (no limit) when qps is not positive.
func NewLoginLimiter(qps float64, burst int) *LoginLimiter {
	if qps <= 0 {
		return nil
	}
	return &LoginLimiter{
		limit: rate.Limit(qps), burst: max(burst, 1),
		byOrg: map[string]*rate.Limiter{}, reserved: map[types.NamespacedName]time.Time{},
	}
}

// admit returns 0 when the connection may log in now, else how long it must wait.
func (l *LoginLimiter) admit(org string, key types.NamespacedName, now time.Time) time.Duration {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if at, ok := l.reserved[key]; ok {
		if !now.Before(at) {
			delete(l.reserved, key)
			return 0
		}
		return at.Sub(now)
	}
	lim, ok := l.byOrg[org]
	if !ok {
		lim = rate.NewLimiter(l.limit, l.burst)
		l.byOrg[org] = lim
	}
	wait := lim.ReserveN(now, 1).DelayFrom(now)
	if wait <= 0 {
		return 0
	}
	l.reserved[key] = now.Add(wait)
	return wait
}

// forget drops the turn of a connection that no longer exists.
func (l *LoginLimiter) forget(key types.NamespacedName) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.reserved, key)
}

// orgKey names the org a login goes to: its ID once a login told it, else the login host
// (a My Domain host is one org; the shared login hosts group their orgs, which errs on the
// side of fewer logins).
func orgKey(conn *sfv1.SalesforceConnection, loginURL string) string {
	if conn.Status.OrgID != "" {
		return conn.Status.OrgID
	}
	if u, err := url.Parse(loginURL); err == nil {
		return u.Host
	}
	return loginURL
}

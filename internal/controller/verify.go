package controller

import (
	"context"
	"errors"
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/pacing"
	"github.com/sfconn/sfconn-operator/internal/salesforce"
)

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
	if wait := r.ProbeLimiter.Wait(pacing.OrgKey(conn.Status.OrgID, loginURLOf(conn)), f.now); wait > 0 {
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

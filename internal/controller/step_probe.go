package controller

import (
	"context"
	"errors"
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/sfconn/sfconn-operator/internal/authflow"
	"github.com/sfconn/sfconn-operator/internal/salesforce"
	"github.com/sfconn/sfconn-operator/internal/tokensecret"
)

// probeResult is what the liveness probe learnt of a token, by its issue time.
type probeResult struct {
	issuedAt time.Time
	// aliveAt is when the token was last found alive; rejected is set once Salesforce
	// refused it.
	aliveAt  time.Time
	rejected bool
}

// probe asks Salesforce whether the token is still alive when spec.verifyInterval says
// it is due: Salesforce may revoke a token hours before its expiry (an admin, an evicted
// approval, a password reset), and workloads would fail with it until the renewal. A
// refusal brings the connection back at once, and its token step renews. The times live
// in memory only, so probing costs no write: a new process starts counting afresh, except
// for a connection whose last login failed, which it probes at once.
func (r *Reconciler) probe(ctx context.Context, p *pass) (time.Time, error) {
	spec := p.conn.Spec.VerifyInterval
	if spec == nil || spec.Duration <= 0 {
		r.mem.probes.forget(p.key)
		return time.Time{}, nil
	}
	tok := p.token
	if tok == nil || p.rejected || !p.now.Before(tok.ExpiresAt) {
		return time.Time{}, nil
	}
	interval := spec.Duration
	last, seen := r.mem.probes.load(p.key)
	if p.renewed || (!seen || !last.issuedAt.Equal(tok.IssuedAt)) && p.conn.Status.LastFailure == nil {
		// A token just issued, or one this process has not probed: alive as of now.
		r.mem.probes.store(p.key, probeResult{issuedAt: tok.IssuedAt, aliveAt: p.now})
		return p.now.Add(interval), nil
	}
	if seen && last.issuedAt.Equal(tok.IssuedAt) {
		if due := last.aliveAt.Add(interval); p.now.Before(due) {
			return due, nil
		}
	}
	if wait := r.ProbeLimiter.Wait(r.orgOf(p), p.now); wait > 0 {
		return p.now.Add(wait), nil
	}

	pctx, cancel := context.WithTimeout(ctx, authflow.LoginTimeout)
	defer cancel()
	_, err := r.Salesforce.UserInfo(pctx, tok.InstanceURL(), tok.AccessToken())
	if tokenRefused(err) {
		p.log.Info("Salesforce refused the token before its expiry", "error", err.Error())
		r.mem.probes.store(p.key, probeResult{issuedAt: tok.IssuedAt, rejected: true})
		return p.now.Add(time.Second), nil
	}
	if err != nil {
		// Salesforce could not say: the token is not known to be dead. Ask again next time.
		p.log.V(1).Info("The liveness probe failed", "error", err.Error())
	}
	r.mem.probes.store(p.key, probeResult{issuedAt: tok.IssuedAt, aliveAt: p.now})
	return p.now.Add(interval), nil
}

// rejectedBefore says whether Salesforce refused this token in an earlier probe.
func (r *Reconciler) rejectedBefore(key types.NamespacedName, tok *tokensecret.Token) bool {
	last, ok := r.mem.probes.load(key)
	return ok && last.rejected && last.issuedAt.Equal(tok.IssuedAt)
}

// tokenRefused says whether userinfo refused the token itself (401 or 403), rather than
// failing to answer (docs/salesforce-behaviour.md#userinfo-a-cheap-liveness-probe).
func tokenRefused(err error) bool {
	var e *salesforce.Error
	return errors.As(err, &e) && e.Class == salesforce.Terminal &&
		(e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden)
}

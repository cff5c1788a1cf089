package main

import (
	"context"
	"fmt"
	"math"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

// expiryNamespace holds the connections of the expiry phase.
const expiryNamespace = "bench-expiry"

// setupSession is the connections' sessionTimeout while they log in: long enough that no
// renewal is due however long the logins take. It is shortened once all are Ready.
const setupSession = time.Hour

// expiryPhase makes n tokens expire at the same moment and watches them renewed, on an
// environment of its own:
//
//  1. n connections, expiryConnectionsPerUser of each Salesforce user, log in with the
//     password flow and the emulator's clock frozen at t0:
//     password answers carry issued_at, so every token has issuedAt t0. Its tokens cannot
//     be introspected, so spec.sessionTimeout sets their expiry (step 3).
//  2. With qps > 0 the manager restarts with --salesforce-qps (no login: the tokens are
//     valid).
//  3. Their sessionTimeout is patched so that the first renewal is due shortly: every
//     token now expires at t0 + sessionTimeout. A changed sessionTimeout makes no login.
//  4. The renewals, spread by the operator's jitter (up to 10% of renewBefore), by the
//     renewal plan at each user's login budget (no flag) and by --salesforce-qps, are
//     counted from the emulator's request log and the audit log.
func (e *run) expiryPhase(ctx context.Context, qps float64) error {
	v, err := e.newEnv(ctx, fmt.Sprintf("expiry-qps%g", qps))
	if err != nil {
		return err
	}
	defer v.close()
	if err := v.startManager(ctx, e.baseManagerOptions()); err != nil {
		return err
	}
	res := &expiryResult{SalesforceQPS: qps, RenewBefore: e.o.renewBefore.String()}
	if qps > 0 {
		res.SalesforceBurst = e.o.salesforceBurst
	}
	users, err := v.sf.addExpiryUsers(expiryUserCount(e.n))
	if err != nil {
		return err
	}
	res.Users = len(users)
	w := workload{namespace: expiryNamespace, n: e.n, grant: grantPassword,
		sessionTimeout: setupSession, renewBefore: e.o.renewBefore, sf: v.sf, usernames: users}
	if err := v.cl.createNamespace(ctx, w.namespace); err != nil {
		return err
	}
	if err := w.createCredentials(ctx, v.cl.admin); err != nil {
		return err
	}

	logf("N=%d: expiry: %d connections log in with the emulator's clock frozen", e.n, e.n)
	t0, err := e.loginFrozen(ctx, v, w, res)
	if err != nil {
		return err
	}
	if qps > 0 {
		o := e.baseManagerOptions()
		o.salesforceQPS, o.salesforceBurst = qps, e.o.salesforceBurst
		if err := v.restartManager(ctx, o); err != nil {
			return err
		}
		if err := v.mgr.waitReconciled(ctx, e.n); err != nil {
			return err
		}
		if err := v.mgr.waitSettled(ctx, e.n, timeoutFor(e.n, time.Minute, 100*time.Millisecond)); err != nil {
			return err
		}
	}
	expires, err := e.setCommonExpiry(ctx, v, w, t0, qps, res)
	if err != nil {
		return err
	}

	before, err := v.mgr.counters(ctx)
	if err != nil {
		return err
	}
	v.sf.emu.ResetStats()
	from := time.Now()
	logf("N=%d: expiry: waiting for %d renewals (tokens expire at %s)", e.n, e.n, expires.Format("15:04:05"))
	wait := time.Until(expires) + timeoutFor(e.n, 5*time.Minute, 0)
	if qps > 0 {
		wait += time.Duration(float64(e.n)/qps*2) * time.Second
	}
	items, err := waitAll(ctx, v.cl.admin, w.namespace, e.n, wait, "all tokens renewed", func(c *sfv1.SalesforceConnection) bool {
		return readyCondition(c) != nil && c.Status.IssuedAt != nil && c.Status.IssuedAt.After(t0)
	})
	if err != nil {
		return err
	}
	if err := v.mgr.waitSettled(ctx, e.n, timeoutFor(e.n, time.Minute, 100*time.Millisecond)); err != nil {
		return err
	}
	var to time.Time
	if res.Writes, res.Reads, to, err = v.cl.audit.countRequests(ctx, v.cl.admin, from); err != nil {
		return err
	}
	after, err := v.mgr.counters(ctx)
	if err != nil {
		return err
	}
	res.Reconciles, res.CPUSeconds = after.reconciles-before.reconciles, after.cpuSeconds-before.cpuSeconds
	res.Seconds = to.Sub(from).Seconds()
	res.TokenRequests = v.sf.tokenRequests()
	logins := v.sf.loginTimes()
	res.Logins = len(logins)
	res.PeakPerSecond = peakPerSecond(logins)
	if len(logins) > 0 {
		res.SpreadSeconds = logins[len(logins)-1].Sub(logins[0]).Seconds()
		res.FirstLoginBeforeExpiry = expires.Sub(logins[0]).Seconds()
	}
	for i := range items {
		if late := items[i].Status.IssuedAt.Sub(expires); late > 0 {
			res.Late++
			res.MaxLateSeconds = math.Max(res.MaxLateSeconds, late.Seconds())
		}
	}
	e.r.Expiry = append(e.r.Expiry, res)
	return nil
}

// loginFrozen creates the connections with the emulator's clock frozen and returns the
// instant every token says it was issued at.
func (e *run) loginFrozen(ctx context.Context, v *env, w workload, res *expiryResult) (time.Time, error) {
	t0 := time.Now().Truncate(time.Second)
	v.sf.clock.freeze(t0)
	defer v.sf.clock.thaw()
	v.sf.emu.ResetStats()
	start := time.Now()
	if err := w.createConnections(ctx, v.cl.admin); err != nil {
		return t0, err
	}
	if _, err := waitAll(ctx, v.cl.admin, w.namespace, e.n, timeoutFor(e.n, 2*time.Minute, 200*time.Millisecond),
		"expiry connections Ready", func(c *sfv1.SalesforceConnection) bool { return readyCondition(c) != nil }); err != nil {
		return t0, err
	}
	if err := v.mgr.waitSettled(ctx, e.n, timeoutFor(e.n, time.Minute, 100*time.Millisecond)); err != nil {
		return t0, err
	}
	res.SetupSeconds = time.Since(start).Seconds()
	res.SetupTokenRequests = v.sf.tokenRequests()
	return t0, nil
}

// setCommonExpiry patches every connection's sessionTimeout so that the first renewal is
// due a margin from now (the margin: twice as long as the logins took, at least 30 s: the
// manager rewrites every token Secret and status for the patches, about the work of the
// logins), and waits until the manager has applied it.
//
// With --salesforce-qps the wave lasts at least n/qps; the session must outlast it, or the
// first connections renewed are due again before the last ones were: a connection renews
// every sessionTimeout - renewBefore, and n/(that) logins per second above qps never end.
func (e *run) setCommonExpiry(ctx context.Context, v *env, w workload, t0 time.Time, qps float64, res *expiryResult) (time.Time, error) {
	margin := max(30*time.Second, time.Duration(2*res.SetupSeconds*float64(time.Second)))
	// renewBefore, the largest jitter, and the plan that starts a user's wave ahead.
	earliest := e.o.renewBefore + e.o.renewBefore/10 + planLead(e.n)
	session := (time.Since(t0) + margin + earliest).Truncate(time.Second) + time.Second
	session = max(session, e.o.expirySession)
	if qps > 0 {
		wave := time.Duration(1.5 * float64(e.n) / qps * float64(time.Second))
		session = max(session, (earliest + wave + 30*time.Second).Truncate(time.Second))
	}
	expires := t0.Add(session)
	res.SessionTimeout = session.String()
	logf("N=%d: expiry: setting sessionTimeout %s: every token expires at %s", e.n, session, expires.Format("15:04:05"))
	patch := fmt.Sprintf(`{"spec":{"sessionTimeout":%q}}`, session.String())
	if err := forEach(ctx, e.n, createWorkers, func(ctx context.Context, i int) error {
		c := &sfv1.SalesforceConnection{}
		c.Name, c.Namespace = connectionName(i), w.namespace
		return v.cl.admin.Patch(ctx, c, client.RawPatch(types.MergePatchType, []byte(patch)))
	}); err != nil {
		return expires, err
	}
	if _, err := waitAll(ctx, v.cl.admin, w.namespace, e.n, timeoutFor(e.n, 2*time.Minute, 200*time.Millisecond),
		"the new expiry in every status", func(c *sfv1.SalesforceConnection) bool {
			// A connection renewed already counts too: it saw the new expiry (the note
			// below says the wave started early).
			return readyCondition(c) != nil && c.Status.ExpiresAt != nil &&
				(c.Status.ExpiresAt.Time.Equal(expires) || c.Status.IssuedAt.After(t0))
		}); err != nil {
		return expires, err
	}
	if err := v.mgr.waitSettled(ctx, e.n, timeoutFor(e.n, time.Minute, 100*time.Millisecond)); err != nil {
		return expires, err
	}
	if due := expires.Add(-earliest); time.Now().After(due) {
		e.r.note(fmt.Sprintf("expiry: renewals could start at %s, before the harness had set the common expiry (%s): the wave's counts include them",
			due.Format("15:04:05"), time.Now().Format("15:04:05")))
	}
	return expires, nil
}

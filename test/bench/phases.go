package main

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

// createPhase creates n connections at once (their credentials Secrets first) and
// measures how long until all are Ready, what the manager wrote, and how often it logged in.
func (e *run) createPhase(ctx context.Context, v *env, w workload) error {
	r := e.r
	if err := v.cl.createNamespace(ctx, w.namespace); err != nil {
		return err
	}
	logf("N=%d: creating %d credentials Secrets", e.n, e.n)
	credentialsStart := time.Now()
	if err := w.createCredentials(ctx, v.cl.admin); err != nil {
		return err
	}
	r.CredentialsSeconds = time.Since(credentialsStart).Seconds()
	before, err := v.mgr.counters(ctx)
	if err != nil {
		return err
	}
	v.sf.emu.ResetStats()
	var prof *cpuProfiler
	if e.o.profile && v.mgr.pprofAddr != "" {
		prof = startCPUProfile(ctx, v.mgr.pprofAddr, e.outFile(fmt.Sprintf("cpu-n%d-chunk", e.n)))
	}

	logf("N=%d: creating %d connections at once", e.n, e.n)
	start := time.Now()
	if err := w.createConnections(ctx, v.cl.admin); err != nil {
		return err
	}
	r.CreateSeconds = time.Since(start).Seconds()
	items, err := waitAll(ctx, v.cl.admin, w.namespace, e.n, timeoutFor(e.n, 2*time.Minute, 200*time.Millisecond),
		"all connections Ready", func(c *sfv1.SalesforceConnection) bool { return readyCondition(c) != nil })
	if err != nil {
		return err
	}
	r.AllReadySeconds = time.Since(start).Seconds()
	if len(items) > 0 {
		r.StatusBytes = jsonSize(items[0].Status)
	}
	lat := readyLatencies(items)
	r.ReadyP50, r.ReadyP99 = percentile(lat, 50), percentile(lat, 99)
	logf("N=%d: all Ready after %.1fs (floor of 4 writes per connection %.1fs, ratio %.2f)", e.n, r.AllReadySeconds, r.FloorSeconds, r.floorRatio())

	if err := v.mgr.waitSettled(ctx, e.n, timeoutFor(e.n, time.Minute, 100*time.Millisecond)); err != nil {
		return err
	}
	r.SettledSeconds = time.Since(start).Seconds()
	if prof != nil {
		cpu := e.outFile(fmt.Sprintf("cpu-n%d.pprof", e.n))
		if err := prof.finish(cpu); err != nil {
			r.fail("CPU profile", err)
		} else {
			r.CPUProfile = cpu
		}
	}
	after, err := v.mgr.counters(ctx)
	if err != nil {
		return err
	}
	r.CreateReconciles, r.CreateCPUSeconds = after.reconciles-before.reconciles, after.cpuSeconds-before.cpuSeconds
	if r.CreateWrites, r.CreateReads, _, err = v.cl.audit.countRequests(ctx, v.cl.admin, start); err != nil {
		return err
	}
	r.TokenRequests = v.sf.tokenRequests()

	heap := ""
	if e.o.profile && v.mgr.pprofAddr != "" {
		heap = e.outFile(fmt.Sprintf("heap-n%d.pprof", e.n))
		r.HeapProfile = heap
	}
	if r.Memory, err = v.mgr.memory(ctx, heap); err != nil {
		return err
	}
	r.Scrape, err = v.mgr.timeScrape(ctx)
	return err
}

// restPhase waits out the rest window with everything Ready and counts what the manager
// writes and how often it logs in meanwhile: both should be zero.
func (e *run) restPhase(ctx context.Context, v *env) error {
	logf("N=%d: %s at rest", e.n, e.o.rest)
	before := v.sf.tokenRequests()
	from := time.Now()
	if err := sleepCtx(ctx, e.o.rest); err != nil {
		return err
	}
	w, to, err := v.cl.audit.countWrites(ctx, v.cl.admin, from)
	if err != nil {
		return err
	}
	e.r.Rest = &restResult{Seconds: to.Sub(from).Seconds(), Writes: w, TokenRequests: v.sf.tokenRequests() - before}
	return nil
}

// restartPhase stops the manager with SIGTERM and starts a new one: with every token
// valid it should log in zero times. The time is until the new manager has reconciled
// n times (controller_runtime_reconcile_total), from the start of the new process.
func (e *run) restartPhase(ctx context.Context, v *env) error {
	logf("N=%d: restarting the manager", e.n)
	if err := v.mgr.stop(); err != nil {
		return err
	}
	v.mgr = nil
	v.sf.emu.ResetStats()
	from := time.Now()
	if err := v.startManager(ctx, v.mgrOpts); err != nil {
		return err
	}
	res := &restartResult{}
	if err := v.mgr.waitReconciled(ctx, e.n); err != nil {
		return err
	}
	res.Seconds = time.Since(from).Seconds()
	if err := v.mgr.waitSettled(ctx, e.n, timeoutFor(e.n, time.Minute, 100*time.Millisecond)); err != nil {
		return err
	}
	res.SettledSeconds = time.Since(from).Seconds()
	c, err := v.mgr.counters(ctx)
	if err != nil {
		return err
	}
	res.Reconciles, res.CPUSeconds = c.reconciles, c.cpuSeconds
	if res.Writes, res.Reads, _, err = v.cl.audit.countRequests(ctx, v.cl.admin, from); err != nil {
		return err
	}
	res.TokenRequests = v.sf.tokenRequests()
	e.r.Restart = res
	return nil
}

// unrelatedPhase measures the manager's memory before and after Secrets it has no
// business with appear in the cluster: only its own Secrets are cached with their data,
// all others as stripped metadata, so the growth is that metadata.
func (e *run) unrelatedPhase(ctx context.Context, v *env) error {
	res := &unrelatedResult{Count: e.o.unrelated}
	var err error
	if res.Before, err = v.mgr.memory(ctx, ""); err != nil {
		return err
	}
	logf("N=%d: creating %d unrelated Secrets", e.n, e.o.unrelated)
	from := time.Now()
	if err := createUnrelatedSecrets(ctx, v.cl, e.o.unrelated, 5); err != nil {
		return err
	}
	res.CreateSeconds = time.Since(from).Seconds()
	if err := v.sentinel(ctx); err != nil {
		return err
	}
	if err := v.mgr.waitSettled(ctx, e.n, time.Minute); err != nil {
		return err
	}
	heap := ""
	if e.o.profile && v.mgr.pprofAddr != "" {
		heap = e.outFile(fmt.Sprintf("heap-n%d-unrelated.pprof", e.n))
	}
	if res.After, err = v.mgr.memory(ctx, heap); err != nil {
		return err
	}
	if res.Writes, _, err = v.cl.audit.countWrites(ctx, v.cl.admin, from); err != nil {
		return err
	}
	e.r.Unrelated = res
	return nil
}

// sentinel makes sure the manager has seen every Secret event so far: it annotates the
// credentials Secret of one connection, and waits for the reconcile that the change
// causes. The manager's Secret metadata watch delivers events in order.
func (v *env) sentinel(ctx context.Context) error {
	before, err := v.mgr.counters(ctx)
	if err != nil {
		return err
	}
	s := &corev1.Secret{}
	s.Name, s.Namespace = credentialsName(0), benchNamespace
	patch := fmt.Sprintf(`{"metadata":{"annotations":{"bench.sfconn.io/sentinel":%q}}}`, time.Now().Format(time.RFC3339Nano))
	if err := v.cl.admin.Patch(ctx, s, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		return err
	}
	return poll(ctx, "the manager seeing the sentinel Secret change", 250*time.Millisecond, 5*time.Minute,
		func(ctx context.Context) (bool, string, error) {
			now, err := v.mgr.counters(ctx)
			if err != nil {
				return false, err.Error(), nil
			}
			return now.reconciles > before.reconciles, "", nil
		})
}

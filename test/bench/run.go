package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// benchNamespace holds the connections of the creation, rest, restart and memory phases.
const benchNamespace = "bench"

// run is one N: the phases in order, each on an environment of its own making.
type run struct {
	o     *options
	root  string
	bin   string // the manager binary
	flags managerFlags
	n     int
	r     *result
	envs  int
}

// env is a fresh control plane, Salesforce emulator and manager.
type env struct {
	run     *run
	label   string
	dir     string // scratch: audit log, kubeconfig
	cl      *cluster
	sf      *salesforce
	mgr     *managerProcess
	mgrOpts managerOptions
	starts  int
}

func runN(ctx context.Context, o *options, root, bin string, flags managerFlags, n int) *result {
	r := &result{N: n, Grant: o.grant, MaxConcurrent: o.maxConcurrent, LatencySeconds: o.latency.Seconds()}
	start := time.Now()
	e := &run{o: o, root: root, bin: bin, flags: flags, n: n, r: r}
	if err := e.mainPhases(ctx); err != nil {
		r.fail("run", err)
	}
	if o.expiry {
		for i, qps := range []float64{0, o.expiryQPS} {
			if i > 0 && qps <= 0 {
				continue
			}
			if qps > 0 && !flags["salesforce-qps"] {
				r.note("bin/manager has no --salesforce-qps yet: the expiry phase ran without it only")
				continue
			}
			e.try(fmt.Sprintf("expiry (--salesforce-qps=%g)", qps), func() error { return e.expiryPhase(ctx, qps) })
		}
	}
	r.WallSeconds = time.Since(start).Seconds()
	return r
}

// mainPhases: the floor, creation, rest, restart and unrelated Secrets, on one environment.
func (e *run) mainPhases(ctx context.Context) error {
	v, err := e.newEnv(ctx, "main")
	if err != nil {
		return err
	}
	defer v.close()
	w := workload{namespace: benchNamespace, n: e.n, grant: e.o.grant, sessionTimeout: e.o.sessionTimeout, sf: v.sf}

	logf("N=%d: floor: %d API writes by the harness on %d workers", e.n, 4*e.n, e.o.maxConcurrent)
	floor, floorStatusBytes, err := measureFloor(ctx, v.cl, w, e.o.maxConcurrent)
	if err != nil {
		return err
	}
	e.r.FloorStatusBytes = floorStatusBytes
	e.r.FloorSeconds = floor.Seconds()

	if err := v.startManager(ctx, e.baseManagerOptions()); err != nil {
		return err
	}
	if v.mgr.pprofAddr == "" {
		e.r.note("bin/manager has no --pprof-bind-address: memory is read without a GC first, and -profile takes no profile")
	}
	if e.o.exactHeap {
		e.r.note("-exact-heap: the manager recorded every allocation; its times and CPU are not comparable with other runs")
	}
	if err := e.createPhase(ctx, v, w); err != nil {
		return fmt.Errorf("creation: %w", err)
	}
	e.try("rest", func() error { return e.restPhase(ctx, v) })
	e.try("restart", func() error { return e.restartPhase(ctx, v) })
	if e.o.unrelated > 0 {
		e.try("unrelated Secrets", func() error { return e.unrelatedPhase(ctx, v) })
	}
	return nil
}

func (e *run) baseManagerOptions() managerOptions {
	return managerOptions{
		maxConcurrent: e.o.maxConcurrent, leaderElect: e.o.leaderElect, pprof: true, exactHeap: e.o.exactHeap,
		kubeAPIQPS: e.o.kubeAPIQPS, kubeAPIBurst: e.o.kubeAPIBurst,
	}
}

// try runs a phase whose failure is reported without ending the run.
func (e *run) try(phase string, fn func() error) {
	if err := fn(); err != nil {
		e.r.fail(phase, err)
		logf("N=%d: %s failed: %v", e.n, phase, err)
	}
}

// newEnv starts kube-apiserver, etcd and the emulator; the caller starts the manager.
func (e *run) newEnv(ctx context.Context, label string) (*env, error) {
	e.envs++
	v := &env{run: e, label: label, dir: filepath.Join(e.o.work, fmt.Sprintf("n%d-%d-%s", e.n, e.envs, label))}
	if err := os.MkdirAll(v.dir, 0o700); err != nil {
		return nil, err
	}
	logf("N=%d: %s: starting kube-apiserver and etcd (audit log on), and the Salesforce emulator", e.n, label)
	var err error
	if v.cl, err = startCluster(ctx, e.root, v.dir); err != nil {
		return nil, err
	}
	if v.sf, err = startSalesforce(e.o.latency, e.o.sessionTimeout); err != nil {
		v.close()
		return nil, err
	}
	return v, nil
}

func (v *env) close() {
	if v.mgr != nil {
		if err := v.mgr.stop(); err != nil {
			v.run.r.fail("stopping the manager", err)
		}
	}
	if v.sf != nil {
		v.sf.close()
	}
	if v.cl != nil {
		if err := v.cl.stop(); err != nil {
			v.run.r.fail("stopping the control plane", err)
		}
	}
}

// startManager starts bin/manager with o and waits for its controller to run.
func (v *env) startManager(ctx context.Context, o managerOptions) error {
	host, err := url.Parse(v.sf.url())
	if err != nil {
		return err
	}
	v.starts++
	logPath := filepath.Join(v.run.o.out, "logs", fmt.Sprintf("manager-n%d-%s-%d.log", v.run.n, v.label, v.starts))
	m, err := startManager(v.run.bin, v.cl.managerKubeconfig, host.Hostname(), logPath, o, v.run.flags)
	if err != nil {
		return err
	}
	v.mgr, v.mgrOpts = m, o
	if err := m.waitStarted(ctx); err != nil {
		return fmt.Errorf("%w (log: %s)", err, logPath)
	}
	return nil
}

// restartManager stops the manager with SIGTERM and starts a new one with o.
func (v *env) restartManager(ctx context.Context, o managerOptions) error {
	if err := v.mgr.stop(); err != nil {
		return err
	}
	v.mgr = nil
	return v.startManager(ctx, o)
}

// timeoutFor scales a deadline with n: generous, since a deadline only turns a hang into
// an error; the times measured never depend on it.
func timeoutFor(n int, base, perItem time.Duration) time.Duration {
	return base + time.Duration(n)*perItem
}

func (e *run) outFile(name string) string { return filepath.Join(e.o.out, name) }

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s bench: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

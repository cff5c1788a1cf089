package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const controllerName = "salesforceconnection"

// managerOptions are the flags the harness passes to bin/manager. Zero values are not
// passed, so the manager's defaults apply.
type managerOptions struct {
	maxConcurrent   int
	leaderElect     bool
	salesforceQPS   float64
	salesforceBurst int
	kubeAPIQPS      float64
	kubeAPIBurst    int
	pprof           bool
	// exactHeap samples every allocation in heap profiles.
	exactHeap bool
}

// managerFlags are the flags bin/manager knows, read from its -help: flags added to the
// manager later are used as soon as it is rebuilt.
type managerFlags map[string]bool

func readManagerFlags(bin string) (managerFlags, error) {
	out, _ := exec.Command(bin, "-help").CombinedOutput() // exits 0 or 2 depending on the flag package
	flags := managerFlags{}
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "-") {
			name, _, _ := strings.Cut(strings.TrimLeft(line, "-"), " ")
			flags[name] = true
		}
	}
	if !flags["metrics-bind-address"] {
		return nil, fmt.Errorf("%s -help lists no --metrics-bind-address: is it the sfconn manager?", bin)
	}
	return flags, nil
}

// managerProcess is a running bin/manager.
type managerProcess struct {
	cmd         *exec.Cmd
	done        chan struct{}
	log         *os.File
	metricsAddr string
	pprofAddr   string
	started     time.Time
}

func startManager(bin, kubeconfig, salesforceHost, logPath string, o managerOptions, known managerFlags) (*managerProcess, error) {
	metricsAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	args := []string{
		"--kubeconfig=" + kubeconfig,
		"--allowed-login-hosts=" + salesforceHost,
		"--health-probe-bind-address=0",
		"--metrics-bind-address=" + metricsAddr, "--metrics-secure=false",
		"--leader-election-namespace=" + leaseNamespace,
	}
	if o.leaderElect {
		args = append(args, "--leader-elect")
	}
	if o.maxConcurrent > 0 {
		args = append(args, "--max-concurrent-reconciles="+strconv.Itoa(o.maxConcurrent))
	}
	optional := []struct {
		flag  string
		value string
		set   bool
	}{
		{"salesforce-qps", strconv.FormatFloat(o.salesforceQPS, 'f', -1, 64), o.salesforceQPS > 0},
		{"salesforce-burst", strconv.Itoa(o.salesforceBurst), o.salesforceBurst > 0},
		{"kube-api-qps", strconv.FormatFloat(o.kubeAPIQPS, 'f', -1, 64), o.kubeAPIQPS != 0},
		{"kube-api-burst", strconv.Itoa(o.kubeAPIBurst), o.kubeAPIBurst != 0},
	}
	for _, f := range optional {
		if !f.set {
			continue
		}
		if !known[f.flag] {
			return nil, fmt.Errorf("bin/manager has no --%s yet (rebuild it with make build)", f.flag)
		}
		args = append(args, "--"+f.flag+"="+f.value)
	}
	p := &managerProcess{done: make(chan struct{}), metricsAddr: metricsAddr}
	if o.pprof && known["pprof-bind-address"] {
		if p.pprofAddr, err = freeAddr(); err != nil {
			return nil, err
		}
		args = append(args, "--pprof-bind-address="+p.pprofAddr)
	}
	if p.log, err = os.Create(logPath); err != nil {
		return nil, err
	}
	p.cmd = exec.Command(bin, args...)
	if o.exactHeap {
		// The default samples one allocation in 512 KiB: a few samples per line of the
		// profile, too few to tell a hundred bytes per connection from noise.
		p.cmd.Env = append(os.Environ(), "GODEBUG=memprofilerate=1")
	}
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	p.started = time.Now()
	if err := p.cmd.Start(); err != nil {
		_ = p.log.Close()
		return nil, err
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// waitStarted waits until the controller runs: its max_concurrent_reconciles gauge appears
// once the manager holds the lease and has started the controller.
func (p *managerProcess) waitStarted(ctx context.Context) error {
	return poll(ctx, "manager start", 100*time.Millisecond, 2*time.Minute, func(ctx context.Context) (bool, string, error) {
		select {
		case <-p.done:
			return false, "", fmt.Errorf("the manager exited: %s", p.cmd.ProcessState)
		default:
		}
		m, err := p.scrape(ctx)
		if err != nil {
			return false, err.Error(), nil
		}
		return m.has("controller_runtime_max_concurrent_reconciles", map[string]string{"controller": controllerName}), "controller not started", nil
	})
}

// stop sends SIGTERM and waits for the process to exit, as Kubernetes stops a pod.
func (p *managerProcess) stop() error {
	defer func() { _ = p.log.Close() }()
	select {
	case <-p.done:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(time.Minute):
		_ = p.cmd.Process.Kill()
		<-p.done
		return errors.New("the manager did not stop within a minute of SIGTERM; killed")
	}
}

// counters are the manager's cumulative counts.
type counters struct {
	// reconciles is controller_runtime_reconcile_total summed over results.
	reconciles float64
	// cpuSeconds is process_cpu_seconds_total.
	cpuSeconds float64
}

func (p *managerProcess) counters(ctx context.Context) (counters, error) {
	m, err := p.scrape(ctx)
	if err != nil {
		return counters{}, err
	}
	return counters{
		reconciles: m.sum("controller_runtime_reconcile_total", map[string]string{"controller": controllerName}),
		cpuSeconds: m.sum("process_cpu_seconds_total", nil),
	}, nil
}

// waitReconciled waits until the manager has reconciled n times since it started.
func (p *managerProcess) waitReconciled(ctx context.Context, n int) error {
	interval := max(pollInterval(n)/2, 100*time.Millisecond)
	return poll(ctx, "reconciles after the start", interval, timeoutFor(n, 2*time.Minute, 200*time.Millisecond),
		func(ctx context.Context) (bool, string, error) {
			c, err := p.counters(ctx)
			if err != nil {
				return false, err.Error(), nil
			}
			return c.reconciles >= float64(n), fmt.Sprintf("%.0f reconciles", c.reconciles), nil
		})
}

// scrapeCost is how long one /metrics request took and how big it was: the operator's
// collector reports every connection at scrape time.
type scrapeCost struct {
	Seconds float64 `json:"seconds"`
	Bytes   int     `json:"bytes"`
	// ConnectionSeries counts the per-connection series in it (connectionSeries), and
	// GzipBytes is its size compressed, as a Prometheus scrape transfers it (wireBytes).
	ConnectionSeries int `json:"connectionSeries"`
	GzipBytes        int `json:"gzipBytes"`
}

func (p *managerProcess) timeScrape(ctx context.Context) (scrapeCost, error) {
	start := time.Now()
	body, err := httpGet(ctx, "http://"+p.metricsAddr+"/metrics")
	took := time.Since(start).Seconds()
	if err != nil {
		return scrapeCost{}, err
	}
	gz, err := wireBytes(ctx, "http://"+p.metricsAddr+"/metrics")
	return scrapeCost{Seconds: took, Bytes: len(body), GzipBytes: gz, ConnectionSeries: connectionSeries(parseMetrics(string(body)))}, err
}

// waitSettled waits until the controller is idle: nothing queued, no worker busy, and no
// reconcile finished between two scrapes. Delayed requeues (renewal times) do not count.
func (p *managerProcess) waitSettled(ctx context.Context, n int, timeout time.Duration) error {
	last := -1.0
	return poll(ctx, "manager idle", max(pollInterval(n), 500*time.Millisecond), timeout, func(ctx context.Context) (bool, string, error) {
		m, err := p.scrape(ctx)
		if err != nil {
			return false, err.Error(), nil
		}
		sel := map[string]string{"controller": controllerName}
		depth := m.sum("workqueue_depth", map[string]string{"name": controllerName})
		active := m.sum("controller_runtime_active_workers", sel)
		total := m.sum("controller_runtime_reconcile_total", sel)
		idle := depth == 0 && active == 0 && total == last
		last = total
		return idle, fmt.Sprintf("queue depth %.0f, active workers %.0f, reconciles %.0f", depth, active, total), nil
	})
}

// memory is the manager's memory as its /metrics reports it.
type memory struct {
	RSS       float64 `json:"rssBytes"`
	HeapInuse float64 `json:"heapInuseBytes"`
}

// memory runs a garbage collection first when pprof is on (the heap profile endpoint does
// it with gc=1), so that heap in use is live data rather than the point of the GC cycle
// the scrape happened to land in.
func (p *managerProcess) memory(ctx context.Context, heapProfile string) (memory, error) {
	if p.pprofAddr != "" {
		body, err := httpGet(ctx, "http://"+p.pprofAddr+"/debug/pprof/heap?gc=1")
		if err != nil {
			return memory{}, err
		}
		if heapProfile != "" {
			if err := os.WriteFile(heapProfile, body, 0o600); err != nil {
				return memory{}, err
			}
		}
	}
	m, err := p.scrape(ctx)
	if err != nil {
		return memory{}, err
	}
	return memory{RSS: m.sum("process_resident_memory_bytes", nil), HeapInuse: m.sum("go_memstats_heap_inuse_bytes", nil)}, nil
}

// scrapeTimeout bounds one request to the manager: a scrape of a busy manager with
// thousands of connections may be slow, but never this slow.
const scrapeTimeout = 30 * time.Second

func (p *managerProcess) scrape(ctx context.Context) (metricSet, error) {
	ctx, cancel := context.WithTimeout(ctx, scrapeTimeout)
	defer cancel()
	body, err := httpGet(ctx, "http://"+p.metricsAddr+"/metrics")
	if err != nil {
		return nil, err
	}
	return parseMetrics(string(body)), nil
}

func httpGet(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return body, nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

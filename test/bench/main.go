// Command bench measures the sfconn operator at scale, as built (bin/manager), on a real
// control plane (kube-apiserver and etcd from KUBEBUILDER_ASSETS, with the audit log on)
// and the Salesforce emulator. For each N it creates N connections at once and measures
// the time until all are Ready against a floor, the logins and API writes per connection,
// the writes at rest, a restart, memory, and N tokens expiring at the same moment. It
// prints a Markdown report and writes it, with a JSON file, a PNG plot and the profiles,
// to -out. Run it with `make bench`; docs/benchmarks.md explains every number.
//
// It exits non-zero when a count misses its target (one login per connection, no write at
// rest, no login after a restart) or a phase fails. Times are reported, never asserted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

type options struct {
	ns             []int
	out            string
	work           string
	keep           bool
	profile        bool
	exactHeap      bool
	smoke          bool
	grant          string
	maxConcurrent  int
	leaderElect    bool
	rest           time.Duration
	unrelated      int
	expiry         bool
	expiryQPS      float64
	renewBefore    time.Duration
	expirySession  time.Duration
	sessionTimeout time.Duration
	// latency holds every answer of the token endpoint back this long.
	latency time.Duration

	salesforceBurst int
	kubeAPIQPS      float64
	kubeAPIBurst    int

	// replot lists results.json files to render again, with no run.
	replot []string
}

func main() {
	os.Exit(mainCode())
}

func mainCode() int {
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	// envtest logs through controller-runtime's logger; the harness reports on its own.
	ctrllog.SetLogger(logr.Discard())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	run := benchmark
	if len(o.replot) > 0 {
		run = func(context.Context, *options) (*report, error) { return replot(o) }
	}
	rep, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	if len(rep.Failures) > 0 {
		fmt.Fprintln(os.Stderr, "bench: targets missed:")
		for _, f := range rep.Failures {
			fmt.Fprintln(os.Stderr, "  -", f)
		}
		return 1
	}
	return 0
}

func parseFlags(args []string) (*options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	o := &options{}
	defaultN := "100,1000,5000"
	if env := os.Getenv("BENCH_N"); env != "" {
		defaultN = env
	}
	nList := fs.String("n", defaultN, "Comma-separated numbers of connections, one run each (default from $BENCH_N when set).")
	fs.StringVar(&o.out, "out", "", "Directory for results.md, results.json, benchmarks.png, profiles and manager logs (default bin/bench of the repository).")
	fs.StringVar(&o.work, "work", "", "Scratch directory (audit logs, kubeconfigs); default a temporary one, removed unless -keep.")
	fs.BoolVar(&o.keep, "keep", false, "Keep the scratch directory.")
	fs.BoolVar(&o.profile, "profile", false, "Fetch CPU (creation phase) and heap profiles from the manager's --pprof-bind-address into -out.")
	fs.BoolVar(&o.exactHeap, "exact-heap", false, "Record every allocation in the manager's heap profiles (GODEBUG=memprofilerate=1), so that -profile attributes each byte; slows the manager, so its times are not comparable.")
	fs.BoolVar(&o.smoke, "smoke", false, "CI mode: N=50, 10 s at rest, no unrelated Secrets, no expiry phase (unless set explicitly); checks counts only.")
	fs.StringVar(&o.grant, "grant", grantClientCredentials, "Grant of the connections: client-credentials or jwt (the expiry phase always uses the password flow).")
	fs.IntVar(&o.maxConcurrent, "max-concurrent-reconciles", 32, "The manager's --max-concurrent-reconciles, and the floor's concurrency.")
	fs.DurationVar(&o.latency, "salesforce-latency", 0, "Hold each answer of the emulator's token endpoint back this long, as a real Salesforce's round trip does (the emulator answers in about a millisecond).")
	fs.BoolVar(&o.leaderElect, "leader-elect", true, "Run the manager with --leader-elect, as deployed.")
	fs.DurationVar(&o.sessionTimeout, "session-timeout", 2*time.Hour, "spec.sessionTimeout of the created connections: long, so that none renews during the run.")
	fs.DurationVar(&o.rest, "rest", time.Minute, "How long to count writes at rest after everything is Ready.")
	fs.IntVar(&o.unrelated, "unrelated-secrets", 10000, "Unrelated Secrets created to measure their cost to the manager's memory; 0 skips.")
	fs.BoolVar(&o.expiry, "expiry", true, "Run the phase of N tokens expiring at the same moment.")
	fs.Float64Var(&o.expiryQPS, "expiry-salesforce-qps", 0, "--salesforce-qps of an optional second run of the expiry phase; 0 (default) skips it: the first runs with no flag, as deployed.")
	fs.IntVar(&o.salesforceBurst, "salesforce-burst", 0, "--salesforce-burst with --salesforce-qps; 0 leaves the manager's default.")
	fs.DurationVar(&o.renewBefore, "renew-before", 90*time.Second, "spec.renewBefore in the expiry phase: room for a user's wave at the default login budget (see expiryConnectionsPerUser).")
	fs.DurationVar(&o.expirySession, "expiry-session", 2*time.Minute, "Shortest spec.sessionTimeout in the expiry phase (longer when N needs more time to log in).")
	fs.Float64Var(&o.kubeAPIQPS, "kube-api-qps", 0, "The manager's --kube-api-qps; 0 leaves its default.")
	fs.IntVar(&o.kubeAPIBurst, "kube-api-burst", 0, "The manager's --kube-api-burst; 0 leaves its default.")
	replot := fs.String("replot", "", "Comma-separated results.json files of earlier runs: write their results, merged by N, to -out (results.md, results.json, benchmarks.png) and run nothing.")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if o.out == "" {
		root, err := moduleRoot()
		if err != nil {
			return nil, err
		}
		o.out = filepath.Join(root, "bin", "bench")
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.smoke {
		if !set["n"] && os.Getenv("BENCH_N") == "" {
			*nList = "50"
		}
		if !set["rest"] {
			o.rest = 10 * time.Second
		}
		if !set["unrelated-secrets"] {
			o.unrelated = 0
		}
		if !set["expiry"] {
			o.expiry = false
		}
	}
	for _, s := range strings.Split(*nList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-n: %q is not a positive number", s)
		}
		o.ns = append(o.ns, n)
	}
	if *replot != "" {
		o.replot = strings.Split(*replot, ",")
	}
	if o.grant != grantClientCredentials && o.grant != grantJWT {
		return nil, fmt.Errorf("-grant must be %s or %s", grantClientCredentials, grantJWT)
	}
	if o.maxConcurrent < 1 {
		return nil, errors.New("-max-concurrent-reconciles must be at least 1")
	}
	return o, nil
}

// benchmark runs every N and writes the report.
func benchmark(ctx context.Context, o *options) (*report, error) {
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		return nil, errors.New("KUBEBUILDER_ASSETS is not set: run `make bench`, which builds the control plane")
	}
	if o.out, err = filepath.Abs(o.out); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(o.out, "logs"), 0o755); err != nil {
		return nil, err
	}
	if o.work == "" {
		if o.work, err = os.MkdirTemp("", "sfconn-bench-"); err != nil {
			return nil, err
		}
		if !o.keep {
			defer func() { _ = os.RemoveAll(o.work) }()
		}
	} else if err := os.MkdirAll(o.work, 0o700); err != nil {
		return nil, err
	}
	// A copy: a make build during a long run must not swap the binary between restarts.
	bin := filepath.Join(o.work, "manager")
	if err := copyFile(filepath.Join(root, "bin", "manager"), bin); err != nil {
		return nil, fmt.Errorf("%w (run make build)", err)
	}
	flags, err := readManagerFlags(bin)
	if err != nil {
		return nil, fmt.Errorf("%w (run make build)", err)
	}

	rep := &report{Started: time.Now(), Machine: machine(), Options: strings.Join(os.Args[1:], " "), Commit: commit(root)}
	for _, n := range o.ns {
		if ctx.Err() != nil {
			break
		}
		logf("N=%d: run starts", n)
		r := runN(ctx, o, root, bin, flags, n)
		logf("N=%d: run took %.0fs", n, r.WallSeconds)
		rep.Results = append(rep.Results, r)
		rep.Failures = append(rep.Failures, r.check()...)
		// Written after each N, so a long run that is stopped still leaves its numbers.
		if err := rep.write(o.out); err != nil {
			return nil, err
		}
	}
	if ctx.Err() != nil {
		rep.Failures = append(rep.Failures, "interrupted")
	}
	rep.addProfiles(bin)
	if err := writePlot(filepath.Join(o.out, "benchmarks.png"), rep.Results); err != nil {
		logf("plot: %v", err)
	}
	if err := rep.write(o.out); err != nil {
		return nil, err
	}
	fmt.Print(rep.markdown())
	logf("results in %s", o.out)
	return rep, nil
}

// rootModule is the module path of the operator, whose directory is the repository root.
// The harness itself is in the nested module rootModule + "/test", with a go.mod of its
// own in test/, which moduleRoot passes over.
const rootModule = "github.com/sfconn/sfconn-operator"

// moduleRoot finds the repository root, the directory of the go.mod of rootModule, from the
// working directory up.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if modulePath(filepath.Join(dir, "go.mod")) == rootModule {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod of " + rootModule + " above the working directory: run from the repository")
		}
		dir = parent
	}
}

// modulePath is the module path that the go.mod file declares, or "" when it cannot be read.
func modulePath(gomod string) string {
	data, err := os.ReadFile(gomod)
	if err != nil {
		return ""
	}
	for line := range strings.Lines(string(data)) {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`)
		}
	}
	return ""
}

func copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, data, 0o700)
}

// commit names the source bin/manager was presumably built from: HEAD, and whether the
// tree had changes.
func commit(root string) string {
	out, err := exec.Command("git", "-C", root, "describe", "--always", "--dirty").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

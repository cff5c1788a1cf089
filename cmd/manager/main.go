// Command manager runs the sfconn operator: it reconciles SalesforceConnections into token
// Secrets that it keeps renewed.
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"maps"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	_ "k8s.io/client-go/plugin/pkg/client/auth"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crcontroller "sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/approvals"
	"github.com/sfconn/sfconn-operator/internal/authflow"
	"github.com/sfconn/sfconn-operator/internal/controller"
	"github.com/sfconn/sfconn-operator/internal/loginhost"
	"github.com/sfconn/sfconn-operator/internal/metrics"
	"github.com/sfconn/sfconn-operator/internal/pacing"
	"github.com/sfconn/sfconn-operator/internal/rotation"
	"github.com/sfconn/sfconn-operator/internal/salesforce"
	"github.com/sfconn/sfconn-operator/internal/secretversions"
	"github.com/sfconn/sfconn-operator/internal/version"
)

var scheme = runtime.NewScheme()

// shutdownGrace is how long a stopping manager waits for passes in flight: a login
// (authflow.LoginTimeout) and the store of what it rotated (rotation.StoreBudget).
const shutdownGrace = authflow.LoginTimeout + rotation.StoreBudget + 30*time.Second

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(sfv1.AddToScheme(scheme))
}

func main() {
	var (
		metricsAddr, probeAddr string
		secureMetrics          bool
		enableHTTP2            bool
		metricsCertPath        string
		leaderElect            bool
		leaderElectionNS       string
		approvalKeySecret      string
		allowedLoginHosts      string
		watchNamespaces        string
		clusterResourceNS      string
		maxConcurrent          int
		salesforceQPS          float64
		salesforceBurst        int
		userLoginsPerHour      float64
		verifyQPS              float64
		kubeAPIQPS             float64
		kubeAPIBurst           int
		pprofAddr              string
		rolloutRestarts        bool
		credentialsGrace       time.Duration
		clusterConnections     bool
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", "0", "The address the metrics endpoint binds to: :8443 for HTTPS, :8080 for HTTP, 0 to turn it off.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "The address the health probe endpoint binds to.")
	flag.BoolVar(&secureMetrics, "metrics-secure", true, "Serve metrics over HTTPS, authenticated and authorized through the API server.")
	flag.StringVar(&metricsCertPath, "metrics-cert-path", "",
		"Directory holding tls.crt and tls.key that the secure metrics endpoint serves, reloaded when they change (such as a mounted cert-manager Secret). "+
			"Empty: a self-signed certificate made at each start, which scrapers cannot verify.")
	flag.BoolVar(&enableHTTP2, "enable-http2", false, "Enable HTTP/2 for the metrics server (off: HTTP/2 Rapid Reset, CVE-2023-44487).")
	flag.BoolVar(&leaderElect, "leader-elect", false, "Enable leader election, so that one replica alone logs in and refreshes tokens.")
	flag.StringVar(&leaderElectionNS, "leader-election-namespace", "",
		"Namespace of the leader election lease. Default: the pod's namespace in a cluster, else \"default\".")
	flag.StringVar(&allowedLoginHosts, "allowed-login-hosts", strings.Join(loginhost.DefaultPatterns, ","),
		"Comma-separated login host patterns the operator may contact (*.my.salesforce.com matches any My Domain). "+
			"http:// is accepted only for a loopback host named here explicitly.")
	flag.StringVar(&approvalKeySecret, "approval-key-secret", "sfconn-approval-key",
		"Secret, in the leader election namespace, holding the key that approvals are hashed with; created if missing.")
	flag.StringVar(&watchNamespaces, "watch-namespaces", "", "Comma-separated namespaces to watch; empty watches all.")
	flag.StringVar(&clusterResourceNS, "cluster-resource-namespace", "",
		"Namespace of the credentials Secrets of ClusterSalesforceConnections, where the operator also keeps their tokens' records. "+
			"Default: the pod's namespace in a cluster, else \""+controller.DefaultClusterResourceNamespace+"\".")
	flag.BoolVar(&clusterConnections, "enable-cluster-connections", true,
		"Reconcile ClusterSalesforceConnections. Needs cluster-connection-role; without it, or without the kind's CustomResourceDefinition, "+
			"the operator logs why and serves namespaced connections alone. Always off with --watch-namespaces.")
	flag.IntVar(&maxConcurrent, "max-concurrent-reconciles", 32, "How many connections are reconciled at once.")
	flag.Float64Var(&salesforceQPS, "salesforce-qps", 0,
		"Logins per second to each Salesforce org, at most (0: no limit). Logins over the limit wait their turn; one login per token lifetime is the usual rate.")
	flag.IntVar(&salesforceBurst, "salesforce-burst", 10, "Logins to one org allowed at once above --salesforce-qps.")
	flag.Float64Var(&userLoginsPerHour, "user-logins-per-hour", pacing.DefaultLoginsPerUserPerHour,
		"Logins per hour of each Salesforce user, at most, over all its connections (Salesforce allows 3,600 per user per hour, counting other systems too); "+
			"an hour's budget may go at once for new and changed connections, while renewals due together are planned at the budget's pace (3600 s / this) so that all start before their renewal time. 0: no budget. A rate limit met by one connection holds back all of the user's connections either way.")
	flag.Float64Var(&verifyQPS, "verify-qps", 5,
		"Liveness probes (spec.verifyInterval) per second to each Salesforce org, at most, in bursts of up to 10; 0: no limit.")
	flag.Float64Var(&kubeAPIQPS, "kube-api-qps", -1,
		"Requests per second to the API server, at most, on the client side; negative: no client-side limit (the API server's priority and fairness applies).")
	flag.IntVar(&kubeAPIBurst, "kube-api-burst", 0, "Requests to the API server allowed at once above a positive --kube-api-qps (0: twice --kube-api-qps).")
	flag.BoolVar(&rolloutRestarts, "enable-rollout-restarts", false,
		"Restart the workloads of spec.rolloutRestartTargets when their token changes, by patching their pod template (a Rollout's spec.restartAt). "+
			"Needs list and patch on Deployments, StatefulSets, DaemonSets and Argo Rollouts (the rollout-restart-role). Off: a due restart gets a Warning event, RolloutRestartDisabled.")
	flag.DurationVar(&credentialsGrace, "credentials-grace-period", 5*time.Minute,
		"How long a connection waits for a missing credentials Secret (Reconciling, reason CredentialsNotFound) before it is Stalled: "+
			"Flux or External Secrets may create the Secret after the connection. 0: Stalled at once.")
	flag.StringVar(&pprofAddr, "pprof-bind-address", "0", "The address /debug/pprof/ is served on, such as 127.0.0.1:8082; 0 turns it off.")
	var printVersion bool
	flag.BoolVar(&printVersion, "version", false, "Print the version, commit, Go version and platform, and exit.")
	opts := zap.Options{Development: false}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	if printVersion {
		fmt.Println("sfconn manager " + version.Get().String())
		return
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))
	log := ctrl.Log.WithName("setup")

	// The Go runtime does not know the container's memory limit: without a soft limit below
	// it, the heap can grow past it between two collections and the kernel kills the pod.
	// GOMEMLIMIT, when set, wins; AUTOMEMLIMIT=off turns this off.
	if limit, err := memlimit.Set(memlimit.WithRatio(0.9), memlimit.WithProvider(memlimit.FromCgroup)); err != nil {
		log.Info("No memory limit found for the Go runtime", "reason", err.Error())
	} else if limit < math.MaxInt64 {
		log.Info("Go runtime memory limit", "bytes", limit)
	}

	hosts, err := loginhost.Parse(splitList(allowedLoginHosts))
	if err != nil {
		log.Error(err, "Invalid --allowed-login-hosts")
		os.Exit(1)
	}

	var tlsOpts []func(*tls.Config)
	if !enableHTTP2 {
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	metricsOpts := metricsserver.Options{BindAddress: metricsAddr, SecureServing: secureMetrics, TLSOpts: tlsOpts, CertDir: metricsCertPath}
	if secureMetrics {
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}

	var namespaces map[string]cache.Config
	if ns := splitList(watchNamespaces); len(ns) > 0 {
		namespaces = map[string]cache.Config{}
		for _, n := range ns {
			namespaces[n] = cache.Config{}
		}
	}

	cfg := ctrl.GetConfigOrDie()
	// controller-runtime leaves client-side limiting off and lets the API server's
	// priority and fairness queue requests; a positive --kube-api-qps turns it on.
	if kubeAPIQPS > 0 {
		cfg.QPS, cfg.Burst = float32(kubeAPIQPS), kubeAPIBurst
		if cfg.Burst <= 0 {
			cfg.Burst = int(2 * kubeAPIQPS)
		}
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsOpts,
		HealthProbeBindAddress:  probeAddr,
		PprofBindAddress:        pprofAddr,
		LeaderElection:          leaderElect,
		LeaderElectionID:        "sfconn-operator.salesforce.sfconn.io",
		LeaderElectionNamespace: leaseNamespace(leaderElectionNS),
		// Releasing the lease on shutdown lets the next leader renew without waiting for
		// the lease to run out; the process exits right after.
		LeaderElectionReleaseOnCancel: true,
		// A login in flight (up to a minute) and the store of the refresh token it rotated
		// (up to two more) finish before the process exits: the rotated token would
		// otherwise live in this process alone. The Pod's terminationGracePeriodSeconds is
		// longer still.
		GracefulShutdownTimeout: ptr.To(shutdownGrace),
		Cache:                   controller.CacheOptions(cache.Options{DefaultNamespaces: namespaces}),
	})
	if err != nil {
		log.Error(err, "Unable to create the manager")
		os.Exit(1)
	}
	secretVersions, err := secretversions.New(cfg, mgr.GetHTTPClient(), slices.Sorted(maps.Keys(namespaces)))
	if err != nil {
		log.Error(err, "Unable to follow Secret versions")
		os.Exit(1)
	}
	if err := mgr.Add(secretVersions); err != nil {
		log.Error(err, "Unable to follow Secret versions")
		os.Exit(1)
	}

	// The approval key is read before the manager starts, with a client of its own: the
	// manager's cache holds only labelled Secrets and is not running yet.
	directClient, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		log.Error(err, "Unable to create a client")
		os.Exit(1)
	}
	keyCtx, cancelKey := context.WithTimeout(context.Background(), time.Minute)
	key, err := approvals.LoadKey(keyCtx, directClient, leaseNamespace(leaderElectionNS), approvalKeySecret)
	cancelKey()
	if err != nil {
		log.Error(err, "Unable to load the approval key")
		os.Exit(1)
	}

	clusterConnections = clusterConnections && len(namespaces) == 0 && clusterAccess(directClient)

	var r *controller.Reconciler
	requests, err := metrics.Register(crmetrics.Registry, mgr.GetClient(), clusterConnections, func() int {
		if r == nil {
			return 0
		}
		return r.UnsavedRefreshTokens()
	}, mgr.Elected())
	if err != nil {
		log.Error(err, "Unable to register the metrics")
		os.Exit(1)
	}

	r = &controller.Reconciler{
		Client:                 mgr.GetClient(),
		APIReader:              mgr.GetAPIReader(),
		SecretVersions:         secretVersions,
		Salesforce:             requests.Instrument(salesforce.NewClient()),
		LoginHosts:             hosts,
		Clock:                  clock.RealClock{},
		Recorder:               mgr.GetEventRecorder("sfconn-operator"),
		ApprovalKey:            key,
		Limiter:                pacing.NewLoginLimiter(salesforceQPS, salesforceBurst),
		Planner:                pacing.NewRenewalPlanner(userLoginsPerHour, salesforceQPS, clock.RealClock{}),
		ProbeLimiter:           pacing.NewProbeLimiter(verifyQPS, 10),
		RolloutRestarts:        rolloutRestarts,
		CredentialsGracePeriod: credentialsGrace,
		Users:                  pacing.NewUserBudget(userLoginsPerHour),
		StateNamespace:         leaseNamespace(leaderElectionNS),
		Identity:               identity(),

		ClusterResourceNamespace: clusterResourceNamespace(clusterResourceNS),
		ClusterConnections:       clusterConnections,
	}
	if err := r.SetupWithManager(mgr, secretVersions, controllerOptions(maxConcurrent)); err != nil {
		log.Error(err, "Unable to set up the controller")
		os.Exit(1)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		log.Error(err, "Unable to set up the health check")
		os.Exit(1)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		log.Error(err, "Unable to set up the ready check")
		os.Exit(1)
	}

	build := version.Get()
	log.Info("Starting manager", "version", build.Version, "commit", build.Commit, "allowedLoginHosts", allowedLoginHosts, "rolloutRestarts", rolloutRestarts,
		"clusterConnections", clusterConnections, "clusterResourceNamespace", r.ClusterResourceNamespace)
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		log.Error(err, "Manager stopped")
		os.Exit(1)
	}
}

func controllerOptions(maxConcurrent int) crcontroller.Options {
	return crcontroller.Options{MaxConcurrentReconciles: maxConcurrent}
}

// clusterAccess says whether the operator can serve ClusterSalesforceConnections, and logs
// why not: namespaced connections are served either way.
func clusterAccess(c client.Client) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := controller.ClusterAccess(ctx, c); err != nil {
		ctrl.Log.WithName("setup").Error(err, "ClusterSalesforceConnections are not reconciled; SalesforceConnections are")
		return false
	}
	return true
}

// leaseNamespace picks the lease's namespace: out of a cluster (tests, the demo, a
// developer's laptop) controller-runtime cannot guess it and would refuse to start.
func leaseNamespace(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	if ns, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace"); err == nil && len(ns) > 0 {
		return strings.TrimSpace(string(ns))
	}
	return "default"
}

// clusterResourceNamespace picks the cluster resource namespace: the flag, else the Pod's
// own namespace, where the platform team that installs the operator keeps its Secrets.
func clusterResourceNamespace(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	if ns := podNamespace(); ns != "" {
		return ns
	}
	return controller.DefaultClusterResourceNamespace
}

// podNamespace is the namespace of the operator's Pod: POD_NAMESPACE when the Pod passes
// it (the downward API), else the service account's namespace file; empty outside a Pod.
func podNamespace() string {
	if ns := strings.TrimSpace(os.Getenv("POD_NAMESPACE")); ns != "" {
		return ns
	}
	if ns, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace"); err == nil {
		return strings.TrimSpace(string(ns))
	}
	return ""
}

// identity names this process in the claims of refresh token chains: its Pod's name (the
// host name in a Pod), so that a log or a claim says which replica holds one.
func identity() string {
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return ""
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

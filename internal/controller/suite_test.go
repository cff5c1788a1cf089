package controller

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/workqueue"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crcontroller "sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/loginhost"
	"github.com/sfconn/sfconn-operator/internal/pacing"
	"github.com/sfconn/sfconn-operator/internal/salesforce"
	"github.com/sfconn/sfconn-operator/internal/salesforce/emulator"
	"github.com/sfconn/sfconn-operator/internal/secretversions"
)

// The integration tests run the real reconciler in a real manager against a real
// kube-apiserver and etcd (envtest, binaries from hack/control-plane.sh) and the Salesforce
// emulator. One fake clock drives the reconciler, its work queue and the emulator, so a
// two-hour session is renewed in milliseconds.

var (
	testEnv   *envtest.Environment
	cfg       *rest.Config
	k8s       client.Client
	fakeClock *clocktesting.FakeClock
	emu       *emulator.Emulator
	emuServer *httptest.Server
	stopMgr   context.CancelFunc
	// suiteLimiter is the manager's login limiter, nil without SFCONN_TEST_SALESFORCE_QPS.
	suiteLimiter *pacing.LoginLimiter
	// suitePlanner is the manager's renewal planner: always, as cmd/manager runs it, at
	// the default user budget's pace and, with SFCONN_TEST_SALESFORCE_QPS, the org's.
	suitePlanner *pacing.RenewalPlanner
	// suiteSecretVersions are the manager's Secret versions.
	suiteSecretVersions *secretversions.Versions
	// suiteCache is the manager's cache.
	suiteCache cache.Cache
)

func TestIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration tests need a control plane")
	}
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Skip("KUBEBUILDER_ASSETS is not set: run `make test`, which builds the control plane")
	}
	RegisterFailHandler(Fail)
	RunSpecs(t, "Controller integration")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	SetDefaultEventuallyTimeout(30 * time.Second)
	SetDefaultEventuallyPollingInterval(50 * time.Millisecond)

	testEnv = &envtest.Environment{
		// testdata/crds: a minimal Argo Rollouts CRD, for rollout restarts of Rollouts.
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases"), filepath.Join("testdata", "crds")},
		ErrorIfCRDPathMissing: true,
	}
	var err error
	cfg, err = testEnv.Start()
	Expect(err).NotTo(HaveOccurred())
	k8s, err = client.New(cfg, client.Options{Scheme: newScheme()})
	Expect(err).NotTo(HaveOccurred())

	fakeClock = clocktesting.NewFakeClock(time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC))
	suiteLimiter = loginLimiter()
	suitePlanner = pacing.NewRenewalPlanner(pacing.DefaultLoginsPerUserPerHour, salesforceQPS(), fakeClock)
	emu = emulator.New(emulator.WithClock(fakeClock))
	emuServer = httptest.NewServer(emu.Handler())
	stopMgr = startManager()
})

var _ = AfterSuite(func() {
	if stopMgr != nil {
		stopMgr()
	}
	if emuServer != nil {
		emuServer.Close()
	}
	if testEnv != nil {
		Expect(testEnv.Stop()).To(Succeed())
	}
})

func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	Expect(clientgoscheme.AddToScheme(s)).To(Succeed())
	Expect(sfv1.AddToScheme(s)).To(Succeed())
	return s
}

// startManager runs a manager as cmd/manager wires it, with the fake clock; the returned
// function stops it and waits until it has stopped.
func startManager() context.CancelFunc {
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 newScheme(),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  CacheOptions(cache.Options{}),
	})
	Expect(err).NotTo(HaveOccurred())
	secretVersions, err := secretversions.New(cfg, mgr.GetHTTPClient(), nil)
	Expect(err).NotTo(HaveOccurred())
	Expect(mgr.Add(secretVersions)).To(Succeed())
	suiteSecretVersions = secretVersions
	suiteCache = mgr.GetCache()
	hosts, err := loginhost.Parse([]string{"127.0.0.1"})
	Expect(err).NotTo(HaveOccurred())
	r := &Reconciler{
		Limiter:        suiteLimiter,
		Planner:        suitePlanner,
		Client:         mgr.GetClient(),
		APIReader:      countingReader{Reader: mgr.GetAPIReader(), counts: &uncachedReads},
		SecretVersions: countingVersions{SecretVersionReader: secretVersions, counts: &metadataReads},
		Salesforce:     salesforce.NewClient(salesforce.WithClock(fakeClock), salesforce.WithTimeout(3*time.Second)),
		LoginHosts:     hosts,
		Clock:          fakeClock,
		Recorder:       mgr.GetEventRecorder("sfconn-operator"),
		ApprovalKey:    []byte("integration-test-approval-key-32b"),
		// spec.rolloutRestartTargets restarts (gitops_integration_test.go); their absence is
		// tested in restart_disabled_test.go.
		RolloutRestarts:    true,
		ClusterConnections: true,
		// Long enough for the tests that wait for a missing credentials Secret to step
		// through it (lifecycle_integration_test.go); the others see the Secret missing as
		// Ready=False, reason CredentialsNotFound, either way.
		CredentialsGracePeriod: 5 * time.Minute,
	}
	suiteReconciler = r
	Expect(r.SetupWithManager(mgr, secretVersions, crcontroller.Options{
		SkipNameValidation: ptr.To(true),
		NewQueue: func(name string, rl workqueue.TypedRateLimiter[reconcile.Request]) workqueue.TypedRateLimitingInterface[reconcile.Request] {
			return &hybridQueue{
				TypedRateLimitingInterface: workqueue.NewTypedRateLimitingQueueWithConfig(rl,
					workqueue.TypedRateLimitingQueueConfig[reconcile.Request]{Name: name}),
				limiter: rl,
			}
		},
	})).To(Succeed())

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer GinkgoRecover()
		defer close(done)
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
	return func() {
		cancel()
		<-done
	}
}

// loginLimiter is the suite's login limiter: none, unless SFCONN_TEST_SALESFORCE_QPS sets
// one (make test runs the suite both ways), so that the renewal plan and its wakes run
// under every scenario. Its burst is large: the suite's logins all go to one emulated org,
// and a turn held back would wait for a fake clock no test steps.
func loginLimiter() *pacing.LoginLimiter {
	return pacing.NewLoginLimiter(salesforceQPS(), 1000)
}

// salesforceQPS is SFCONN_TEST_SALESFORCE_QPS, 0 when unset.
func salesforceQPS() float64 {
	qps, err := strconv.ParseFloat(os.Getenv("SFCONN_TEST_SALESFORCE_QPS"), 64)
	if err != nil || qps <= 0 {
		return 0
	}
	return qps
}

// uncachedReads and metadataReads count the reconciler's reads by namespace/name: from
// the API server, and from the Secret versions.
var uncachedReads, metadataReads sync.Map

// suiteReconciler is the reconciler of the manager startManager runs, for what only its
// memory shows.
var suiteReconciler *Reconciler

type countingReader struct {
	client.Reader
	counts *sync.Map
}

func (c countingReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	n, _ := c.counts.LoadOrStore(key.String(), new(atomic.Int64))
	n.(*atomic.Int64).Add(1)
	return c.Reader.Get(ctx, key, obj, opts...)
}

type countingVersions struct {
	SecretVersionReader
	counts *sync.Map
}

func (c countingVersions) Version(key types.NamespacedName) (string, secretversions.State) {
	n, _ := c.counts.LoadOrStore(key.String(), new(atomic.Int64))
	n.(*atomic.Int64).Add(1)
	return c.SecretVersionReader.Version(key)
}

func readsOf(counts *sync.Map, ns, name string) func() int64 {
	return func() int64 {
		if n, ok := counts.Load(ns + "/" + name); ok {
			return n.(*atomic.Int64).Load()
		}
		return 0
	}
}

// hybridQueue runs the reconciler's long delays (renewals, login backoff) on the fake
// clock, so a test steps through hours at once, and short ones (error retries, a stale
// cache) on the real clock, so they happen without a test stepping time.
type hybridQueue struct {
	workqueue.TypedRateLimitingInterface[reconcile.Request]
	limiter workqueue.TypedRateLimiter[reconcile.Request]
}

func (q *hybridQueue) AddAfter(item reconcile.Request, d time.Duration) {
	if d <= time.Second {
		q.TypedRateLimitingInterface.AddAfter(item, d)
		return
	}
	fakeClock.AfterFunc(d, func() { q.Add(item) })
}

func (q *hybridQueue) AddRateLimited(item reconcile.Request) {
	q.AddAfter(item, q.limiter.When(item))
}

// Get hands an item to a worker: one reconcile, counted in reconciles.
func (q *hybridQueue) Get() (reconcile.Request, bool) {
	item, shutdown := q.TypedRateLimitingInterface.Get()
	if !shutdown {
		n, _ := reconciles.LoadOrStore(item.String(), new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
	}
	return item, shutdown
}

// reconciles counts the reconciles of each connection by namespace/name (readsOf).
var reconciles sync.Map

// newNamespace gives each test its own namespace.
func newNamespace(ctx context.Context) string {
	ns := &corev1.Namespace{}
	ns.GenerateName = "sfconn-test-"
	Expect(k8s.Create(ctx, ns)).To(Succeed())
	return ns.Name
}

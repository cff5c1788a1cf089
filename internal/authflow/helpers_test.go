package authflow

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/failure"
	"github.com/sfconn/sfconn-operator/internal/jwtkey"
	"github.com/sfconn/sfconn-operator/internal/owned"
	"github.com/sfconn/sfconn-operator/internal/rotation"
	"github.com/sfconn/sfconn-operator/internal/salesforce"
	"github.com/sfconn/sfconn-operator/internal/salesforce/emulator"
)

// The emulated org: one app for every flow (alice is pre-authorized, so JWT bearer needs
// no prior refresh token), one app with refresh token rotation, one app for a generated
// key whose certificate each test uploads, and a user with a login rate limit of one.
var flowT0 = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

const (
	testOrg       = "00D000000000001AAA"
	appID         = "3MVG9flows.consumer.key"
	appSecret     = "flows-consumer-secret-value"
	rtrAppID      = "3MVG9rotating.consumer.key"
	rtrSecret     = "rotating-consumer-secret-value"
	genAppID      = "3MVG9generated.consumer.key"
	alice         = "alice@acme.example"
	alicePassword = "alice-password-value"
	aliceToken    = "aliceSecurityTokenValue"
	limited       = "limited@acme.example"
	limitedPass   = "limited-password-value"
	runAs         = "integration@acme.example"
	credsName     = "creds"
)

// keyPairs are three generated key pairs, made once per test binary: each takes a
// noticeable moment.
var (
	keyPairsOnce sync.Once
	keyPairsVal  [3]*jwtkey.Pair
)

func keyPairs(t *testing.T) [3]*jwtkey.Pair {
	t.Helper()
	keyPairsOnce.Do(func() {
		for i := range keyPairsVal {
			p, err := jwtkey.Generate("flow-tests", 24*time.Hour, flowT0)
			if err != nil {
				panic(err)
			}
			keyPairsVal[i] = p
		}
	})
	return keyPairsVal
}

// recordingClient is the Salesforce client with a view of what the flows send: the
// refresh tokens in order, and hooks around the requests.
type recordingClient struct {
	salesforce.Client

	mu   sync.Mutex
	sent []string // refresh tokens sent by the refresh grant, oldest first

	beforeLogin func(req salesforce.LoginRequest)
	afterLogin  func()
	beforePoll  func()
}

func (c *recordingClient) Login(ctx context.Context, req salesforce.LoginRequest) (*salesforce.Token, error) {
	if req.Grant == salesforce.GrantRefreshToken {
		c.mu.Lock()
		c.sent = append(c.sent, req.RefreshToken)
		c.mu.Unlock()
	}
	if c.beforeLogin != nil {
		c.beforeLogin(req)
	}
	tok, err := c.Client.Login(ctx, req)
	if c.afterLogin != nil {
		c.afterLogin()
	}
	return tok, err
}

func (c *recordingClient) PollDeviceLogin(ctx context.Context, req salesforce.DeviceLoginRequest, code string) (*salesforce.Token, error) {
	if c.beforePoll != nil {
		c.beforePoll()
	}
	return c.Client.PollDeviceLogin(ctx, req, code)
}

// sentTokens are the refresh tokens sent so far.
func (c *recordingClient) sentTokens() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.sent...)
}

type recordedEvent struct{ eventType, reason, action, note string }

// fakeKeys is a generated key pair as the controller hands it to the flow.
type fakeKeys struct {
	current, next []byte
	promoted      int
	promoteErr    error
}

func (k *fakeKeys) CurrentKey() []byte { return k.current }
func (k *fakeKeys) NextKey() []byte    { return k.next }
func (k *fakeKeys) PromoteNext(context.Context) error {
	k.promoted++
	return k.promoteErr
}

// world is one test's Salesforce (the emulator over HTTP, on a fake clock) and API
// server (a fake client, whose writes a test can make fail).
type world struct {
	t      *testing.T
	clk    *clocktesting.FakeClock
	emu    *emulator.Emulator
	url    string
	sf     *recordingClient
	kube   client.Client
	store  *rotation.Store
	chains *rotation.Chains

	// failWrites fails that many creates and updates of Secrets; negative fails all.
	failWrites int
	// writes counts creates and updates of Secrets, failed ones included.
	writes int

	events       []recordedEvent
	reservations int
	// reserve answers ReserveApproval; nil allows the approval.
	reserve func(context.Context) error

	logMu sync.Mutex
	logs  []string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{t: t, clk: clocktesting.NewFakeClock(flowT0)}
	w.emu = emulator.New(emulator.WithClock(w.clk))
	srv := httptest.NewServer(w.emu.Handler())
	t.Cleanup(srv.Close)
	w.url = srv.URL
	if err := w.emu.Apply(emulator.State{
		Orgs: []emulator.Org{{ID: testOrg}},
		Apps: []emulator.ConnectedApp{
			{ClientID: appID, ClientSecret: appSecret, ClientCredentialsUser: runAs,
				CertificatePEM: string(keyPairs(t)[0].CertPEM), AdminApproved: true, PreAuthorizedUsers: []string{alice, limited}},
			{ClientID: rtrAppID, ClientSecret: rtrSecret, RefreshTokenRotation: true},
			{ClientID: genAppID, AdminApproved: true, PreAuthorizedUsers: []string{alice}},
		},
		Users: []emulator.User{
			{Username: alice, Password: alicePassword, SecurityToken: aliceToken},
			{Username: limited, Password: limitedPass, LoginRateLimit: 1},
			{Username: runAs},
		},
	}); err != nil {
		t.Fatal(err)
	}
	w.sf = &recordingClient{Client: salesforce.NewClient(salesforce.WithClock(w.clk))}

	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	// The API server as the flows meet it: a request on a cancelled context fails, as
	// client-go's does; writes fail while the test says so.
	write := func(ctx context.Context, obj client.Object, do func() error) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, ok := obj.(*corev1.Secret); ok {
			w.writes++
			if w.failWrites != 0 {
				if w.failWrites > 0 {
					w.failWrites--
				}
				return apierrors.NewServiceUnavailable("etcd is unavailable")
			}
		}
		return do()
	}
	w.kube = fake.NewClientBuilder().WithScheme(scheme).WithInterceptorFuncs(interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			return c.Get(ctx, key, obj, opts...)
		},
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			return write(ctx, obj, func() error { return c.Create(ctx, obj, opts...) })
		},
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			return write(ctx, obj, func() error { return c.Update(ctx, obj, opts...) })
		},
	}).Build()
	w.store = rotation.NewStore(owned.Clients{Client: w.kube, Uncached: w.kube})
	w.chains = rotation.NewChains(rotation.ChainsOptions{Client: w.kube, Uncached: w.kube, Namespace: chainNamespace,
		Key: []byte("flow-test-operator-key"), Holder: "flow-test", Clock: w.clk, StoreBudget: 300 * time.Millisecond})
	return w
}

// env is what the controller hands a flow, at the fake clock's time.
func (w *world) env() *Env {
	return &Env{
		Salesforce: w.sf,
		State:      w.store,
		Chains:     w.chains,
		Now:        w.clk.Now(),
		Log:        w.logger(),
		Record: func(eventType, reason, action, note string) {
			w.events = append(w.events, recordedEvent{eventType, reason, action, note})
		},
		ReserveApproval: func(ctx context.Context) error {
			w.reservations++
			if w.reserve != nil {
				return w.reserve(ctx)
			}
			return nil
		},
	}
}

func (w *world) logger() logr.Logger {
	return funcr.New(func(prefix, args string) {
		w.logMu.Lock()
		defer w.logMu.Unlock()
		w.logs = append(w.logs, prefix+" "+args)
	}, funcr.Options{Verbosity: 10})
}

// conn is a connection logging in to the emulator with auth.
func (w *world) conn(auth sfv1.AuthSpec) *sfv1.SalesforceConnection {
	return &sfv1.SalesforceConnection{
		ObjectMeta: metav1.ObjectMeta{Name: "crm", Namespace: "ns", UID: "uid-crm"},
		Spec:       sfv1.SalesforceConnectionSpec{LoginURL: w.url, Auth: auth},
	}
}

// creds is the credentials Secret with these keys and values.
func creds(kv ...string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: credsName, Namespace: "ns", ResourceVersion: "7"}, Data: map[string][]byte{}}
	for i := 0; i+1 < len(kv); i += 2 {
		s.Data[kv[i]] = []byte(kv[i+1])
	}
	return s
}

// flowFor is the connection's flow and the inputs it builds from secret.
func flowFor(t *testing.T, conn *sfv1.SalesforceConnection, secret *corev1.Secret) (Flow, *Inputs) {
	t.Helper()
	flow, fl := For(conn)
	if fl != nil {
		t.Fatalf("For: %v", fl)
	}
	in, fl := flow.Inputs(secret)
	if fl != nil {
		t.Fatalf("Inputs: %v", fl)
	}
	return flow, in
}

// login runs one Login with a fresh Env.
func (w *world) login(flow Flow, in *Inputs) (*Result, error) {
	return flow.Login(context.Background(), w.env(), in)
}

// mustToken is a Login that must obtain a token.
func (w *world) mustToken(flow Flow, in *Inputs) *Result {
	w.t.Helper()
	res, err := w.login(flow, in)
	if err != nil {
		w.t.Fatalf("Login: %v", err)
	}
	if res == nil || res.Token == nil || res.Token.AccessToken == "" {
		w.t.Fatalf("Login obtained no token: %+v", res)
	}
	if res.Pending != nil {
		w.t.Fatalf("a token with a pending reason: %+v", res.Pending)
	}
	return res
}

// mustFail is a Login that must fail with a classified failure.
func (w *world) mustFail(flow Flow, in *Inputs, class failure.Class, reason string) *failure.Failure {
	w.t.Helper()
	res, err := w.login(flow, in)
	fl := failure.As(err)
	if fl == nil {
		w.t.Fatalf("Login = %+v, %v; want a %s failure", res, err, class)
	}
	if fl.Class != class || fl.Reason != reason {
		w.t.Fatalf("failure = %s/%s %q, want %s/%s", fl.Class, fl.Reason, fl.Message, class, reason)
	}
	if res != nil && res.Token != nil {
		w.t.Fatalf("a failed login returned a token")
	}
	return fl
}

// state is the connection's state Secret as stored, nil when there is none.
func (w *world) state(conn *sfv1.SalesforceConnection) *corev1.Secret {
	w.t.Helper()
	var s corev1.Secret
	err := w.kube.Get(context.Background(), types.NamespacedName{Namespace: conn.Namespace, Name: rotation.SecretName(conn)}, &s)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		w.t.Fatal(err)
	}
	return &s
}

// chainNamespace is the operator's namespace, where chains live.
const chainNamespace = "sfconn-system"

// chainOf is the chain of the refresh token source, for conn.
func (w *world) chainOf(conn *sfv1.SalesforceConnection, source string) rotation.Chain {
	return w.chains.Of(conn, source, w.url, false)
}

// chain is the chain Secret of source as stored, nil when there is none.
func (w *world) chain(conn *sfv1.SalesforceConnection, source string) *corev1.Secret {
	w.t.Helper()
	var s corev1.Secret
	err := w.kube.Get(context.Background(), types.NamespacedName{Namespace: chainNamespace,
		Name: rotation.ChainSecretName(w.chainOf(conn, source).ID)}, &s)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		w.t.Fatal(err)
	}
	return &s
}

// storedRefreshToken is the refresh token the chain from source holds; it fails the test
// when there is no chain, or the chain is tied to another source.
func (w *world) storedRefreshToken(conn *sfv1.SalesforceConnection, source string) string {
	w.t.Helper()
	s := w.chain(conn, source)
	if s == nil {
		w.t.Fatal("no chain Secret")
	}
	if got := s.Annotations[rotation.AnnotationSourceHash]; got != rotation.Digest(source) {
		w.t.Fatalf("chain Secret source hash %q, want the digest of the chain's source", got)
	}
	return string(s.Data[rotation.KeyRefreshToken])
}

// unsaved says whether the chain from source holds a token in memory only.
func (w *world) unsaved(conn *sfv1.SalesforceConnection, source string) bool {
	return w.chains.Unsaved(w.chainOf(conn, source).ID)
}

// grants counts the token requests the emulator saw for a grant.
func (w *world) grants(grant string) int { return w.emu.Stats().TokenRequestsByGrant[grant] }

// noSecrets fails the test when text holds any of the secret values, or any value the
// emulator issued (access and refresh tokens are passed in as they become known).
func noSecrets(t *testing.T, what, text string, secrets ...string) {
	t.Helper()
	for _, s := range append(secrets, alicePassword, aliceToken, limitedPass, appSecret, rtrSecret) {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("%s holds a secret value %q: %s", what, s, text)
		}
	}
}

// noSecretsAnywhere checks every event and log line of the world.
func (w *world) noSecretsAnywhere(secrets ...string) {
	w.t.Helper()
	for _, e := range w.events {
		noSecrets(w.t, "event", e.note, secrets...)
	}
	w.logMu.Lock()
	defer w.logMu.Unlock()
	for _, l := range w.logs {
		noSecrets(w.t, "log", l, secrets...)
	}
}

// jsonFault answers the next token request with an OAuth error.
func (w *world) jsonFault(status int, code, description string) {
	w.t.Helper()
	if err := w.emu.InjectFault(emulator.Fault{Endpoint: emulator.EndpointToken, Count: 1, Status: status,
		ContentType: "application/json", Body: `{"error":"` + code + `","error_description":"` + description + `"}`}); err != nil {
		w.t.Fatal(err)
	}
}

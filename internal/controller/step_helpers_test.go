package controller

import (
	"context"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/approvals"
	"github.com/sfconn/sfconn-operator/internal/authflow"
	"github.com/sfconn/sfconn-operator/internal/loginhost"
	"github.com/sfconn/sfconn-operator/internal/salesforce"
	"github.com/sfconn/sfconn-operator/internal/salesforce/emulator"
	"github.com/sfconn/sfconn-operator/internal/tokensecret"
)

// The step tests run one step, or one whole pass, of a Reconciler over controller-runtime's
// fake client, the Salesforce emulator behind httptest, and a fake clock that drives both:
// a two-hour session passes in one Step. The fake client stands for the manager's cache and
// the API server at once; the harness counts what the reconciler writes to it and can make
// chosen writes fail.

// What the harness sets up: one org, one connected app, one user, one connection.
const (
	hNamespace    = "ns"
	hName         = "crm"
	hUID          = types.UID("uid-crm")
	hCredentials  = "creds"
	hOrgID        = "00D000000000001AAA"
	hClientID     = "3MVG9-step-client"
	hClientSecret = "step-client-secret"
	hUsername     = "integration@acme.example"
	hUserID       = "005000000000001AAA"
	hAppName      = "Billing"
)

// hStart is when every harness's clock starts.
var hStart = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

// harness is a Reconciler with everything it talks to.
type harness struct {
	t   *testing.T
	ctx context.Context
	clk *clocktesting.FakeClock
	sf  *emulator.Emulator
	srv *httptest.Server
	// store is the fake client itself: tests set up and inspect objects through it,
	// uncounted. c is what the reconciler uses: store behind interceptors.
	store client.WithWatch
	c     client.WithWatch
	rec   *events.FakeRecorder
	r     *Reconciler

	mu     sync.Mutex
	writes []write
	faults []writeFault
}

// write is one write the reconciler made (or tried): verb is create, update, patch,
// delete or patch/status; kind the object's Go type name.
type write struct{ verb, kind, name string }

// writeFault fails the writes that match it ("" matches any) with err.
type writeFault struct {
	write
	err error
}

func (w write) matches(o write) bool {
	return (w.verb == "" || w.verb == o.verb) && (w.kind == "" || w.kind == o.kind) && (w.name == "" || w.name == o.name)
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, clk: clocktesting.NewFakeClock(hStart), rec: events.NewFakeRecorder(1000)}
	h.ctx = logf.IntoContext(context.Background(), testr.NewWithOptions(t, testr.Options{Verbosity: 1}))

	h.sf = emulator.New(emulator.WithClock(h.clk))
	h.srv = httptest.NewServer(h.sf.Handler())
	t.Cleanup(h.srv.Close)
	if err := h.sf.Apply(emulator.State{
		Orgs: []emulator.Org{{ID: hOrgID}},
		Apps: []emulator.ConnectedApp{{ClientID: hClientID, ClientSecret: hClientSecret, Name: hAppName,
			ClientCredentialsUser: hUsername}},
		Users: []emulator.User{{Username: hUsername, ID: hUserID, Password: "pw", OrgID: hOrgID}},
	}); err != nil {
		t.Fatal(err)
	}

	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := sfv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	h.store = fake.NewClientBuilder().WithScheme(scheme).
		WithStatusSubresource(&sfv1.SalesforceConnection{}).
		WithGlobalResourceVersionCounter().
		// The ledger lists a principal's connections through the index SetupWithManager adds.
		WithIndex(&sfv1.SalesforceConnection{}, approvals.Index, func(o client.Object) []string {
			return principalKeys(o.(*sfv1.SalesforceConnection))
		}).
		WithIndex(&sfv1.ClusterSalesforceConnection{}, approvals.Index, func(o client.Object) []string {
			return principalKeys(o.(*sfv1.ClusterSalesforceConnection).AsConnection(DefaultClusterResourceNamespace))
		}).
		Build()
	h.c = interceptor.NewClient(h.store, interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			if err := h.wrote("create", obj); err != nil {
				return err
			}
			return c.Create(ctx, obj, opts...)
		},
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			if err := h.wrote("update", obj); err != nil {
				return err
			}
			return c.Update(ctx, obj, opts...)
		},
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			if err := h.wrote("patch", obj); err != nil {
				return err
			}
			return c.Patch(ctx, obj, patch, opts...)
		},
		Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			if err := h.wrote("delete", obj); err != nil {
				return err
			}
			return c.Delete(ctx, obj, opts...)
		},
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
			if err := h.wrote("patch/"+sub, obj); err != nil {
				return err
			}
			return c.SubResource(sub).Patch(ctx, obj, patch, opts...)
		},
	})

	hosts, err := loginhost.Parse([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	h.r = &Reconciler{
		Client: h.c, APIReader: h.c,
		Salesforce:  salesforce.NewClient(salesforce.WithClock(h.clk), salesforce.WithTimeout(5*time.Second)),
		LoginHosts:  hosts,
		Clock:       h.clk,
		Recorder:    h.rec,
		ApprovalKey: []byte("step-test-approval-key"),
		// The restart tests patch workloads; restarts disabled have a test of their own.
		RolloutRestarts: true,
	}
	return h
}

// wrote records a write and returns the injected failure for it, if any.
func (h *harness) wrote(verb string, obj client.Object) error {
	w := write{verb: verb, kind: reflect.TypeOf(obj).Elem().Name(), name: obj.GetName()}
	if pom, ok := obj.(*metav1.PartialObjectMetadata); ok {
		// Workloads are restarted through their metadata: name them by kind.
		w.kind = pom.Kind
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.writes = append(h.writes, w)
	for _, f := range h.faults {
		if f.matches(w) {
			return f.err
		}
	}
	return nil
}

// countWrites counts the writes tried since the last resetWrites that match verb, kind
// and name ("" matches any).
func (h *harness) countWrites(verb, kind, name string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, w := range h.writes {
		if (write{verb, kind, name}).matches(w) {
			n++
		}
	}
	return n
}

// allWrites describes the writes since the last resetWrites, for failure messages.
func (h *harness) allWrites() []write {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]write(nil), h.writes...)
}

func (h *harness) resetWrites() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.writes = nil
}

// failWrites makes the matching writes fail with err until clearWriteFaults.
func (h *harness) failWrites(verb, kind, name string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.faults = append(h.faults, writeFault{write{verb, kind, name}, err})
}

func (h *harness) clearWriteFaults() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.faults = nil
}

// restart is a new process: a Reconciler over the same clients and clock, remembering
// nothing.
func (h *harness) restart() {
	h.r = &Reconciler{Client: h.r.Client, APIReader: h.r.APIReader, Salesforce: h.r.Salesforce,
		LoginHosts: h.r.LoginHosts, Clock: h.r.Clock, Recorder: h.r.Recorder, ApprovalKey: h.r.ApprovalKey,
		Limiter: h.r.Limiter, Planner: h.r.Planner, ProbeLimiter: h.r.ProbeLimiter, Users: h.r.Users, RolloutRestarts: h.r.RolloutRestarts,
		CredentialsGracePeriod: h.r.CredentialsGracePeriod}
}

// connOption shapes a connection.
type connOption func(*sfv1.SalesforceConnection)

// newConn is a client credentials connection crm in namespace ns, logging in to the
// emulator with the credentials Secret creds, with a 2h session timeout.
func (h *harness) newConn(opts ...connOption) *sfv1.SalesforceConnection {
	conn := &sfv1.SalesforceConnection{
		ObjectMeta: metav1.ObjectMeta{Name: hName, Namespace: hNamespace, UID: hUID, Generation: 1},
		Spec: sfv1.SalesforceConnectionSpec{
			LoginURL:       h.srv.URL,
			SessionTimeout: &metav1.Duration{Duration: 2 * time.Hour},
			Auth: sfv1.AuthSpec{ClientCredentials: &sfv1.ClientCredentialsAuth{
				CredentialsSecretRef: sfv1.SecretReference{Name: hCredentials}}},
		},
	}
	for _, o := range opts {
		o(conn)
	}
	return conn
}

// named gives the connection another name and UID.
func named(name string) connOption {
	return func(c *sfv1.SalesforceConnection) { c.Name, c.UID = name, types.UID("uid-"+name) }
}

// viaRefreshToken logs in with the refresh token of the credentials Secret.
func viaRefreshToken() connOption {
	return func(c *sfv1.SalesforceConnection) {
		c.Spec.Auth = sfv1.AuthSpec{RefreshToken: &sfv1.RefreshTokenAuth{
			CredentialsSecretRef: sfv1.SecretReference{Name: hCredentials}}}
	}
}

// viaGeneratedKey logs in with a JWT signed by a key the operator generates.
func viaGeneratedKey() connOption {
	return func(c *sfv1.SalesforceConnection) {
		c.Spec.Auth = sfv1.AuthSpec{JWTBearer: &sfv1.JWTBearerAuth{GenerateKey: true, ClientID: hClientID, Username: hUsername,
			CredentialsSecretRef: sfv1.SecretReference{Name: hCredentials}}}
	}
}

func withVerifyInterval(d time.Duration) connOption {
	return func(c *sfv1.SalesforceConnection) { c.Spec.VerifyInterval = &metav1.Duration{Duration: d} }
}

// withConnectedApp names the connected app whose approvals Salesforce is asked for, every
// interval (0: the default).
func withConnectedApp(name string, interval time.Duration) connOption {
	return func(c *sfv1.SalesforceConnection) {
		c.Spec.ConnectedAppName = name
		if interval > 0 {
			c.Spec.ApprovalCheckInterval = &metav1.Duration{Duration: interval}
		}
	}
}

func withRestartTargets(targets ...sfv1.RolloutRestartTarget) connOption {
	return func(c *sfv1.SalesforceConnection) { c.Spec.RolloutRestartTargets = targets }
}

func withRequestedAt(v string) connOption {
	return func(c *sfv1.SalesforceConnection) {
		if c.Annotations == nil {
			c.Annotations = map[string]string{}
		}
		c.Annotations[sfv1.AnnotationRequestedAt] = v
	}
}

func withStatus(set func(*sfv1.SalesforceConnectionStatus)) connOption {
	return func(c *sfv1.SalesforceConnection) { set(&c.Status) }
}

// add stores objects as they are, status included, without counting writes. It sets their
// resourceVersion.
func (h *harness) add(objs ...client.Object) {
	h.t.Helper()
	for _, obj := range objs {
		var status *sfv1.SalesforceConnectionStatus
		if conn, ok := obj.(*sfv1.SalesforceConnection); ok {
			status = conn.Status.DeepCopy()
		}
		if err := h.store.Create(h.ctx, obj); err != nil {
			h.t.Fatalf("adding %T %s: %v", obj, obj.GetName(), err)
		}
		if conn, ok := obj.(*sfv1.SalesforceConnection); ok && !reflect.DeepEqual(*status, sfv1.SalesforceConnectionStatus{}) {
			conn.Status = *status
			if err := h.store.Status().Update(h.ctx, conn); err != nil {
				h.t.Fatalf("setting the status of %s: %v", conn.Name, err)
			}
		}
	}
}

// credentials is the credentials Secret, with client_id and client_secret and kv added.
func credentials(kv ...string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: hNamespace, Name: hCredentials}, Data: map[string][]byte{
		authflow.KeyClientID: []byte(hClientID), authflow.KeyClientSecret: []byte(hClientSecret)}}
	for i := 0; i+1 < len(kv); i += 2 {
		s.Data[kv[i]] = []byte(kv[i+1])
	}
	return s
}

// refreshCredentials is a credentials Secret with a refresh token of a new approval.
func (h *harness) refreshCredentials() *corev1.Secret {
	h.t.Helper()
	rt, err := h.sf.IssueRefreshToken(hClientID, hUsername)
	if err != nil {
		h.t.Fatal(err)
	}
	return credentials(authflow.KeyRefreshToken, rt)
}

// getConn reads a connection as stored.
func (h *harness) getConn(name string) *sfv1.SalesforceConnection {
	h.t.Helper()
	conn := &sfv1.SalesforceConnection{}
	if err := h.store.Get(h.ctx, types.NamespacedName{Namespace: hNamespace, Name: name}, conn); err != nil {
		h.t.Fatalf("reading connection %s: %v", name, err)
	}
	return conn
}

// getSecret reads a Secret as stored; nil when there is none.
func (h *harness) getSecret(name string) *corev1.Secret {
	h.t.Helper()
	s := &corev1.Secret{}
	err := h.store.Get(h.ctx, types.NamespacedName{Namespace: hNamespace, Name: name}, s)
	if apierrors.IsNotFound(err) {
		return nil
	} else if err != nil {
		h.t.Fatal(err)
	}
	return s
}

// getConfigMap reads a ConfigMap as stored; nil when there is none.
func (h *harness) getConfigMap(name string) *corev1.ConfigMap {
	h.t.Helper()
	cm := &corev1.ConfigMap{}
	err := h.store.Get(h.ctx, types.NamespacedName{Namespace: hNamespace, Name: name}, cm)
	if apierrors.IsNotFound(err) {
		return nil
	} else if err != nil {
		h.t.Fatal(err)
	}
	return cm
}

// update changes a stored object, uncounted.
func (h *harness) update(obj client.Object, change func()) {
	h.t.Helper()
	if err := h.store.Get(h.ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
		h.t.Fatal(err)
	}
	change()
	if err := h.store.Update(h.ctx, obj); err != nil {
		h.t.Fatal(err)
	}
}

// newPass starts a pass over the stored connection, as Reconcile does.
func (h *harness) newPass(name string) *pass {
	h.t.Helper()
	h.r.once.Do(h.r.init)
	return h.r.newPass(h.ctx, h.getConn(name))
}

// tokenPass runs the steps up to the token step over the stored connection.
func (h *harness) tokenPass(name string) (*pass, time.Time) {
	h.t.Helper()
	p := h.newPass(name)
	if _, err := h.r.generatedKey(h.ctx, p); err != nil {
		h.t.Fatalf("generated key step: %v", err)
	}
	next, err := h.r.token(h.ctx, p)
	if err != nil {
		h.t.Fatalf("token step: %v", err)
	}
	return p, next
}

// reconcile runs a whole pass over the connection.
func (h *harness) reconcile(name string) (ctrl.Result, error) {
	return h.r.Reconcile(h.ctx, ctrl.Request{NamespacedName: types.NamespacedName{Namespace: hNamespace, Name: name}})
}

// mustReconcile runs a whole pass that must succeed.
func (h *harness) mustReconcile(name string) ctrl.Result {
	h.t.Helper()
	res, err := h.reconcile(name)
	if err != nil {
		h.t.Fatalf("reconcile %s: %v", name, err)
	}
	return res
}

// logins counts the token requests that minted an access token.
func (h *harness) logins() int { return h.sf.Stats().SuccessfulLogins }

// requests counts the requests to an endpoint of the emulator ("" for all).
func (h *harness) requests(endpoint string) int {
	n := 0
	for _, r := range h.sf.Stats().Requests {
		if endpoint == "" || r.Endpoint == endpoint {
			n++
		}
	}
	return n
}

// events drains the events recorded so far: "Type Reason note".
func (h *harness) events() []string {
	var out []string
	for {
		select {
		case e := <-h.rec.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

// eventWith returns the first event of type and reason among evs, "" when none.
func eventWith(evs []string, eventType, reason string) string {
	for _, e := range evs {
		if strings.HasPrefix(e, eventType+" "+reason+" ") {
			return e
		}
	}
	return ""
}

// conditionOf returns "Status/Reason" of a condition, "" when absent.
func conditionOf(st *sfv1.SalesforceConnectionStatus, typ string) string {
	c := meta.FindStatusCondition(st.Conditions, typ)
	if c == nil {
		return ""
	}
	return string(c.Status) + "/" + c.Reason
}

// conditionMessage returns a condition's message, "" when absent.
func conditionMessage(st *sfv1.SalesforceConnectionStatus, typ string) string {
	if c := meta.FindStatusCondition(st.Conditions, typ); c != nil {
		return c.Message
	}
	return ""
}

// storedToken reads the token of the connection's token Secret; nil when there is none.
func (h *harness) storedToken(name string) *tokensecret.Token {
	h.t.Helper()
	s := h.getSecret(name + "-token")
	if s == nil {
		return nil
	}
	tok, integrity := tokensecret.Read(s, h.r.sealKey)
	if tok == nil || integrity != tokensecret.Sealed {
		h.t.Fatalf("token Secret %s is not intact", s.Name)
	}
	return tok
}

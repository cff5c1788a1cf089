// Package controller reconciles SalesforceConnections: one controller whose pass runs an
// ordered list of steps (generated key, token, liveness probe, approvals, rollout
// restarts), each owning its inputs, the status fields it sets and its next wake time,
// and patches status once at the end, whatever happened.
package controller

import (
	"context"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/authflow"
	"github.com/sfconn/sfconn-operator/internal/failure"
	"github.com/sfconn/sfconn-operator/internal/loginhost"
	"github.com/sfconn/sfconn-operator/internal/owned"
	"github.com/sfconn/sfconn-operator/internal/pacing"
	"github.com/sfconn/sfconn-operator/internal/rotation"
	"github.com/sfconn/sfconn-operator/internal/salesforce"
	"github.com/sfconn/sfconn-operator/internal/secretversions"
	"github.com/sfconn/sfconn-operator/internal/tokensecret"
)

// staleRetry is how soon a pass that read a stale cache tries again.
const staleRetry = 100 * time.Millisecond

// Reconciler keeps a SalesforceConnection's token Secret holding a valid token.
type Reconciler struct {
	// Client reads from the manager's cache (connections, and the Secrets the operator
	// manages) and writes to the API server.
	Client client.Client
	// APIReader reads uncached: credentials Secrets, which the cache does not hold.
	APIReader client.Reader
	// SecretVersions knows the version of every Secret in the watched namespaces
	// (secretversions.New): whether a Secret exists, and whether a credentials Secret
	// changed since a token was made from it, without a call to the API server. Optional.
	SecretVersions SecretVersionReader
	Salesforce     salesforce.Client
	LoginHosts     *loginhost.Policy
	Clock          clock.PassiveClock
	Recorder       events.EventRecorder
	// ApprovalKey is the operator's secret key: it keys the hashes that identify approvals
	// in status (approvals.ID) and the seals of token Secrets.
	ApprovalKey []byte
	// Limiter spaces logins per Salesforce org; nil means no limit.
	Limiter *pacing.LoginLimiter
	// Planner starts the renewals due together at the pace of the user's login budget
	// (and of Limiter), and wakes each connection when its renewal starts; nil starts
	// every renewal at its renewal time, by the connection's own requeue.
	Planner *pacing.RenewalPlanner
	// ProbeLimiter spaces liveness probes (spec.verifyInterval) per org; nil means no limit.
	ProbeLimiter *pacing.ProbeLimiter
	// StateNamespace holds the chains of rotating refresh tokens: the operator's own
	// namespace, where tenants cannot read or edit them ("default" when empty).
	StateNamespace string
	// Identity names this process in the claims of those chains, so that another replica
	// never refreshes a chain this one is refreshing (a random name when empty).
	Identity string
	// Users keeps each Salesforce user's logins within a budget, and holds all of a user's
	// connections back when Salesforce rate-limits one; nil does only the latter.
	Users *pacing.UserBudget
	// ClusterResourceNamespace is where ClusterSalesforceConnections keep their credentials
	// Secrets, and where the operator keeps each one's record of its token (and its other
	// Secrets: a rotated refresh token, a generated key).
	ClusterResourceNamespace string
	// ClusterConnections turns on the controller of ClusterSalesforceConnections. Off
	// when the operator watches some namespaces only (--watch-namespaces): its RBAC then
	// reaches those namespaces alone, and a cluster connection could neither read its
	// cluster-scoped objects nor remove a token Secret from a namespace that left.
	ClusterConnections bool
	// RolloutRestarts lets the operator patch spec.rolloutRestartTargets
	// (--enable-rollout-restarts). Off, a restart that would be due gets a Warning event
	// instead, and status.rolloutRestart stays as it was.
	RolloutRestarts bool
	// CredentialsGracePeriod is how long a missing credentials Secret is waited for
	// (Reconciling) before the connection is Stalled (--credentials-grace-period); zero
	// stalls at once.
	CredentialsGracePeriod time.Duration

	once   sync.Once
	state  *rotation.Store
	chains *rotation.Chains
	// sealKey seals the token Secrets (tokensecret.SealKey of ApprovalKey).
	sealKey []byte
	mem     memory
	// echoes are the versions of the operator's own writes, whose watch events wake nobody.
	echoes ownWrites
	// connections finds namespaced connections in the cache without deep copies
	// (connectionsNamingSecret).
	connections connectionLookup
}

// SecretVersionReader returns a Secret's current resourceVersion and what is known of it
// (secretversions.Versions); a caller that reads a Secret it did not know reports it.
type SecretVersionReader interface {
	Version(key types.NamespacedName) (string, secretversions.State)
	Observe(key types.NamespacedName, rv string)
}

// templateCheck is what checking the template of one generation of a connection's spec
// found: a problem, or none.
type templateCheck struct {
	uid        types.UID
	generation int64
	problem    string
}

// UnsavedRefreshTokens counts the rotated refresh tokens held in memory only.
func (r *Reconciler) UnsavedRefreshTokens() int {
	r.once.Do(r.init)
	return r.chains.UnsavedCount()
}

// forget drops everything remembered of a connection that is gone.
func (r *Reconciler) forget(key types.NamespacedName) {
	r.mem.issued.forget(key)
	r.mem.patchedFrom.forget(key)
	r.mem.probes.forget(key)
	r.mem.revokeSince.forget(key)
	r.mem.templates.forget(key)
	r.Limiter.Forget(key)
	r.Planner.Unbook(key)
}

// Least privilege; each verb is used:
// - connections: read through the cache (get, list, watch); patch to add and remove the
//   revocation finalizer.
// - connections/status: patch, once per pass.
// - connections/finalizers: update, which blockOwnerDeletion on the operator's Secrets needs
//   where the OwnerReferencesPermissionEnforcement admission plugin runs.
// - secrets: get (credentials, read uncached), list and watch (the cache of managed Secrets
//   and the metadata watch), create and update (token, rotation state, approval key).
// - events: create and patch (events.k8s.io; patch aggregates repeats).
// - configmaps: the certificate ConfigMap of a generated JWT key: list and watch (the
//   cache, label-filtered), get, create and update; never another ConfigMap's data.
// +kubebuilder:rbac:groups=salesforce.sfconn.io,resources=salesforceconnections,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=salesforce.sfconn.io,resources=salesforceconnections/status,verbs=patch
// +kubebuilder:rbac:groups=salesforce.sfconn.io,resources=salesforceconnections/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch;create;update

// step is one part of a pass. It owns its inputs and the status fields it sets, does no
// I/O when nothing of it is due, and returns when it is next due (zero: only a change of
// the connection or its objects wakes it). An error is the API server's.
type step struct {
	name string
	run  func(r *Reconciler, ctx context.Context, p *pass) (time.Time, error)
}

// steps run in this order: the token step needs the generated key; the probe, the
// approvals and the restarts need the token the token step leaves.
var steps = []step{
	{"generated key", (*Reconciler).generatedKey},
	{"token", (*Reconciler).token},
	{"liveness probe", (*Reconciler).probe},
	{"approvals", (*Reconciler).approvals},
	{"rollout restarts", (*Reconciler).restarts},
	{"delivery", (*Reconciler).deliver},
}

// Reconcile runs the steps over one connection and patches its status once, whatever
// happened; the connection comes back when the earliest step is due.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, err error) {
	r.once.Do(r.init)
	if req.Namespace == "" {
		// A cluster connection's key, which the cluster controller's queue serves (the
		// renewal plan wakes it there).
		return ctrl.Result{}, nil
	}
	conn := &sfv1.SalesforceConnection{}
	if err := r.Client.Get(ctx, req.NamespacedName, conn); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !conn.DeletionTimestamp.IsZero() {
		return r.finalize(ctx, conn, conn)
	}
	if r.mem.behind(req.NamespacedName, conn.ResourceVersion) {
		// The cache still shows the version this process already replaced: deciding on it
		// could repeat a login or forget a failure. The update event is on its way.
		return ctrl.Result{RequeueAfter: staleRetry}, nil
	}

	p := r.newPass(ctx, conn)
	defer func() { result, err = r.summarize(ctx, p, err) }()
	return r.runSteps(ctx, p)
}

// runSteps runs the steps of a pass in order, until one fails or defers the rest. A
// suspended connection runs none: it only reads its token Secret (lifecycle.go), and a
// cluster connection then delivers nothing either.
func (r *Reconciler) runSteps(ctx context.Context, p *pass) (ctrl.Result, error) {
	if p.conn.Spec.Suspend {
		return ctrl.Result{}, r.suspended(ctx, p)
	}
	for _, s := range steps {
		next, err := s.run(r, ctx, p)
		if err != nil {
			return ctrl.Result{}, fmt.Errorf("%s: %w", s.name, err)
		}
		p.wakeAt(next)
		if p.deferred {
			break
		}
	}
	return ctrl.Result{}, nil
}

func (r *Reconciler) init() {
	r.state = rotation.NewStore(owned.Clients{Client: r.Client, Uncached: r.APIReader, Writes: &r.echoes})
	ns := r.StateNamespace
	if ns == "" {
		ns = metav1.NamespaceDefault
	}
	r.chains = rotation.NewChains(rotation.ChainsOptions{Client: r.Client, Uncached: r.APIReader, Namespace: ns,
		Key: r.ApprovalKey, Holder: r.Identity, Clock: r.Clock})
	r.sealKey = tokensecret.SealKey(r.ApprovalKey)
	if r.Users == nil {
		r.Users = pacing.NewUserBudget(0)
	}
}

// pass is one reconcile of one connection: what its steps observed and did.
type pass struct {
	conn *sfv1.SalesforceConnection
	// cluster is set when conn is the view of this ClusterSalesforceConnection: status and
	// events go to it, and the delivery step writes its token to the target namespaces.
	cluster *sfv1.ClusterSalesforceConnection
	// delivery is what the delivery step did (cluster connections only).
	delivery *delivery
	key      types.NamespacedName
	now      time.Time
	flow     authflow.Flow
	log      logr.Logger
	// status is what the pass writes: a copy of the status as read, whose fields each
	// step sets.
	status *sfv1.SalesforceConnectionStatus
	// next is the earliest time a step is due.
	next time.Time

	// keys is the generated JWT key (generated key step).
	keys *keyMaterial
	// token is the token in the token Secret after the token step, nil when there is
	// none the operator can vouch for; renewed is set when the pass logged in.
	token   *tokensecret.Token
	renewed bool
	// inputs are the login's inputs, login what it obtained (token step).
	inputs *authflow.Inputs
	login  *authflow.Result
	// rejected is set while the token in the Secret is one Salesforce refused.
	rejected bool
	// tokenChecked is set once the token step observed the token Secret: the token
	// conditions can be derived.
	tokenChecked bool
	// deferred is set when the login waits for its turn: the token step left its status
	// as it was, and the later steps do not run.
	deferred bool
	// suspended is set when spec.suspend held the pass to reading the token Secret.
	suspended bool
	// credentialsMissing records the credentials Secret this pass found missing, and
	// since when (status.credentialsMissing); nil when it was not found missing.
	credentialsMissing *sfv1.MissingSecret
	// adoptHash is set when the pass verified that an ownerless token Secret the operator
	// sealed was written for these inputs (their hash): its write may take it over.
	adoptHash string
	// secretWritten is set once the pass wrote the token Secret.
	secretWritten bool
	// tokenSecret is the token Secret as the token step read it; nil when missing. Its
	// write starts from it (tokenSecretReader): the token in memory may be the new one by
	// then, which no longer rebuilds the Secret the pass read.
	tokenSecret *corev1.Secret

	// failure is why the pass ends without a current token; loginFailed is set when it is
	// a failed login, which status records so that backoff survives restarts.
	failure     *failure.Failure
	loginFailed bool
	// forced is set when a renewal request let this pass's login go past a held failure.
	forced bool
	// announced holds the reasons of the events this pass recorded.
	announced map[string]bool
}

func (r *Reconciler) newPass(ctx context.Context, conn *sfv1.SalesforceConnection) *pass {
	p := &pass{
		conn:   conn,
		key:    keyOf(conn),
		now:    r.Clock.Now(),
		log:    logf.FromContext(ctx).WithValues("connection", klog.KObj(conn)),
		status: conn.Status.DeepCopy(),
	}
	flow, fl := authflow.For(conn)
	if fl != nil {
		p.fail(fl)
	}
	p.flow = flow
	return p
}

// keyOf is the key of what the process remembers of a connection: its namespace and name,
// or for a cluster connection its name alone, which no namespaced connection has.
func keyOf(conn *sfv1.SalesforceConnection) types.NamespacedName {
	if conn.IsClusterView() {
		return types.NamespacedName{Name: conn.Name}
	}
	return types.NamespacedName{Namespace: conn.Namespace, Name: conn.Name}
}

// subject is the object the pass's status and events are about: the connection, or the
// ClusterSalesforceConnection it is the view of.
func (p *pass) subject() client.Object {
	if p.cluster != nil {
		return p.cluster
	}
	return p.conn
}

// fail records why the pass ends without a current token; the first failure stands.
func (p *pass) fail(f *failure.Failure) {
	if p.failure == nil {
		p.failure = f
	}
}

// wakeAt brings the connection back at t, if t is in the future and earlier than any
// other step asked.
func (p *pass) wakeAt(t time.Time) {
	if t.After(p.now) && (p.next.IsZero() || t.Before(p.next)) {
		p.next = t
	}
}

// event records an event about the connection and remembers its reason, so the
// transition events of the pass do not say the same thing twice.
func (r *Reconciler) event(p *pass, eventType, reason, action, format string, args ...any) {
	if p.announced == nil {
		p.announced = map[string]bool{}
	}
	p.announced[reason] = true
	r.record(p.subject(), eventType, reason, action, fmt.Sprintf(format, args...))
}

// maxEventNote bounds an event's note: the API server keeps at most 1 KiB of it, and a
// message built from a tenant's objects (holders, names) must not grow without bound.
const maxEventNote = 1000

// record records an event, its note cut to maxEventNote bytes on a character boundary.
func (r *Reconciler) record(about runtime.Object, eventType, reason, action, note string) {
	r.Recorder.Eventf(about, nil, eventType, reason, action, "%s", truncate(note, maxEventNote))
}

// truncate cuts s to at most n bytes, ending with an ellipsis when it was cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const ellipsis = "…"
	cut := n - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}

package controller

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/loginhost"
	"github.com/sfconn/sfconn-operator/internal/pacing"
	"github.com/sfconn/sfconn-operator/internal/salesforce"
	"github.com/sfconn/sfconn-operator/internal/tokentemplate"
)

// staleRetry is how soon a pass that read a stale cache tries again.
const staleRetry = 100 * time.Millisecond

// loginTimeout bounds one call to Salesforce, so a hung server never holds a worker.
const loginTimeout = time.Minute

// Reconciler keeps a SalesforceConnection's token Secret holding a valid token.
type Reconciler struct {
	// Client reads from the manager's cache (connections, and the Secrets the operator
	// manages) and writes to the API server.
	Client client.Client
	// APIReader reads uncached: credentials Secrets, which the cache does not hold.
	APIReader client.Reader
	// SecretVersions knows the version of every Secret in the watched namespaces
	// (NewSecretVersions): whether a Secret exists, and whether a credentials Secret
	// changed since a token was made from it, without a call to the API server. Optional.
	SecretVersions SecretVersionReader
	Salesforce     salesforce.Client
	LoginHosts     *loginhost.Policy
	Clock          clock.PassiveClock
	Recorder       events.EventRecorder
	// ApprovalKey keys the hashes that identify approvals in status (see approvalID).
	ApprovalKey []byte
	// Limiter spaces logins per Salesforce org; nil means no limit.
	Limiter *pacing.LoginLimiter
	// ProbeLimiter spaces liveness probes (spec.verifyInterval) per org; nil means no limit.
	ProbeLimiter *pacing.ProbeLimiter

	// unsaved holds rotated refresh tokens that could not be stored yet, by connection
	// UID. Under rotation the one sent is already dead, so this copy is the only live one
	// until it is stored; it is stored before the next refresh.
	unsaved sync.Map
	// verified holds, by namespace and name, when the token was last found alive
	// (verification); rejected holds the issue time of a token Salesforce refused.
	verified, rejected sync.Map
	// noIntrospection holds, by login URL and client ID, until when a connected app that
	// refused to introspect is not asked again.
	noIntrospection sync.Map
	// revokeAttempts holds when revoking began for connections being deleted, by UID.
	revokeAttempts sync.Map
	// issued holds, by namespace and name, the token this process last wrote to each
	// token Secret: a Secret deleted or edited by someone is restored from it without a
	// login while the token is good. Lost on restart, when a login takes its place.
	issued sync.Map
	// replaced holds, by namespace and name, the resourceVersion of the connection this process last
	// patched the status of: the cache showing it again means the cache is behind.
	replaced sync.Map
}

// SecretVersionReader returns a Secret's current resourceVersion, and whether it exists.
type SecretVersionReader interface {
	Version(key types.NamespacedName) (string, bool)
}

// unsavedRefreshToken is a rotated refresh token not yet stored.
type unsavedRefreshToken struct {
	sourceDigest string
	token        string
}

// clusterError is a failure to read or write the cluster during a login: not Salesforce's
// answer, so it is returned to controller-runtime for a retry with backoff rather than
// reported as a login failure.
type clusterError struct{ error }

func (e clusterError) Unwrap() error { return e.error }

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

// Reconcile reads the connection and its inputs, decides whether a login is needed, logs
// in only then, writes the token Secret when it changed, and patches status once.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	log := logf.FromContext(ctx)
	var conn sfv1.SalesforceConnection
	if err := r.Client.Get(ctx, req.NamespacedName, &conn); err != nil {
		if apierrors.IsNotFound(err) {
			r.replaced.Delete(req.NamespacedName)
			r.issued.Delete(req.NamespacedName)
			r.Limiter.Forget(req.NamespacedName)
			r.verified.Delete(req.NamespacedName)
			r.rejected.Delete(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !conn.DeletionTimestamp.IsZero() {
		after, err := r.finalize(ctx, &conn)
		return ctrl.Result{RequeueAfter: after}, err
	}
	if rv, ok := r.replaced.Load(req.NamespacedName); ok && rv == conn.ResourceVersion {
		// The cache still shows the version this process already replaced: deciding on it
		// could repeat a login or forget a failure. The update event is on its way.
		return ctrl.Result{RequeueAfter: staleRetry}, nil
	}

	f, err := r.observe(ctx, &conn)
	if err != nil {
		return ctrl.Result{}, err
	}
	if f.stored != nil {
		f.plannedStart = r.Limiter.PlannedStart(req.NamespacedName,
			f.renewalOf(f.stored))
	}
	f.verifyWake = r.verify(ctx, &conn, f)
	d := decide(f)
	if d.login {
		// Asked before the credentials are read: a connection that must wait for its
		// turn reads them once, when the turn comes.
		if wait := r.Limiter.Admit(pacing.OrgKey(conn.Status.OrgID, loginURLOf(&conn)), req.NamespacedName, f.now); wait > 0 {
			// Waiting for a login slot changes nothing a person needs to see: the status
			// stays as it is (a new connection reads as in progress), and the turn is kept.
			log.V(1).Info("Waiting for a login slot", "connection", klog.KObj(&conn), "for", wait)
			return ctrl.Result{RequeueAfter: wait}, nil
		}
	}
	if d.login && f.inputsUnread {
		// A login is due: it needs the credentials, and they may say more than their
		// version did (a key gone missing since).
		if err := r.readCredentials(ctx, &conn, f); err != nil {
			return ctrl.Result{}, err
		}
		d = decide(f)
	}
	o, err := r.act(ctx, &conn, f, d)
	if err != nil {
		return ctrl.Result{}, err
	}
	if err := r.account(ctx, &conn, f, o); err != nil {
		return ctrl.Result{}, err
	}
	r.checkApprovals(ctx, &conn, f, o)
	r.rolloutRestart(ctx, &conn, f, o)

	status := computeStatus(&conn, f, o)
	notices := transitionEvents(conn.Status.Conditions, status.Conditions, o.announced)
	if !equality.Semantic.DeepEqual(status, conn.Status) {
		// The optimistic lock makes a patch computed from a stale read fail instead of
		// quietly mixing old and new fields.
		patch := client.MergeFromWithOptions(conn.DeepCopy(), client.MergeFromWithOptimisticLock{})
		from := conn.ResourceVersion
		conn.Status = status
		if err := r.Client.Status().Patch(ctx, &conn, patch); err != nil {
			return ctrl.Result{}, fmt.Errorf("patching status: %w", err)
		}
		if conn.ResourceVersion != from {
			r.replaced.Store(req.NamespacedName, from)
		}
	}
	// After the patch: a pass that fails to record a change is repeated, and announces it then.
	for _, n := range notices {
		r.Recorder.Eventf(&conn, nil, n.eventType, n.reason, n.action, "%s", n.note)
	}
	wake := nextWake(f, o)
	if o.token != nil {
		// The org's renewal plan may start this renewal earlier than its renewal time, so
		// that the login limit admits every renewal of a crowded stretch in time.
		start := r.Limiter.Book(pacing.OrgKey(conn.Status.OrgID, loginURLOf(&conn)), req.NamespacedName,
			f.renewalOf(o.token), wake)
		if start.After(r.Clock.Now()) && (wake.IsZero() || start.Before(wake)) {
			wake = start
		}
	} else {
		r.Limiter.Unbook(req.NamespacedName)
	}
	if !wake.IsZero() {
		log.V(1).Info("Next check", "connection", klog.KObj(&conn), "at", wake)
		// Measured from now, not from the start of the pass: the pass took time.
		return ctrl.Result{RequeueAfter: max(wake.Sub(r.Clock.Now()), time.Second)}, nil
	}
	return ctrl.Result{}, nil
}

// observe gathers the facts of one pass. It leaves the credentials unread when the stored
// token was checked against this generation of the spec and this version of the
// credentials Secret.
func (r *Reconciler) observe(ctx context.Context, conn *sfv1.SalesforceConnection) (*facts, error) {
	f := &facts{
		now:         r.Clock.Now(),
		generation:  conn.Generation,
		uid:         string(conn.UID),
		lastFailure: conn.Status.LastFailure,
		requestedAt: conn.Annotations[sfv1.AnnotationRequestedAt],
		lastHandled: conn.Status.LastHandledReconcileAt,
	}
	f.sessionTimeout, f.renewBefore = effectiveDurations(&conn.Spec)
	f.renewBeforeSet = conn.Spec.RenewBefore != nil && f.renewBefore == conn.Spec.RenewBefore.Duration

	secret, state, err := r.getTokenSecret(ctx, conn)
	if err != nil {
		return nil, err
	}
	f.secret = state
	if state == secretOurs {
		f.stored, f.intact = storedToken(secret)
	}
	if generatesKey(conn) {
		var foreign foreignObjectError
		if f.jwtKey, err = r.ensureJWTKey(ctx, conn, f.now); errors.As(err, &foreign) {
			f.keyProblem = foreign.message
		} else if err != nil {
			return nil, err
		}
	}

	// The credentials are read only when a login needs them, or when they may have
	// changed since the stored token was checked against them: a restart or a resync
	// costs no API call per connection.
	version := r.inputsVersion(conn)
	if f.stored != nil && f.intact && version != "" && f.stored.inputsVersion == version {
		f.inputs = unreadInputs(conn, f.stored.inputsHash, version)
		f.inputsUnread = true
		r.checkLoginHost(f)
	} else if err := r.readCredentials(ctx, conn, f); err != nil {
		return nil, err
	}
	if err := tokentemplate.Check(conn.Spec.TokenSecret.Template); err != nil {
		f.templateProblem = err.Error()
	}

	if state == secretOurs {
		if f.stored != nil {
			desired, err := desiredTokenSecret(conn, f.stored)
			if err != nil && f.templateProblem == "" {
				f.templateProblem = err.Error()
			}
			f.metadataDrift = metadataDrifted(secret, desired)
			if f.intact {
				r.issued.Store(client.ObjectKeyFromObject(conn), f.stored.clone())
			}
		}
	}
	if state != secretForeign && (f.stored == nil || !f.intact) && f.inputs != nil {
		if t, ok := r.issued.Load(client.ObjectKeyFromObject(conn)); ok && t.(*issuedToken).inputsHash == f.inputs.hash {
			f.secret, f.stored, f.intact, f.metadataDrift, f.restored = secretOurs, t.(*issuedToken).clone(), true, true, true
		}
	}
	return f, nil
}

// readCredentials reads the credentials Secret into the facts: the inputs of a login, or
// the problem that prevents one.
func (r *Reconciler) readCredentials(ctx context.Context, conn *sfv1.SalesforceConnection, f *facts) error {
	var known string
	if name := credentialsSecretName(&conn.Spec); name != "" && r.SecretVersions != nil {
		known, _ = r.SecretVersions.Version(types.NamespacedName{Namespace: conn.Namespace, Name: name})
	}
	inputs, problem := readInputs(ctx, r.APIReader, conn, known)
	if problem != nil && problem.reason == "" {
		// The API server failed us, not the user: back off and try again.
		return errors.New(problem.message)
	}
	f.inputs, f.problem, f.inputsUnread = inputs, problem, false
	if inputs != nil && f.stored != nil && f.intact && inputs.hash == f.stored.inputsHash {
		f.stored.inputsVersion = inputsVersionOf(conn.Generation, inputs.credentialsVersion)
	}
	r.checkLoginHost(f)
	return nil
}

func (r *Reconciler) checkLoginHost(f *facts) {
	f.hostProblem = ""
	if f.inputs == nil {
		return
	}
	if err := r.LoginHosts.Check(f.inputs.request.LoginURL); err != nil {
		f.hostProblem = err.Error()
	}
}

// getTokenSecret finds the token Secret: in the cache when it carries the operator's
// labels, else straight from the API server, to tell a missing Secret from one whose
// labels someone removed, or one that belongs to somebody else.
func (r *Reconciler) getTokenSecret(ctx context.Context, conn *sfv1.SalesforceConnection) (*corev1.Secret, secretState, error) {
	key := types.NamespacedName{Namespace: conn.Namespace, Name: tokenSecretName(conn)}
	var s corev1.Secret
	err := r.Client.Get(ctx, key, &s)
	if apierrors.IsNotFound(err) && r.SecretVersions != nil {
		// Not one the operator labels. Most often it does not exist at all, which the
		// Secret versions tell without a call; a watch behind a Secret this process just
		// wrote is covered by the token it remembers (see issued).
		if _, exists := r.SecretVersions.Version(key); exists {
			err = r.APIReader.Get(ctx, key, &s)
		}
	} else if apierrors.IsNotFound(err) {
		err = r.APIReader.Get(ctx, key, &s)
	}
	switch {
	case apierrors.IsNotFound(err):
		return nil, secretMissing, nil
	case err != nil:
		return nil, secretMissing, fmt.Errorf("reading token Secret: %w", err)
	case !isControlledBy(&s, conn.UID):
		return &s, secretForeign, nil
	}
	return &s, secretOurs, nil
}

// act carries out the decision: a login when one is needed, and the token Secret write.
func (r *Reconciler) act(ctx context.Context, conn *sfv1.SalesforceConnection, f *facts, d decision) (*outcome, error) {
	log := logf.FromContext(ctx)
	o := &outcome{token: f.stored, failure: d.blocked, tokenRejected: f.tokenRejected}
	if f.secret != secretOurs || !f.intact {
		// Whatever is under the name is not a token the operator can vouch for.
		o.token = nil
	}
	if d.rewrite {
		o.token.setLifetime(f.sessionTimeout)
		if err := r.writeTokenSecret(ctx, conn, o.token); err != nil {
			return nil, err
		}
		if f.restored {
			log.Info("Restored token Secret", "connection", klog.KObj(conn))
			r.event(conn, o, corev1.EventTypeNormal, "TokenRestored", "Repair",
				"Restored Secret %s, deleted or edited by someone else, with the current token: no new login", tokenSecretName(conn))
		}
	}
	if !d.login {
		return o, nil
	}

	log.Info("Logging in to Salesforce", "connection", klog.KObj(conn), "grant", f.inputs.request.Grant, "why", d.why)
	if f.tokenRejected {
		r.event(conn, o, corev1.EventTypeWarning, "TokenRejected", "Verify",
			"Salesforce refused the token of Secret %s before its expiry at %s (revoked, or its session ended): renewing now",
			tokenSecretName(conn), stamp(f.stored.expiresAt))
	}
	var tok *salesforce.Token
	var err error
	if conn.Spec.Auth.DeviceLogin != nil {
		var rt string
		if rt, err = r.currentRefreshToken(ctx, conn, deviceMarker(conn)); err != nil {
			return nil, clusterError{err}
		}
		if _, unsaved := r.unsaved.Load(conn.UID); rt == deviceMarker(conn) && !unsaved {
			tok, err = r.deviceLogin(ctx, conn, f, o)
			if tok == nil && err == nil {
				return o, nil
			}
		}
	}
	if tok == nil && err == nil && f.jwtKey != nil {
		tok, err = r.loginWithGeneratedKey(ctx, conn, f)
	} else if tok == nil && err == nil {
		tok, err = r.login(ctx, conn, f.inputs)
	}
	var ce clusterError
	if errors.As(err, &ce) {
		return nil, err
	}
	if err != nil {
		o.failure, o.newFailure = classify(err, conn, f), true
		if o.failure.reason == sfv1.ReasonRevoked && conn.Spec.Auth.DeviceLogin != nil {
			// The operator obtained this token with a person's approval, and only a person
			// can approve again: drop the dead token and start a new device login, which
			// makes no approval until someone approves it.
			if err := r.updateStateSecret(ctx, conn, func(s *corev1.Secret) { delete(s.Data, keyRefreshToken) }); err != nil {
				return nil, clusterError{err}
			}
			o.failure.terminal, o.newFailure, o.failure.retryAt = false, false, f.now.Add(time.Second)
			o.failure.message = fmt.Sprintf("Salesforce rejected the refresh token obtained by device login (%v); starting a new device login", err)
		}
		log.Info("Login failed", "connection", klog.KObj(conn), "reason", o.failure.reason, "error", err.Error())
		r.event(conn, o, corev1.EventTypeWarning, o.failure.reason, "Login", "%s", o.failure.message)
		return o, nil
	}
	if err := r.LoginHosts.CheckInstance(tok.InstanceURL); err != nil {
		// Workloads send the token wherever instance_url points. Not kept in status as a
		// login failure: the remedy is the operator's --allowed-login-hosts, which only a
		// restart changes, and a restart must then try again.
		o.failure = &failure{reason: sfv1.ReasonInvalidSpec, terminal: true,
			message: fmt.Sprintf("Salesforce answered with an instance_url the operator will not hand to workloads: %v; add its host to --allowed-login-hosts if it is right", err)}
		log.Info("Token refused", "connection", klog.KObj(conn), "reason", o.failure.reason, "error", err.Error())
		r.event(conn, o, corev1.EventTypeWarning, o.failure.reason, "Login", "%s", o.failure.message)
		return o, nil
	}
	issued := newIssuedToken(tok, f.sessionTimeout, f.inputs.hash)
	if exp, ok := r.introspectedExpiry(ctx, conn, f.inputs, tok); ok {
		issued.setIntrospectedExpiry(exp)
	}
	issued.inputsVersion = inputsVersionOf(conn.Generation, f.inputs.credentialsVersion)
	// Remembered before the write: if the API server fails the write, the next pass
	// restores this token instead of logging in again.
	r.issued.Store(client.ObjectKeyFromObject(conn), issued.clone())
	if err := r.writeTokenSecret(ctx, conn, issued); err != nil {
		return nil, err
	}
	first := f.stored == nil
	o.token, o.renewed, o.failure, o.tokenRejected = issued, true, nil, false
	r.rejected.Delete(client.ObjectKeyFromObject(conn))
	f.verifyWake = r.verifiedNow(conn, issued, r.Clock.Now())
	o.username = f.inputs.request.Username
	if f.inputs.request.Grant == salesforce.GrantRefreshToken {
		o.approvalID = approvalID(r.ApprovalKey, f.inputs.request.RefreshToken)
		o.mintedApproval = conn.Spec.Auth.DeviceLogin != nil
		if o.username == "" {
			o.username = r.username(ctx, conn, tok)
		}
	}
	reason, verb := "TokenRenewed", "Renewed"
	if first {
		reason, verb = "TokenIssued", "Issued"
	}
	log.Info(verb+" token", "connection", klog.KObj(conn), "expiresAt", issued.expiresAt)
	r.event(conn, o, corev1.EventTypeNormal, reason, "Login",
		"%s a token valid until %s into Secret %s", verb, stamp(issued.expiresAt), tokenSecretName(conn))
	r.reportLifetime(conn, f, o, issued)
	return o, nil
}

// username asks Salesforce who a refresh token speaks for, once per user: the ledger
// needs it to check a device login for the same user before it is made. A failure only
// leaves the name unknown.
func (r *Reconciler) username(ctx context.Context, conn *sfv1.SalesforceConnection, tok *salesforce.Token) string {
	if p := conn.Status.Principal; p != nil && p.UserID == tok.UserID && p.Username != "" {
		return p.Username
	}
	info, err := r.Salesforce.UserInfo(ctx, tok.InstanceURL, tok.AccessToken)
	if err != nil {
		logf.FromContext(ctx).V(1).Info("Could not learn the username", "connection", klog.KObj(conn), "error", err.Error())
		return ""
	}
	return info.Username
}

// account works out who the token speaks for, the approval the connection holds, and what
// the cluster holds for that principal.
func (r *Reconciler) account(ctx context.Context, conn *sfv1.SalesforceConnection, f *facts, o *outcome) error {
	o.principal = nextPrincipal(conn.Status.Principal, f, o)
	o.approval = nextApproval(conn.Status.Approval, &conn.Spec, o, f.now)
	if o.principal == nil || !usesApprovals(&conn.Spec) {
		return nil
	}
	self := conn.DeepCopy()
	self.Status.Principal, self.Status.Approval = o.principal, o.approval
	view, err := r.ledger(ctx, principalIDKey(o.principal), self)
	if err != nil {
		return err
	}
	o.ledger = view
	if o.failure != nil && o.failure.reason == sfv1.ReasonRevoked && o.newFailure {
		o.failure.message += revokedFacts(view)
	}
	return nil
}

// revokedFacts gives the first likely cause of a revocation its numbers.
func revokedFacts(view *ledgerView) string {
	if view.count() == 0 {
		return ". The cluster holds no other approval for this user and connected app, so a sixth one was made elsewhere, if that was the cause"
	}
	return fmt.Sprintf(". The cluster holds %d other approval(s) for this user and connected app, oldest first: %s", view.count(), view.describe())
}

// login calls Salesforce. For the refresh token grant it uses the latest rotated refresh
// token and stores the next one before the new access token goes anywhere.
func (r *Reconciler) login(ctx context.Context, conn *sfv1.SalesforceConnection, in *loginInputs) (*salesforce.Token, error) {
	log := logf.FromContext(ctx)
	req := in.request
	userRefreshToken := req.RefreshToken
	if req.Grant == salesforce.GrantRefreshToken {
		if u, ok := r.unsaved.Load(conn.UID); ok && u.(unsavedRefreshToken).sourceDigest == tokenDigest(userRefreshToken) {
			if err := r.storeRotatedRefreshToken(ctx, conn, userRefreshToken, u.(unsavedRefreshToken).token); err != nil {
				return nil, clusterError{fmt.Errorf("storing the rotated refresh token: %w", err)}
			}
			r.unsaved.Delete(conn.UID)
		}
		rt, err := r.currentRefreshToken(ctx, conn, userRefreshToken)
		if err != nil {
			return nil, clusterError{err}
		}
		req.RefreshToken = rt
	}
	// Not cancelled with the pass: a shutdown must not drop a refresh Salesforce already
	// carried out, whose rotated token is stored below.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), loginTimeout)
	defer cancel()
	tok, err := r.Salesforce.Login(ctx, req)
	if err != nil {
		return nil, err
	}
	if req.Grant == salesforce.GrantRefreshToken && tok.RefreshToken != "" && tok.RefreshToken != req.RefreshToken {
		if err := r.storeRotatedRefreshToken(ctx, conn, userRefreshToken, tok.RefreshToken); err != nil {
			// The access token is good; the refresh token stays in memory and is stored
			// before the next refresh.
			r.unsaved.Store(conn.UID, unsavedRefreshToken{sourceDigest: tokenDigest(userRefreshToken), token: tok.RefreshToken})
			log.Error(err, "Storing the rotated refresh token failed; keeping it in memory until it can be stored", "connection", klog.KObj(conn))
		}
	}
	return tok, nil
}

// writeTokenSecret creates or updates the token Secret, only when it differs, and
// remembers what it wrote.
func (r *Reconciler) writeTokenSecret(ctx context.Context, conn *sfv1.SalesforceConnection, tok *issuedToken) error {
	if err := r.putTokenSecret(ctx, conn, tok); err != nil {
		return err
	}
	r.issued.Store(client.ObjectKeyFromObject(conn), tok.clone())
	return nil
}

func (r *Reconciler) putTokenSecret(ctx context.Context, conn *sfv1.SalesforceConnection, tok *issuedToken) error {
	// A template that fails with this token still lets the token through; the next
	// pass reports the template.
	desired, _ := desiredTokenSecret(conn, tok)
	// The cached copy is enough to update from; if it is behind, the update fails on its
	// resourceVersion and is made again from a fresh read (a failed write here would make
	// the next pass log in again). A Secret missing from the cache is created; only when
	// it exists after all is it read from the API server.
	key := client.ObjectKeyFromObject(desired)
	var current corev1.Secret
	err := r.Client.Get(ctx, key, &current)
	if apierrors.IsNotFound(err) {
		if err = r.Client.Create(ctx, desired); err == nil || !apierrors.IsAlreadyExists(err) {
			return wrapErr("creating token Secret", err)
		}
		err = r.APIReader.Get(ctx, key, &current)
	}
	for attempt := 0; ; attempt++ {
		if err != nil {
			return fmt.Errorf("reading token Secret: %w", err)
		}
		if !isControlledBy(&current, conn.UID) {
			return fmt.Errorf("token Secret %s is not controlled by this connection", desired.Name)
		}
		updated := current.DeepCopy()
		updated.Labels = mergeMaps(updated.Labels, desired.Labels)
		updated.Annotations = mergeMaps(updated.Annotations, desired.Annotations)
		updated.OwnerReferences = desired.OwnerReferences
		updated.Type = desired.Type
		updated.Data = desired.Data
		if equality.Semantic.DeepEqual(updated, &current) {
			return nil
		}
		err = r.Client.Update(ctx, updated)
		if !apierrors.IsConflict(err) || attempt > 0 {
			return wrapErr("updating token Secret", err)
		}
		current = corev1.Secret{}
		err = r.APIReader.Get(ctx, key, &current)
	}
}

// wrapErr prefixes err with what was being done; nil stays nil.
func wrapErr(doing string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", doing, err)
}

// classify turns a login error into a failure: the class decided by the Salesforce client
// where the answer was read, mapped here to a condition reason.
func classify(err error, conn *sfv1.SalesforceConnection, f *facts) *failure {
	if fl := awaitingAdmin(err, conn, f); fl != nil {
		return fl
	}
	class := salesforce.ClassOf(err)
	fl := &failure{message: err.Error()}
	switch class {
	case salesforce.Terminal:
		fl.reason, fl.terminal = sfv1.ReasonAuthenticationFailed, true
		fl.message = fmt.Sprintf("Salesforce refused the login: %v. %s%s; the operator tries again when either changes", err, missingTokenHint(f), fixHint(conn))
	case salesforce.Revoked:
		fl.reason, fl.terminal = sfv1.ReasonRevoked, true
		fl.message = revokedMessage(err, conn)
	case salesforce.RateLimited:
		fl.reason = sfv1.ReasonRateLimited
	default:
		fl.reason = sfv1.ReasonSalesforceUnavailable
	}
	if !fl.terminal {
		fl.retryAt = f.now.Add(backoff(fl.reason, consecutiveFailures(f), f.uid))
	}
	return fl
}

// missingTokenHint names the likeliest cause of a refused password login without a
// security token: Salesforce wants it appended unless the user logs in from a trusted IP
// range.
func missingTokenHint(f *facts) string {
	if f.inputs == nil || f.inputs.request.Grant != salesforce.GrantPassword || f.inputs.request.SecurityToken != "" {
		return ""
	}
	return "The credentials Secret has no security_token: unless the user logs in from a trusted IP range, Salesforce needs it appended to the password. "
}

// fixHint says where the inputs of a login are.
func fixHint(conn *sfv1.SalesforceConnection) string {
	if name := credentialsSecretName(&conn.Spec); name != "" {
		return fmt.Sprintf("Fix the credentials in Secret %q or the spec", name)
	}
	return "Fix the spec, or give it a credentials Secret with client_secret if the connected app requires one"
}

func revokedMessage(err error, conn *sfv1.SalesforceConnection) string {
	return fmt.Sprintf("Salesforce rejected the refresh token (%v). Likely causes, most likely first: "+
		"the five-approval limit (a sixth approval for this user and connected app, made anywhere, evicted this one); "+
		"an admin revoked it; the connected app's refresh token policy expired it; "+
		"a rotated refresh token was replayed; the user's password was reset. "+
		"Put a new refresh_token in Secret %q to recover; the access token already in the token Secret stays until it expires",
		err, credentialsSecretName(&conn.Spec))
}

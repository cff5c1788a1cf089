package controller

// What the token step observes before it decides: the token Secret, what the operator can
// vouch for in it, the credentials when they may have changed, and the problems that
// block any login.

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/authflow"
	"github.com/sfconn/sfconn-operator/internal/failure"
	"github.com/sfconn/sfconn-operator/internal/owned"
	"github.com/sfconn/sfconn-operator/internal/secretversions"
	"github.com/sfconn/sfconn-operator/internal/tokensecret"
	"github.com/sfconn/sfconn-operator/internal/tokentemplate"
)

// observeToken gathers the facts of the token: the token Secret, and the credentials
// when they may have changed since the stored token was checked against them.
func (r *Reconciler) observeToken(ctx context.Context, p *pass) (*facts, error) {
	conn := p.conn
	f := &facts{
		now:         p.now,
		generation:  conn.Generation,
		uid:         string(conn.UID),
		lastFailure: conn.Status.LastFailure,
		requestedAt: conn.Annotations[sfv1.AnnotationRequestedAt],
		lastHandled: conn.Status.LastHandledReconcileAt,
		blocked:     p.failure,
	}
	f.sessionTimeout, f.renewBefore = effectiveDurations(&conn.Spec)
	f.renewBeforeSet = conn.Spec.RenewBefore != nil && f.renewBefore == conn.Spec.RenewBefore.Duration
	if p.flow == nil {
		return f, nil
	}

	secret, state, err := r.getTokenSecret(ctx, conn)
	if err != nil {
		return nil, err
	}
	f.secret, p.tokenSecret = state, secret
	if state == secretOurs || state == secretUnclaimed {
		f.stored, f.intact = r.readTokenSecret(p, secret)
	}

	// The credentials are read only when a login needs them, or when they may have
	// changed since the stored token was checked against them: a restart or a resync
	// costs no API call per connection. A Secret to adopt is always checked against the
	// credentials themselves: its inputs version says nothing of this connection.
	var problem *failure.Failure
	if version := r.inputsVersion(conn, p.flow); state == secretOurs && f.stored != nil && f.intact && version != "" && f.stored.InputsVersion == version {
		f.inputs = unreadInputs(conn, f.stored.InputsHash, version)
	} else if problem, err = r.readCredentials(ctx, p, f); err != nil {
		return nil, err
	}
	resolveAdoption(p, f)
	state = f.secret
	f.notAdoptable = f.notAdoptable || (state == secretForeign && secret != nil && !owned.HasController(secret))
	if f.intact {
		p.token = f.stored
	}
	notOurs := foreign(state)
	if f.notAdoptable {
		notOurs = notAdoptable()
	}
	f.blocked = firstOf(problem, r.checkLoginHost(f.inputs), r.templateProblem(p), p.failure, notOurs)
	if f.intact && r.rejectedBefore(p.key, f.stored) {
		f.tokenRejected, p.rejected = true, true
	}

	if state == secretOurs && f.stored != nil {
		desired, err := tokensecret.Desired(conn, f.stored, r.sealKey)
		if err != nil && f.blocked == nil {
			f.blocked = failure.New(failure.Terminal, sfv1.ReasonInvalidSpec, "%s", err.Error())
		}
		f.metadataDrift = tokensecret.MetadataDrifted(secret, desired) || ownerDrifted(conn, secret)
	}
	// The token this process last obtained for these inputs replaces a Secret that was
	// deleted or edited, or that a failed write left holding an older token: a login
	// would only fetch another one.
	if t, ok := r.mem.issued.load(p.key); ok && state != secretForeign && f.inputs != nil && t.token.InputsHash() == f.inputs.Hash &&
		(f.stored == nil || !f.intact || t.token.IssuedAt().After(f.stored.IssuedAt)) {
		f.secret, f.stored, f.intact, f.metadataDrift, f.restored = secretOurs, t.token.Unpack(), true, true, true
	} else if f.intact && !(ok && t.token.Holds(f.stored) && t.secretVersion == secret.ResourceVersion) {
		r.rememberToken(p.key, f.stored, secret)
	}
	if f.stored != nil {
		f.plannedStart = r.Planner.PlannedStart(p.key, f.renewalOf(f.stored))
	}
	f.user = userKey(p, f.inputs)
	f.userBlockedUntil = r.Users.Blocked(f.user, f.now)
	return f, nil
}

// userKey names the Salesforce user a connection logs in as, for the user's login budget:
// the login host and client, and the user's id once a login told it, else the username
// the inputs name, else the credentials Secret that holds it.
func userKey(p *pass, in *authflow.Inputs) string {
	host := authflow.LoginURL(p.conn)
	if pr := p.conn.Status.Principal; pr != nil && pr.UserID != "" {
		return userIDKey(host, pr.ClientID, pr.OrgID, pr.UserID)
	}
	if in != nil && in.Request.Username != "" {
		return host + " " + in.Request.ClientID + " name:" + strings.ToLower(in.Request.Username)
	}
	return host + " secret:" + p.conn.Namespace + "/" + p.flow.CredentialsSecret()
}

func userIDKey(host, clientID, orgID, userID string) string {
	return host + " " + clientID + " id:" + orgID + "/" + userID
}

// plannedUser is the user whose plan the renewal is booked in: the key the next pass's
// userKey gives, which knows the user's id once this pass's login told it (status.principal
// is recorded after the token step). A key that changed from one pass to the next would
// move the booking into another plan, where it could start with another user's.
func plannedUser(p *pass, f *facts) string {
	// As approvals.NextPrincipal records it: no principal without both ids.
	if p.renewed && p.inputs != nil && p.token.UserID() != "" && p.token.OrgID() != "" {
		return userIDKey(authflow.LoginURL(p.conn), p.inputs.Request.ClientID, p.token.OrgID(), p.token.UserID())
	}
	return f.user
}

// readTokenSecret reads the token the operator wrote to the Secret and says whether the
// operator can vouch for it. The Secret is not the operator's memory to trust: its seal
// must hold (a Secret an older operator wrote must agree with status, which only the
// operator writes), its times must be possible, and the instance URL workloads and probes
// send the token to must pass the host policy now. A token that fails any of these is
// treated as an edit: replaced from memory, or by a login.
func (r *Reconciler) readTokenSecret(p *pass, s *corev1.Secret) (*tokensecret.Token, bool) {
	tok, integrity := tokensecret.Read(s, r.sealKey)
	if tok == nil {
		return nil, false
	}
	st := p.conn.Status
	switch {
	case integrity == tokensecret.Unsealed:
		if st.IssuedAt == nil || st.ExpiresAt == nil || !st.IssuedAt.Time.Equal(tok.IssuedAt) ||
			!st.ExpiresAt.Time.Equal(tok.ExpiresAt) || st.InstanceURL != tok.InstanceURL() {
			return tok, false
		}
	case integrity != tokensecret.Sealed:
		return tok, false
	}
	if tok.IssuedAt.After(p.now.Add(lifetimeTolerance)) || !tok.ExpiresAt.After(tok.IssuedAt) ||
		tok.ExpiresAt.Sub(tok.IssuedAt) > maxSessionTimeout+lifetimeTolerance {
		p.log.Info("The token Secret's times are impossible; replacing its token", "issuedAt", tok.IssuedAt, "expiresAt", tok.ExpiresAt)
		return tok, false
	}
	if err := r.LoginHosts.CheckInstance(tok.InstanceURL()); err != nil {
		p.log.Info("The token Secret's instance URL is not allowed; replacing its token", "error", err.Error())
		return tok, false
	}
	return tok, true
}

// firstOf is the first failure that is not nil.
func firstOf(failures ...*failure.Failure) *failure.Failure {
	for _, f := range failures {
		if f != nil {
			return f
		}
	}
	return nil
}

// templateProblem checks spec.tokenSecret.template once per generation of the spec: a
// large template takes a moment to check, and every pass would otherwise pay it again.
func (r *Reconciler) templateProblem(p *pass) *failure.Failure {
	if p.conn.Spec.TokenSecret.Template == nil {
		// Nothing to check, and nothing to remember for most connections.
		r.mem.templates.forget(p.key)
		return nil
	}
	gen := p.conn.Generation
	checked, ok := r.mem.templates.load(p.key)
	if !ok || checked.generation != gen || checked.uid != p.conn.UID {
		checked = templateCheck{generation: gen, uid: p.conn.UID}
		if err := tokentemplate.Check(p.conn.Spec.TokenSecret.Template); err != nil {
			checked.problem = err.Error()
		}
		r.mem.templates.store(p.key, checked)
	}
	if checked.problem != "" {
		return failure.New(failure.Terminal, sfv1.ReasonInvalidSpec, "%s", checked.problem)
	}
	return nil
}

func foreign(state secretState) *failure.Failure {
	if state != secretForeign {
		return nil
	}
	return failure.New(failure.Terminal, sfv1.ReasonInvalidSpec,
		"the token Secret exists and is not controlled by this SalesforceConnection; the operator will not overwrite it: delete it or choose another spec.tokenSecret.name")
}

func (r *Reconciler) checkLoginHost(in *authflow.Inputs) *failure.Failure {
	if in == nil {
		return nil
	}
	if err := r.LoginHosts.Check(in.Request.LoginURL); err != nil {
		return failure.New(failure.Terminal, sfv1.ReasonInvalidSpec, "%s", err.Error())
	}
	return nil
}

// getTokenSecret finds the token Secret. The cache holds it only without
// owned.LabelUncached (written before the label, or somebody took it off; the next write
// puts it back), or as the record of a cluster connection. Otherwise the Secret versions
// say whether it exists and at which version; it is rebuilt from memory at a version the
// process knows, and read from the API server at any other: once per connection after a
// restart, and after each edit by somebody else.
func (r *Reconciler) getTokenSecret(ctx context.Context, conn *sfv1.SalesforceConnection) (*corev1.Secret, secretState, error) {
	key := types.NamespacedName{Namespace: conn.Namespace, Name: tokensecret.Name(conn)}
	s := &corev1.Secret{}
	err := r.Client.Get(ctx, key, s)
	switch {
	case !apierrors.IsNotFound(err):
	case r.SecretVersions == nil:
		err = r.APIReader.Get(ctx, key, s)
	default:
		// A Secret missing from the versions was written by this process a moment ago
		// or does not exist; the token the process remembers covers the first.
		rv, state := r.SecretVersions.Version(key)
		if state == secretversions.Missing {
			break
		}
		if state == secretversions.Present {
			if recalled := r.recallTokenSecret(conn, rv); recalled != nil {
				s, err = recalled, nil
				break
			}
		}
		err = r.APIReader.Get(ctx, key, s)
		if state == secretversions.Unknown {
			r.observeSecret(key, s, err)
		}
	}
	switch {
	case apierrors.IsNotFound(err):
		return nil, secretMissing, nil
	case err != nil:
		return nil, secretMissing, fmt.Errorf("reading token Secret: %w", err)
	case !owned.IsControlledBy(s, conn.UID):
		state, err := r.classifyOwnerless(ctx, conn, s)
		return s, state, err
	}
	return s, secretOurs, nil
}

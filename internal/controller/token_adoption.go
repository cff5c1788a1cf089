package controller

// Token Secrets without an owner reference (spec.tokenSecret.deletionPolicy Orphan): which
// of them a connection may write, and which it may adopt. The rule they keep is the one of
// owned Secrets: the operator writes a Secret only when it is the connection's, never a
// Secret a person made. An ownerless Secret is the connection's when the operator wrote it
// for this connection (the written-for annotation holds its UID, like an owner reference
// would), or when the operator sealed it for the same inputs: a Secret left by a deleted
// connection with the same login URL, flow, client, user and credentials. The seal and
// the inputs hash make a copied or crafted Secret worthless: without the operator's key
// nobody makes a seal hold, and a sealed Secret of other inputs never lends its token.

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/failure"
	"github.com/sfconn/sfconn-operator/internal/owned"
	"github.com/sfconn/sfconn-operator/internal/tokensecret"
)

// ownerless is what an ownerless token Secret is to a connection.
type ownerless struct {
	// controlled: another object controls the Secret.
	controlled bool
	// sealed: the Secret's seal holds under the operator's key.
	sealed bool
	// writtenFor is the UID the Secret says it was written for; uid the connection's.
	writtenFor, uid string
	// heldByOther: the connection the Secret names is another live connection.
	heldByOther bool
	// device: the connection logs in by deviceLogin, whose deletion revoked the token of
	// any Secret it left.
	device bool
}

// ownerlessState decides whether an ownerless Secret is the connection's (secretOurs),
// may be adopted once its inputs hash is checked (secretUnclaimed), or is not the
// connection's (secretForeign).
func ownerlessState(o ownerless) secretState {
	switch {
	case o.controlled:
		return secretForeign
	case o.writtenFor != "" && o.writtenFor == o.uid:
		return secretOurs
	case !o.sealed, o.heldByOther, o.device:
		return secretForeign
	}
	return secretUnclaimed
}

// classifyOwnerless reads what ownerlessState needs of a Secret the connection does not
// control.
func (r *Reconciler) classifyOwnerless(ctx context.Context, conn *sfv1.SalesforceConnection, s *corev1.Secret) (secretState, error) {
	_, integrity := tokensecret.Read(s, r.sealKey)
	o := ownerless{controlled: owned.HasController(s), sealed: integrity == tokensecret.Sealed,
		writtenFor: tokensecret.WrittenFor(s), uid: string(conn.UID), device: conn.Spec.Auth.DeviceLogin != nil}
	if holder := owned.ConnectionName(s); !o.controlled && holder != "" && holder != conn.Name {
		// Two live connections naming one Secret would take it from each other in turn.
		var other sfv1.SalesforceConnection
		err := r.Client.Get(ctx, types.NamespacedName{Namespace: conn.Namespace, Name: holder}, &other)
		switch {
		case err == nil:
			o.heldByOther = true
		case !apierrors.IsNotFound(err):
			return secretForeign, fmt.Errorf("reading connection %s: %w", holder, err)
		}
	}
	return ownerlessState(o), nil
}

// resolveAdoption settles an ownerless sealed Secret once the credentials were read: it is
// adopted when its token is intact and was obtained with this pass's inputs, else it is
// not the connection's.
func resolveAdoption(p *pass, f *facts) {
	if f.secret != secretUnclaimed {
		return
	}
	if f.intact && f.stored != nil && f.inputs != nil && !f.inputs.Unread && f.stored.InputsHash == f.inputs.Hash {
		f.secret, f.adoptable, p.adoptHash = secretOurs, true, f.inputs.Hash
		return
	}
	f.secret, f.stored, f.intact = secretForeign, nil, false
	f.notAdoptable = true
}

// claims says whether the connection may write an ownerless Secret: checked again at the
// write, against the Secret as it is then.
func (r *Reconciler) claims(p *pass, s *corev1.Secret) bool {
	if w := tokensecret.WrittenFor(s); w != "" && w == string(p.conn.UID) {
		return true
	}
	if p.adoptHash == "" {
		return false
	}
	tok, integrity := tokensecret.Read(s, r.sealKey)
	return tok != nil && integrity == tokensecret.Sealed && tok.InputsHash == p.adoptHash
}

// ownerDrifted says whether the Secret's owner reference is not what the deletion policy
// wants: present under Orphan, absent under Delete.
func ownerDrifted(conn *sfv1.SalesforceConnection, s *corev1.Secret) bool {
	return tokensecret.Orphaned(conn) == owned.IsControlledBy(s, conn.UID)
}

// notAdoptable is the failure of a connection whose token Secret name is taken by an
// ownerless Secret it may not adopt.
func notAdoptable() *failure.Failure {
	return failure.New(failure.Terminal, sfv1.ReasonInvalidSpec,
		"the token Secret exists and is not controlled by this SalesforceConnection; the operator will not overwrite it: delete it or choose another spec.tokenSecret.name. "+
			"It has no owner: the operator adopts such a Secret only when it wrote it itself for the same login URL, flow, client, user and credentials, no other live connection names it, and the flow is not deviceLogin")
}

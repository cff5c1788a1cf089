package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/owned"
	"github.com/sfconn/sfconn-operator/internal/tokensecret"
)

// deliveryRetry is how soon a write the API server refused in a target namespace is
// tried again; the other problems (a foreign Secret, a missing namespace) wait for the
// change that removes them, which the watches bring.
const deliveryRetry = time.Minute

// maxFailureText bounds what the status says of one refused write.
const maxFailureText = 200

// deliver writes a cluster connection's current token to the token Secret of each target
// namespace, without a login: the token step keeps the one token, in the record Secret of
// the cluster resource namespace. A Secret drifted from it is written again, one missing
// is created, and the Secrets of namespaces that left the target set are deleted. It owns
// status.tokenSecretNamespaces and what Ready's message says of the namespaces the token
// did not reach; a namespace it cannot write fails only itself.
func (r *Reconciler) deliver(ctx context.Context, p *pass) (time.Time, error) {
	if p.cluster == nil {
		return time.Time{}, nil
	}
	var namespaces corev1.NamespaceList
	if err := r.Client.List(ctx, &namespaces); err != nil {
		return time.Time{}, fmt.Errorf("listing namespaces: %w", err)
	}
	name := clusterTokenSecretName(p.cluster)
	d := &delivery{targets: targetNamespaces(&p.cluster.Spec.TokenSecret, namespaces.Items)}
	p.delivery = d
	var next time.Time
	if p.token != nil {
		for _, ns := range d.names {
			err := r.writeTarget(ctx, p, ns, name)
			var foreign *owned.ForeignError
			switch {
			case errors.As(err, &foreign):
				d.foreign = append(d.foreign, ns)
			case err != nil:
				d.failed = append(d.failed, fmt.Sprintf("%s (%s)", ns, truncate(err.Error(), maxFailureText)))
				next = p.now.Add(deliveryRetry)
			default:
				d.delivered++
			}
		}
	}
	if err := r.withdraw(ctx, p, d.names, name); err != nil {
		return time.Time{}, err
	}
	return next, nil
}

// clusterTokenSecretName is the name of the token Secret in the target namespaces.
func clusterTokenSecretName(c *sfv1.ClusterSalesforceConnection) string {
	if c.Spec.TokenSecret.Name != "" {
		return c.Spec.TokenSecret.Name
	}
	return owned.DerivedName(c.Name, tokensecret.NameSuffix)
}

// writeTarget makes the token Secret of namespace ns hold the pass's token: the Secret a
// SalesforceConnection of the same spec in ns would have, controlled by the cluster
// connection.
func (r *Reconciler) writeTarget(ctx context.Context, p *pass, ns, name string) error {
	if ns == p.conn.Namespace && name == tokensecret.Name(p.conn) {
		// The record of the token is the view's own token Secret, written by the token step.
		return &owned.ForeignError{Kind: "Secret", Name: name}
	}
	target := p.conn.DeepCopy()
	target.Namespace = ns
	target.Spec.TokenSecret.Name = name
	target.Spec.TokenSecret.DeletionPolicy = p.cluster.Spec.TokenSecret.DeletionPolicy
	desired, _ := tokensecret.Desired(target, p.token, r.sealKey)
	s := &corev1.Secret{}
	s.Namespace, s.Name = ns, name
	// With deletionPolicy Orphan the Secret has no owner reference: the sealed written-for
	// annotation says it is this cluster connection's. Nobody else's is ever adopted.
	opts := owned.Options{Orphan: tokensecret.Orphaned(target), Claim: func(o client.Object) bool {
		return writtenForCluster(o.(*corev1.Secret), p.cluster.UID)
	}}
	return owned.EnsureWith(ctx, r.clients(), target, s, opts, func() error {
		applyDesired(s, desired)
		return nil
	})
}

// writtenForCluster says whether the operator wrote the ownerless Secret s for the cluster
// connection of this UID (deletionPolicy Orphan). The written-for annotation stands for
// the owner reference, as for a namespaced connection's Secret (claims): the seal is not
// asked, since an edited Secret must still be repaired, and a Secret another object
// controls is never the cluster connection's.
func writtenForCluster(s *corev1.Secret, uid types.UID) bool {
	return !owned.HasController(s) && tokensecret.WrittenFor(s) == string(uid)
}

// withdraw deletes the token Secrets the cluster connection controls outside its target
// namespaces (a namespace that left the set, or an old spec.tokenSecret.name). Its own
// Secrets in the cluster resource namespace (the record, a rotated refresh token, a
// generated key) stay. Only a Secret it controls, or wrote under deletionPolicy Orphan, is
// ever deleted, and only that very one (the UID precondition), never one somebody made in
// its place meanwhile. deletionPolicy Orphan keeps the Secrets when the cluster connection
// is deleted, not when a namespace leaves its target set.
func (r *Reconciler) withdraw(ctx context.Context, p *pass, targets []string, name string) error {
	var list corev1.SecretList
	if err := r.Client.List(ctx, &list, client.MatchingLabels{
		owned.LabelManagedBy: owned.ManagedByValue, owned.LabelConnection: owned.LabelValue(p.cluster.Name)}); err != nil {
		return fmt.Errorf("listing token Secrets: %w", err)
	}
	wanted := map[string]bool{}
	for _, ns := range targets {
		wanted[ns] = true
	}
	for i := range list.Items {
		s := &list.Items[i]
		ours := owned.IsControlledBy(s, p.cluster.UID) || writtenForCluster(s, p.cluster.UID)
		if !ours || (s.Name == name && wanted[s.Namespace]) {
			continue
		}
		if s.Namespace == p.conn.Namespace && (s.Name != name || s.Name == tokensecret.Name(p.conn)) {
			continue
		}
		uid := s.UID
		if err := r.Client.Delete(ctx, s, client.Preconditions{UID: &uid}); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("deleting Secret %s/%s: %w", s.Namespace, s.Name, err)
		}
		p.log.Info("Deleted the token Secret of a namespace that left the targets", "secret", client.ObjectKeyFromObject(s))
	}
	return nil
}

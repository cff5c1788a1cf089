package kubectlplugin

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sfconn/sfconn-operator/internal/owned"
	"github.com/sfconn/sfconn-operator/internal/tokensecret"
)

// tokenSource says which Secret test reads the token from. A SalesforceConnection has one,
// in its namespace. A ClusterSalesforceConnection has its record in the cluster resource
// namespace, which only the platform team reads, and a copy in each target namespace,
// which the teams there read: the person running test chooses, with --target-namespace,
// rather than the plugin guessing from what happens to be readable.
type tokenSource struct {
	// home is the cluster resource namespace.
	home string
	// targetNamespace is the target namespace to read a cluster connection's token in;
	// empty for its record.
	targetNamespace string
}

// read returns the Secret that holds t's token, and how the output names it.
func (s tokenSource) read(ctx context.Context, c client.Client, t *target) (*corev1.Secret, string, error) {
	var secret corev1.Secret
	switch {
	case !t.ref.cluster:
		key := types.NamespacedName{Namespace: t.ref.namespace, Name: t.conn.Status.TokenSecretName}
		if err := c.Get(ctx, key, &secret); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, "", fmt.Errorf("the token Secret %s of %s does not exist", key, t.ref.name)
			}
			return nil, "", fmt.Errorf("reading the token Secret %s: %w", key, err)
		}
		return &secret, "token Secret " + key.Name, nil

	case s.targetNamespace == "":
		// The record: the view's own token Secret, named as the operator names it.
		key := types.NamespacedName{Namespace: s.home, Name: tokensecret.Name(t.conn)}
		err := c.Get(ctx, key, &secret)
		switch {
		case apierrors.IsForbidden(err):
			return nil, "", fmt.Errorf("%w; to test the token a target namespace holds, add --target-namespace NAMESPACE",
				forbiddenInHome("the record Secret of "+t.ref.String(), key.Namespace, key.Name, err))
		case apierrors.IsNotFound(err):
			return nil, "", notFoundInHome("the record Secret of "+t.ref.String(), key.Namespace, key.Name)
		case err != nil:
			return nil, "", fmt.Errorf("reading the record Secret %s: %w", key, err)
		}
		return &secret, "record Secret " + key.String(), nil

	default:
		key := types.NamespacedName{Namespace: s.targetNamespace, Name: t.conn.Status.TokenSecretName}
		err := c.Get(ctx, key, &secret)
		switch {
		case apierrors.IsForbidden(err):
			return nil, "", fmt.Errorf("you may not read the token Secret %s: %w", key, err)
		case apierrors.IsNotFound(err):
			return nil, "", fmt.Errorf("%s has not delivered its token to namespace %s (no Secret %s there; %d namespaces hold it): "+
				"is %s one of its target namespaces? See kubectl get csfconn %s -o yaml",
				t.ref, key.Namespace, key.Name, t.cluster.Status.TokenSecretNamespaces, key.Namespace, t.ref.name)
		case err != nil:
			return nil, "", fmt.Errorf("reading the token Secret %s: %w", key, err)
		}
		// The name is shared with whatever else lives in the namespace: a Secret of that name
		// the cluster connection did not write holds somebody else's token, or none.
		if !owned.IsControlledBy(&secret, t.cluster.UID) && !writtenFor(&secret, t.cluster.UID) {
			return nil, "", fmt.Errorf("the Secret %s was not written for %s: it belongs to somebody else, and the operator "+
				"leaves it alone (Ready's message of %s names such namespaces)", key, t.ref, t.ref)
		}
		return &secret, "token Secret " + key.String(), nil
	}
}

// writtenFor says whether the operator wrote the ownerless Secret s (deletionPolicy Orphan)
// for the connection of this UID.
func writtenFor(s *corev1.Secret, uid types.UID) bool {
	return !owned.HasController(s) && uid != "" && tokensecret.WrittenFor(s) == string(uid)
}

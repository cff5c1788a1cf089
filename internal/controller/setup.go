package controller

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

// credentialsSecretIndex indexes connections by the credentials Secret they read.
const credentialsSecretIndex = "spec.auth.credentialsSecretRef.name"

// SetupWithManager registers the reconciler. credentialsCache is a cache holding only the
// metadata of Secrets (see NewCredentialsCache): a change to a credentials Secret wakes the
// connections that use it, without the operator caching the data of every Secret.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, credentialsCache cache.Cache, opts controller.Options) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &sfv1.SalesforceConnection{}, credentialsSecretIndex,
		func(o client.Object) []string {
			if name := credentialsSecretName(&o.(*sfv1.SalesforceConnection).Spec); name != "" {
				return []string{name}
			}
			return nil
		}); err != nil {
		return err
	}

	secretMeta := &metav1.PartialObjectMetadata{}
	secretMeta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))

	return ctrl.NewControllerManagedBy(mgr).
		Named("salesforceconnection").
		// Status patches are the reconciler's own writes; only spec and annotation changes
		// are news.
		For(&sfv1.SalesforceConnection{}, builder.WithPredicates(
			predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		// The token Secrets (the manager's cache holds only those the operator labels):
		// an edit or a deletion is repaired at once.
		Owns(&corev1.Secret{}).
		WatchesRawSource(source.Kind(credentialsCache, client.Object(secretMeta),
			handler.EnqueueRequestsFromMapFunc(r.connectionsUsingSecret))).
		WithOptions(opts).
		Complete(r)
}

// connectionsUsingSecret maps a Secret to the connections that name it as credentials.
func (r *Reconciler) connectionsUsingSecret(ctx context.Context, o client.Object) []reconcile.Request {
	var list sfv1.SalesforceConnectionList
	if err := r.Client.List(ctx, &list, client.InNamespace(o.GetNamespace()),
		client.MatchingFields{credentialsSecretIndex: o.GetName()}); err != nil {
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for _, c := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: c.Namespace, Name: c.Name}})
	}
	return reqs
}

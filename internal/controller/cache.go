package controller

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ManagedSecretsSelector selects the Secrets the operator writes.
func ManagedSecretsSelector() labels.Selector {
	req, err := labels.NewRequirement(LabelManagedBy, selection.Equals, []string{ManagedByValue})
	if err != nil {
		panic(err)
	}
	return labels.NewSelector().Add(*req)
}

// CacheOptions are the manager's cache options: of all Secrets, only those the operator
// manages are cached. A cluster may hold tens of thousands of Secrets (Helm releases,
// service account tokens); caching them all is what made other operators need gigabytes.
func CacheOptions(base cache.Options) cache.Options {
	if base.ByObject == nil {
		base.ByObject = map[client.Object]cache.ByObject{}
	}
	base.ByObject[&corev1.Secret{}] = cache.ByObject{Label: ManagedSecretsSelector()}
	base.DefaultTransform = cache.TransformStripManagedFields()
	return base
}

// newSecretMetadata is an empty Secret as the metadata-only cache holds it.
func newSecretMetadata() *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	return m
}

// NewCredentialsCache returns a cache of Secret metadata only, stripped down to the name,
// namespace, UID and resourceVersion: enough to notice that a credentials Secret changed,
// a few hundred bytes per Secret and no secret data in the operator's memory. The caller
// adds it to the manager, which starts it.
func NewCredentialsCache(cfg *rest.Config, mgr ctrl.Manager, namespaces map[string]cache.Config) (cache.Cache, error) {
	return cache.New(cfg, cache.Options{
		HTTPClient:        mgr.GetHTTPClient(),
		Scheme:            mgr.GetScheme(),
		Mapper:            mgr.GetRESTMapper(),
		DefaultNamespaces: namespaces,
		DefaultTransform: func(in any) (any, error) {
			if m, ok := in.(*metav1.PartialObjectMetadata); ok {
				m.ObjectMeta = metav1.ObjectMeta{
					Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion,
				}
			}
			return in, nil
		},
	})
}

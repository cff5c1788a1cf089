package controller

import (
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sfconn/sfconn-operator/internal/owned"
)

// CacheOptions are the manager's cache options: of all Secrets, only those the operator
// manages are cached. A cluster may hold tens of thousands of Secrets (Helm releases,
// service account tokens); caching them all is what made other operators need gigabytes.
func CacheOptions(base cache.Options) cache.Options {
	if base.ByObject == nil {
		base.ByObject = map[client.Object]cache.ByObject{}
	}
	base.ByObject[&corev1.Secret{}] = cache.ByObject{Label: owned.Selector()}
	// ConfigMaps: only the certificates the operator publishes for generated JWT keys.
	base.ByObject[&corev1.ConfigMap{}] = cache.ByObject{Label: owned.Selector()}
	base.DefaultTransform = cache.TransformStripManagedFields()
	return base
}

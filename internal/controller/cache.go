package controller

import (
	"unique"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/owned"
)

// CacheOptions are the manager's cache options: of all Secrets, only those the operator
// manages are cached, and of those not the token Secrets of namespaced connections
// (owned.LabelUncached). A cluster may hold tens of thousands of Secrets (Helm releases,
// service account tokens); caching them all is what made other operators need gigabytes.
func CacheOptions(base cache.Options) cache.Options {
	if base.ByObject == nil {
		base.ByObject = map[client.Object]cache.ByObject{}
	}
	base.ByObject[&corev1.Secret{}] = cache.ByObject{Label: owned.Selector()}
	// ConfigMaps: only the certificates the operator publishes for generated JWT keys.
	base.ByObject[&corev1.ConfigMap{}] = cache.ByObject{Label: owned.Selector()}
	strip := cache.TransformStripManagedFields()
	base.DefaultTransform = func(in any) (any, error) {
		out, err := strip(in)
		if err == nil {
			slim(out)
		}
		return out, err
	}
	return base
}

// lastApplied is the annotation kubectl apply keeps a whole copy of the object in.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// slim makes a cached object cheaper to keep, keeping what the operator reads. Every
// decoded object has strings of its own for the keys of its labels, annotations
// and data, which are the same few in every token Secret and connection: they are
// interned (unique keeps one copy while any object holds it, so hostile keys cannot grow
// it beyond what the cache holds anyway). A connection's copy of its last applied spec is
// dropped: the operator never reads it, and never writes a connection but by patches of
// what it changed (its finalizer, its status).
func slim(o any) {
	obj, ok := o.(metav1.Object)
	if !ok {
		return
	}
	// What is left out first, so that nothing is interned for it.
	switch c := o.(type) {
	case *sfv1.SalesforceConnection:
		delete(c.Annotations, lastApplied)
	case *sfv1.ClusterSalesforceConnection:
		delete(c.Annotations, lastApplied)
	}
	obj.SetNamespace(intern(obj.GetNamespace()))
	obj.SetLabels(internMap(obj.GetLabels(), true))
	obj.SetAnnotations(internMap(obj.GetAnnotations(), false))
	refs := obj.GetOwnerReferences()
	for i := range refs {
		refs[i].APIVersion, refs[i].Kind = intern(refs[i].APIVersion), intern(refs[i].Kind)
	}
	switch c := o.(type) {
	case *corev1.Secret:
		c.Type = corev1.SecretType(intern(string(c.Type)))
		c.Data = internKeys(c.Data)
	case *sfv1.SalesforceConnection:
		internConnection(&c.ObjectMeta, &c.Spec, &c.Status)
	case *sfv1.ClusterSalesforceConnection:
		internConnection(&c.ObjectMeta, &c.Spec, &c.Status.SalesforceConnectionStatus)
	}
}

// internConnection interns what the connections of one connected app, org and user
// share: login and instance URLs, client, org and user IDs, the finalizer, and the type, status
// and reason of conditions. What is each connection's own (names, messages, times) is not:
// interning a string nobody shares costs more than it saves.
func internConnection(meta *metav1.ObjectMeta, spec *sfv1.SalesforceConnectionSpec, st *sfv1.SalesforceConnectionStatus) {
	for i := range meta.Finalizers {
		meta.Finalizers[i] = intern(meta.Finalizers[i])
	}
	spec.LoginURL, spec.ConnectedAppName = intern(spec.LoginURL), intern(spec.ConnectedAppName)
	switch a := &spec.Auth; {
	case a.ClientCredentials != nil:
		a.ClientCredentials.ClientID = intern(a.ClientCredentials.ClientID)
	case a.JWTBearer != nil:
		a.JWTBearer.ClientID, a.JWTBearer.Audience = intern(a.JWTBearer.ClientID), intern(a.JWTBearer.Audience)
	case a.Password != nil:
		a.Password.ClientID = intern(a.Password.ClientID)
	case a.RefreshToken != nil:
		a.RefreshToken.ClientID = intern(a.RefreshToken.ClientID)
	case a.DeviceLogin != nil:
		a.DeviceLogin.ClientID = intern(a.DeviceLogin.ClientID)
	}
	st.InstanceURL, st.OrgID, st.UserID = intern(st.InstanceURL), intern(st.OrgID), intern(st.UserID)
	st.ExpirySource = sfv1.ExpirySource(intern(string(st.ExpirySource)))
	if pr := st.Principal; pr != nil {
		pr.OrgID, pr.ClientID, pr.UserID, pr.Username = intern(pr.OrgID), intern(pr.ClientID), intern(pr.UserID), intern(pr.Username)
	}
	internConditions(st.Conditions)
}

func intern(s string) string {
	if s == "" {
		return s
	}
	return unique.Make(s).Value()
}

// internMap returns m with its keys interned, and with values its values; nil when m is
// empty (a slim token Secret's labels, for one).
func internMap(m map[string]string, values bool) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if values {
			v = intern(v)
		}
		out[intern(k)] = v
	}
	return out
}

func internKeys[V any](m map[string]V) map[string]V {
	if m == nil {
		return nil
	}
	out := make(map[string]V, len(m))
	for k, v := range m {
		out[intern(k)] = v
	}
	return out
}

// internConditions interns what conditions of every connection share: type, status and
// reason.
func internConditions(conds []metav1.Condition) {
	for i := range conds {
		c := &conds[i]
		c.Type, c.Reason = intern(c.Type), intern(c.Reason)
		c.Status = metav1.ConditionStatus(intern(string(c.Status)))
	}
}

package controller

import (
	"context"
	"maps"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/authflow"
	"github.com/sfconn/sfconn-operator/internal/owned"
	"github.com/sfconn/sfconn-operator/internal/secretversions"
	"github.com/sfconn/sfconn-operator/internal/tokensecret"
)

// DefaultClusterResourceNamespace is the cluster resource namespace of an operator that
// runs outside a Pod and is given none.
const DefaultClusterResourceNamespace = "sfconn-system"

// targetSecretIndex indexes cluster connections by the name of their token Secret in the
// target namespaces: somebody else's Secret of that name going away wakes them.
const targetSecretIndex = "spec.tokenSecret.name"

// Least privilege, in a role of its own (cluster-connection-role, granted only with the
// cluster-wide manager-role, never with --watch-namespaces), besides the rights of the
// namespaced connections:
// - clustersalesforceconnections: as salesforceconnections.
// - namespaces: read through the cache (get, list, watch): the target set follows their
//   labels, and a namespace created receives its token at once.
// - secrets: delete, the token Secret of a namespace that left the target set; only one
//   the cluster connection controls, by UID.
// +kubebuilder:rbac:groups=salesforce.sfconn.io,resources=clustersalesforceconnections,verbs=get;list;watch;patch,roleName=cluster-connection-role
// +kubebuilder:rbac:groups=salesforce.sfconn.io,resources=clustersalesforceconnections/status,verbs=patch,roleName=cluster-connection-role
// +kubebuilder:rbac:groups=salesforce.sfconn.io,resources=clustersalesforceconnections/finalizers,verbs=update,roleName=cluster-connection-role
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch,roleName=cluster-connection-role
// +kubebuilder:rbac:groups="",resources=secrets,verbs=delete,roleName=cluster-connection-role

// clusterReconciler runs the Reconciler's pass over ClusterSalesforceConnections. It
// shares the Reconciler's memory, login budgets and pacing, so a cluster connection and
// the namespaced connections of the same user count against the same limits.
type clusterReconciler struct {
	*Reconciler
}

// clusterNamespace is the cluster resource namespace.
func (r *Reconciler) clusterNamespace() string {
	if r.ClusterResourceNamespace == "" {
		return DefaultClusterResourceNamespace
	}
	return r.ClusterResourceNamespace
}

// Reconcile runs the steps over the view of a cluster connection as a SalesforceConnection
// of the cluster resource namespace (sfv1.ClusterSalesforceConnection.AsConnection): one
// login, its record in that namespace, and the delivery step writing the token to the
// target namespaces. Status is patched once, onto the cluster object.
func (c clusterReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, err error) {
	r := c.Reconciler
	r.once.Do(r.init)
	cl := &sfv1.ClusterSalesforceConnection{}
	if err := r.Client.Get(ctx, req.NamespacedName, cl); err != nil {
		if client.IgnoreNotFound(err) == nil {
			r.forget(types.NamespacedName{Name: req.Name})
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	conn := cl.AsConnection(r.clusterNamespace())
	if !cl.DeletionTimestamp.IsZero() {
		return r.finalize(ctx, conn, cl)
	}
	if r.mem.behind(keyOf(conn), cl.ResourceVersion) {
		return ctrl.Result{RequeueAfter: staleRetry}, nil
	}
	p := r.newPass(ctx, conn)
	p.cluster = cl
	p.log = logf.FromContext(ctx).WithValues("clusterConnection", klog.KObj(cl))
	defer func() { result, err = r.summarize(ctx, p, err) }()
	return r.runSteps(ctx, p)
}

// setupCluster registers the controller of ClusterSalesforceConnections.
func (r *Reconciler) setupCluster(mgr ctrl.Manager, secrets *secretversions.Versions, opts controller.Options) error {
	if err := r.followVersions(mgr.GetCache(), &sfv1.ClusterSalesforceConnection{}); err != nil {
		return err
	}
	indexer := mgr.GetFieldIndexer()
	ctx := context.Background()
	view := func(o client.Object) *sfv1.SalesforceConnection {
		return o.(*sfv1.ClusterSalesforceConnection).AsConnection(r.clusterNamespace())
	}
	if err := indexer.IndexField(ctx, &sfv1.ClusterSalesforceConnection{}, secretNamesIndex,
		func(o client.Object) []string { return secretNames(view(o)) }); err != nil {
		return err
	}
	if err := indexer.IndexField(ctx, &sfv1.ClusterSalesforceConnection{}, approvalsIndexName,
		func(o client.Object) []string { return principalKeys(view(o)) }); err != nil {
		return err
	}
	if err := indexer.IndexField(ctx, &sfv1.ClusterSalesforceConnection{}, targetSecretIndex,
		func(o client.Object) []string {
			return []string{clusterTokenSecretName(o.(*sfv1.ClusterSalesforceConnection))}
		}); err != nil {
		return err
	}
	b := ctrl.NewControllerManagedBy(mgr).
		Named("clustersalesforceconnection").
		For(&sfv1.ClusterSalesforceConnection{}, connectionChanged).
		// The record, and the token Secrets of the target namespaces: an edit or a
		// deletion is repaired at once, from the record, without a login.
		// The operator's own writes come back too, and wake nobody (ownWrites).
		Owns(&corev1.Secret{}, r.echoes.notEcho()).
		// The token Secrets of deletionPolicy Orphan (see orphanTokenSecrets).
		Watches(&corev1.Secret{}, orphanTokenSecrets(r.clusterConnectionsNamingSecret), orphanTokenSecret, r.echoes.notEcho()).
		Owns(&corev1.ConfigMap{}, r.echoes.notEcho()).
		// A namespace created, deleted or relabelled may join or leave a target set.
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.allClusterConnections),
			builder.WithPredicates(namespaceTargetingChanged{})).
		// Peers of a principal, namespaced or cluster: the approvals they report change.
		Watches(&sfv1.SalesforceConnection{}, handler.EnqueueRequestsFromMapFunc(r.clusterPeersOf),
			builder.WithPredicates(approvalsChanged{})).
		Watches(&sfv1.ClusterSalesforceConnection{}, handler.EnqueueRequestsFromMapFunc(r.clusterPeersOf),
			builder.WithPredicates(approvalsChanged{})).
		WatchesRawSource(secrets.Source(r.echoes.secretsNotEchoed(secrets, r.clusterConnectionsNamingSecret))).
		WithOptions(opts)
	if r.Planner != nil {
		// The renewal plan wakes the cluster connections when their renewal starts.
		b = b.WatchesRawSource(r.Planner.ClusterWakeSource())
	}
	return b.Complete(clusterReconciler{r})
}

// orphanTokenSecrets maps the token Secrets of deletionPolicy Orphan, which have no owner
// reference to map them by, to the connections that name them. The Secret versions wake
// those connections too, but may run ahead of the cache: the pass they start can read the
// Secret as it was, and only an event from the cache says when the cache has caught up.
func orphanTokenSecrets(naming func(context.Context, types.NamespacedName) []reconcile.Request) handler.EventHandler {
	return handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		return naming(ctx, client.ObjectKeyFromObject(o))
	})
}

// orphanTokenSecret passes the Secrets the operator wrote without an owner reference.
var orphanTokenSecret = builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
	return !owned.HasController(o) && o.GetAnnotations()[tokensecret.AnnotationWrittenFor] != ""
}))

// allClusterConnections wakes every cluster connection: they are few, and which target
// sets a namespace enters or leaves takes each one's selector to tell.
func (r *Reconciler) allClusterConnections(ctx context.Context, _ client.Object) []reconcile.Request {
	var list sfv1.ClusterSalesforceConnectionList
	if err := r.Client.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		logf.FromContext(ctx).Error(err, "Listing cluster connections")
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for _, c := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Name: c.Name}})
	}
	return reqs
}

// clusterPeersOf maps a connection, namespaced or cluster, to the cluster connections of
// its principal.
func (r *Reconciler) clusterPeersOf(ctx context.Context, o client.Object) []reconcile.Request {
	var self types.NamespacedName
	var keys []string
	switch c := o.(type) {
	case *sfv1.SalesforceConnection:
		keys = principalKeys(c)
	case *sfv1.ClusterSalesforceConnection:
		v := c.AsConnection(r.clusterNamespace())
		self, keys = keyOf(v), principalKeys(v)
	}
	var queries []indexQuery
	for _, k := range keys {
		queries = append(queries, indexQuery{index: approvalsIndexName, key: k})
	}
	return r.clusterConnectionsMatching(ctx, self, queries...)
}

// clusterConnectionsNamingSecret maps a Secret to the cluster connections that name it:
// in the cluster resource namespace as credentials or as one of their own Secrets, and
// in any namespace as the name of their token Secrets.
func (r *Reconciler) clusterConnectionsNamingSecret(ctx context.Context, secret types.NamespacedName) []reconcile.Request {
	queries := []indexQuery{{index: targetSecretIndex, key: secret.Name}}
	if secret.Namespace == r.clusterNamespace() {
		queries = append(queries, indexQuery{index: secretNamesIndex, key: secret.Name})
	}
	return r.clusterConnectionsMatching(ctx, types.NamespacedName{}, queries...)
}

// clusterConnectionsMatching lists, once each, the cluster connections found by any of
// the queries, leaving out skip.
func (r *Reconciler) clusterConnectionsMatching(ctx context.Context, skip types.NamespacedName, queries ...indexQuery) []reconcile.Request {
	return r.matching(ctx, func() client.ObjectList { return &sfv1.ClusterSalesforceConnectionList{} }, skip, queries...)
}

// namespaceTargetingChanged passes the namespace events that may change a target set:
// creations, deletions (begun or done) and label changes.
type namespaceTargetingChanged struct {
	predicate.Funcs
}

func (namespaceTargetingChanged) Update(e event.UpdateEvent) bool {
	return !maps.Equal(e.ObjectOld.GetLabels(), e.ObjectNew.GetLabels()) ||
		e.ObjectOld.GetDeletionTimestamp().IsZero() != e.ObjectNew.GetDeletionTimestamp().IsZero()
}

func (namespaceTargetingChanged) Generic(event.GenericEvent) bool { return false }

// secretNames are the Secrets a connection names in its own namespace: the credentials
// Secret it reads, and those it writes.
func secretNames(conn *sfv1.SalesforceConnection) []string {
	var names []string
	if flow, _ := authflow.For(conn); flow != nil && flow.CredentialsSecret() != "" {
		names = append(names, flow.CredentialsSecret())
	}
	names = append(names, tokensecret.Name(conn))
	if jwt := conn.Spec.Auth.JWTBearer; jwt != nil && jwt.GenerateKey {
		names = append(names, authflow.KeySecretName(conn))
	}
	return names
}

package controller

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/approvals"
	"github.com/sfconn/sfconn-operator/internal/authflow"
	"github.com/sfconn/sfconn-operator/internal/secretversions"
	"github.com/sfconn/sfconn-operator/internal/tokensecret"
)

// secretNamesIndex indexes cluster connections by the Secrets they name: the credentials
// Secret they read, and the Secrets they write (the token Secret, a generated key's
// Secret), whose names may be taken by somebody else's Secret until it goes. A Secret is
// always looked up in its own namespace, so one index serves both.
const secretNamesIndex = "secretNames"

// secretBucketsIndex indexes namespaced connections by the same Secret names, each by its
// bucket (secretBucket) rather than by itself: each value of an index costs a set of its
// own, a few hundred bytes, and most connections name a credentials Secret that no other
// connection names. A lookup takes the connections of the name's bucket in the Secret's
// namespace and keeps those that name it: a few dozen at most, at thousands of
// connections in one namespace. The hash is keyed anew by each process, so that nobody
// can choose names that crowd one bucket and make every lookup in it long.
const secretBucketsIndex = "secretNameBuckets"

// secretBuckets is the number of buckets secretBucket spreads names over, and
// bucketNames their index values.
const secretBuckets = 256

var bucketNames = func() (names [secretBuckets]string) {
	for i := range names {
		names[i] = strconv.Itoa(i)
	}
	return names
}()

// bucketSeed keys secretBucket's hash.
var bucketSeed = maphash.MakeSeed()

// secretBucket is the bucket of a Secret name in secretBucketsIndex.
func secretBucket(name string) string {
	return bucketNames[maphash.String(bucketSeed, name)%secretBuckets]
}

// secretNameBuckets are the values of secretBucketsIndex for conn: the buckets of the
// names indexedSecretNames gives, once each.
func secretNameBuckets(conn *sfv1.SalesforceConnection) []string {
	var buckets []string
	for _, name := range indexedSecretNames(conn) {
		if b := secretBucket(name); !slices.Contains(buckets, b) {
			buckets = append(buckets, b)
		}
	}
	return buckets
}

// SetupWithManager registers the reconciler. secrets follows the versions of every Secret
// (secretversions.New): a change to a credentials Secret wakes the connections that use
// it, without the operator caching every Secret.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, secrets *secretversions.Versions, opts controller.Options) error {
	store, err := indexInNamespace(mgr.GetCache(), &sfv1.SalesforceConnection{}, secretBucketsIndex,
		func(o client.Object) []string { return secretNameBuckets(o.(*sfv1.SalesforceConnection)) })
	if err != nil {
		return err
	}
	r.connections = readerLookup{mgr.GetCache()}
	if store != nil {
		r.connections = storeLookup{store}
	}
	if err := r.followVersions(mgr.GetCache(), &sfv1.SalesforceConnection{}); err != nil {
		return err
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &sfv1.SalesforceConnection{}, approvalsIndexName,
		func(o client.Object) []string { return principalKeys(o.(*sfv1.SalesforceConnection)) }); err != nil {
		return err
	}
	if r.ClusterConnections {
		if err := r.setupCluster(mgr, secrets, opts); err != nil {
			return err
		}
	}
	// The Secret versions keep only the Secrets some connection names, read from the
	// indexes above once the cache has them.
	secrets.FollowOnly(mgr.GetCache().WaitForCacheSync, r.namesSecret)

	b := ctrl.NewControllerManagedBy(mgr).
		Named("salesforceconnection").
		For(&sfv1.SalesforceConnection{}, connectionChanged).
		// The Secrets the operator writes and caches (generated keys, a cluster
		// connection's records; the cache holds only those it labels): an edit or a
		// deletion is repaired at once. The operator's own writes come back too, and
		// wake nobody (ownWrites).
		Owns(&corev1.Secret{}, r.echoes.notEcho()).
		// The token Secrets of deletionPolicy Orphan (see orphanTokenSecrets).
		Watches(&corev1.Secret{}, orphanTokenSecrets(r.connectionsNamingSecret), orphanTokenSecret, r.echoes.notEcho()).
		// The certificate ConfigMaps of generated JWT keys: a deleted one is published again.
		Owns(&corev1.ConfigMap{}, r.echoes.notEcho()).
		// A connection taking or releasing an approval changes what its peers (same user
		// and connected app) must report.
		Watches(&sfv1.SalesforceConnection{}, handler.EnqueueRequestsFromMapFunc(r.peersOf),
			builder.WithPredicates(approvalsChanged{})).
		// Every Secret's version: a change to a credentials Secret, to a token Secret
		// (which the cache does not hold, owned.LabelUncached), or to a Secret that blocks
		// a token Secret's name, wakes the connections that name it.
		WatchesRawSource(secrets.Source(r.echoes.secretsNotEchoed(secrets, r.connectionsNamingSecret))).
		WithOptions(opts)
	if r.ClusterConnections {
		b = b.Watches(&sfv1.ClusterSalesforceConnection{}, handler.EnqueueRequestsFromMapFunc(r.peersOf),
			builder.WithPredicates(approvalsChanged{}))
	}
	// The leader releases the refresh token chains no connection holds any more.
	if err := mgr.Add(manager.RunnableFunc(r.sweepChains)); err != nil {
		return err
	}
	if r.Planner != nil {
		// The renewal plan wakes connections when their renewal starts.
		if err := mgr.Add(r.Planner); err != nil {
			return err
		}
		b = b.WatchesRawSource(r.Planner.WakeSource())
	}
	return b.Complete(r)
}

// approvalsIndexName indexes connections, namespaced and cluster, by principal.
const approvalsIndexName = approvals.Index

// principalKeys are the keys a connection is indexed under by principal. Only connections
// that hold approvals are: a thousand JWT connections of one integration user would
// otherwise make every status change of one list all the others (and wake them), for
// approvals none of them holds.
func principalKeys(conn *sfv1.SalesforceConnection) []string {
	if flow, _ := authflow.For(conn); flow == nil || !flow.HoldsApproval() {
		return nil
	}
	return approvals.Keys(conn)
}

// peersOf maps a connection, namespaced or cluster, to the other namespaced connections
// of its principal.
func (r *Reconciler) peersOf(ctx context.Context, o client.Object) []reconcile.Request {
	conn, ok := o.(*sfv1.SalesforceConnection)
	if c, isCluster := o.(*sfv1.ClusterSalesforceConnection); isCluster {
		conn, ok = c.AsConnection(r.clusterNamespace()), true
	}
	if !ok {
		return nil
	}
	var queries []indexQuery
	for _, key := range principalKeys(conn) {
		queries = append(queries, indexQuery{index: approvalsIndexName, key: key})
	}
	return r.connectionsMatching(ctx, keyOf(conn), queries...)
}

// followVersions tells the memory each change of version of obj's kind in the cache, so
// that the version a status patch replaced is forgotten as soon as the cache moves past it
// (memory.movedPast), not at the connection's next pass, hours later.
func (r *Reconciler) followVersions(c cache.Cache, obj client.Object) error {
	informer, err := c.GetInformer(context.Background(), obj, cache.BlockUntilSynced(false))
	if err != nil {
		return err
	}
	_, err = informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{UpdateFunc: func(o, n any) {
		old, okOld := o.(client.Object)
		obj, okNew := n.(client.Object)
		if okOld && okNew && old.GetResourceVersion() != obj.GetResourceVersion() {
			r.mem.movedPast(client.ObjectKeyFromObject(obj), old.GetResourceVersion())
		}
	}})
	return err
}

// indexQuery is one lookup in a connection index.
type indexQuery struct {
	index, key string
}

// connectionsMatching lists, once each, the connections in all namespaces found by any of
// the queries, leaving out skip.
func (r *Reconciler) connectionsMatching(ctx context.Context, skip types.NamespacedName, queries ...indexQuery) []reconcile.Request {
	return r.matching(ctx, func() client.ObjectList { return &sfv1.SalesforceConnectionList{} }, skip, queries...)
}

// matching lists, once each, the objects in all namespaces of the kind newList lists
// that any of the queries finds, leaving out skip.
func (r *Reconciler) matching(ctx context.Context, newList func() client.ObjectList, skip types.NamespacedName, queries ...indexQuery) []reconcile.Request {
	seen := map[types.NamespacedName]bool{skip: true}
	var reqs []reconcile.Request
	for _, q := range queries {
		list := newList()
		// Only names are read: the cache's objects need no copy.
		if err := r.Client.List(ctx, list, client.MatchingFields{q.index: q.key},
			client.UnsafeDisableDeepCopy); err != nil {
			logf.FromContext(ctx).Error(err, "Listing connections", "kind", fmt.Sprintf("%T", list), "index", q.index)
			continue
		}
		_ = meta.EachListItem(list, func(o runtime.Object) error {
			c := o.(client.Object)
			key := types.NamespacedName{Namespace: c.GetNamespace(), Name: c.GetName()}
			if !seen[key] {
				seen[key] = true
				reqs = append(reqs, reconcile.Request{NamespacedName: key})
			}
			return nil
		})
	}
	return reqs
}

// approvalsChanged passes creations, deletions and updates that change a connection's
// principal or approval: the events that change its peers' counts.
type approvalsChanged struct {
	predicate.Funcs
}

func (approvalsChanged) Update(e event.UpdateEvent) bool {
	oldStatus, newStatus := connectionStatus(e.ObjectOld), connectionStatus(e.ObjectNew)
	if oldStatus == nil || newStatus == nil {
		return false
	}
	return !equality.Semantic.DeepEqual(oldStatus.Principal, newStatus.Principal) ||
		!equality.Semantic.DeepEqual(oldStatus.Approval, newStatus.Approval) ||
		e.ObjectOld.GetDeletionTimestamp().IsZero() != e.ObjectNew.GetDeletionTimestamp().IsZero()
}

// connectionStatus is the status of a connection, namespaced or cluster; nil for any
// other object.
func connectionStatus(o client.Object) *sfv1.SalesforceConnectionStatus {
	switch c := o.(type) {
	case *sfv1.SalesforceConnection:
		return &c.Status
	case *sfv1.ClusterSalesforceConnection:
		return &c.Status.SalesforceConnectionStatus
	}
	return nil
}

func (approvalsChanged) Generic(event.GenericEvent) bool { return false }

// connectionChanged passes the events of a connection, namespaced or cluster, that are
// news to it: spec and annotation changes, and the start of its deletion. Status
// patches are the reconciler's own writes.
var connectionChanged = builder.WithPredicates(
	predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}, deletionStarted{}))

// deletionStarted passes the update that marks a connection for deletion, so the
// finalizer runs at once.
type deletionStarted struct {
	predicate.Funcs
}

func (deletionStarted) Update(e event.UpdateEvent) bool {
	return e.ObjectOld.GetDeletionTimestamp().IsZero() && !e.ObjectNew.GetDeletionTimestamp().IsZero()
}

// namesSecret says whether a connection, namespaced or cluster, names the Secret: the
// Secrets whose changes wake a connection.
func (r *Reconciler) namesSecret(ctx context.Context, secret types.NamespacedName) bool {
	return len(r.connectionsNamingSecret(ctx, secret)) > 0 ||
		(r.ClusterConnections && len(r.clusterConnectionsNamingSecret(ctx, secret)) > 0)
}

// connectionsNamingSecret maps a Secret to the connections that name it, as credentials
// or as one of the Secrets they write.
func (r *Reconciler) connectionsNamingSecret(ctx context.Context, secret types.NamespacedName) []reconcile.Request {
	reqs, err := connectionsNaming(ctx, r.connections, secret)
	if err != nil {
		logf.FromContext(ctx).Error(err, "Looking up connections by Secret name", "secret", secret)
	}
	return reqs
}

// connectionsNaming finds the namespaced connections that name the Secret: those of the
// name's bucket that name it, and the connection whose token Secret has the name by
// default, if there is one.
func connectionsNaming(ctx context.Context, l connectionLookup, secret types.NamespacedName) ([]reconcile.Request, error) {
	var reqs []reconcile.Request
	err := l.eachInBucket(ctx, secret.Namespace, secretBucket(secret.Name), func(c *sfv1.SalesforceConnection) {
		if slices.Contains(indexedSecretNames(c), secret.Name) {
			reqs = append(reqs, reconcile.Request{NamespacedName: keyOf(c)})
		}
	})
	if name, ok := strings.CutSuffix(secret.Name, tokensecret.NameSuffix); ok && name != "" {
		owner, ownerErr := l.get(ctx, types.NamespacedName{Namespace: secret.Namespace, Name: name})
		req := reconcile.Request{NamespacedName: types.NamespacedName{Namespace: secret.Namespace, Name: name}}
		if owner != nil && tokensecret.Name(owner) == secret.Name && !slices.Contains(reqs, req) {
			reqs = append(reqs, req)
		}
		err = errors.Join(err, ownerErr)
	}
	return reqs, err
}

// indexedSecretNames are the names the index of namespaced connections holds the buckets
// of: all the Secrets a connection names but a token Secret of the default name, which the
// name of the connection tells (connectionsNaming); a name cut to fit, which it does
// not, is indexed. Most connections keep the default: one name fewer to index, and to
// compare at each lookup in its bucket.
func indexedSecretNames(conn *sfv1.SalesforceConnection) []string {
	return slices.DeleteFunc(secretNames(conn), func(name string) bool {
		return name == conn.Name+tokensecret.NameSuffix && tokensecret.Name(conn) == name
	})
}

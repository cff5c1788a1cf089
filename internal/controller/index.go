package controller

import (
	"context"
	"slices"

	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

// indexInNamespace indexes the namespaced objects of obj's kind by field, for lists with
// client.InNamespace and client.MatchingFields, like the manager's FieldIndexer but
// without the cluster-wide key that it adds for every value. A list across namespaces by
// field then finds nothing: only for indexes that are always asked within a namespace.
// At 5,000 connections, each value a connection has costs an index entry of a few hundred
// bytes; the cluster-wide copy was half of them and never read.
//
// It returns the informer's store when the informer gives it (client-go's shared informers
// do, a cache limited to some namespaces does not: it has an informer per namespace).
// Objects found there are the cache's own, to read and never change.
func indexInNamespace(c cache.Cache, obj client.Object, field string, values client.IndexerFunc) (toolscache.Indexer, error) {
	informer, err := c.GetInformer(context.Background(), obj, cache.BlockUntilSynced(false))
	if err != nil {
		return nil, err
	}
	if err := informer.AddIndexers(namespacedIndex(field, values)); err != nil {
		return nil, err
	}
	if i, ok := informer.(interface{ GetIndexer() toolscache.Indexer }); ok {
		return i.GetIndexer(), nil
	}
	return nil, nil
}

// namespacedIndex is the index of indexInNamespace, under the name and with the keys
// that the cache's reader looks up for client.MatchingFields within a namespace.
func namespacedIndex(field string, values client.IndexerFunc) toolscache.Indexers {
	return toolscache.Indexers{"field:" + field: func(o any) ([]string, error) {
		obj, ok := o.(client.Object)
		if !ok || obj.GetNamespace() == "" {
			return nil, nil
		}
		keys := slices.Clone(values(obj))
		for i, v := range keys {
			keys[i] = obj.GetNamespace() + "/" + v
		}
		return keys, nil
	}}
}

// connectionLookup finds namespaced connections in the cache without deep copies, for
// connectionsNaming, which runs at every change of any Secret in the watched namespaces.
// The connections it returns are the cache's, to read and never change.
type connectionLookup interface {
	// eachInBucket calls visit with each connection of namespace in bucket of
	// secretBucketsIndex.
	eachInBucket(ctx context.Context, namespace, bucket string, visit func(*sfv1.SalesforceConnection)) error
	// get returns the connection of key, nil when there is none.
	get(ctx context.Context, key types.NamespacedName) (*sfv1.SalesforceConnection, error)
}

// storeLookup reads the informer's store: no copy at all.
type storeLookup struct{ store toolscache.Indexer }

func (l storeLookup) eachInBucket(_ context.Context, namespace, bucket string, visit func(*sfv1.SalesforceConnection)) error {
	objs, err := l.store.ByIndex("field:"+secretBucketsIndex, namespace+"/"+bucket)
	for _, o := range objs {
		if c, ok := o.(*sfv1.SalesforceConnection); ok {
			visit(c)
		}
	}
	return err
}

func (l storeLookup) get(_ context.Context, key types.NamespacedName) (*sfv1.SalesforceConnection, error) {
	o, _, err := l.store.GetByKey(key.Namespace + "/" + key.Name)
	c, _ := o.(*sfv1.SalesforceConnection)
	return c, err
}

// readerLookup reads through the cache's reader, for a cache that gives no single store
// (--watch-namespaces): each connection found is copied, its struct but not what it
// points to.
type readerLookup struct{ reader client.Reader }

func (l readerLookup) eachInBucket(ctx context.Context, namespace, bucket string, visit func(*sfv1.SalesforceConnection)) error {
	var list sfv1.SalesforceConnectionList
	if err := l.reader.List(ctx, &list, client.InNamespace(namespace), client.MatchingFields{secretBucketsIndex: bucket},
		client.UnsafeDisableDeepCopy); err != nil {
		return err
	}
	for i := range list.Items {
		visit(&list.Items[i])
	}
	return nil
}

func (l readerLookup) get(ctx context.Context, key types.NamespacedName) (*sfv1.SalesforceConnection, error) {
	var c sfv1.SalesforceConnection
	if err := l.reader.Get(ctx, key, &c, client.UnsafeDisableDeepCopy); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	return &c, nil
}

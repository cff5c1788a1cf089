package controller

import (
	"context"
	"fmt"
	"slices"

	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// indexInNamespace indexes the namespaced objects of obj's kind by field, for lists with
// client.InNamespace and client.MatchingFields, like the manager's FieldIndexer but
// without the cluster-wide key that it adds for every value. A list across namespaces by
// field then finds nothing: only for indexes that are always asked within a namespace.
// At 5,000 connections, each value a connection has costs an index entry of a few hundred
// bytes; the cluster-wide copy was half of them and never read.
//
// It returns the informer's store (client-go's shared informers give it): objects found
// there are the cache's own, to read and never change. An informer that gives none is an
// error, not a slower path: the lookups that use the store would have to copy each object.
func indexInNamespace(c cache.Cache, obj client.Object, field string, values client.IndexerFunc) (toolscache.Indexer, error) {
	informer, err := c.GetInformer(context.Background(), obj, cache.BlockUntilSynced(false))
	if err != nil {
		return nil, err
	}
	if err := informer.AddIndexers(namespacedIndex(field, values)); err != nil {
		return nil, err
	}
	i, ok := informer.(interface{ GetIndexer() toolscache.Indexer })
	if !ok {
		return nil, fmt.Errorf("the cache's informer of %T gives no store to look up by %s", obj, field)
	}
	return i.GetIndexer(), nil
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

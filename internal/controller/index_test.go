package controller

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/tokensecret"
)

// namingLookup finds the connections that name a Secret, as connectionsNamingSecret does.
func namingLookup(t *testing.T, l connectionLookup, ns, name string) []string {
	t.Helper()
	reqs, err := connectionsNaming(context.Background(), l, types.NamespacedName{Namespace: ns, Name: name})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, r := range reqs {
		keys = append(keys, r.String())
	}
	slices.Sort(keys)
	return keys
}

func TestSecretNamesIndex(t *testing.T) {
	indexer := toolscache.NewIndexer(toolscache.MetaNamespaceKeyFunc, namespacedIndex(secretBucketsIndex,
		func(o client.Object) []string { return secretNameBuckets(o.(*sfv1.SalesforceConnection)) }))
	conn := func(ns, name, creds string) *sfv1.SalesforceConnection {
		c := &sfv1.SalesforceConnection{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		c.Spec.Auth.ClientCredentials = &sfv1.ClientCredentialsAuth{CredentialsSecretRef: sfv1.SecretReference{Name: creds}}
		return c
	}
	named := conn("a", "named", "shared")
	named.Spec.TokenSecret.Name = "named-elsewhere"
	long := conn("a", strings.Repeat("l", 250), "shared")
	conns := []*sfv1.SalesforceConnection{conn("a", "one", "shared"), conn("a", "two", "shared"), conn("b", "one", "shared"), named, long}
	// Many more connections than buckets, each with credentials of its own: buckets
	// are shared, and a lookup still finds only the connection that names the Secret.
	for i := range 3 * secretBuckets {
		conns = append(conns, conn("a", fmt.Sprintf("own-%d", i), fmt.Sprintf("own-%d-creds", i)))
	}
	scheme := runtime.NewScheme()
	if err := sfv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	reader := fake.NewClientBuilder().WithScheme(scheme).
		WithIndex(&sfv1.SalesforceConnection{}, secretBucketsIndex,
			func(o client.Object) []string { return secretNameBuckets(o.(*sfv1.SalesforceConnection)) })
	for _, c := range conns {
		if err := indexer.Add(c); err != nil {
			t.Fatal(err)
		}
		reader = reader.WithObjects(c.DeepCopy())
	}
	// The informer's store, and the cache's reader where a cache limited to some
	// namespaces gives no single store: both find the same connections.
	lookups := map[string]connectionLookup{"store": storeLookup{indexer}, "reader": readerLookup{reader.Build()}}
	for _, tc := range []struct {
		ns, name string
		want     []string
	}{
		{"a", "shared", []string{"a/" + long.Name, "a/named", "a/one", "a/two"}},
		{"b", "shared", []string{"b/one"}},
		{"a", "own-7-creds", []string{"a/own-7"}},
		{"b", "own-7-creds", nil},
		{"a", "nobody's", nil},
		// A token Secret of the default name is not indexed: the connection's name finds it.
		{"a", "one-token", []string{"a/one"}},
		{"b", "one-token", []string{"b/one"}},
		{"a", "nobody-token", nil},
		// named writes its token elsewhere: a Secret of its default name is not its.
		{"a", "named-token", nil},
		{"a", "named-elsewhere", []string{"a/named"}},
		// A default name cut to fit does not tell the connection's: indexed.
		{"a", tokensecret.Name(long), []string{"a/" + long.Name}},
	} {
		for kind, l := range lookups {
			if got := namingLookup(t, l, tc.ns, tc.name); !slices.Equal(got, tc.want) {
				t.Errorf("%s: %s/%s: got %v, want %v", kind, tc.ns, tc.name, got, tc.want)
			}
		}
	}
	// No cluster-wide key: the index is only asked within a namespace.
	if got, _ := indexer.IndexKeys("field:"+secretBucketsIndex, "__all_namespaces/"+secretBucket("shared")); len(got) != 0 {
		t.Errorf("cluster-wide key: %v", got)
	}
	if values := len(indexer.ListIndexFuncValues("field:" + secretBucketsIndex)); values > 2*secretBuckets {
		t.Errorf("%d index values for %d connections in two namespaces, want at most one per bucket and namespace", values, len(conns))
	}
}

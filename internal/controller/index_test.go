package controller

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/tokensecret"
)

func TestNamespacedIndex(t *testing.T) {
	indexer := toolscache.NewIndexer(toolscache.MetaNamespaceKeyFunc, namespacedIndex(secretNamesIndex,
		func(o client.Object) []string { return indexedSecretNames(o.(*sfv1.SalesforceConnection)) }))
	conn := func(ns, name, creds string) *sfv1.SalesforceConnection {
		c := &sfv1.SalesforceConnection{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		c.Spec.Auth.ClientCredentials = &sfv1.ClientCredentialsAuth{CredentialsSecretRef: sfv1.SecretReference{Name: creds}}
		return c
	}
	named := conn("a", "named", "shared")
	named.Spec.TokenSecret.Name = "named-elsewhere"
	long := conn("a", strings.Repeat("l", 250), "shared")
	for _, c := range []*sfv1.SalesforceConnection{conn("a", "one", "shared"), conn("a", "two", "shared"), conn("b", "one", "shared"), named, long} {
		if err := indexer.Add(c); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		key  string
		want []string
	}{
		{"a/shared", []string{"a/one", "a/two", "a/named", "a/" + long.Name}},
		{"b/shared", []string{"b/one"}},
		// A token Secret of the default name is found by the connection's name instead.
		{"a/one-token", nil},
		{"a/named-elsewhere", []string{"a/named"}},
		// A default name cut to fit does not tell the connection's: indexed.
		{"a/" + tokensecret.Name(long), []string{"a/" + long.Name}},
		// No cluster-wide key: the index is only asked within a namespace.
		{"__all_namespaces/shared", nil},
	} {
		got, err := indexer.IndexKeys("field:"+secretNamesIndex, tc.key)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(tc.want) {
			t.Errorf("%s: got %v, want %v", tc.key, got, tc.want)
			continue
		}
		for _, w := range tc.want {
			found := false
			for _, g := range got {
				found = found || g == w
			}
			if !found {
				t.Errorf("%s: got %v, want %v", tc.key, got, tc.want)
			}
		}
	}
}

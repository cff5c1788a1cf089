package controller

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

func TestNamespacedIndex(t *testing.T) {
	indexer := toolscache.NewIndexer(toolscache.MetaNamespaceKeyFunc, namespacedIndex(secretNamesIndex,
		func(o client.Object) []string { return secretNames(o.(*sfv1.SalesforceConnection)) }))
	conn := func(ns, name, creds string) *sfv1.SalesforceConnection {
		c := &sfv1.SalesforceConnection{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		c.Spec.Auth.ClientCredentials = &sfv1.ClientCredentialsAuth{CredentialsSecretRef: sfv1.SecretReference{Name: creds}}
		return c
	}
	for _, c := range []*sfv1.SalesforceConnection{conn("a", "one", "shared"), conn("a", "two", "shared"), conn("b", "one", "shared")} {
		if err := indexer.Add(c); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		key  string
		want []string
	}{
		{"a/shared", []string{"a/one", "a/two"}},
		{"b/shared", []string{"b/one"}},
		{"a/one-token", []string{"a/one"}},
		{"b/two-token", nil},
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

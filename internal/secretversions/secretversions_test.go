package secretversions

import (
	"context"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

func TestVersionsStore(t *testing.T) {
	s := &Versions{parts: map[string]map[types.NamespacedName]string{}, synced: make(chan struct{})}
	listed := make(chan struct{}, 2)
	a := &versionStore{owner: s, namespace: "a", listed: listed}
	b := &versionStore{owner: s, namespace: "b", listed: listed}
	secret := func(ns, name, rv string) *metav1.PartialObjectMetadata {
		return &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, ResourceVersion: rv}}
	}
	key := func(ns, name string) types.NamespacedName { return types.NamespacedName{Namespace: ns, Name: name} }
	var told []types.NamespacedName
	expectTold := func(want ...types.NamespacedName) {
		t.Helper()
		sortKeys := func(ks []types.NamespacedName) {
			slices.SortFunc(ks, func(x, y types.NamespacedName) int { return strings.Compare(x.String(), y.String()) })
		}
		sortKeys(told)
		sortKeys(want)
		if !slices.Equal(told, want) {
			t.Fatalf("told %v, want %v", told, want)
		}
		told = nil
	}

	// The first lists fill the namespaces before the controller listens: nobody is told.
	if err := a.Replace([]any{secret("a", "creds", "1"), secret("a", "other", "2")}, "2"); err != nil {
		t.Fatal(err)
	}
	if err := b.Replace([]any{secret("b", "creds", "3")}, "3"); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 2 {
		t.Fatalf("%d lists reported, want 2", len(listed))
	}
	if rv, ok := s.Version(key("a", "creds")); !ok || rv != "1" {
		t.Fatalf("a/creds = %q, %v", rv, ok)
	}
	if _, ok := s.Version(key("c", "creds")); ok {
		t.Fatal("a Secret of an unwatched namespace exists")
	}

	s.notify = func(k types.NamespacedName) { told = append(told, k) }
	if err := a.Update(secret("a", "creds", "4")); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(toolscache.DeletedFinalStateUnknown{Key: "b/creds", Obj: secret("b", "creds", "3")}); err != nil {
		t.Fatal(err)
	}
	if err := a.Add(secret("a", "new", "5")); err != nil {
		t.Fatal(err)
	}
	expectTold(key("a", "creds"), key("b", "creds"), key("a", "new"))
	if rv, _ := s.Version(key("a", "creds")); rv != "4" {
		t.Fatalf("a/creds = %q after an update", rv)
	}
	if _, ok := s.Version(key("b", "creds")); ok {
		t.Fatal("b/creds exists after its deletion")
	}

	// A relist after a broken watch tells of what changed while it was down, and only that.
	if err := a.Replace([]any{secret("a", "creds", "4"), secret("a", "other", "6")}, "6"); err != nil {
		t.Fatal(err)
	}
	expectTold(key("a", "other"), key("a", "new"))
	if len(listed) != 2 {
		t.Fatal("a relist was reported as a first list")
	}
	if err := a.Update("not an object"); err == nil {
		t.Fatal("an unexpected object was accepted")
	}
}

// Namespaced and cluster connections have a controller each, and each follows the Secrets
// through a source of its own: a change reaches both queues.
func TestEverySourceIsTold(t *testing.T) {
	s := &Versions{parts: map[string]map[types.NamespacedName]string{}, synced: make(chan struct{})}
	key := types.NamespacedName{Namespace: "a", Name: "creds"}
	var queues []workqueue.TypedRateLimitingInterface[reconcile.Request]
	for _, name := range []string{"namespaced", "cluster"} {
		q := workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request](),
			workqueue.TypedRateLimitingQueueConfig[reconcile.Request]{Name: name})
		t.Cleanup(q.ShutDown)
		queues = append(queues, q)
		src := s.Source(func(_ context.Context, k types.NamespacedName) []reconcile.Request {
			return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: k.Namespace, Name: name + "/" + k.Name}}}
		})
		if err := src.Start(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}
	s.change("a", key, "7")
	for i, name := range []string{"namespaced", "cluster"} {
		if queues[i].Len() != 1 {
			t.Fatalf("the %s queue holds %d requests, want 1", name, queues[i].Len())
		}
		req, _ := queues[i].Get()
		if req.Name != name+"/creds" {
			t.Errorf("the %s queue got %v", name, req)
		}
	}
}

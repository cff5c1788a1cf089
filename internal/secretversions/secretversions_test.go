package secretversions

import (
	"context"
	"fmt"
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
	if rv, st := s.Version(key("a", "creds")); st != Present || rv != "1" {
		t.Fatalf("a/creds = %q, %v", rv, st)
	}
	if _, st := s.Version(key("c", "creds")); st != Missing {
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
	if _, st := s.Version(key("b", "creds")); st != Missing {
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

// Under FollowOnly, only the Secrets that interest the operator are kept and told of; one
// that is not followed is Unknown until a caller reports it.
func TestFollowOnly(t *testing.T) {
	s := &Versions{parts: map[string]map[types.NamespacedName]string{}, synced: make(chan struct{}), ctx: context.Background()}
	wanted := map[types.NamespacedName]bool{}
	s.FollowOnly(func(context.Context) bool { return true },
		func(_ context.Context, k types.NamespacedName) bool { return wanted[k] })
	store := &versionStore{owner: s, namespace: "", listed: make(chan struct{}, 1)}
	secret := func(ns, name, rv string) *metav1.PartialObjectMetadata {
		return &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, ResourceVersion: rv}}
	}
	creds, helm, later := types.NamespacedName{Namespace: "a", Name: "creds"},
		types.NamespacedName{Namespace: "a", Name: "sh.helm.release.v1"}, types.NamespacedName{Namespace: "a", Name: "later"}
	wanted[creds] = true
	var told []types.NamespacedName
	s.notify = func(k types.NamespacedName) { told = append(told, k) }
	version := func(k types.NamespacedName) string {
		rv, st := s.Version(k)
		return fmt.Sprintf("%s/%d", rv, st)
	}

	if err := store.Replace([]any{secret("a", "creds", "1"), secret("a", "sh.helm.release.v1", "2")}, "2"); err != nil {
		t.Fatal(err)
	}
	if got := len(s.parts[""]); got != 1 {
		t.Fatalf("%d Secrets kept after the list, want 1: those of no interest cost nothing", got)
	}
	if v := version(creds); v != fmt.Sprintf("1/%d", Present) {
		t.Fatalf("creds: %s", v)
	}
	if v := version(helm); v != fmt.Sprintf("/%d", Unknown) {
		t.Fatalf("a Secret of no interest: %s, want Unknown", v)
	}
	told = nil

	// A change of a Secret of no interest is neither kept nor told.
	if err := store.Update(secret("a", "sh.helm.release.v1", "3")); err != nil {
		t.Fatal(err)
	}
	if len(told) != 0 || version(helm) != fmt.Sprintf("/%d", Unknown) {
		t.Fatalf("told %v, helm %s", told, version(helm))
	}

	// A Secret nobody has created is known not to exist, followed or not: no read.
	if v := version(later); v != fmt.Sprintf("/%d", Missing) {
		t.Fatalf("a Secret that does not exist: %s, want Missing", v)
	}

	// A connection that comes to name a Secret reports what it read.
	wanted[later] = true
	s.Observe(later, "")
	if v := version(later); v != fmt.Sprintf("/%d", Missing) {
		t.Fatalf("later after Observe: %s, want Missing", v)
	}
	if err := store.Add(secret("a", "later", "4")); err != nil {
		t.Fatal(err)
	}
	if v := version(later); v != fmt.Sprintf("4/%d", Present) || !slices.Contains(told, later) {
		t.Fatalf("later after its creation: %s, told %v", v, told)
	}
	// An Observe behind the watch keeps the watch's version.
	s.Observe(later, "3")
	if v := version(later); v != fmt.Sprintf("4/%d", Present) {
		t.Fatalf("later after a stale Observe: %s", v)
	}

	// A deleted followed Secret is known not to exist; a relist forgets a Secret nobody
	// names any more, and tells of it.
	if err := store.Delete(secret("a", "creds", "1")); err != nil {
		t.Fatal(err)
	}
	if v := version(creds); v != fmt.Sprintf("/%d", Missing) {
		t.Fatalf("creds after its deletion: %s, want Missing", v)
	}
	told = nil
	delete(wanted, later)
	if err := store.Replace([]any{secret("a", "later", "4")}, "5"); err != nil {
		t.Fatal(err)
	}
	if v := version(later); v != fmt.Sprintf("/%d", Unknown) {
		t.Fatalf("later after a relist that nobody names it in: %s, want Unknown", v)
	}
	if v := version(creds); v != fmt.Sprintf("/%d", Missing) {
		t.Fatalf("creds after a relist: %s, want Missing", v)
	}
	if !slices.Contains(told, later) {
		t.Fatalf("told %v, want later among them", told)
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
	s.change("a", key, "7", false)
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

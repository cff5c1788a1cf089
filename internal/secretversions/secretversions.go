// Package secretversions follows the resourceVersion of every Secret in the watched
// namespaces, so the operator learns that a credentials Secret changed without caching
// Secrets that are none of its business.
package secretversions

import (
	"context"
	"fmt"
	"hash/maphash"
	"net/http"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"
)

// Versions follows the metadata of every Secret in the watched namespaces and keeps
// of each Secret that interests the operator only its resourceVersion. Credentials Secrets
// carry no label of ours, so the operator must hear of every Secret to notice that one of
// them changed; what it keeps is a name and a version, about a hundred bytes, and only of
// the Secrets some connection names (FollowOnly): ten thousand Helm releases and service
// account tokens in the cluster then cost the operator nothing at rest, and no secret data
// at all.
//
// It answers two questions without a call to the API server: does a Secret of this name
// exist, and which version of it is current; Unknown for a Secret it does not follow,
// which the caller reads and reports back (Observe). Each change of a followed Secret is
// passed to the controller as the Secret's name (Source).
type Versions struct {
	client     metadata.Interface
	namespaces []string

	// ready and interested, when set (FollowOnly), say when interest can be asked, and
	// whether a Secret interests the operator.
	ready      func(context.Context) bool
	interested func(context.Context, types.NamespacedName) bool
	// ctx is Start's, for the calls to interested from the reflectors' stores.
	ctx context.Context

	mu sync.RWMutex
	// parts holds one partition per watched namespace ("" for all namespaces), each
	// replaced as a whole when its reflector lists again. Under FollowOnly a partition
	// holds the followed Secrets only, and a followed Secret that does not exist as "".
	parts map[string]map[types.NamespacedName]string
	// names holds, under FollowOnly, a hash of the name of every Secret of each partition,
	// followed or not: eight bytes that tell a Secret that exists from one that does not,
	// so that a connection naming a Secret nobody has created needs no call to learn it.
	names  map[string]map[uint64]struct{}
	seed   maphash.Seed
	notify func(types.NamespacedName)

	synced     chan struct{}
	syncedOnce sync.Once
}

// New follows the Secrets of namespaces, or of all namespaces when empty. The
// caller adds it to the manager, which runs it on every replica, leader or not, so that a
// new leader starts with it warm.
func New(cfg *rest.Config, httpClient *http.Client, namespaces []string) (*Versions, error) {
	c, err := metadata.NewForConfigAndClient(cfg, httpClient)
	if err != nil {
		return nil, fmt.Errorf("creating a metadata client: %w", err)
	}
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	return &Versions{client: c, namespaces: namespaces,
		parts: map[string]map[types.NamespacedName]string{}, synced: make(chan struct{})}, nil
}

// State says what Versions knows of a Secret.
type State int

const (
	// Unknown: the Secret is not followed; read it, and report it with Observe.
	Unknown State = iota
	// Missing: no Secret of this name exists.
	Missing
	// Present: the Secret exists, at the version returned with it.
	Present
)

// FollowOnly keeps the versions of the Secrets interested says interest the operator,
// asked at each change of a Secret, once ready has returned true; and of those reported
// by Observe. Others are not kept: Version says Unknown for them. Call it before Start.
func (s *Versions) FollowOnly(ready func(context.Context) bool, interested func(context.Context, types.NamespacedName) bool) {
	s.ready, s.interested = ready, interested
	s.names, s.seed = map[string]map[uint64]struct{}{}, maphash.MakeSeed()
}

// nameHash is the hash of a Secret's name in names. Two Secrets of the same hash (a
// chance of about one in 10^11 among a million Secrets) would only make one that does
// not exist read as Unknown, and be read from the API server.
func (s *Versions) nameHash(key types.NamespacedName) uint64 {
	var h maphash.Hash
	h.SetSeed(s.seed)
	_, _ = h.WriteString(key.Namespace)
	_ = h.WriteByte('/')
	_, _ = h.WriteString(key.Name)
	return h.Sum64()
}

// Version returns the current resourceVersion of a Secret and what is known of it.
func (s *Versions) Version(key types.NamespacedName) (string, State) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	rv, ok := s.partitionLocked(key)[key]
	switch {
	case ok && rv != "":
		return rv, Present
	case ok || s.interested == nil:
		// Without FollowOnly every Secret is kept, and one not kept does not exist.
		return "", Missing
	}
	names, ok := s.names[metav1.NamespaceAll]
	if !ok {
		names = s.names[key.Namespace]
	}
	if _, exists := names[s.nameHash(key)]; exists {
		return "", Unknown
	}
	return "", Missing
}

// Observe reports a Secret the caller read because Version said Unknown: its version, or
// "" when it does not exist. It is followed from then on. A version the watch has kept
// in the meantime is as new or newer, and stays.
func (s *Versions) Observe(key types.NamespacedName, rv string) {
	if s.interested == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	part := s.partitionLocked(key)
	if part == nil {
		return
	}
	if _, ok := part[key]; !ok {
		part[key] = rv
	}
}

// partitionLocked is the partition a Secret is in; nil for an unwatched namespace, or
// before its first list.
func (s *Versions) partitionLocked(key types.NamespacedName) map[types.NamespacedName]string {
	if part, ok := s.parts[metav1.NamespaceAll]; ok {
		return part
	}
	return s.parts[key.Namespace]
}

// follows says whether a change of key is kept: a Secret already followed, or one that
// interests the operator.
func (s *Versions) follows(ctx context.Context, part map[types.NamespacedName]string, key types.NamespacedName) bool {
	if s.interested == nil {
		return true
	}
	if _, ok := part[key]; ok {
		return true
	}
	return s.interested(ctx, key)
}

// Start follows the Secrets until ctx ends.
func (s *Versions) Start(ctx context.Context) error {
	if s.ready != nil && !s.ready(ctx) {
		return ctx.Err()
	}
	s.ctx = ctx
	gvr := corev1.SchemeGroupVersion.WithResource("secrets")
	var wg sync.WaitGroup
	lists := make(chan struct{}, len(s.namespaces))
	for _, ns := range s.namespaces {
		resource := s.client.Resource(gvr).Namespace(ns)
		lw := &toolscache.ListWatch{
			ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
				return resource.List(ctx, opts)
			},
			WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
				return resource.Watch(ctx, opts)
			},
		}
		store := &versionStore{owner: s, namespace: ns, listed: lists}
		r := toolscache.NewReflectorWithOptions(lw, &metav1.PartialObjectMetadata{}, store,
			toolscache.ReflectorOptions{Name: "secret-versions/" + ns, TypeDescription: "Secret metadata"})
		wg.Go(func() { r.RunWithContext(ctx) })
	}
	go func() {
		for range s.namespaces {
			select {
			case <-lists:
			case <-ctx.Done():
				return
			}
		}
		s.syncedOnce.Do(func() { close(s.synced) })
	}()
	wg.Wait()
	return nil
}

// NeedLeaderElection is false: every replica follows the Secrets.
func (s *Versions) NeedLeaderElection() bool { return false }

// WaitForSync returns when every namespace has been listed once.
func (s *Versions) WaitForSync(ctx context.Context) error {
	select {
	case <-s.synced:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Source passes each change of a Secret to the controller through mapFn. The controller
// waits for the first list before it starts its workers.
func (s *Versions) Source(mapFn handler.TypedMapFunc[types.NamespacedName, reconcile.Request]) source.Source {
	return &secretVersionsSource{versions: s, mapFn: mapFn}
}

// change records a Secret's version, or that it is gone (deleted), and tells the
// controller; a Secret that is not followed and does not interest the operator is left
// out.
func (s *Versions) change(namespace string, key types.NamespacedName, rv string, deleted bool) {
	s.mu.Lock()
	part := s.parts[namespace]
	if part == nil {
		part = map[types.NamespacedName]string{}
		s.parts[namespace] = part
	}
	if names := s.names[namespace]; names != nil {
		if deleted {
			delete(names, s.nameHash(key))
		} else {
			names[s.nameHash(key)] = struct{}{}
		}
	}
	if !s.follows(s.ctx, part, key) {
		s.mu.Unlock()
		return
	}
	switch {
	case !deleted:
		part[key] = rv
	case s.interested != nil:
		// Followed, so known: known not to exist.
		part[key] = ""
	default:
		delete(part, key)
	}
	notify := s.notify
	s.mu.Unlock()
	if notify != nil {
		notify(key)
	}
}

// replace swaps a namespace's partition for a new list, and tells the controller of every
// followed Secret that changed, appeared or went while the watch was down. A Secret that
// no longer interests the operator is no longer followed.
func (s *Versions) replace(namespace string, listed map[types.NamespacedName]string) {
	s.mu.Lock()
	old := s.parts[namespace]
	part := listed
	if s.interested != nil {
		part = make(map[types.NamespacedName]string)
		names := make(map[uint64]struct{}, len(listed))
		for key, rv := range listed {
			names[s.nameHash(key)] = struct{}{}
			if s.interested(s.ctx, key) {
				part[key] = rv
			}
		}
		s.names[namespace] = names
		for key := range old {
			if _, ok := listed[key]; !ok && s.interested(s.ctx, key) {
				part[key] = ""
			}
		}
	}
	s.parts[namespace] = part
	notify := s.notify
	s.mu.Unlock()
	if notify == nil {
		return
	}
	for key, rv := range part {
		if was, ok := old[key]; !ok || was != rv {
			notify(key)
		}
	}
	for key := range old {
		if _, ok := part[key]; !ok {
			notify(key)
		}
	}
}

// versionStore is what a reflector writes to: one namespace's partition.
type versionStore struct {
	owner     *Versions
	namespace string
	listed    chan<- struct{}
	once      sync.Once
}

func keyAndVersion(obj any) (types.NamespacedName, string, error) {
	m, err := metaOf(obj)
	if err != nil {
		return types.NamespacedName{}, "", err
	}
	return types.NamespacedName{Namespace: m.GetNamespace(), Name: m.GetName()}, m.GetResourceVersion(), nil
}

func metaOf(obj any) (metav1.Object, error) {
	if tomb, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	m, ok := obj.(metav1.Object)
	if !ok {
		return nil, fmt.Errorf("unexpected object %T in the Secret watch", obj)
	}
	return m, nil
}

func (v *versionStore) Add(obj any) error { return v.Update(obj) }
func (v *versionStore) Resync() error     { return nil }
func (v *versionStore) Update(obj any) error {
	key, rv, err := keyAndVersion(obj)
	if err != nil {
		return err
	}
	v.owner.change(v.namespace, key, rv, false)
	return nil
}

func (v *versionStore) Delete(obj any) error {
	key, _, err := keyAndVersion(obj)
	if err != nil {
		return err
	}
	v.owner.change(v.namespace, key, "", true)
	return nil
}

func (v *versionStore) Replace(items []any, _ string) error {
	part := make(map[types.NamespacedName]string, len(items))
	for _, obj := range items {
		key, rv, err := keyAndVersion(obj)
		if err != nil {
			return err
		}
		part[key] = rv
	}
	v.owner.replace(v.namespace, part)
	v.once.Do(func() { v.listed <- struct{}{} })
	return nil
}

// secretVersionsSource connects Versions to a controller's queue.
type secretVersionsSource struct {
	versions *Versions
	mapFn    handler.TypedMapFunc[types.NamespacedName, reconcile.Request]
}

func (s *secretVersionsSource) Start(ctx context.Context, queue workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
	s.versions.mu.Lock()
	defer s.versions.mu.Unlock()
	// Each controller that follows the Secrets (namespaced and cluster connections) has
	// a source of its own: every one of them is told.
	prev := s.versions.notify
	s.versions.notify = func(key types.NamespacedName) {
		if prev != nil {
			prev(key)
		}
		for _, req := range s.mapFn(ctx, key) {
			queue.Add(req)
		}
	}
	return nil
}

func (s *secretVersionsSource) WaitForSync(ctx context.Context) error {
	return s.versions.WaitForSync(ctx)
}

func (s *secretVersionsSource) String() string { return "secret versions" }

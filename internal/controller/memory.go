package controller

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// keyed is one kind of the process's memory, by key.
type keyed[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]V
}

func (k *keyed[K, V]) load(key K) (V, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	v, ok := k.m[key]
	return v, ok
}

func (k *keyed[K, V]) store(key K, v V) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.m == nil {
		k.m = map[K]V{}
	}
	k.m[key] = v
}

// loadOrStore returns the value of key, storing v first when there is none.
func (k *keyed[K, V]) loadOrStore(key K, v V) V {
	k.mu.Lock()
	defer k.mu.Unlock()
	if old, ok := k.m[key]; ok {
		return old
	}
	if k.m == nil {
		k.m = map[K]V{}
	}
	k.m[key] = v
	return v
}

func (k *keyed[K, V]) forget(key K) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.m, key)
}

// byConnection is memory kept per connection, by namespace and name, and dropped when the
// connection goes.
type byConnection[V any] = keyed[types.NamespacedName, V]

// memory is what this process remembers between passes, one kind per field, each by
// connection unless said otherwise, all of it dropped when the connection goes.
type memory struct {
	// issued is the token this process last wrote to each token Secret, or found intact
	// in it: a Secret deleted or edited by someone is restored from it without a login
	// while the token is good, and the Secret, which the cache does not hold, is rebuilt
	// from it (recallTokenSecret). Lost on restart, when each Secret is read once.
	issued byConnection[issuedToken]
	// patchedFrom is the resourceVersion of the connection that this process's status
	// patch replaces, from before the patch is sent until the cache moves past it
	// (movedPast): the cache showing it means the cache is behind.
	patchedFrom byConnection[string]
	// probes is what the liveness probe learnt of the stored token.
	probes byConnection[probeResult]
	// revokeSince is when this process began revoking for a connection being deleted.
	revokeSince byConnection[time.Time]
	// templates is the outcome of checking the template of a generation of the spec.
	templates byConnection[templateCheck]
	// noIntrospection holds, by login URL and client ID, until when a connected app that
	// refused to introspect is not asked again. Not per connection: it outlives them.
	noIntrospection keyed[string, time.Time]
}

// behind says whether rv, the connection's version in the cache, is the one this process
// replaced by its last status patch: the cache has not caught up with the patch. Once
// the cache shows another version, the replaced one is forgotten: it cannot come back,
// and at thousands of connections, keeping it until the next pass was a map entry each.
func (m *memory) behind(key types.NamespacedName, rv string) bool {
	m.patchedFrom.mu.Lock()
	defer m.patchedFrom.mu.Unlock()
	from, ok := m.patchedFrom.m[key]
	if ok && from != rv {
		delete(m.patchedFrom.m, key)
	}
	return ok && from == rv
}

// patching remembers that a status patch of the connection replaces version from; sent
// before the patch, since the cache may show the patch before its answer comes.
func (m *memory) patching(key types.NamespacedName, from string) { m.patchedFrom.store(key, from) }

// notPatched forgets a patch that did not replace version from: it failed, or changed
// nothing.
func (m *memory) notPatched(key types.NamespacedName, from string) { m.movedPast(key, from) }

// movedPast is told that the cache replaced version rv of the connection by a newer one.
// Updates come in order, each from the version before it: an update from the version a
// patch replaces is the patch, or a write that makes the patch fail.
func (m *memory) movedPast(key types.NamespacedName, rv string) {
	m.patchedFrom.mu.Lock()
	defer m.patchedFrom.mu.Unlock()
	if from, ok := m.patchedFrom.m[key]; ok && from == rv {
		delete(m.patchedFrom.m, key)
	}
}

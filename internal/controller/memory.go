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
	// patchedFrom is the resourceVersion of the connection this process last patched the
	// status of: the cache showing it again means the cache is behind.
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

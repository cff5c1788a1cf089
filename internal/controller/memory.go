package controller

import (
	"sync"

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

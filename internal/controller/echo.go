package controller

import (
	"context"
	"hash/maphash"
	"reflect"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/sfconn/sfconn-operator/internal/secretversions"
)

// ownWrites remembers, of each object the operator wrote (token Secrets, key Secrets,
// certificate ConfigMaps), the resourceVersion its last write produced. The watch brings
// every write back; the pass that made it already knows what it wrote, so waking the
// connection for it would be a second pass that finds nothing to do: at creation, one
// reconcile in two. Anything else (a person's edit, a deletion, another controller's label)
// has another version and still wakes the connection at once.
//
// Keyed by a hash of kind, namespace and name: a few dozen bytes an object, whatever the
// length of its name. Two objects of one hash (about one chance in 10^19 a pair) would
// at worst drop the echo-like event of the other, whose version must then equal its own
// last write's, which it is not: the event still passes.
//
// The watch event of a write can come before the write's answer, and so before its
// version is known: an event for an object being written waits for the answer (Begin,
// End), at most echoWait.
//
// The zero value is ready to use.
type ownWrites struct {
	mu   sync.Mutex
	seed maphash.Seed
	m    map[uint64]string
	// writing holds a channel per object with a write in flight, closed at its answer.
	writing map[uint64]chan struct{}
}

// echoWait bounds how long an event waits for the answer to a write of its object: the
// event says the write is done, so its answer is on its way; a stuck client must not
// stop the watch events of every Secret.
const echoWait = 5 * time.Second

// keyLocked is the map key of an object; w.mu is held.
func (w *ownWrites) keyLocked(kind string, obj types.NamespacedName) uint64 {
	if w.m == nil {
		w.seed, w.m, w.writing = maphash.MakeSeed(), map[uint64]string{}, map[uint64]chan struct{}{}
	}
	var h maphash.Hash
	h.SetSeed(w.seed)
	_, _ = h.WriteString(kind)
	_ = h.WriteByte('/')
	_, _ = h.WriteString(obj.Namespace)
	_ = h.WriteByte('/')
	_, _ = h.WriteString(obj.Name)
	return h.Sum64()
}

// kindOf names an object's Go type: the typed objects the operator writes and watches
// carry no TypeMeta.
func kindOf(obj client.Object) string { return reflect.TypeOf(obj).Elem().Name() }

// Begin is told of a write about to be sent (owned.Tracker).
func (w *ownWrites) Begin(obj client.Object) {
	w.mu.Lock()
	defer w.mu.Unlock()
	k := w.keyLocked(kindOf(obj), client.ObjectKeyFromObject(obj))
	if _, ok := w.writing[k]; !ok {
		w.writing[k] = make(chan struct{})
	}
}

// End is told of the answer to a write: when ok, obj is as written, at the version whose
// watch events are echoes (owned.Tracker).
func (w *ownWrites) End(obj client.Object, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	k := w.keyLocked(kindOf(obj), client.ObjectKeyFromObject(obj))
	if ok && obj.GetResourceVersion() != "" {
		w.m[k] = obj.GetResourceVersion()
	}
	if done, ok := w.writing[k]; ok {
		close(done)
		delete(w.writing, k)
	}
}

// isEcho says whether version rv of the object is the one the operator's own last write
// produced, once the write in flight, if any, is answered.
func (w *ownWrites) isEcho(kind string, obj types.NamespacedName, rv string) bool {
	if rv == "" {
		return false
	}
	w.mu.Lock()
	k := w.keyLocked(kind, obj)
	done := w.writing[k]
	w.mu.Unlock()
	if done != nil {
		select {
		case <-done:
		case <-time.After(echoWait):
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.m[k] == rv
}

// drop forgets an object that is gone: its next version, whoever writes it, is news.
func (w *ownWrites) drop(kind string, obj types.NamespacedName) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.m, w.keyLocked(kind, obj))
}

// notEcho passes every watch event of an object but the ones that only bring back the
// operator's own last write of it: creations and updates whose object is at that version.
// Deletions pass, and the object is forgotten.
func (w *ownWrites) notEcho() builder.Predicates { return builder.WithPredicates(w.echoFilter()) }

// echoFilter is notEcho's predicate.
func (w *ownWrites) echoFilter() predicate.Funcs {
	return predicate.Funcs{
		CreateFunc: func(e event.CreateEvent) bool { return !w.isEchoOf(e.Object) },
		UpdateFunc: func(e event.UpdateEvent) bool { return !w.isEchoOf(e.ObjectNew) },
		DeleteFunc: func(e event.DeleteEvent) bool {
			w.drop(kindOf(e.Object), client.ObjectKeyFromObject(e.Object))
			return true
		},
	}
}

func (w *ownWrites) isEchoOf(obj client.Object) bool {
	return w.isEcho(kindOf(obj), client.ObjectKeyFromObject(obj), obj.GetResourceVersion())
}

// secretsNotEchoed wraps the mapping of the Secret versions source (which passes a
// Secret's name, not its object): a Secret whose current version is the operator's own
// last write of it wakes nobody. Read at delivery, the version may be newer than the change
// that was notified; a newer one that is not the operator's is news all the same, and one
// that is the operator's was written by a pass that read, and so saw, the change before it
// (the update carries the version it read, and the API server refuses it otherwise).
func (w *ownWrites) secretsNotEchoed(versions SecretVersionReader,
	next handler.TypedMapFunc[types.NamespacedName, reconcile.Request]) handler.TypedMapFunc[types.NamespacedName, reconcile.Request] {
	return func(ctx context.Context, secret types.NamespacedName) []reconcile.Request {
		switch rv, state := versions.Version(secret); state {
		case secretversions.Present:
			if w.isEcho(secretKind, secret, rv) {
				return nil
			}
		case secretversions.Missing:
			w.drop(secretKind, secret)
		}
		return next(ctx, secret)
	}
}

// secretKind is kindOf a Secret.
const secretKind = "Secret"

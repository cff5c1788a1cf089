package owned

import (
	"context"
	"fmt"
	"reflect"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

// ForeignError says that a name the connection needs is taken by an object it does not
// control. The operator never writes over it; the spec cannot work as written until a
// person deletes the object or chooses another name, so no retry helps.
type ForeignError struct {
	// Kind is Secret or ConfigMap.
	Kind, Name string
}

func (e *ForeignError) Error() string {
	return fmt.Sprintf("%s %s exists and is not controlled by this SalesforceConnection", e.Kind, e.Name)
}

// Clients are what Ensure reads and writes with.
type Clients struct {
	// Client writes; its reads are not used.
	Client client.Client
	// Read is where the object is read first: the manager's cache, which holds only
	// managed objects, or the API server where a cache a moment behind would be wrong.
	Read client.Reader
	// Uncached reads from the API server: an object the cache does not show but which
	// exists after all, and the object again after a write lost a race.
	Uncached client.Reader
	// Writes, when set, is told of each create and update Ensure sends: the caller
	// remembers the version its own write produced, so that the watch event which only
	// brings that version back does not wake the connection again.
	Writes Tracker
}

// Tracker is told of the writes Ensure makes: Begin before one is sent, End once it is
// answered, with the object as written when ok. The watch event of a write can arrive
// before its answer: Begin lets the tracker hold such an event until End.
type Tracker interface {
	Begin(obj client.Object)
	End(obj client.Object, ok bool)
}

// begin tells Writes of a write about to be sent.
func (c Clients) begin(obj client.Object) {
	if c.Writes != nil {
		c.Writes.Begin(obj)
	}
}

// end tells Writes of the answer to a write, and passes err on.
func (c Clients) end(obj client.Object, err error) error {
	if c.Writes != nil {
		c.Writes.End(obj, err == nil)
	}
	return err
}

// maxAttempts bounds the writes of one Ensure: a write that lost a race is made once more
// from a fresh read; a caller that must not give up (a rotated refresh token) retries the
// whole Ensure.
const maxAttempts = 2

// Ensure makes the object named like obj exist, controlled by conn, holding what mutate
// sets on it, and leaves obj as written. mutate is called on the object as read (or on
// an empty one to create), after the operator's labels and owner reference are set, and
// may refuse by returning an error. Nothing is written when mutate changed nothing, so a
// pass at rest costs no write. Someone else's object of that name is never written:
// *ForeignError.
func Ensure(ctx context.Context, c Clients, conn *sfv1.SalesforceConnection, obj client.Object, mutate func() error) error {
	return EnsureWith(ctx, c, conn, obj, Options{}, mutate)
}

// Options change what Ensure writes and what it accepts as the connection's.
type Options struct {
	// Orphan writes the object without owner references, so that it outlives the
	// connection (a token Secret with deletionPolicy Orphan).
	Orphan bool
	// Claim says whether an object that no controller owns is the connection's all the
	// same: one the operator sealed for it. Nil claims none. An object another controller
	// owns is never claimed.
	Claim func(obj client.Object) bool
}

// EnsureWith is Ensure with options.
func EnsureWith(ctx context.Context, c Clients, conn *sfv1.SalesforceConnection, obj client.Object, opts Options, mutate func() error) error {
	key := client.ObjectKeyFromObject(obj)
	kind := reflect.TypeOf(obj).Elem().Name()
	err := c.Read.Get(ctx, key, obj)
	for attempt := 1; ; attempt++ {
		switch {
		case apierrors.IsNotFound(err):
			reset(obj, key)
			setMeta(obj, conn, opts.Orphan)
			if err := mutate(); err != nil {
				return err
			}
			c.begin(obj)
			if err = c.end(obj, c.Client.Create(ctx, obj)); !apierrors.IsAlreadyExists(err) {
				return wrap("creating", kind, key.Name, err)
			}
			// Not in the cache, yet there: somebody else's, or a cache behind our own write.
		case err != nil:
			return wrap("reading", kind, key.Name, err)
		case !IsControlledBy(obj, conn.UID) && (HasController(obj) || opts.Claim == nil || !opts.Claim(obj)):
			return &ForeignError{Kind: kind, Name: key.Name}
		default:
			before := obj.DeepCopyObject()
			setMeta(obj, conn, opts.Orphan)
			if err := mutate(); err != nil {
				return err
			}
			if equality.Semantic.DeepEqual(before, obj) {
				return nil
			}
			c.begin(obj)
			if err = c.end(obj, c.Client.Update(ctx, obj)); !apierrors.IsConflict(err) {
				return wrap("updating", kind, key.Name, err)
			}
		}
		if attempt >= maxAttempts {
			return wrap("writing", kind, key.Name, err)
		}
		reset(obj, key)
		err = c.Uncached.Get(ctx, key, obj)
	}
}

// setMeta puts the operator's labels, annotations and owner reference on obj, keeping
// the others. An orphan gets no owner reference at all: the garbage collector deletes an
// object once all its owners are gone, whoever they are. LabelUncached goes, for the
// mutation to put back where it belongs: an object somebody labelled so would be missing
// from the cache at every pass.
func setMeta(obj client.Object, conn *sfv1.SalesforceConnection, orphan bool) {
	m := Meta(conn, obj.GetName())
	labels := MergeMaps(obj.GetLabels(), m.Labels)
	delete(labels, LabelUncached)
	obj.SetLabels(labels)
	if len(m.Annotations) > 0 {
		obj.SetAnnotations(MergeMaps(obj.GetAnnotations(), m.Annotations))
	}
	if orphan {
		obj.SetOwnerReferences(nil)
		return
	}
	obj.SetOwnerReferences(m.OwnerReferences)
}

// reset empties obj but for its name: decoding an answer into a used object would keep
// map entries the answer no longer has.
func reset(obj client.Object, key client.ObjectKey) {
	v := reflect.ValueOf(obj).Elem()
	v.Set(reflect.Zero(v.Type()))
	obj.SetNamespace(key.Namespace)
	obj.SetName(key.Name)
}

func wrap(doing, kind, name string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s %s %s: %w", doing, kind, name, err)
}

package owned

import (
	"context"
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

// writes counts the creates and updates a client makes.
type writes struct{ creates, updates int }

func newClients(t *testing.T, w *writes, fail func(obj client.Object) error, objs ...client.Object) (Clients, client.Client) {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).WithInterceptorFuncs(interceptor.Funcs{
		Create: func(ctx context.Context, cl client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			w.creates++
			return cl.Create(ctx, obj, opts...)
		},
		Update: func(ctx context.Context, cl client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			w.updates++
			if fail != nil {
				if err := fail(obj); err != nil {
					return err
				}
			}
			return cl.Update(ctx, obj, opts...)
		},
	}).Build()
	return Clients{Client: c, Read: c, Uncached: c}, c
}

var conn = &sfv1.SalesforceConnection{ObjectMeta: metav1.ObjectMeta{Name: "crm", Namespace: "ns", UID: "uid-1"}}

func secretNamed(name string) *corev1.Secret {
	s := &corev1.Secret{}
	s.Namespace, s.Name = "ns", name
	return s
}

func TestEnsureCreatesThenWritesOnlyChanges(t *testing.T) {
	var w writes
	cs, c := newClients(t, &w, nil)
	value := "a"
	ensure := func() error {
		s := secretNamed("crm-token")
		return Ensure(context.Background(), cs, conn, s, func() error {
			s.Data = map[string][]byte{"k": []byte(value)}
			return nil
		})
	}
	if err := ensure(); err != nil {
		t.Fatal(err)
	}
	var got corev1.Secret
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "crm-token"}, &got); err != nil {
		t.Fatal(err)
	}
	if !IsControlledBy(&got, "uid-1") || !IsManaged(&got) || got.Labels[LabelConnection] != "crm" {
		t.Fatalf("created without the operator's metadata: %+v", got.ObjectMeta)
	}
	if err := ensure(); err != nil {
		t.Fatal(err)
	}
	if w.creates != 1 || w.updates != 0 {
		t.Fatalf("writes at rest: %+v, want one create and no update", w)
	}
	value = "b"
	if err := ensure(); err != nil {
		t.Fatal(err)
	}
	if w.updates != 1 {
		t.Fatalf("a change made %d updates, want 1", w.updates)
	}
}

func TestEnsureRefusesSomeoneElsesObject(t *testing.T) {
	var w writes
	theirs := secretNamed("crm-token")
	theirs.Labels = map[string]string{"team": "other"}
	cs, _ := newClients(t, &w, nil, theirs)
	s := secretNamed("crm-token")
	err := Ensure(context.Background(), cs, conn, s, func() error { return nil })
	var foreign *ForeignError
	if !errors.As(err, &foreign) || foreign.Kind != "Secret" || foreign.Name != "crm-token" {
		t.Fatalf("err = %v, want a ForeignError naming the Secret", err)
	}
	if w.creates+w.updates != 0 {
		t.Fatalf("someone else's object was written: %+v", w)
	}
}

func TestEnsureRetriesALostRaceOnce(t *testing.T) {
	var w writes
	ours := secretNamed("crm-token")
	ours.OwnerReferences = Meta(conn, "crm-token").OwnerReferences
	conflicts := 1
	cs, _ := newClients(t, &w, func(client.Object) error {
		if conflicts > 0 {
			conflicts--
			return apierrors.NewConflict(schema.GroupResource{Resource: "secrets"}, "crm-token", errors.New("changed"))
		}
		return nil
	}, ours)
	s := secretNamed("crm-token")
	if err := Ensure(context.Background(), cs, conn, s, func() error {
		s.Data = map[string][]byte{"k": []byte("v")}
		return nil
	}); err != nil {
		t.Fatalf("a single conflict was not retried: %v", err)
	}
	if w.updates != 2 {
		t.Fatalf("updates = %d, want the conflict and its retry", w.updates)
	}

	conflicts = 5
	s = secretNamed("crm-token")
	err := Ensure(context.Background(), cs, conn, s, func() error {
		s.Data = map[string][]byte{"k": []byte("w")}
		return nil
	})
	if !apierrors.IsConflict(err) {
		t.Fatalf("err = %v, want the conflict after the retry", err)
	}
}

func TestEnsureOrphanAndClaim(t *testing.T) {
	var w writes
	ownerless := secretNamed("crm-token")
	ownerless.Labels = map[string]string{"team": "other"}
	ownedByOther := secretNamed("other-token")
	ownedByOther.OwnerReferences = Meta(&sfv1.SalesforceConnection{ObjectMeta: metav1.ObjectMeta{Name: "x", UID: "uid-x"}}, "other-token").OwnerReferences
	cs, c := newClients(t, &w, nil, ownerless, ownedByOther)
	claimAll := Options{Claim: func(client.Object) bool { return true }}

	s := secretNamed("crm-token")
	var foreign *ForeignError
	if err := EnsureWith(context.Background(), cs, conn, s, Options{Claim: func(client.Object) bool { return false }}, func() error { return nil }); !errors.As(err, &foreign) {
		t.Fatalf("an ownerless object not claimed was written: %v", err)
	}
	s = secretNamed("other-token")
	if err := EnsureWith(context.Background(), cs, conn, s, claimAll, func() error { return nil }); !errors.As(err, &foreign) {
		t.Fatalf("an object another controller owns was claimed: %v", err)
	}

	s = secretNamed("crm-token")
	if err := EnsureWith(context.Background(), cs, conn, s, claimAll, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	var got corev1.Secret
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "crm-token"}, &got); err != nil {
		t.Fatal(err)
	}
	if !IsControlledBy(&got, "uid-1") {
		t.Fatal("a claimed object did not get the owner reference")
	}
	orphan := claimAll
	orphan.Orphan = true
	s = secretNamed("crm-token")
	if err := EnsureWith(context.Background(), cs, conn, s, orphan, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "crm-token"}, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.OwnerReferences) != 0 || !IsManaged(&got) {
		t.Fatalf("orphan: owners %v, labels %v; want no owner, the operator's labels", got.OwnerReferences, got.Labels)
	}
	s = secretNamed("new-token")
	if err := EnsureWith(context.Background(), cs, conn, s, Options{Orphan: true}, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	if len(s.OwnerReferences) != 0 {
		t.Fatalf("created orphan with owners %v", s.OwnerReferences)
	}
}

// tracker records the versions of the writes it is told of, and checks that each End
// follows its Begin.
type tracker struct {
	open  int
	told  []string
	wrong bool
}

func (tr *tracker) Begin(client.Object) { tr.open++ }
func (tr *tracker) End(obj client.Object, ok bool) {
	tr.open--
	tr.wrong = tr.wrong || tr.open != 0
	if ok {
		tr.told = append(tr.told, obj.GetResourceVersion())
	}
}

// Writes hears of each create and update, with the version the write produced, and of
// nothing when Ensure wrote nothing; a failed write is ended, without a version.
func TestEnsureToldOfItsWrites(t *testing.T) {
	var w writes
	conflicts := 0
	cs, c := newClients(t, &w, func(client.Object) error {
		if conflicts > 0 {
			conflicts--
			return apierrors.NewConflict(schema.GroupResource{Resource: "secrets"}, "crm-token", errors.New("changed"))
		}
		return nil
	})
	tr := &tracker{}
	cs.Writes = tr
	value := "a"
	ensure := func() error {
		s := secretNamed("crm-token")
		return Ensure(context.Background(), cs, conn, s, func() error {
			s.Data = map[string][]byte{"k": []byte(value)}
			return nil
		})
	}
	current := func() string {
		var got corev1.Secret
		if err := c.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "crm-token"}, &got); err != nil {
			t.Fatal(err)
		}
		return got.ResourceVersion
	}
	if err := ensure(); err != nil {
		t.Fatal(err)
	}
	if len(tr.told) != 1 || tr.told[0] != current() {
		t.Fatalf("after the create told %v, want the created version %s", tr.told, current())
	}
	if err := ensure(); err != nil || len(tr.told) != 1 {
		t.Fatalf("at rest: err %v, told %v, want nothing more", err, tr.told)
	}
	value = "b"
	if err := ensure(); err != nil {
		t.Fatal(err)
	}
	if len(tr.told) != 2 || tr.told[1] != current() {
		t.Fatalf("after the update told %v, want the updated version %s last", tr.told, current())
	}
	value, conflicts = "c", 5
	if err := ensure(); !apierrors.IsConflict(err) || len(tr.told) != 2 {
		t.Fatalf("a failed write: err %v, told %v, want the conflict and nothing told", err, tr.told)
	}
	if tr.open != 0 || tr.wrong {
		t.Errorf("writes begun and not ended, or overlapping: open %d, wrong %v", tr.open, tr.wrong)
	}
}

// Only the mutation decides whether an object stays out of the cache: a key Secret
// somebody labelled so would be missing from the cache at every pass.
func TestEnsureTakesUncachedOffUnlessTheMutationPutsItBack(t *testing.T) {
	var w writes
	labelled := secretNamed("crm-key")
	labelled.Labels = map[string]string{LabelUncached: "true", "team": "crm"}
	labelled.OwnerReferences = Meta(conn, "crm-key").OwnerReferences
	cs, c := newClients(t, &w, nil, labelled, secretNamed("crm-token"))
	ctx := context.Background()
	get := func(name string) *corev1.Secret {
		t.Helper()
		var s corev1.Secret
		if err := c.Get(ctx, client.ObjectKey{Namespace: "ns", Name: name}, &s); err != nil {
			t.Fatal(err)
		}
		return &s
	}

	s := secretNamed("crm-key")
	if err := Ensure(ctx, cs, conn, s, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	if l := get("crm-key").Labels; l[LabelUncached] != "" || l["team"] != "crm" {
		t.Fatalf("labels after the write: %v, want %s off and the others kept", l, LabelUncached)
	}

	token := secretNamed("crm-token")
	token.OwnerReferences = Meta(conn, "crm-token").OwnerReferences
	if err := c.Update(ctx, token); err != nil {
		t.Fatal(err)
	}
	s = secretNamed("crm-token")
	if err := Ensure(ctx, cs, conn, s, func() error {
		s.Labels[LabelUncached] = "true"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if get("crm-token").Labels[LabelUncached] != "true" {
		t.Fatal("the label the mutation put on did not stay")
	}
}

package rotation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/owned"
)

const loginURL = "https://acme.my.salesforce.com"

// apiServer is a fake API server whose Secret writes and reads fail while a test says so.
type apiServer struct {
	client.Client
	failWrites, failReads int // that many calls fail; negative: all
	creates, updates      int
}

func fail(n *int) bool {
	switch {
	case *n > 0:
		*n--
		return true
	case *n < 0:
		return true
	}
	return false
}

func newAPIServer(t *testing.T, objs ...client.Object) *apiServer {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	a := &apiServer{}
	unavailable := apierrors.NewServiceUnavailable("etcd is unavailable")
	a.Client = fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).WithInterceptorFuncs(interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if fail(&a.failReads) {
				return unavailable
			}
			return c.Get(ctx, key, obj, opts...)
		},
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			a.creates++
			if fail(&a.failWrites) {
				return unavailable
			}
			return c.Create(ctx, obj, opts...)
		},
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			a.updates++
			if fail(&a.failWrites) {
				return unavailable
			}
			return c.Update(ctx, obj, opts...)
		},
	}).Build()
	return a
}

// storeOn is a Store as the controller makes it: writes and cache reads with one client,
// API server reads with another. The cache here fails every read, so a test passes only
// if the Store never reads it.
func storeOn(t *testing.T, api *apiServer) *Store {
	t.Helper()
	cache := interceptor.NewClient(api.Client.(client.WithWatch), interceptor.Funcs{
		Get: func(context.Context, client.WithWatch, client.ObjectKey, client.Object, ...client.GetOption) error {
			t.Error("the Store read the cache")
			return errors.New("cache read")
		},
	})
	return NewStore(owned.Clients{Client: cache, Uncached: api})
}

func testConn(uid string) *sfv1.SalesforceConnection {
	return &sfv1.SalesforceConnection{ObjectMeta: metav1.ObjectMeta{Name: "crm", Namespace: "ns", UID: types.UID(uid)}}
}

// stateSecret is a state Secret controlled by the connection with uid, holding token
// rotated from source.
func stateSecret(uid, source, token string) *corev1.Secret {
	conn := testConn(uid)
	s := &corev1.Secret{ObjectMeta: owned.Meta(conn, SecretName(conn)), Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{KeyRefreshToken: []byte(token)}}
	s.Annotations = map[string]string{AnnotationSourceHash: Digest(source)}
	return s
}

func (a *apiServer) stored(t *testing.T, conn *sfv1.SalesforceConnection) *corev1.Secret {
	t.Helper()
	var s corev1.Secret
	err := a.Get(context.Background(), types.NamespacedName{Namespace: conn.Namespace, Name: SecretName(conn)}, &s)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return &s
}

func TestDigest(t *testing.T) {
	sum := sha256.Sum256([]byte("5Aep861source"))
	if got := Digest("5Aep861source"); got != hex.EncodeToString(sum[:]) {
		t.Errorf("Digest = %s, want the hex SHA-256", got)
	}
	if Digest("a") == Digest("b") {
		t.Error("two tokens, one digest")
	}
	if SecretName(testConn("u")) != "crm-rotated-refresh-token" {
		t.Errorf("SecretName = %s", SecretName(testConn("u")))
	}
}

func TestUpdate(t *testing.T) {
	conn := testConn("uid-1")
	ctx := context.Background()

	t.Run("creates the Secret, controlled by the connection", func(t *testing.T) {
		api := newAPIServer(t)
		if err := storeOn(t, api).Update(ctx, conn, func(s *corev1.Secret) { s.Data[KeyDeviceCode] = []byte("code") }); err != nil {
			t.Fatal(err)
		}
		st := api.stored(t, conn)
		if st == nil || !owned.IsControlledBy(st, conn.UID) || !owned.IsManaged(st) || st.Type != corev1.SecretTypeOpaque ||
			string(st.Data[KeyDeviceCode]) != "code" {
			t.Fatalf("state Secret = %+v", st)
		}
	})

	t.Run("retries a transient failure", func(t *testing.T) {
		api := newAPIServer(t)
		api.failWrites = 1
		if err := storeOn(t, api).Update(ctx, conn, func(s *corev1.Secret) { s.Data[KeyDeviceCode] = []byte("code") }); err != nil {
			t.Fatalf("Update = %v, want the retry to succeed", err)
		}
		if api.creates != 2 || api.stored(t, conn) == nil {
			t.Fatalf("%d creates; want the failed one and its retry", api.creates)
		}
	})

	t.Run("retries a failed update", func(t *testing.T) {
		api := newAPIServer(t, stateSecret("uid-1", "source", "old"))
		api.failWrites = 2
		if err := storeOn(t, api).Update(ctx, conn, func(s *corev1.Secret) { s.Data[KeyRefreshToken] = []byte("new") }); err != nil {
			t.Fatalf("Update = %v", err)
		}
		if st := api.stored(t, conn); string(st.Data[KeyRefreshToken]) != "new" || api.updates != 3 {
			t.Fatalf("%d updates, token %q", api.updates, st.Data[KeyRefreshToken])
		}
	})

	t.Run("gives up on a lasting failure", func(t *testing.T) {
		api := newAPIServer(t)
		api.failWrites = -1
		err := storeOn(t, api).Update(ctx, conn, func(s *corev1.Secret) { s.Data[KeyDeviceCode] = []byte("code") })
		if !apierrors.IsServiceUnavailable(err) || api.creates < 2 {
			t.Fatalf("Update = %v after %d creates; want the API server's error after retries", err, api.creates)
		}
	})

	t.Run("stops retrying when the context ends", func(t *testing.T) {
		api := newAPIServer(t)
		api.failWrites = -1
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := storeOn(t, api).Update(cctx, conn, func(*corev1.Secret) {}); err == nil || api.creates != 1 {
			t.Fatalf("Update = %v after %d creates; want one attempt", err, api.creates)
		}
	})

	t.Run("never writes another connection's Secret", func(t *testing.T) {
		api := newAPIServer(t, stateSecret("uid-other", "source", "theirs"))
		err := storeOn(t, api).Update(ctx, conn, func(s *corev1.Secret) { s.Data[KeyRefreshToken] = []byte("mine") })
		var foreign *owned.ForeignError
		if !errors.As(err, &foreign) {
			t.Fatalf("Update = %v, want a ForeignError", err)
		}
		if st := api.stored(t, conn); string(st.Data[KeyRefreshToken]) != "theirs" || api.creates+api.updates != 0 {
			t.Fatalf("another connection's Secret was written: %q", st.Data[KeyRefreshToken])
		}
	})
}

package controller

// The token the process remembers of each connection (memory.issued), and how it stands in
// for the token Secret, which the manager's cache does not hold (owned.LabelUncached).

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/tokensecret"
)

// issuedToken is what the process remembers of a connection's token.
type issuedToken struct {
	token *tokensecret.Packed
	// secretVersion is a resourceVersion at which the token Secret held this token, and
	// secretDigest the digest of the whole Secret then (tokensecret.DigestOf). Empty when
	// no Secret is known to hold it (a write that failed, for one).
	secretVersion string
	secretDigest  tokensecret.Digest
}

// rememberToken remembers tok as the connection's token, held by s (the token Secret as
// written or read whole) when s is not nil.
func (r *Reconciler) rememberToken(key types.NamespacedName, tok *tokensecret.Token, s *corev1.Secret) {
	t := issuedToken{token: tok.Pack()}
	if s != nil {
		t.secretVersion, t.secretDigest = s.ResourceVersion, tokensecret.DigestOf(s)
	}
	r.mem.issued.store(key, t)
}

// recallTokenSecret rebuilds the connection's token Secret at resourceVersion rv from the
// token the process remembers, or returns nil. It does when the process last wrote or read
// the Secret whole at rv, and the spec still makes of the token the Secret it was then:
// every write changes the resourceVersion, and the digest tells a spec changed since (a
// template renders other keys) or metadata somebody else put on the Secret, which
// Desired does not make. Such a Secret is read from the API server instead.
func (r *Reconciler) recallTokenSecret(conn *sfv1.SalesforceConnection, rv string) *corev1.Secret {
	t, ok := r.mem.issued.load(keyOf(conn))
	if !ok || t.secretVersion == "" || t.secretVersion != rv {
		return nil
	}
	// A template that fails with this token failed at the write too: the Secret went
	// without the template keys, as it comes now.
	s, _ := tokensecret.Desired(conn, t.token.Unpack(), r.sealKey)
	if tokensecret.DigestOf(s) != t.secretDigest {
		return nil
	}
	s.ResourceVersion = rv
	return s
}

// tokenSecretReader reads the connection's token Secret for a write. The cache does not
// hold it (owned.LabelUncached): it is the Secret the pass read (known), at the version
// the pass read it; a Secret changed since fails the write with a conflict, and owned.Ensure
// reads it again. Not known is missing, as the pass found it: a create that finds it after
// all reads it then.
type tokenSecretReader struct {
	r     *Reconciler
	known *corev1.Secret
}

func (t tokenSecretReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	err := t.r.Client.Get(ctx, key, obj, opts...)
	if s, ok := obj.(*corev1.Secret); ok && apierrors.IsNotFound(err) && t.known != nil && client.ObjectKeyFromObject(t.known) == key {
		t.known.DeepCopyInto(s)
		return nil
	}
	return err
}

func (t tokenSecretReader) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	return t.r.Client.List(ctx, list, opts...)
}

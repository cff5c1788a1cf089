package controller

// The token the process remembers of each connection (memory.issued), and how it completes
// the cache's slim copy of the token Secret (tokensecret.Slim).

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/tokensecret"
)

// issuedToken is what the process remembers of a connection's token.
type issuedToken struct {
	token *tokensecret.Packed
	// secretVersion is a resourceVersion at which the token Secret held this token, and
	// secretDigest the digest of what the cache leaves out of it then: what
	// tokensecret.Desired made of the token at the write. Empty when no Secret is known to
	// hold it (a write that failed, for one).
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

// completeTokenSecret puts back into s, the cache's slim copy of the connection's token
// Secret, what the cache leaves out. From memory when s is at the version the process last
// wrote or read whole, and the spec still makes of the remembered token what the Secret
// held then (a spec changed since may render other template keys); from the API server
// otherwise, which is once per connection after a restart.
func (r *Reconciler) completeTokenSecret(ctx context.Context, conn *sfv1.SalesforceConnection, s *corev1.Secret) error {
	if t, ok := r.mem.issued.load(keyOf(conn)); ok && t.secretVersion != "" && t.secretVersion == s.ResourceVersion {
		// A template that fails with this token failed at the write too: the Secret
		// went without the template keys, as desired is now.
		desired, _ := tokensecret.Desired(conn, t.token.Unpack(), r.sealKey)
		if tokensecret.DigestOf(desired) == t.secretDigest {
			tokensecret.Complete(s, desired)
			return nil
		}
	}
	key := client.ObjectKeyFromObject(s)
	*s = corev1.Secret{}
	return r.APIReader.Get(ctx, key, s)
}

// tokenSecretReader reads the connection's token Secret for a write: whole, whatever the
// cache keeps of it. known is the Secret as the pass read it whole, if it did.
type tokenSecretReader struct {
	r     *Reconciler
	conn  *sfv1.SalesforceConnection
	known *corev1.Secret
}

func (t tokenSecretReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if err := t.r.Client.Get(ctx, key, obj, opts...); err != nil {
		return err
	}
	s, ok := obj.(*corev1.Secret)
	switch {
	case !ok || !tokensecret.MaybeSlim(s):
		return nil
	case t.known != nil && t.known.ResourceVersion == s.ResourceVersion && client.ObjectKeyFromObject(t.known) == key:
		t.known.DeepCopyInto(s)
		return nil
	}
	return t.r.completeTokenSecret(ctx, t.conn, s)
}

func (t tokenSecretReader) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	return t.r.Client.List(ctx, list, opts...)
}

// Package rotation keeps refresh tokens that rotate. Under refresh token rotation every
// refresh answer carries the next refresh token and the one sent is dead: replaying it
// makes Salesforce delete the live one too
// (docs/salesforce-behaviour.md#refresh-token-rotation-and-replay). The user's
// credentials Secret may be owned by GitOps, which would revert an edit, so the operator
// keeps the current refresh token of each chain in a Secret of its own (Chains), tied to
// the token the chain starts at: when the user puts a new refresh_token in the credentials
// Secret, a new chain starts from it. A connection's own state Secret (Store) holds a
// pending device login's code.
package rotation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/owned"
)

// Keys and annotations of the state Secret.
const (
	// KeyRefreshToken holds the current refresh token of the chain.
	KeyRefreshToken = "refresh_token"
	// KeyDeviceCode holds a pending device login's device code.
	KeyDeviceCode = "device_code"
	// AnnotationSourceHash is the SHA-256 of the user-supplied refresh token the stored one
	// descends from.
	AnnotationSourceHash = "salesforce.sfconn.io/source-hash"
	// AnnotationLoginURL is where a device login's refresh token was obtained.
	AnnotationLoginURL = "salesforce.sfconn.io/login-url"
	// AnnotationDeviceInterval is the polling interval of a pending device login.
	AnnotationDeviceInterval = "salesforce.sfconn.io/device-interval"
)

// SecretName is the connection's state Secret.
func SecretName(conn *sfv1.SalesforceConnection) string {
	return owned.DerivedName(owned.BaseName(conn), "-rotated-refresh-token")
}

// Digest is the SHA-256 of a token, to tie a stored token to its source without keeping
// the source.
func Digest(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Store reads and writes the connections' own state Secrets: a pending device login's code
// and polling interval, and the chains older operators kept there, which Chains adopts.
// Reads go to the API server, never the cache: a cache a moment behind a write would hand
// back a code or a token that is no longer current.
type Store struct {
	clients owned.Clients
}

// NewStore writes with c and reads with its uncached reader.
func NewStore(c owned.Clients) *Store {
	c.Read = c.Uncached
	return &Store{clients: c}
}

// Read returns the connection's state Secret, or nil when there is none of its own.
func (s *Store) Read(ctx context.Context, conn *sfv1.SalesforceConnection) (*corev1.Secret, error) {
	var st corev1.Secret
	err := s.clients.Uncached.Get(ctx, types.NamespacedName{Namespace: conn.Namespace, Name: SecretName(conn)}, &st)
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, err
	case !owned.IsControlledBy(&st, conn.UID):
		return nil, nil
	}
	return &st, nil
}

// Update applies change to the connection's state Secret, creating it if needed. Failures
// are retried: losing this write could lose the only live refresh token.
func (s *Store) Update(ctx context.Context, conn *sfv1.SalesforceConnection, change func(*corev1.Secret)) error {
	// Someone else's Secret under the name stays someone else's: no retry helps.
	retriable := func(err error) bool { return ctx.Err() == nil && !errors.As(err, new(*owned.ForeignError)) }
	return retry.OnError(retry.DefaultBackoff, retriable, func() error {
		st := &corev1.Secret{}
		st.Namespace, st.Name = conn.Namespace, SecretName(conn)
		return owned.Ensure(ctx, s.clients, conn, st, func() error {
			st.Annotations = owned.MergeMaps(st.Annotations, nil)
			st.Type = corev1.SecretTypeOpaque
			if st.Data == nil {
				st.Data = map[string][]byte{}
			}
			change(st)
			return nil
		})
	})
}

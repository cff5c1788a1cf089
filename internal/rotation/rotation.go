// Package rotation keeps refresh tokens that rotate. Under refresh token rotation every
// refresh answer carries the next refresh token and the one sent is dead: replaying it
// makes Salesforce delete the live one too
// (docs/salesforce-behaviour.md#refresh-token-rotation-and-replay). The user's
// credentials Secret may be owned by GitOps, which would revert an edit, so the operator
// keeps the current refresh token in a state Secret of its own, tied to the user's token
// it descends from: when the user puts a new refresh_token in the credentials Secret, the
// chain starts over from it. The same Secret holds a pending device login's code.
package rotation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sync"

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
	return owned.DerivedName(conn.Name, "-rotated-refresh-token")
}

// Digest is the SHA-256 of a token, to tie a stored token to its source without keeping
// the source.
func Digest(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Store reads and writes the state Secrets. Reads go to the API server, never the cache:
// a cache a moment behind a rotation would hand back a dead refresh token, and replaying
// it kills the live one.
type Store struct {
	clients owned.Clients

	mu sync.Mutex
	// unsaved holds rotated refresh tokens that could not be stored yet, by connection.
	// The token sent is already dead, so this copy is the only live one until it is
	// stored; it is stored before the next refresh.
	unsaved map[types.NamespacedName]unsavedToken
}

type unsavedToken struct {
	sourceDigest, token, loginURL string
}

// NewStore writes with c and reads with uncached.
func NewStore(c owned.Clients) *Store {
	c.Read = c.Uncached
	return &Store{clients: c, unsaved: map[types.NamespacedName]unsavedToken{}}
}

// Current returns the refresh token to send for the chain that starts at source: the
// latest rotated one when it descends from source, else source itself. A rotated token
// held only in memory is stored first; failing that, it is not sent either.
func (s *Store) Current(ctx context.Context, conn *sfv1.SalesforceConnection, source string) (string, error) {
	key := keyOf(conn)
	if u, ok := s.unsavedOf(key); ok && u.sourceDigest == Digest(source) {
		if err := s.save(ctx, conn, source, u.token, u.loginURL); err != nil {
			return "", err
		}
		s.drop(key)
	}
	st, err := s.Read(ctx, conn)
	if err != nil {
		return "", err
	}
	if st == nil || st.Annotations[AnnotationSourceHash] != Digest(source) || len(st.Data[KeyRefreshToken]) == 0 {
		return source, nil
	}
	return string(st.Data[KeyRefreshToken]), nil
}

// Rotated stores next, the refresh token that a refresh of the chain from source, at
// loginURL, answered with, before anything else uses the new access token. When the API
// server fails, next stays in memory, is stored before the next refresh, and the error
// says so.
func (s *Store) Rotated(ctx context.Context, conn *sfv1.SalesforceConnection, source, next, loginURL string) error {
	if err := s.save(ctx, conn, source, next, loginURL); err != nil {
		s.hold(keyOf(conn), unsavedToken{sourceDigest: Digest(source), token: next, loginURL: loginURL})
		return err
	}
	return nil
}

// Unsaved returns the rotated refresh token held in memory for the connection, if any.
func (s *Store) Unsaved(key types.NamespacedName) (string, bool) {
	u, ok := s.unsavedOf(key)
	return u.token, ok
}

// Forget drops what is held in memory for a connection that is gone.
func (s *Store) Forget(key types.NamespacedName) { s.drop(key) }

// save stores token as the chain's current one; the login URL goes with it, so a
// deletion revokes a token the operator minted where it was obtained.
func (s *Store) save(ctx context.Context, conn *sfv1.SalesforceConnection, source, token, loginURL string) error {
	return s.Update(ctx, conn, func(st *corev1.Secret) {
		st.Annotations[AnnotationSourceHash] = Digest(source)
		if loginURL != "" {
			st.Annotations[AnnotationLoginURL] = loginURL
		}
		st.Data[KeyRefreshToken] = []byte(token)
		delete(st.Data, KeyDeviceCode)
	})
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

func keyOf(conn *sfv1.SalesforceConnection) types.NamespacedName {
	return types.NamespacedName{Namespace: conn.Namespace, Name: conn.Name}
}

func (s *Store) unsavedOf(key types.NamespacedName) (unsavedToken, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.unsaved[key]
	return u, ok
}

func (s *Store) hold(key types.NamespacedName, u unsavedToken) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unsaved[key] = u
}

func (s *Store) drop(key types.NamespacedName) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.unsaved, key)
}

package controller

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

// Under refresh token rotation, every refresh answer carries the next refresh token and
// the one sent is dead: replaying it makes Salesforce delete the live one too. The user's
// credentials Secret may be owned by GitOps (which would revert an edit), so the operator
// keeps the current refresh token in a Secret of its own, tied to the user's token it
// descends from: when the user puts a new refresh_token in the credentials Secret, the
// chain starts over from it.
const (
	// keyDeviceCode holds a pending device login's device code.
	keyDeviceCode = "device_code"
	// AnnotationLoginURL is where a device login's refresh token was obtained.
	AnnotationLoginURL = "salesforce.sfconn.io/login-url"
	// AnnotationDeviceInterval is the polling interval of a pending device login.
	AnnotationDeviceInterval = "salesforce.sfconn.io/device-interval"
	// AnnotationSourceHash is the SHA-256 of the user-supplied refresh token a rotated one
	// descends from.
	AnnotationSourceHash = "salesforce.sfconn.io/source-hash"
)

func refreshSecretName(conn *sfv1.SalesforceConnection) string {
	return conn.Name + "-rotated-refresh-token"
}

func tokenDigest(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// currentRefreshToken returns the refresh token to use: the latest rotated one when it
// descends from the user's, else the user's own.
func (r *Reconciler) currentRefreshToken(ctx context.Context, conn *sfv1.SalesforceConnection, userToken string) (string, error) {
	s, err := r.readStateSecret(ctx, conn)
	if err != nil {
		return "", err
	}
	if s == nil || s.Annotations[AnnotationSourceHash] != tokenDigest(userToken) || len(s.Data[keyRefreshToken]) == 0 {
		return userToken, nil
	}
	return string(s.Data[keyRefreshToken]), nil
}

// storeRotatedRefreshToken persists a rotated refresh token before anything else uses the
// new access token.
func (r *Reconciler) storeRotatedRefreshToken(ctx context.Context, conn *sfv1.SalesforceConnection, userToken, rotated string) error {
	return r.updateStateSecret(ctx, conn, func(s *corev1.Secret) {
		s.Annotations[AnnotationSourceHash] = tokenDigest(userToken)
		s.Data[keyRefreshToken] = []byte(rotated)
		delete(s.Data, keyDeviceCode)
	})
}

// updateStateSecret applies change to the operator's state Secret of the connection,
// creating it if needed. Conflicts and transient errors are retried: losing this write
// could lose the only live refresh token.
func (r *Reconciler) updateStateSecret(ctx context.Context, conn *sfv1.SalesforceConnection, change func(*corev1.Secret)) error {
	key := types.NamespacedName{Namespace: conn.Namespace, Name: refreshSecretName(conn)}
	return retry.OnError(retry.DefaultBackoff, func(error) bool { return ctx.Err() == nil }, func() error {
		var s corev1.Secret
		err := r.APIReader.Get(ctx, key, &s)
		create := apierrors.IsNotFound(err)
		switch {
		case create:
			s = corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace}}
		case err != nil:
			return err
		case !isControlledBy(&s, conn.UID):
			return fmt.Errorf("secret %s exists and is not controlled by this SalesforceConnection", key.Name)
		}
		owner := ownedMeta(conn, key.Name)
		s.Labels = mergeMaps(s.Labels, owner.Labels)
		s.Annotations = mergeMaps(s.Annotations, nil)
		s.OwnerReferences = owner.OwnerReferences
		s.Type = corev1.SecretTypeOpaque
		if s.Data == nil {
			s.Data = map[string][]byte{}
		}
		change(&s)
		if create {
			return r.Client.Create(ctx, &s)
		}
		return r.Client.Update(ctx, &s)
	})
}

// readStateSecret returns the connection's state Secret, or nil when there is none. It
// reads from the API server, not the cache: a cache a moment behind a rotation would
// hand back a dead refresh token, and replaying it kills the live one.
func (r *Reconciler) readStateSecret(ctx context.Context, conn *sfv1.SalesforceConnection) (*corev1.Secret, error) {
	var s corev1.Secret
	err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: conn.Namespace, Name: refreshSecretName(conn)}, &s)
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, err
	case !isControlledBy(&s, conn.UID):
		return nil, nil
	}
	return &s, nil
}

func mergeMaps(dst, src map[string]string) map[string]string {
	if dst == nil {
		dst = map[string]string{}
	}
	for k, v := range src {
		dst[k] = v
	}
	return dst
}

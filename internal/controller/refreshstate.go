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
	var s corev1.Secret
	err := r.Client.Get(ctx, types.NamespacedName{Namespace: conn.Namespace, Name: refreshSecretName(conn)}, &s)
	switch {
	case apierrors.IsNotFound(err):
		return userToken, nil
	case err != nil:
		return "", err
	}
	if !isControlledBy(&s, conn.UID) || s.Annotations[AnnotationSourceHash] != tokenDigest(userToken) || len(s.Data[keyRefreshToken]) == 0 {
		return userToken, nil
	}
	return string(s.Data[keyRefreshToken]), nil
}

// storeRotatedRefreshToken persists a rotated refresh token before anything else uses the
// new access token. Conflicts are retried: losing this write would lose the only live
// refresh token.
func (r *Reconciler) storeRotatedRefreshToken(ctx context.Context, conn *sfv1.SalesforceConnection, userToken, rotated string) error {
	key := types.NamespacedName{Namespace: conn.Namespace, Name: refreshSecretName(conn)}
	return retry.OnError(retry.DefaultBackoff, func(error) bool { return true }, func() error {
		var s corev1.Secret
		err := r.APIReader.Get(ctx, key, &s)
		if apierrors.IsNotFound(err) {
			s = corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace}}
			r.setRefreshSecret(conn, &s, userToken, rotated)
			return r.Client.Create(ctx, &s)
		}
		if err != nil {
			return err
		}
		if !isControlledBy(&s, conn.UID) {
			return fmt.Errorf("secret %s exists and is not controlled by this SalesforceConnection", key.Name)
		}
		r.setRefreshSecret(conn, &s, userToken, rotated)
		return r.Client.Update(ctx, &s)
	})
}

func (r *Reconciler) setRefreshSecret(conn *sfv1.SalesforceConnection, s *corev1.Secret, userToken, rotated string) {
	owner := desiredTokenSecret(conn, &issuedToken{data: map[string][]byte{}})
	s.Labels = mergeMaps(s.Labels, owner.Labels)
	s.Annotations = mergeMaps(s.Annotations, map[string]string{AnnotationSourceHash: tokenDigest(userToken)})
	s.OwnerReferences = owner.OwnerReferences
	s.Type = corev1.SecretTypeOpaque
	s.Data = map[string][]byte{keyRefreshToken: []byte(rotated)}
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

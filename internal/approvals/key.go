package approvals

// The key approvals are named with lives in a Secret of its own in the operator's
// namespace, created on first start and shared by every replica, so that the same refresh
// token gets the same id in every connection, across restarts and leader changes, while
// readers of status (a wider audience than readers of Secrets) cannot test a guess
// against it.

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sfconn/sfconn-operator/internal/owned"
)

// KeyDataKey is the key of the Secret's data that holds the key.
const KeyDataKey = "key"

// LoadKey returns the key in Secret namespace/name, creating the Secret with a random key if
// it does not exist. Two replicas starting together both end up with the one created first.
func LoadKey(ctx context.Context, c client.Client, namespace, name string) ([]byte, error) {
	key := types.NamespacedName{Namespace: namespace, Name: name}
	for attempt := 0; attempt < 2; attempt++ {
		var s corev1.Secret
		err := c.Get(ctx, key, &s)
		if err == nil {
			if len(s.Data[KeyDataKey]) < 32 {
				return nil, fmt.Errorf("secret %s holds no key of 32 bytes or more under %q", key, KeyDataKey)
			}
			return s.Data[KeyDataKey], nil
		}
		if !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("reading secret %s: %w", key, err)
		}
		k := make([]byte, 32)
		if _, err := rand.Read(k); err != nil {
			return nil, err
		}
		s = corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name,
				Labels: map[string]string{owned.LabelManagedBy: owned.ManagedByValue}},
			Type: corev1.SecretTypeOpaque,
			Data: map[string][]byte{KeyDataKey: k},
		}
		err = c.Create(ctx, &s)
		if err == nil {
			return k, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("creating secret %s: %w", key, err)
		}
	}
	return nil, fmt.Errorf("secret %s could not be read or created", key)
}

// ID names the approval a refresh token was granted as, in status: a keyed hash, so that
// status (readable by more people than Secrets) reveals nothing a dictionary could match;
// truncated, since it only has to tell a handful of tokens apart.
func ID(key []byte, refreshToken string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(refreshToken))
	return hex.EncodeToString(mac.Sum(nil))[:32]
}

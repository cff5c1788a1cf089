package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

const floorNamespace = "bench-floor"

// measureFloor times the API server's floor of four writes per connection, all made by
// the harness itself at full speed: the two the harness makes for each connection (a
// credentials Secret and the connection) and the two the operator must make (a
// token-sized Secret create and a status-sized merge patch with an optimistic lock, as the
// operator patches status). Each of concurrency workers (like --max-concurrent-reconciles)
// makes the four writes of one connection after another, with no client-side rate limit.
// The manager is not running yet; the floor's objects are deleted afterwards, before it
// starts. It also returns the JSON size of the status it patched.
func measureFloor(ctx context.Context, cl *cluster, w workload, concurrency int) (time.Duration, int, error) {
	w.namespace = floorNamespace
	if err := cl.createNamespace(ctx, w.namespace); err != nil {
		return 0, 0, err
	}
	statusBytes := 0
	start := time.Now()
	err := forEach(ctx, w.n, concurrency, func(ctx context.Context, i int) error {
		if err := cl.admin.Create(ctx, w.credentials(i)); err != nil {
			return err
		}
		conn := w.connection(i)
		if err := cl.admin.Create(ctx, conn); err != nil {
			return err
		}
		if err := cl.admin.Create(ctx, floorTokenSecret(conn)); err != nil {
			return err
		}
		patch := client.MergeFromWithOptions(conn.DeepCopy(), client.MergeFromWithOptimisticLock{})
		conn.Status = floorStatus(conn, w.sf)
		if i == 0 {
			statusBytes = jsonSize(conn.Status)
		}
		return cl.admin.Status().Patch(ctx, conn, patch)
	})
	elapsed := time.Since(start)
	if err != nil {
		return 0, 0, fmt.Errorf("floor writes: %w", err)
	}

	for _, obj := range []client.Object{&sfv1.SalesforceConnection{}, &corev1.Secret{}} {
		if err := cl.admin.DeleteAllOf(ctx, obj, client.InNamespace(w.namespace)); err != nil {
			return 0, 0, fmt.Errorf("deleting the floor's objects: %w", err)
		}
	}
	return elapsed, statusBytes, nil
}

// floorTokenSecret is shaped like the operator's token Secret: the same keys, labels,
// annotations and controller reference, with values of the same length.
func floorTokenSecret(conn *sfv1.SalesforceConnection) *corev1.Secret {
	controller := true
	now := time.Now().UTC()
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: conn.Name + "-token", Namespace: conn.Namespace,
			Labels: map[string]string{"app.kubernetes.io/managed-by": "bench-floor", "salesforce.sfconn.io/connection": conn.Name},
			Annotations: map[string]string{
				"salesforce.sfconn.io/issued-at":   now.Format(time.RFC3339),
				"salesforce.sfconn.io/expires-at":  now.Add(2 * time.Hour).Format(time.RFC3339),
				"salesforce.sfconn.io/inputs-hash": randomHex(32),
				"salesforce.sfconn.io/data-hash":   randomHex(32),
			},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: sfv1.GroupVersion.String(), Kind: "SalesforceConnection", Name: conn.Name, UID: conn.UID,
				Controller: &controller, BlockOwnerDeletion: &controller,
			}},
		},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{
			"access_token": []byte("00D000000000001!" + randomHex(48)),
			"instance_url": []byte(conn.Spec.LoginURL),
			"token_type":   []byte("Bearer"),
			"issued_at":    []byte(now.Format(time.RFC3339)),
			"expires_at":   []byte(now.Add(2 * time.Hour).Format(time.RFC3339)),
			"id":           []byte(conn.Spec.LoginURL + "/id/00D000000000001AAA/005000000000001AAA"),
			"org_id":       []byte("00D000000000001AAA"),
			"user_id":      []byte("005000000000001AAA"),
		},
	}
}

// floorStatus is a status like the one the operator writes for a new, Ready connection.
func floorStatus(conn *sfv1.SalesforceConnection, sf *salesforce) sfv1.SalesforceConnectionStatus {
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	expires := metav1.NewTime(now.Add(2 * time.Hour))
	renew := metav1.NewTime(now.Add(80 * time.Minute))
	return sfv1.SalesforceConnectionStatus{
		ObservedGeneration: conn.Generation,
		InstanceURL:        sf.url(),
		OrgID:              "00D000000000001AAA",
		UserID:             "005000000000001AAA",
		IssuedAt:           &now,
		ExpiresAt:          &expires,
		RenewAt:            &renew,
		TokenSecretName:    conn.Name + "-token",
		Principal:          &sfv1.Principal{OrgID: "00D000000000001AAA", ClientID: sf.clientID, UserID: "005000000000001AAA", Username: sf.username},
		Conditions: []metav1.Condition{{
			Type: sfv1.ConditionReady, Status: metav1.ConditionTrue, Reason: sfv1.ReasonTokenIssued,
			ObservedGeneration: conn.Generation, LastTransitionTime: now,
			Message: fmt.Sprintf("Secret %s-token holds a token valid until %s; renewal at %s",
				conn.Name, expires.UTC().Format(time.RFC3339), renew.UTC().Format(time.RFC3339)),
		}},
	}
}

// randomHex is 2n hexadecimal digits (n = 32: the length of a SHA-256 in hex).
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func jsonSize(v any) int {
	b, _ := json.Marshal(v)
	return len(b)
}

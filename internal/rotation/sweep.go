package rotation

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The sweep: chains that no connection holds are kept for OrphanGrace, for a connection to
// come back, then released.

// Sweep deletes the chains no connection holds any more (live names those held) once
// they have been orphaned for OrphanGrace, revoking first the token the operator minted
// (a rotation, or a device login's token): nobody else knows it, and it holds one of the
// user's five approvals. A chain whose revocation fails is kept, for the next sweep.
func (c *Chains) Sweep(ctx context.Context, live map[string]bool, revoke func(ctx context.Context, loginURL, token string) error) error {
	var list corev1.SecretList
	if err := c.uncached.List(ctx, &list, client.InNamespace(c.namespace), client.HasLabels{LabelChain}); err != nil {
		return fmt.Errorf("listing the refresh token chains: %w", err)
	}
	now := c.clock.Now()
	var errs []error
	for i := range list.Items {
		s := &list.Items[i]
		id := s.Labels[LabelChain]
		if s.Annotations == nil {
			s.Annotations = map[string]string{}
		}
		since, orphaned := s.Annotations[AnnotationOrphanedSince]
		switch {
		case live[id] && orphaned:
			errs = append(errs, c.update(ctx, s, func(s *corev1.Secret) { delete(s.Annotations, AnnotationOrphanedSince) }))
		case live[id]:
		case !orphaned:
			errs = append(errs, c.update(ctx, s, func(s *corev1.Secret) {
				s.Annotations[AnnotationOrphanedSince] = now.UTC().Format(time.RFC3339)
			}))
		default:
			at, err := time.Parse(time.RFC3339, since)
			if err == nil && now.Before(at.Add(OrphanGrace)) {
				continue
			}
			errs = append(errs, c.release(ctx, id, s, revoke))
		}
	}
	return errors.Join(errs...)
}

func (c *Chains) release(ctx context.Context, id string, s *corev1.Secret, revoke func(ctx context.Context, loginURL, token string) error) error {
	unlock := c.lock(id)
	defer unlock()
	seq, _ := strconv.Atoi(s.Annotations[AnnotationSeq])
	if token := string(s.Data[KeyRefreshToken]); token != "" && (seq > 0 || s.Annotations[AnnotationMinted] == "true") {
		if err := revoke(ctx, s.Annotations[AnnotationLoginURL], token); err != nil {
			return fmt.Errorf("revoking the token of an orphaned chain: %w", err)
		}
	}
	c.forget(id)
	if err := c.client.Delete(ctx, s, client.Preconditions{ResourceVersion: &s.ResourceVersion}); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return nil
}

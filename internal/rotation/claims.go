package rotation

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Claims fence a chain across processes: a claim is an annotation written with a
// precondition on the version of the chain Secret read, so two replicas, or a leader that
// lost its lease, never refresh one chain at once.

// claim marks the chain as being refreshed by this process, over the version read: a
// process that read an older version, or whose claim another overtook, gets a conflict.
func (c *Chains) claim(ctx context.Context, ch Chain, s *corev1.Secret) (*corev1.Secret, error) {
	now := c.clock.Now()
	if s != nil {
		if holder, until, ok := parseClaim(s.Annotations[AnnotationClaim]); ok && holder != c.holder && now.Before(until) {
			return nil, &ClaimedError{Holder: holder, Until: until}
		}
	}
	claim := c.holder + " " + now.Add(ClaimTTL).UTC().Format(time.RFC3339)
	if s == nil {
		s = c.newSecret(ch)
		s.Annotations[AnnotationClaim] = claim
		if err := c.client.Create(ctx, s); err != nil {
			return nil, fmt.Errorf("claiming the refresh token's chain: %w", err)
		}
		return s, nil
	}
	if err := c.update(ctx, s, func(s *corev1.Secret) { s.Annotations[AnnotationClaim] = claim }); err != nil {
		return nil, fmt.Errorf("claiming the refresh token's chain: %w", err)
	}
	return s, nil
}

// claimFor claims the chain unless there is no Secret yet (a create is its own claim).
func (c *Chains) claimFor(ctx context.Context, ch Chain, s *corev1.Secret) (*corev1.Secret, error) {
	if s == nil {
		return nil, nil
	}
	return c.claim(ctx, ch, s)
}

func parseClaim(v string) (holder string, until time.Time, ok bool) {
	holder, at, found := strings.Cut(v, " ")
	if !found {
		return "", time.Time{}, false
	}
	until, err := time.Parse(time.RFC3339, at)
	return holder, until, err == nil
}

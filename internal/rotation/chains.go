package rotation

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/approvals"
	"github.com/sfconn/sfconn-operator/internal/owned"
	"github.com/sfconn/sfconn-operator/internal/salesforce"
)

// A chain is the sequence of refresh tokens that starts at one source refresh token (the
// user's, or a device login's first) and that Salesforce rotates at each refresh. Every
// connection that holds the same source shares one chain, whatever its namespace: a
// second chain would send a token the first one has already rotated away, and Salesforce
// answers a replay by revoking the live token of both. A chain lives in a Secret of the
// operator's namespace, named after the chain's id (the approval id of its source, a
// keyed hash), where tenants can neither read nor edit it, and which outlives its
// connections: a connection deleted and created again (an Argo CD replace, a restore from
// backup) finds its chain by the token it holds. Chains nobody holds any more are swept:
// the token the operator minted is revoked, and the Secret deleted.

// Annotations and labels of a chain Secret.
const (
	// LabelChain marks a chain Secret with the chain's id.
	LabelChain = "salesforce.sfconn.io/chain"
	// AnnotationSeq counts the rotations stored: 0 while the chain still sends its source.
	AnnotationSeq = "salesforce.sfconn.io/chain-seq"
	// AnnotationClaim is "<holder> <until>": the process that is refreshing the chain, and
	// until when no other may.
	AnnotationClaim = "salesforce.sfconn.io/claim"
	// AnnotationRotates is "false" once a refresh answered without a new refresh token:
	// the connected app does not rotate, and the chain needs no claim.
	AnnotationRotates = "salesforce.sfconn.io/rotates"
	// AnnotationMinted is "true" when the operator obtained the chain's first token itself
	// (device login).
	AnnotationMinted = "salesforce.sfconn.io/minted"
	// AnnotationOrphanedSince is when the sweep first found no connection holding the chain.
	AnnotationOrphanedSince = "salesforce.sfconn.io/orphaned-since"
)

const (
	// ClaimTTL is how long a claim holds: longer than a login and the store after it, so
	// that a replica which lost the lease in between cannot be overtaken mid-refresh.
	ClaimTTL = 5 * time.Minute
	// StoreBudget is how long a rotated token is retried into its Secret before it is
	// held in memory alone.
	StoreBudget = 2 * time.Minute
	// OrphanGrace is how long a chain nobody holds is kept for a connection to come back.
	OrphanGrace = time.Hour
)

// Chains reads and writes the chain Secrets in the operator's namespace.
type Chains struct {
	client    client.Client
	uncached  client.Reader
	namespace string
	key       []byte
	holder    string
	clock     clock.PassiveClock
	// storeBudget is how long a rotated token is retried into its Secret.
	storeBudget time.Duration
	// legacy reads the per-connection state Secrets older operators kept chains in.
	legacy *Store

	mu    sync.Mutex
	locks map[string]*sync.Mutex
	// unsaved holds rotated refresh tokens not stored yet, by chain: the token sent is
	// dead, so this copy is the only live one until it is stored, which comes first at
	// the chain's next refresh.
	unsaved map[string]string
}

// ChainsOptions configure Chains.
type ChainsOptions struct {
	Client   client.Client
	Uncached client.Reader
	// Namespace holds the chain Secrets: the operator's own.
	Namespace string
	// Key names chains (approvals.ID); the operator's secret key.
	Key []byte
	// Holder names this process in claims; a random name when empty.
	Holder string
	Clock  clock.PassiveClock
	// StoreBudget is how long a rotated token is retried into its Secret (StoreBudget
	// when zero).
	StoreBudget time.Duration
}

// NewChains returns the chains of opts.Namespace.
func NewChains(o ChainsOptions) *Chains {
	if o.Holder == "" {
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		o.Holder = "sfconn-" + hex.EncodeToString(b)
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.StoreBudget <= 0 {
		o.StoreBudget = StoreBudget
	}
	return &Chains{client: o.Client, uncached: o.Uncached, namespace: o.Namespace, key: o.Key, holder: o.Holder,
		clock: o.Clock, storeBudget: o.StoreBudget, legacy: NewStore(owned.Clients{Client: o.Client, Uncached: o.Uncached}),
		locks: map[string]*sync.Mutex{}, unsaved: map[string]string{}}
}

// Chain names one chain, for one connection that holds it.
type Chain struct {
	// ID is the approval id of the source refresh token.
	ID       string
	source   string
	loginURL string
	minted   bool
	conn     *sfv1.SalesforceConnection
}

// Of is the chain that starts at source, a refresh token obtained at loginURL; minted
// when the operator obtained it (device login).
func (c *Chains) Of(conn *sfv1.SalesforceConnection, source, loginURL string, minted bool) Chain {
	return Chain{ID: approvals.ID(c.key, source), source: source, loginURL: loginURL, minted: minted, conn: conn}
}

// ChainSecretName is the Secret of the chain with this id.
func ChainSecretName(id string) string { return "sfconn-chain-" + id }

// ClaimedError says another process is refreshing the chain.
type ClaimedError struct {
	Holder string
	Until  time.Time
}

func (e *ClaimedError) Error() string {
	return fmt.Sprintf("another replica (%s) is refreshing this refresh token's chain until %s", e.Holder, e.Until.UTC().Format(time.RFC3339))
}

// UnsavedError says a rotated refresh token could not be stored, and is held in memory.
type UnsavedError struct{ Err error }

func (e *UnsavedError) Error() string {
	return "the rotated refresh token is held in memory only: storing it failed: " + e.Err.Error()
}
func (e *UnsavedError) Unwrap() error { return e.Err }

// Refresh runs refresh with the chain's current refresh token and stores the one the
// answer rotates to, before Refresh returns the answer: one refresh of a chain at a time
// in this process, and a claim on the chain's Secret, made with a precondition on the
// version read, keeps other replicas, and a leader that lost its lease, from refreshing
// it too. A token that cannot be stored within StoreBudget is held in memory and stored
// before the chain's next refresh; the answer then comes with an *UnsavedError. Other
// errors are refresh's, or the API server's.
func (c *Chains) Refresh(ctx context.Context, ch Chain, refresh func(ctx context.Context, refreshToken string) (*salesforce.Token, error)) (*salesforce.Token, error) {
	unlock := c.lock(ch.ID)
	defer unlock()
	if err := c.storeUnsaved(ctx, ch); err != nil {
		return nil, err
	}
	s, err := c.read(ctx, ch.ID)
	if err != nil {
		return nil, err
	}
	rt, err := c.current(ctx, ch, s)
	if err != nil {
		return nil, err
	}
	if s == nil || s.Annotations[AnnotationRotates] != "false" {
		if s, err = c.claim(ctx, ch, s); err != nil {
			return nil, err
		}
	}
	tok, err := refresh(ctx, rt)
	if err != nil {
		return nil, err
	}
	// Neither storing the answer nor releasing the claim is cancelled with the pass: the
	// rotated token is the only live one.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.storeBudget)
	defer cancel()
	if tok.RefreshToken == "" || tok.RefreshToken == rt {
		if s != nil && s.Annotations[AnnotationRotates] != "false" {
			// The app does not rotate (or no longer does): no claim needed from now on.
			_ = c.update(sctx, s, func(s *corev1.Secret) {
				s.Annotations[AnnotationRotates] = "false"
				delete(s.Annotations, AnnotationClaim)
			})
		}
		return tok, nil
	}
	if err := c.storeRotated(sctx, ch, s, tok.RefreshToken); err != nil {
		c.hold(ch.ID, tok.RefreshToken)
		return tok, &UnsavedError{Err: err}
	}
	return tok, nil
}

// Current is the refresh token the chain sends next: the stored rotation, the one held in
// memory, a chain an older operator kept in the connection's namespace, or the source.
func (c *Chains) Current(ctx context.Context, ch Chain) (string, error) {
	if t, ok := c.unsavedOf(ch.ID); ok {
		return t, nil
	}
	s, err := c.read(ctx, ch.ID)
	if err != nil {
		return "", err
	}
	return c.current(ctx, ch, s)
}

// Start stores first as the chain's token: a device login's first refresh token, which
// the operator obtained, the only copy. Held in memory when the API server fails.
func (c *Chains) Start(ctx context.Context, ch Chain, first string) error {
	unlock := c.lock(ch.ID)
	defer unlock()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.storeBudget)
	defer cancel()
	s, err := c.read(sctx, ch.ID)
	if err == nil {
		err = c.storeRotated(sctx, ch, s, first)
	}
	if err != nil {
		c.hold(ch.ID, first)
		return &UnsavedError{Err: err}
	}
	return nil
}

// Drop forgets the chain: its token is dead (revoked, or someone else's).
func (c *Chains) Drop(ctx context.Context, ch Chain) error {
	unlock := c.lock(ch.ID)
	defer unlock()
	c.forget(ch.ID)
	s := &corev1.Secret{}
	s.Namespace, s.Name = c.namespace, ChainSecretName(ch.ID)
	if err := c.client.Delete(ctx, s); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return c.clearLegacy(ctx, ch)
}

func (c *Chains) current(ctx context.Context, ch Chain, s *corev1.Secret) (string, error) {
	if s != nil && len(s.Data[KeyRefreshToken]) > 0 {
		return string(s.Data[KeyRefreshToken]), nil
	}
	// An older operator kept the chain in the connection's state Secret: adopted, and
	// moved into the chain Secret at its next rotation.
	if ch.conn != nil {
		if st, err := c.legacy.Read(ctx, ch.conn); err != nil {
			return "", err
		} else if st != nil && st.Annotations[AnnotationSourceHash] == Digest(ch.source) && len(st.Data[KeyRefreshToken]) > 0 {
			return string(st.Data[KeyRefreshToken]), nil
		}
	}
	return ch.source, nil
}

// read returns the chain's Secret from the API server, nil when there is none.
func (c *Chains) read(ctx context.Context, id string) (*corev1.Secret, error) {
	var s corev1.Secret
	err := c.uncached.Get(ctx, types.NamespacedName{Namespace: c.namespace, Name: ChainSecretName(id)}, &s)
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("reading the refresh token's chain: %w", err)
	}
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	if s.Data == nil {
		s.Data = map[string][]byte{}
	}
	return &s, nil
}

// storeRotated writes token as the chain's current one, over the version this process
// claimed (s, nil when there is none yet), retrying failures of the API server until ctx
// ends. A conflict means another process wrote the chain: the claim is no longer ours.
func (c *Chains) storeRotated(ctx context.Context, ch Chain, s *corev1.Secret, token string) error {
	err := wait.ExponentialBackoffWithContext(ctx, wait.Backoff{Duration: 100 * time.Millisecond, Factor: 2, Jitter: 0.1, Steps: 30, Cap: 15 * time.Second},
		func(ctx context.Context) (bool, error) {
			var err error
			if s == nil {
				n := c.newSecret(ch)
				c.setToken(n, token)
				err = c.client.Create(ctx, n)
			} else {
				err = c.update(ctx, s, func(s *corev1.Secret) { c.setToken(s, token) })
			}
			switch {
			case err == nil:
				return true, nil
			case apierrors.IsConflict(err), apierrors.IsAlreadyExists(err):
				fresh, rerr := c.read(ctx, ch.ID)
				if rerr != nil || fresh == nil {
					return false, nil
				}
				if holder, _, _ := parseClaim(fresh.Annotations[AnnotationClaim]); holder != c.holder {
					return false, err
				}
				s = fresh
				return false, nil
			}
			return false, nil
		})
	if err != nil {
		return err
	}
	c.forget(ch.ID)
	// The chain is stored; an older copy left behind is only stale.
	_ = c.clearLegacy(ctx, ch)
	return nil
}

func (c *Chains) setToken(s *corev1.Secret, token string) {
	seq, _ := strconv.Atoi(s.Annotations[AnnotationSeq])
	s.Data[KeyRefreshToken] = []byte(token)
	s.Annotations[AnnotationSeq] = strconv.Itoa(seq + 1)
	s.Annotations[AnnotationRotates] = "true"
	delete(s.Annotations, AnnotationClaim)
	delete(s.Annotations, AnnotationOrphanedSince)
}

func (c *Chains) newSecret(ch Chain) *corev1.Secret {
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: c.namespace, Name: ChainSecretName(ch.ID),
			Labels:      map[string]string{owned.LabelManagedBy: owned.ManagedByValue, LabelChain: ch.ID},
			Annotations: map[string]string{AnnotationSourceHash: Digest(ch.source), AnnotationLoginURL: ch.loginURL, AnnotationSeq: "0"}},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{},
	}
	if ch.minted {
		s.Annotations[AnnotationMinted] = "true"
	}
	return s
}

// update writes change of s over its version, and leaves s as written.
func (c *Chains) update(ctx context.Context, s *corev1.Secret, change func(*corev1.Secret)) error {
	next := s.DeepCopy()
	// A Secret written without data comes back without the map.
	if next.Data == nil {
		next.Data = map[string][]byte{}
	}
	if next.Annotations == nil {
		next.Annotations = map[string]string{}
	}
	change(next)
	if err := c.client.Update(ctx, next); err != nil {
		return err
	}
	*s = *next
	return nil
}

// clearLegacy drops the chain's token from the connection's state Secret of an older
// operator, once the chain Secret holds it: one copy only.
func (c *Chains) clearLegacy(ctx context.Context, ch Chain) error {
	if ch.conn == nil {
		return nil
	}
	st, err := c.legacy.Read(ctx, ch.conn)
	if err != nil || st == nil || len(st.Data[KeyRefreshToken]) == 0 || st.Annotations[AnnotationSourceHash] != Digest(ch.source) {
		return err
	}
	return c.legacy.Update(ctx, ch.conn, func(s *corev1.Secret) { delete(s.Data, KeyRefreshToken) })
}

func (c *Chains) storeUnsaved(ctx context.Context, ch Chain) error {
	t, ok := c.unsavedOf(ch.ID)
	if !ok {
		return nil
	}
	s, err := c.read(ctx, ch.ID)
	if err == nil {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.storeBudget)
		defer cancel()
		if s, err = c.claimFor(sctx, ch, s); err == nil {
			err = c.storeRotated(sctx, ch, s, t)
		}
	}
	if err != nil {
		return fmt.Errorf("storing the rotated refresh token held in memory: %w", err)
	}
	return nil
}

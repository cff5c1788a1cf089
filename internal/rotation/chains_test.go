package rotation

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/salesforce"
)

const opNS = "sfconn-system"

var chainT0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// fakeSalesforce rotates refresh tokens as Salesforce does under rotation: each refresh
// answers the next token, and a token sent twice is a replay.
type fakeSalesforce struct {
	rotate  bool
	live    string
	n       int
	replays int
	sent    []string
}

func (f *fakeSalesforce) refresh(_ context.Context, rt string) (*salesforce.Token, error) {
	f.sent = append(f.sent, rt)
	if f.live != "" && rt != f.live {
		f.replays++
		return nil, &salesforce.Error{Class: salesforce.Revoked, Code: "invalid_grant", Description: "expired access/refresh token"}
	}
	f.n++
	tok := &salesforce.Token{AccessToken: "00D!access-" + string(rune('a'+f.n))}
	if f.rotate {
		f.live = "rt-" + string(rune('a'+f.n))
		tok.RefreshToken = f.live
	}
	return tok, nil
}

func chainsOn(api *apiServer, holder string, clk *clocktesting.FakeClock) *Chains {
	return NewChains(ChainsOptions{Client: api, Uncached: api, Namespace: opNS, Key: []byte("operator-key"), Holder: holder, Clock: clk})
}

func connIn(ns, name, uid string) *sfv1.SalesforceConnection {
	return &sfv1.SalesforceConnection{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: types.UID(uid)}}
}

func (a *apiServer) chain(t *testing.T, id string) *corev1.Secret {
	t.Helper()
	var s corev1.Secret
	err := a.Get(context.Background(), types.NamespacedName{Namespace: opNS, Name: ChainSecretName(id)}, &s)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return &s
}

// Connections that hold the same refresh token, in one namespace or two, share one chain:
// the second refresh sends the token the first rotated to, never the dead one.
func TestChainsAreSharedAcrossNamespaces(t *testing.T) {
	ctx := context.Background()
	api := newAPIServer(t)
	clk := clocktesting.NewFakeClock(chainT0)
	chains := chainsOn(api, "replica-a", clk)
	sf := &fakeSalesforce{rotate: true}
	billing := chains.Of(connIn("billing", "crm", "uid-1"), "user-rt", loginURL, false)
	sales := chains.Of(connIn("sales", "crm", "uid-2"), "user-rt", loginURL, false)
	if billing.ID != sales.ID {
		t.Fatal("two holders of one refresh token got two chains")
	}
	for i, ch := range []Chain{billing, sales, billing, sales} {
		if _, err := chains.Refresh(ctx, ch, sf.refresh); err != nil {
			t.Fatalf("refresh %d: %v", i+1, err)
		}
	}
	if sf.replays != 0 || sf.sent[0] != "user-rt" || sf.sent[1] != "rt-b" || sf.sent[3] != "rt-d" {
		t.Fatalf("sent %v (%d replays), want each rotation once", sf.sent, sf.replays)
	}
	s := api.chain(t, billing.ID)
	if s == nil || string(s.Data[KeyRefreshToken]) != "rt-e" || s.Annotations[AnnotationSeq] != "4" || s.Annotations[AnnotationClaim] != "" {
		t.Fatalf("chain Secret = %+v, want rt-e, 4 rotations, no claim left", s)
	}
	if s.Labels[LabelChain] != billing.ID || len(s.OwnerReferences) != 0 {
		t.Fatalf("chain Secret labels %v, owners %v: want the chain label and no owner", s.Labels, s.OwnerReferences)
	}
}

// A connection created again after its deletion (no memory, a new UID) adopts the chain
// of the refresh token it holds instead of replaying it.
func TestARecreatedConnectionAdoptsItsChain(t *testing.T) {
	ctx := context.Background()
	api := newAPIServer(t)
	clk := clocktesting.NewFakeClock(chainT0)
	sf := &fakeSalesforce{rotate: true}
	first := chainsOn(api, "replica-a", clk)
	if _, err := first.Refresh(ctx, first.Of(connIn("ns", "crm", "uid-1"), "user-rt", loginURL, false), sf.refresh); err != nil {
		t.Fatal(err)
	}
	restarted := chainsOn(api, "replica-b", clk)
	if _, err := restarted.Refresh(ctx, restarted.Of(connIn("ns", "crm", "uid-2"), "user-rt", loginURL, false), sf.refresh); err != nil {
		t.Fatal(err)
	}
	if sf.replays != 0 || sf.sent[1] != "rt-b" {
		t.Fatalf("sent %v: the re-created connection replayed its source", sf.sent)
	}
}

// Another replica (or a leader that lost its lease) cannot refresh a chain that one is
// refreshing: the claim, made over the version read, holds it off until it expires.
func TestAClaimFencesOtherReplicas(t *testing.T) {
	ctx := context.Background()
	api := newAPIServer(t)
	clk := clocktesting.NewFakeClock(chainT0)
	a, b := chainsOn(api, "replica-a", clk), chainsOn(api, "replica-b", clk)
	sf := &fakeSalesforce{rotate: true}
	ch := a.Of(connIn("ns", "crm", "uid-1"), "user-rt", loginURL, false)
	if _, err := a.Refresh(ctx, ch, sf.refresh); err != nil {
		t.Fatal(err)
	}
	stale, err := b.read(ctx, ch.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Replica a claims the chain, and stalls mid-refresh.
	s, _ := a.read(ctx, ch.ID)
	if _, err := a.claim(ctx, ch, s); err != nil {
		t.Fatal(err)
	}
	sent := len(sf.sent)
	var claimed *ClaimedError
	if _, err := b.Refresh(ctx, ch, sf.refresh); !errors.As(err, &claimed) || claimed.Holder != "replica-a" || len(sf.sent) != sent {
		t.Fatalf("replica b refreshed a chain replica a claimed: %v", err)
	}
	// A process that decided on what it read before the claim cannot claim over it.
	if _, err := b.claim(ctx, ch, stale); !apierrors.IsConflict(errors.Unwrap(err)) {
		t.Fatalf("a claim over an older version = %v, want a conflict", err)
	}
	// A claim that expired (its holder died) no longer holds the chain.
	clk.Step(ClaimTTL + time.Second)
	if _, err := b.Refresh(ctx, ch, sf.refresh); err != nil || sf.replays != 0 {
		t.Fatalf("after the claim expired: %v, %d replays", err, sf.replays)
	}
}

// A chain whose app does not rotate needs no claim: after the first answer without a new
// refresh token, refreshes write nothing.
func TestANonRotatingChainWritesNothing(t *testing.T) {
	ctx := context.Background()
	api := newAPIServer(t)
	chains := chainsOn(api, "replica-a", clocktesting.NewFakeClock(chainT0))
	sf := &fakeSalesforce{}
	ch := chains.Of(connIn("ns", "crm", "uid-1"), "user-rt", loginURL, false)
	if _, err := chains.Refresh(ctx, ch, sf.refresh); err != nil {
		t.Fatal(err)
	}
	if s := api.chain(t, ch.ID); s == nil || s.Annotations[AnnotationRotates] != "false" || s.Annotations[AnnotationClaim] != "" {
		t.Fatalf("chain Secret = %+v, want rotates=false and no claim", s)
	}
	writes := api.creates + api.updates
	for range 3 {
		if _, err := chains.Refresh(ctx, ch, sf.refresh); err != nil {
			t.Fatal(err)
		}
	}
	if api.creates+api.updates != writes || sf.sent[3] != "user-rt" {
		t.Fatalf("%d writes for refreshes of a chain that does not rotate; sent %v", api.creates+api.updates-writes, sf.sent)
	}
}

// A rotated token the API server will not take is held in memory, said so, and stored
// before the chain's next refresh, which sends it.
func TestAnUnsavedTokenIsStoredBeforeTheNextRefresh(t *testing.T) {
	ctx := context.Background()
	api := newAPIServer(t)
	chains := NewChains(ChainsOptions{Client: api, Uncached: api, Namespace: opNS, Key: []byte("operator-key"),
		Holder: "replica-a", Clock: clocktesting.NewFakeClock(chainT0), StoreBudget: 300 * time.Millisecond})
	sf := &fakeSalesforce{rotate: true}
	ch := chains.Of(connIn("ns", "crm", "uid-1"), "user-rt", loginURL, false)
	if _, err := chains.Refresh(ctx, ch, sf.refresh); err != nil {
		t.Fatal(err)
	}
	tok, err := chains.Refresh(ctx, ch, func(ctx context.Context, rt string) (*salesforce.Token, error) {
		api.failWrites = -1 // after the claim: the store fails
		return sf.refresh(ctx, rt)
	})
	var unsaved *UnsavedError
	if tok == nil || !errors.As(err, &unsaved) || !chains.Unsaved(ch.ID) || chains.UnsavedCount() != 1 {
		t.Fatalf("Refresh = %v, %v; want the answer, and its token held in memory", tok, err)
	}
	if rt, _ := chains.Current(ctx, ch); rt != sf.live {
		t.Fatalf("Current = %q, want the token held in memory", rt)
	}
	if _, err := chains.Refresh(ctx, ch, sf.refresh); err == nil {
		t.Fatal("a refresh went ahead while its predecessor's token could not be stored")
	}
	api.failWrites = 0
	if _, err := chains.Refresh(ctx, ch, sf.refresh); err != nil || sf.replays != 0 || chains.Unsaved(ch.ID) {
		t.Fatalf("next refresh: %v, %d replays, unsaved %v", err, sf.replays, chains.Unsaved(ch.ID))
	}
}

// A chain an older operator kept in the connection's own state Secret is adopted, and the
// older copy dropped once the chain Secret holds the next rotation.
func TestALegacyChainIsAdopted(t *testing.T) {
	ctx := context.Background()
	legacy := stateSecret("uid-1", "user-rt", "rt-legacy")
	api := newAPIServer(t, legacy)
	chains := chainsOn(api, "replica-a", clocktesting.NewFakeClock(chainT0))
	sf := &fakeSalesforce{rotate: true, live: "rt-legacy"}
	ch := chains.Of(testConn("uid-1"), "user-rt", loginURL, false)
	if rt, err := chains.Current(ctx, ch); err != nil || rt != "rt-legacy" {
		t.Fatalf("Current = %q, %v; want the legacy chain's token", rt, err)
	}
	if _, err := chains.Refresh(ctx, ch, sf.refresh); err != nil || sf.replays != 0 {
		t.Fatalf("Refresh: %v, %d replays", err, sf.replays)
	}
	if s := api.stored(t, testConn("uid-1")); s == nil || len(s.Data[KeyRefreshToken]) != 0 {
		t.Fatalf("legacy state Secret = %+v, want its token dropped", s)
	}
}

// Chains nobody holds are kept for OrphanGrace, then their minted token is revoked and
// the Secret deleted; one held again is kept.
func TestSweepReleasesOrphanedChains(t *testing.T) {
	ctx := context.Background()
	api := newAPIServer(t)
	clk := clocktesting.NewFakeClock(chainT0)
	chains := chainsOn(api, "replica-a", clk)
	sf := &fakeSalesforce{rotate: true}
	orphan := chains.Of(connIn("ns", "gone", "uid-1"), "rt-gone", loginURL, false)
	kept := chains.Of(connIn("ns", "back", "uid-2"), "rt-back", loginURL, false)
	for _, ch := range []Chain{orphan, kept} {
		sf.live = ""
		if _, err := chains.Refresh(ctx, ch, sf.refresh); err != nil {
			t.Fatal(err)
		}
	}
	var revoked []string
	revoke := func(_ context.Context, url, token string) error {
		if url != loginURL {
			t.Errorf("revoked at %s", url)
		}
		revoked = append(revoked, token)
		return nil
	}
	if err := chains.Sweep(ctx, map[string]bool{}, revoke); err != nil {
		t.Fatal(err)
	}
	if len(revoked) != 0 || api.chain(t, orphan.ID).Annotations[AnnotationOrphanedSince] == "" {
		t.Fatal("a chain was released at once, without its grace")
	}
	clk.Step(OrphanGrace + time.Minute)
	if err := chains.Sweep(ctx, map[string]bool{kept.ID: true}, revoke); err != nil {
		t.Fatal(err)
	}
	if api.chain(t, orphan.ID) != nil || len(revoked) != 1 || !strings.HasPrefix(revoked[0], "rt-") {
		t.Fatalf("orphan not released: revoked %v", revoked)
	}
	if s := api.chain(t, kept.ID); s == nil || s.Annotations[AnnotationOrphanedSince] != "" {
		t.Fatalf("a chain held again = %+v, want it kept and no longer orphaned", s)
	}

	// A revocation that fails keeps the chain for the next sweep.
	if err := chains.Sweep(ctx, map[string]bool{}, revoke); err != nil {
		t.Fatal(err)
	}
	clk.Step(OrphanGrace + time.Minute)
	if err := chains.Sweep(ctx, map[string]bool{}, func(context.Context, string, string) error { return errors.New("503") }); err == nil ||
		api.chain(t, kept.ID) == nil {
		t.Fatal("a chain whose token could not be revoked was deleted")
	}
}

// A device login's chain starts at the token the operator obtained, is minted, and Drop
// forgets it.
func TestADeviceChain(t *testing.T) {
	ctx := context.Background()
	api := newAPIServer(t)
	chains := chainsOn(api, "replica-a", clocktesting.NewFakeClock(chainT0))
	ch := chains.Of(connIn("ns", "laptop", "uid-1"), "device-login:uid-1", loginURL, true)
	if rt, _ := chains.Current(ctx, ch); rt != "device-login:uid-1" {
		t.Fatalf("Current before approval = %q, want the marker", rt)
	}
	if err := chains.Start(ctx, ch, "rt-first"); err != nil {
		t.Fatal(err)
	}
	s := api.chain(t, ch.ID)
	if s == nil || s.Annotations[AnnotationMinted] != "true" || string(s.Data[KeyRefreshToken]) != "rt-first" {
		t.Fatalf("chain Secret = %+v", s)
	}
	if err := chains.Drop(ctx, ch); err != nil || api.chain(t, ch.ID) != nil {
		t.Fatalf("Drop: %v", err)
	}
}

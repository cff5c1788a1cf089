package controller

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/sfconn/sfconn-operator/internal/salesforce/emulator"
)

// probePass runs the token step, then the probe step.
func (h *harness) probePass() (*pass, time.Time) {
	h.t.Helper()
	p, _ := h.tokenPass(hName)
	next, err := h.r.probe(h.ctx, p)
	if err != nil {
		h.t.Fatalf("probe step: %v", err)
	}
	return p, next
}

// Without spec.verifyInterval the probe does nothing, however long the token lives.
func TestProbeOffWithoutVerifyInterval(t *testing.T) {
	h := newHarness(t)
	h.add(h.newConn(), credentials())
	key := types.NamespacedName{Namespace: hNamespace, Name: hName}
	// What an earlier probe learnt, before verifyInterval was removed from the spec.
	h.r.mem.probes.store(key, probeResult{issuedAt: h.clk.Now(), rejected: true})
	for _, wait := range []time.Duration{0, 30 * time.Minute, 30 * time.Minute} {
		h.clk.Step(wait)
		p, next := h.probePass()
		if p.token == nil {
			t.Fatal("no token")
		}
		if !next.IsZero() {
			t.Errorf("after %v: next = %v, want none", wait, next)
		}
	}
	if n := h.requests(emulator.EndpointUserInfo); n != 0 {
		t.Errorf("userinfo requests = %d, want none", n)
	}
	if _, ok := h.r.mem.probes.load(key); ok {
		t.Errorf("probe results still remembered without a verifyInterval")
	}
}

// A token just issued is alive: the first probe is due verifyInterval later, not
// before, and asks userinfo once.
func TestProbeDueAsksUserInfoOnce(t *testing.T) {
	h := newHarness(t)
	h.add(h.newConn(withVerifyInterval(10*time.Minute)), credentials())

	p, next := h.probePass()
	if !p.renewed {
		t.Fatal("no login on the first pass")
	}
	if want := p.now.Add(10 * time.Minute); !next.Equal(want) {
		t.Errorf("after the login: next = %v, want %v", next, want)
	}
	if n := h.requests(emulator.EndpointUserInfo); n != 0 {
		t.Errorf("userinfo requests = %d right after the login, want none", n)
	}

	h.clk.Step(4 * time.Minute)
	if _, again := h.probePass(); !again.Equal(next) || h.requests(emulator.EndpointUserInfo) != 0 {
		t.Fatalf("before it is due: next %v (want %v), userinfo requests %d (want none)", again, next, h.requests(emulator.EndpointUserInfo))
	}

	h.clk.SetTime(next)
	p, after := h.probePass()
	if n := h.requests(emulator.EndpointUserInfo); n != 1 {
		t.Errorf("userinfo requests = %d when due, want 1", n)
	}
	if want := p.now.Add(10 * time.Minute); !after.Equal(want) {
		t.Errorf("next = %v, want %v", after, want)
	}
	if h.logins() != 1 {
		t.Errorf("logins = %d: an alive token needs no renewal", h.logins())
	}

	// The same moment again: the probe is not due.
	h.probePass()
	if h.requests(emulator.EndpointUserInfo) != 1 {
		t.Errorf("userinfo requests = %d, want still 1", h.requests(emulator.EndpointUserInfo))
	}
}

// A token Salesforce refuses before its expiry is remembered as dead: the step asks to be
// woken a second later, and the next token step renews it.
func TestProbeRefusedTokenIsRenewed(t *testing.T) {
	h := newHarness(t)
	h.add(h.newConn(withVerifyInterval(10*time.Minute)), credentials())
	first, next := h.probePass()
	if !h.sf.RevokeToken(first.token.AccessToken()) {
		t.Fatal("the emulator does not know the token")
	}

	h.clk.SetTime(next)
	p, wake := h.probePass()
	if n := h.requests(emulator.EndpointUserInfo); n != 1 {
		t.Fatalf("userinfo requests = %d, want 1", n)
	}
	if want := p.now.Add(time.Second); !wake.Equal(want) {
		t.Errorf("next = %v, want a second later (%v)", wake, want)
	}
	if res, ok := h.r.mem.probes.load(p.key); !ok || !res.rejected || !res.issuedAt.Equal(first.token.IssuedAt) {
		t.Errorf("probe result = %+v, want the token remembered as refused", res)
	}
	if h.logins() != 1 {
		t.Errorf("logins = %d: the probe itself does not log in", h.logins())
	}
	h.events()

	h.clk.Step(time.Second)
	p, _ = h.tokenPass(hName)
	if !p.renewed || h.logins() != 2 {
		t.Fatalf("renewed %v, logins %d: the refused token must be renewed", p.renewed, h.logins())
	}
	if tok := h.storedToken(hName); tok.AccessToken() == first.token.AccessToken() {
		t.Errorf("the Secret still holds the refused token")
	}
	if e := eventWith(h.events(), corev1.EventTypeWarning, "TokenRejected"); e == "" {
		t.Errorf("no TokenRejected event")
	}
}

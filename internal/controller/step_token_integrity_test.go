package controller

import (
	"testing"
	"time"

	"github.com/sfconn/sfconn-operator/internal/tokensecret"
)

// The token Secret is not the operator's memory to trust: times moved into the future
// with the seal left as it was are an edit, and the renewal stays on the real schedule.
func TestTokenTimesEditedIntoTheFuture(t *testing.T) {
	for _, restarted := range []bool{false, true} {
		h := newHarness(t)
		h.add(h.newConn(), credentials())
		h.mustReconcile(hName)
		renewAt := h.getConn(hName).Status.RenewAt.Time
		s := h.getSecret("crm-token")
		h.update(s, func() {
			far := h.clk.Now().Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339)
			s.Annotations[tokensecret.AnnotationIssuedAt] = far
			s.Annotations[tokensecret.AnnotationExpiresAt] = far
		})
		if restarted {
			h.restart()
		}
		h.mustReconcile(hName)
		st := h.getConn(hName).Status
		if restarted {
			// No memory of the token: a login replaces what cannot be vouched for.
			if h.logins() != 2 {
				t.Fatalf("after a restart: %d logins, want a new token", h.logins())
			}
		} else if h.logins() != 1 || !st.RenewAt.Time.Equal(renewAt) {
			t.Fatalf("logins %d, renewAt %v: want the remembered token written back and renewAt %v", h.logins(), st.RenewAt, renewAt)
		}
		if tok := h.storedToken(hName); tok.IssuedAt.After(h.clk.Now()) {
			t.Fatalf("the Secret still says the token was issued at %v", tok.IssuedAt)
		}
		if st.RenewAt.After(h.clk.Now().Add(2 * time.Hour)) {
			t.Fatalf("renewal at %v: moved by the edit", st.RenewAt)
		}
	}
}

// A token Secret written by an operator before seals is kept without a login when it
// agrees with status, and sealed by a rewrite; one that disagrees is replaced.
func TestTokenSecretOfAnOperatorBeforeSeals(t *testing.T) {
	unseal := func(h *harness, change func(data map[string][]byte)) {
		s := h.getSecret("crm-token")
		h.update(s, func() {
			delete(s.Annotations, tokensecret.AnnotationSeal)
			if change != nil {
				change(s.Data)
			}
			s.Annotations[tokensecret.AnnotationDataHash] = tokensecret.DataHash(s.Data)
		})
	}
	t.Run("agrees with status: sealed, no login", func(t *testing.T) {
		h := newHarness(t)
		h.add(h.newConn(), credentials())
		h.mustReconcile(hName)
		unseal(h, nil)
		h.restart()
		h.mustReconcile(hName)
		if h.logins() != 1 {
			t.Fatalf("%d logins: an unsealed Secret that agrees with status cost a login", h.logins())
		}
		s := h.getSecret("crm-token")
		if s.Annotations[tokensecret.AnnotationSeal] == "" || s.Annotations[tokensecret.AnnotationDataHash] != "" {
			t.Fatalf("annotations after the rewrite = %v, want a seal and no data hash", s.Annotations)
		}
	})
	t.Run("points elsewhere: replaced", func(t *testing.T) {
		h := newHarness(t)
		h.add(h.newConn(), credentials())
		h.mustReconcile(hName)
		unseal(h, func(data map[string][]byte) {
			data[tokensecret.KeyInstanceURL] = []byte("https://acme.my.salesforce.com")
		})
		h.restart()
		h.mustReconcile(hName)
		if h.logins() != 2 {
			t.Fatalf("%d logins: an unsealed Secret that disagrees with status was trusted", h.logins())
		}
	})
}

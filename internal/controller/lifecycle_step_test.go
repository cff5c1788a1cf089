package controller

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/authflow"
	"github.com/sfconn/sfconn-operator/internal/owned"
	"github.com/sfconn/sfconn-operator/internal/tokensecret"
)

func suspend(on bool) func(*sfv1.SalesforceConnection) {
	return func(c *sfv1.SalesforceConnection) { c.Spec.Suspend = on }
}

func orphan(c *sfv1.SalesforceConnection) {
	c.Spec.TokenSecret.DeletionPolicy = sfv1.DeletionPolicyOrphan
}

// changeSpec changes the stored connection's spec as the API server would: a new generation.
func (h *harness) changeSpec(name string, change func(*sfv1.SalesforceConnection)) {
	h.t.Helper()
	conn := h.getConn(name)
	h.update(conn, func() {
		change(conn)
		conn.Generation++
	})
}

// A suspended connection neither logs in nor writes its token Secret; resuming keeps a
// token that is still valid, and logs in once for one that expired meanwhile.
func TestSuspendStopsAndResumes(t *testing.T) {
	h := newHarness(t)
	h.add(credentials(), h.newConn())
	h.mustReconcile(hName)
	first := h.storedToken(hName)
	if h.logins() != 1 {
		t.Fatalf("logins = %d, want 1", h.logins())
	}

	h.changeSpec(hName, suspend(true))
	h.resetWrites()
	h.clk.Step(10 * time.Minute)
	res := h.mustReconcile(hName)
	st := h.getConn(hName).Status
	if got := conditionOf(&st, sfv1.ConditionSuspended); got != "True/Suspended" {
		t.Fatalf("Suspended = %q", got)
	}
	if got := conditionOf(&st, sfv1.ConditionReady); got != "True/TokenIssued" {
		t.Errorf("Ready = %q while the token is valid", got)
	}
	if st.ObservedGeneration != h.getConn(hName).Generation {
		t.Errorf("observedGeneration %d, want the suspended generation", st.ObservedGeneration)
	}
	// It comes back at the expiry, to say the token expired.
	if want := first.ExpiresAt.Sub(h.clk.Now()); res.RequeueAfter != want {
		t.Errorf("requeue after %s, want %s (the expiry)", res.RequeueAfter, want)
	}

	// Past renewal and past expiry: nothing happens, and Ready says so.
	h.clk.Step(3 * time.Hour)
	h.mustReconcile(hName)
	st = h.getConn(hName).Status
	if got := conditionOf(&st, sfv1.ConditionReady); got != "False/Suspended" {
		t.Errorf("Ready = %q after expiry while suspended, want False/Suspended", got)
	}
	if got := conditionOf(&st, sfv1.ConditionExpiring) + conditionOf(&st, sfv1.ConditionReconciling); got != "" {
		t.Errorf("Expiring/Reconciling present while suspended: %q", got)
	}
	if got := conditionOf(&st, sfv1.ConditionStalled); got != "True/Suspended" {
		t.Errorf("Stalled = %q with no valid token while suspended, want True/Suspended", got)
	}
	// A deleted token Secret is not restored either.
	if err := h.store.Delete(h.ctx, h.getSecret(hName+"-token")); err != nil {
		t.Fatal(err)
	}
	h.mustReconcile(hName)
	if h.logins() != 1 || h.countWrites("create", "Secret", hName+"-token")+h.countWrites("update", "Secret", hName+"-token") != 0 {
		t.Fatalf("suspended: %d logins, token Secret writes %v", h.logins(), h.allWrites())
	}

	h.changeSpec(hName, suspend(false))
	h.mustReconcile(hName)
	st = h.getConn(hName).Status
	if h.logins() != 2 || conditionOf(&st, sfv1.ConditionReady) != "True/TokenIssued" || conditionOf(&st, sfv1.ConditionSuspended) != "" ||
		conditionOf(&st, sfv1.ConditionStalled) != "" {
		t.Fatalf("resumed: %d logins, Ready %q, Suspended %q; want one new login", h.logins(),
			conditionOf(&st, sfv1.ConditionReady), conditionOf(&st, sfv1.ConditionSuspended))
	}

	// Suspended and resumed while the token is valid: no login at all.
	h.changeSpec(hName, suspend(true))
	h.clk.Step(5 * time.Minute)
	h.mustReconcile(hName)
	h.changeSpec(hName, suspend(false))
	h.mustReconcile(hName)
	if h.logins() != 2 {
		t.Errorf("logins = %d after resuming with a valid token, want 2", h.logins())
	}
}

// deletionPolicy Orphan: no owner reference; switching the policy adds and removes it; a
// connection created again adopts the Secret without a login.
func TestOrphanTokenSecretAdopted(t *testing.T) {
	h := newHarness(t)
	h.add(credentials(), h.newConn(orphan))
	h.mustReconcile(hName)
	name := hName + "-token"
	s := h.getSecret(name)
	if len(s.OwnerReferences) != 0 || tokensecret.WrittenFor(s) != string(hUID) {
		t.Fatalf("orphan Secret: owners %v, written-for %q", s.OwnerReferences, tokensecret.WrittenFor(s))
	}
	h.storedToken(hName) // sealed

	h.changeSpec(hName, func(c *sfv1.SalesforceConnection) { c.Spec.TokenSecret.DeletionPolicy = sfv1.DeletionPolicyDelete })
	h.mustReconcile(hName)
	s = h.getSecret(name)
	if !owned.IsControlledBy(s, hUID) || tokensecret.WrittenFor(s) != "" {
		t.Fatalf("Delete: owners %v, written-for %q", s.OwnerReferences, tokensecret.WrittenFor(s))
	}
	h.storedToken(hName)
	h.changeSpec(hName, orphan)
	h.mustReconcile(hName)
	if s = h.getSecret(name); len(s.OwnerReferences) != 0 {
		t.Fatalf("Orphan again: owners %v", s.OwnerReferences)
	}
	if h.logins() != 1 {
		t.Fatalf("switching the policy logged in: %d logins", h.logins())
	}
	token := h.storedToken(hName).AccessToken()

	if err := h.store.Delete(h.ctx, h.getConn(hName)); err != nil {
		t.Fatal(err)
	}
	h.events()
	again := h.newConn(orphan)
	again.UID = "uid-crm-again"
	h.add(again)
	h.mustReconcile(hName)
	st := h.getConn(hName).Status
	if h.logins() != 1 || conditionOf(&st, sfv1.ConditionReady) != "True/TokenIssued" {
		t.Fatalf("re-created: %d logins, Ready %q; want the token adopted without a login", h.logins(), conditionOf(&st, sfv1.ConditionReady))
	}
	if got := h.storedToken(hName).AccessToken(); got != token {
		t.Errorf("the adopted Secret holds another token")
	}
	if s = h.getSecret(name); tokensecret.WrittenFor(s) != "uid-crm-again" {
		t.Errorf("written-for %q, want the new connection's UID", tokensecret.WrittenFor(s))
	}
	if eventWith(h.events(), corev1.EventTypeNormal, "TokenSecretAdopted") == "" {
		t.Errorf("no TokenSecretAdopted event")
	}
}

// An ownerless Secret is adopted only when the operator sealed it for the same inputs, no
// other connection names it, and the connection is not a deviceLogin one.
func TestOrphanTokenSecretNotAdopted(t *testing.T) {
	tests := []struct {
		name string
		// spoil changes the left Secret, or the world, before the connection is created again.
		spoil func(h *harness, s *corev1.Secret)
		again []connOption
	}{
		{"data edited: the seal breaks", func(h *harness, s *corev1.Secret) {
			h.update(s, func() { s.Data[tokensecret.KeyAccessToken] = []byte("00D000000000001!crafted") })
		}, nil},
		{"seal copied onto other data", func(h *harness, s *corev1.Secret) {
			h.update(s, func() { s.Data[tokensecret.KeyInstanceURL] = []byte("https://evil.example.com") })
		}, nil},
		{"other credentials", func(h *harness, _ *corev1.Secret) {
			c := h.getSecret(hCredentials)
			h.update(c, func() { c.Data[authflow.KeyClientSecret] = []byte("another-secret") })
		}, nil},
		{"another live connection names it", func(h *harness, s *corev1.Secret) {
			other := h.newConn(named("other"))
			h.add(other)
			h.update(s, func() { s.Labels[owned.LabelConnection] = "other" })
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.add(credentials(), h.newConn(orphan))
			h.mustReconcile(hName)
			if err := h.store.Delete(h.ctx, h.getConn(hName)); err != nil {
				t.Fatal(err)
			}
			s := h.getSecret(hName + "-token")
			tt.spoil(h, s)
			s = h.getSecret(hName + "-token")
			again := h.newConn(append([]connOption{orphan}, tt.again...)...)
			again.UID = "uid-crm-again"
			h.add(again)
			h.resetWrites()
			h.mustReconcile(hName)
			st := h.getConn(hName).Status
			if got := conditionOf(&st, sfv1.ConditionReady); got != "False/InvalidSpec" {
				t.Errorf("Ready = %q, want False/InvalidSpec", got)
			}
			if msg := conditionMessage(&st, sfv1.ConditionReady); !strings.Contains(msg, "adopts such a Secret only") {
				t.Errorf("Ready message %q does not say why", msg)
			}
			if h.logins() != 1 {
				t.Errorf("logins = %d, want none after the first", h.logins())
			}
			if after := h.getSecret(hName + "-token"); after.ResourceVersion != s.ResourceVersion {
				t.Errorf("the Secret it may not adopt was written")
			}
		})
	}
}

// A missing credentials Secret is waited for through the grace period, from the time kept
// in status, then the connection is Stalled.
func TestCredentialsGracePass(t *testing.T) {
	h := newHarness(t)
	h.r.CredentialsGracePeriod = 5 * time.Minute
	h.add(h.newConn())
	res := h.mustReconcile(hName)
	st := h.getConn(hName).Status
	if conditionOf(&st, sfv1.ConditionReconciling) != "True/CredentialsNotFound" || conditionOf(&st, sfv1.ConditionStalled) != "" {
		t.Fatalf("within the grace: Reconciling %q, Stalled %q", conditionOf(&st, sfv1.ConditionReconciling), conditionOf(&st, sfv1.ConditionStalled))
	}
	if st.CredentialsMissing == nil || !st.CredentialsMissing.Since.Time.Equal(hStart) {
		t.Fatalf("credentialsMissing = %+v, want since the first pass", st.CredentialsMissing)
	}
	if res.RequeueAfter != 5*time.Minute {
		t.Errorf("requeue after %s, want the end of the grace", res.RequeueAfter)
	}
	// A restart keeps the start of the grace.
	h.restart()
	h.r.CredentialsGracePeriod = 5 * time.Minute
	h.clk.Step(5 * time.Minute)
	h.mustReconcile(hName)
	st = h.getConn(hName).Status
	if conditionOf(&st, sfv1.ConditionStalled) != "True/CredentialsNotFound" || conditionOf(&st, sfv1.ConditionReconciling) != "" {
		t.Fatalf("after the grace: Stalled %q, Reconciling %q", conditionOf(&st, sfv1.ConditionStalled), conditionOf(&st, sfv1.ConditionReconciling))
	}
	// Suspending ends the wait; resuming starts a new grace.
	h.changeSpec(hName, suspend(true))
	h.mustReconcile(hName)
	if st = h.getConn(hName).Status; st.CredentialsMissing != nil {
		t.Fatalf("suspended: credentialsMissing = %+v, want none", st.CredentialsMissing)
	}
	h.changeSpec(hName, suspend(false))
	h.mustReconcile(hName)
	st = h.getConn(hName).Status
	if conditionOf(&st, sfv1.ConditionReconciling) != "True/CredentialsNotFound" || !st.CredentialsMissing.Since.Time.Equal(h.clk.Now()) {
		t.Fatalf("resumed: Reconciling %q, credentialsMissing %+v; want a new grace", conditionOf(&st, sfv1.ConditionReconciling), st.CredentialsMissing)
	}
	h.add(credentials())
	h.mustReconcile(hName)
	st = h.getConn(hName).Status
	if conditionOf(&st, sfv1.ConditionReady) != "True/TokenIssued" || st.CredentialsMissing != nil {
		t.Fatalf("credentials created: Ready %q, credentialsMissing %+v", conditionOf(&st, sfv1.ConditionReady), st.CredentialsMissing)
	}
}

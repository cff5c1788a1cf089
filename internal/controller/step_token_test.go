package controller

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/failure"
	"github.com/sfconn/sfconn-operator/internal/owned"
	"github.com/sfconn/sfconn-operator/internal/pacing"
	"github.com/sfconn/sfconn-operator/internal/salesforce/emulator"
	"github.com/sfconn/sfconn-operator/internal/tokensecret"
)

// The first pass logs in once and writes the token Secret: every key workloads read, the
// operator's labels and record, and the connection as its controller. It is next due at
// the renewal.
func TestTokenFirstPassLogsInAndWritesTheSecret(t *testing.T) {
	h := newHarness(t)
	h.add(h.newConn(), credentials())

	p, next := h.tokenPass(hName)
	if p.failure != nil {
		t.Fatalf("failure = %+v", p.failure)
	}
	if n := h.logins(); n != 1 {
		t.Errorf("logins = %d, want 1", n)
	}
	if n, all := h.countWrites("create", "Secret", "crm-token"), h.allWrites(); n != 1 || len(all) != 1 {
		t.Errorf("writes = %v, want one create of Secret crm-token", all)
	}

	s := h.getSecret("crm-token")
	if s == nil {
		t.Fatal("no token Secret")
	}
	for _, k := range tokensecret.Keys {
		if len(s.Data[k]) == 0 {
			t.Errorf("token Secret key %q is empty", k)
		}
	}
	if got := string(s.Data[tokensecret.KeyInstanceURL]); got != h.srv.URL {
		t.Errorf("instance_url = %q, want %q", got, h.srv.URL)
	}
	if got := string(s.Data[tokensecret.KeyOrgID]); got != hOrgID {
		t.Errorf("org_id = %q, want %q", got, hOrgID)
	}
	if s.Labels[owned.LabelManagedBy] != owned.ManagedByValue || s.Labels[owned.LabelConnection] != hName {
		t.Errorf("labels = %v", s.Labels)
	}
	if len(s.OwnerReferences) != 1 || !owned.IsControlledBy(s, hUID) || s.OwnerReferences[0].Kind != "SalesforceConnection" ||
		s.OwnerReferences[0].Name != hName {
		t.Errorf("owner references = %+v, want the connection as controller", s.OwnerReferences)
	}
	if s.Annotations[tokensecret.AnnotationInputsHash] == "" || s.Annotations[tokensecret.AnnotationSeal] == "" {
		t.Errorf("annotations = %v, want the inputs hash and the seal", s.Annotations)
	}
	if tok, integrity := tokensecret.Read(s, h.r.sealKey); tok == nil || integrity != tokensecret.Sealed || tok.AccessToken() != p.token.AccessToken() {
		t.Errorf("the Secret does not hold the pass's token")
	}

	st := p.status
	if st.RenewAt == nil || st.ExpiresAt == nil || st.TokenSecretName != "crm-token" {
		t.Fatalf("status = %+v", st)
	}
	if !next.Equal(st.RenewAt.Time) || !next.After(p.now) || !next.Before(st.ExpiresAt.Time) {
		t.Errorf("next = %v, want the renewal %v, after now %v and before expiry %v", next, st.RenewAt.Time, p.now, st.ExpiresAt.Time)
	}
	if !p.renewed || !p.tokenChecked {
		t.Errorf("renewed, tokenChecked = %v, %v", p.renewed, p.tokenChecked)
	}
	// A routine first login is no news: Ready and status say it.
	if e := eventWith(h.events(), corev1.EventTypeNormal, "TokenIssued"); e != "" {
		t.Errorf("TokenIssued event %q on a routine first login, want none", e)
	}
}

// A pass at rest costs no login and no write; past the renewal time the next pass logs
// in again and updates the Secret.
func TestTokenAtRestThenRenewal(t *testing.T) {
	h := newHarness(t)
	h.add(h.newConn(), credentials())
	first, renewAt := h.tokenPass(hName)
	requests := h.requests("")

	h.resetWrites()
	h.clk.Step(time.Minute)
	p, next := h.tokenPass(hName)
	if p.failure != nil || p.renewed {
		t.Fatalf("at rest: failure %+v, renewed %v", p.failure, p.renewed)
	}
	if n := h.requests(""); n != requests {
		t.Errorf("at rest: Salesforce requests = %d, want %d", n, requests)
	}
	if w := h.allWrites(); len(w) != 0 {
		t.Errorf("at rest: writes = %v, want none", w)
	}
	if !next.Equal(renewAt) {
		t.Errorf("at rest: next = %v, want the same renewal %v", next, renewAt)
	}

	h.clk.SetTime(renewAt)
	p, next = h.tokenPass(hName)
	if p.failure != nil || !p.renewed {
		t.Fatalf("at renewal: failure %+v, renewed %v", p.failure, p.renewed)
	}
	if n := h.logins(); n != 2 {
		t.Errorf("logins = %d, want 2", n)
	}
	if n, all := h.countWrites("update", "Secret", "crm-token"), h.allWrites(); n != 1 || len(all) != 1 {
		t.Errorf("writes = %v, want one update of Secret crm-token", all)
	}
	if tok := h.storedToken(hName); tok.AccessToken() == first.token.AccessToken() || !tok.IssuedAt.Equal(renewAt) {
		t.Errorf("the Secret holds a token issued at %v, want a new one issued at %v", tok.IssuedAt, renewAt)
	}
	if !next.After(renewAt) {
		t.Errorf("next = %v, want the new token's renewal, after %v", next, renewAt)
	}
	if e := eventWith(h.events(), corev1.EventTypeNormal, "TokenRenewed"); e != "" {
		t.Errorf("TokenRenewed event %q on a routine renewal, want none", e)
	}
}

// A renewal a person asked for (requestedAt) records an event, so that whoever asked sees
// the answer in kubectl describe.
func TestTokenRequestedRenewalRecordsEvent(t *testing.T) {
	h := newHarness(t)
	conn := h.newConn()
	h.add(conn, credentials())
	h.tokenPass(hName)
	h.events()

	h.update(conn, func() { conn.Annotations = map[string]string{sfv1.AnnotationRequestedAt: "now"} })
	p, _ := h.tokenPass(hName)
	if p.failure != nil || !p.renewed {
		t.Fatalf("failure %+v, renewed %v", p.failure, p.renewed)
	}
	if e := eventWith(h.events(), corev1.EventTypeNormal, "TokenRenewed"); !strings.Contains(e, "Renewed a token valid until") {
		t.Errorf("TokenRenewed event = %q, want the requested renewal's answer", e)
	}
}

// A token Secret someone deleted is written again with the token this process
// remembers: no login.
func TestTokenDeletedSecretRestoredFromMemory(t *testing.T) {
	h := newHarness(t)
	h.add(h.newConn(), credentials())
	first, _ := h.tokenPass(hName)
	if err := h.store.Delete(h.ctx, h.getSecret("crm-token")); err != nil {
		t.Fatal(err)
	}
	h.events()
	h.resetWrites()
	tokenRequests := h.requests(emulator.EndpointToken)

	h.clk.Step(time.Minute)
	p, _ := h.tokenPass(hName)
	if p.failure != nil || p.renewed {
		t.Fatalf("failure %+v, renewed %v", p.failure, p.renewed)
	}
	if n := h.requests(emulator.EndpointToken); n != tokenRequests {
		t.Errorf("token requests = %d, want %d: the remembered token needs no login", n, tokenRequests)
	}
	if n := h.countWrites("create", "Secret", "crm-token"); n != 1 {
		t.Errorf("writes = %v, want the Secret created again", h.allWrites())
	}
	if tok := h.storedToken(hName); tok == nil || tok.AccessToken() != first.token.AccessToken() {
		t.Errorf("the restored Secret does not hold the remembered token")
	}
	if e := eventWith(h.events(), corev1.EventTypeNormal, "TokenRestored"); e == "" {
		t.Errorf("no TokenRestored event")
	}
}

// An edited token Secret is not trusted: a process that remembers the token it wrote
// restores it (memory.issued), and one that does not (a restart) logs in.
func TestTokenEditedSecret(t *testing.T) {
	edit := func(h *harness) {
		s := h.getSecret("crm-token")
		h.update(s, func() { s.Data[tokensecret.KeyAccessToken] = []byte("00D000000000001!edited") })
	}

	t.Run("restored by the process that wrote it", func(t *testing.T) {
		h := newHarness(t)
		h.add(h.newConn(), credentials())
		first, _ := h.tokenPass(hName)
		edit(h)
		p, _ := h.tokenPass(hName)
		if p.renewed || h.logins() != 1 {
			t.Errorf("renewed %v, logins %d: want the remembered token written back", p.renewed, h.logins())
		}
		if tok := h.storedToken(hName); tok.AccessToken() != first.token.AccessToken() {
			t.Errorf("access token = %q, want the remembered one", tok.AccessToken())
		}
	})

	t.Run("replaced by a login after a restart", func(t *testing.T) {
		h := newHarness(t)
		h.add(h.newConn(), credentials())
		first, _ := h.tokenPass(hName)
		edit(h)
		h.restart()
		h.clk.Step(time.Minute)
		p, _ := h.tokenPass(hName)
		if !p.renewed || h.logins() != 2 {
			t.Fatalf("renewed %v, logins %d: an edited Secret must be replaced by a login", p.renewed, h.logins())
		}
		tok := h.storedToken(hName)
		if got := tok.AccessToken(); got == first.token.AccessToken() || got == "00D000000000001!edited" {
			t.Errorf("access token = %q, want a new one", got)
		}
	})
}

// A missing credentials Secret stops the connection before anything is sent to
// Salesforce.
func TestTokenMissingCredentials(t *testing.T) {
	h := newHarness(t)
	h.add(h.newConn())

	p, next := h.tokenPass(hName)
	if p.failure == nil || p.failure.Class != failure.Terminal || p.failure.Reason != sfv1.ReasonCredentialsNotFound {
		t.Fatalf("failure = %+v, want Terminal CredentialsNotFound", p.failure)
	}
	if !strings.Contains(p.failure.Message, `"creds"`) {
		t.Errorf("message %q does not name the Secret", p.failure.Message)
	}
	if n := h.requests(""); n != 0 {
		t.Errorf("Salesforce requests = %d, want none", n)
	}
	if w := h.allWrites(); len(w) != 0 {
		t.Errorf("writes = %v, want none", w)
	}
	if !next.IsZero() || p.token != nil || !p.failure.RetryAt.IsZero() {
		t.Errorf("next %v, token %v, retryAt %v: nothing is due until the Secret appears", next, p.token, p.failure.RetryAt)
	}
	if p.status.LastFailure != nil {
		t.Errorf("lastFailure = %+v: no login failed", p.status.LastFailure)
	}
}

// heldFailure is a failed login recorded in status, made with the credentials Secret creds
// at version rv, ago before the clock's now.
func heldFailure(h *harness, class failure.Class, reason string, count int32, ago time.Duration, rv string) *sfv1.LoginFailure {
	return &sfv1.LoginFailure{Time: metav1.NewTime(h.clk.Now().Add(-ago)), Count: count, Reason: reason, Class: string(class),
		Message: reason + " before", ObservedGeneration: 1, CredentialsResourceVersion: rv}
}

// A retryable failure in status holds logins back until its backoff passes; a new
// requestedAt annotation goes past it, once.
func TestTokenHeldByRetryableFailure(t *testing.T) {
	h := newHarness(t)
	creds := credentials()
	h.add(creds)
	lf := heldFailure(h, failure.Retryable, sfv1.ReasonSalesforceUnavailable, 1, time.Second, creds.ResourceVersion)
	h.add(h.newConn(withStatus(func(st *sfv1.SalesforceConnectionStatus) { st.LastFailure = lf })))

	p, _ := h.tokenPass(hName)
	if n := h.requests(emulator.EndpointToken); n != 0 {
		t.Fatalf("token requests = %d within the backoff, want none", n)
	}
	if p.failure == nil || p.failure.Reason != sfv1.ReasonSalesforceUnavailable {
		t.Fatalf("failure = %+v, want the held one", p.failure)
	}
	retry := p.failure.RetryAt
	if lo, hi := lf.Time.Add(5*time.Second), lf.Time.Add(6*time.Second); retry.Before(lo) || retry.After(hi) {
		t.Errorf("retry at %v, want within [%v, %v]: 5s plus up to 20%% jitter after the failure", retry, lo, hi)
	}
	if !equality.Semantic.DeepEqual(p.status.LastFailure, lf) {
		t.Errorf("lastFailure = %+v, want it kept as %+v", p.status.LastFailure, lf)
	}

	h.clk.SetTime(retry.Add(-time.Millisecond))
	if _, _ = h.tokenPass(hName); h.requests(emulator.EndpointToken) != 0 {
		t.Fatalf("a login just before the retry time")
	}

	h.clk.SetTime(retry)
	p, _ = h.tokenPass(hName)
	if !p.renewed || p.failure != nil || h.logins() != 1 {
		t.Fatalf("at the retry time: renewed %v, failure %+v, logins %d", p.renewed, p.failure, h.logins())
	}
	if p.status.LastFailure != nil {
		t.Errorf("lastFailure = %+v after a login, want none", p.status.LastFailure)
	}
}

// A new reconcile.fluxcd.io/requestedAt goes past a backoff once: the pass records it as
// handled, and the next one waits for the backoff again.
func TestTokenRequestedAtGoesPastHeldFailureOnce(t *testing.T) {
	h := newHarness(t)
	h.add(credentials(), h.newConn(withRequestedAt("first")))
	if err := h.sf.InjectFault(emulator.Fault{Endpoint: emulator.EndpointToken, Status: 503}); err != nil {
		t.Fatal(err)
	}

	if _, err := h.reconcile(hName); err != nil {
		t.Fatal(err)
	}
	st := h.getConn(hName).Status
	if st.LastFailure == nil || st.LastFailure.Class != string(failure.Retryable) || st.LastHandledReconcileAt != "first" {
		t.Fatalf("after a failed login: lastFailure %+v, lastHandledReconcileAt %q", st.LastFailure, st.LastHandledReconcileAt)
	}
	tokenRequests := h.requests(emulator.EndpointToken)

	h.clk.Step(time.Second)
	h.mustReconcile(hName)
	if n := h.requests(emulator.EndpointToken); n != tokenRequests {
		t.Fatalf("token requests = %d within the backoff, want %d: the request was handled already", n, tokenRequests)
	}

	conn := h.getConn(hName)
	h.update(conn, func() { conn.Annotations[sfv1.AnnotationRequestedAt] = "second" })
	h.clk.Step(time.Second)
	h.mustReconcile(hName)
	if n := h.requests(emulator.EndpointToken); n != tokenRequests+1 {
		t.Fatalf("token requests = %d, want %d: a new request goes past the backoff", n, tokenRequests+1)
	}
	st = h.getConn(hName).Status
	if st.LastHandledReconcileAt != "second" || st.LastFailure == nil || st.LastFailure.Count != 2 {
		t.Errorf("lastHandledReconcileAt %q, lastFailure %+v: want the request handled and the second failure counted", st.LastHandledReconcileAt, st.LastFailure)
	}

	h.clk.Step(time.Second)
	h.mustReconcile(hName)
	if n := h.requests(emulator.EndpointToken); n != tokenRequests+1 {
		t.Errorf("token requests = %d, want %d: the request goes past the backoff once", n, tokenRequests+1)
	}
}

// A terminal failure waits for a change: no time lets it through, a new version of the
// credentials Secret does.
func TestTokenHeldByTerminalFailureUntilCredentialsChange(t *testing.T) {
	h := newHarness(t)
	creds := credentials()
	h.add(creds)
	lf := heldFailure(h, failure.Terminal, sfv1.ReasonAuthenticationFailed, 1, time.Hour, creds.ResourceVersion)
	h.add(h.newConn(withStatus(func(st *sfv1.SalesforceConnectionStatus) { st.LastFailure = lf })))

	for _, wait := range []time.Duration{0, time.Hour, 30 * 24 * time.Hour} {
		h.clk.Step(wait)
		p, next := h.tokenPass(hName)
		if n := h.requests(""); n != 0 {
			t.Fatalf("after %v: Salesforce requests = %d, want none", wait, n)
		}
		if p.failure == nil || p.failure.Class != failure.Terminal || !p.failure.RetryAt.IsZero() || !next.IsZero() {
			t.Fatalf("after %v: failure %+v, next %v: want the terminal failure held, nothing due", wait, p.failure, next)
		}
	}

	// Someone acts on the credentials: a new resourceVersion, even with the same values.
	h.update(creds, func() { creds.Annotations = map[string]string{"rotated-by": "a person"} })
	p, _ := h.tokenPass(hName)
	if !p.renewed || h.logins() != 1 {
		t.Fatalf("after the credentials changed: renewed %v, logins %d", p.renewed, h.logins())
	}
}

// An instance_url outside the allowed hosts is never handed to workloads: the token is
// not written, and the failure is not recorded as a failed login (a restart, which changes
// the allowed hosts, must try again).
func TestTokenInstanceURLOutsideAllowedHosts(t *testing.T) {
	h := newHarness(t)
	if _, err := h.sf.PutOrg(emulator.Org{ID: hOrgID, InstanceURL: "https://collector.evil.example"}); err != nil {
		t.Fatal(err)
	}
	h.add(h.newConn(), credentials())

	p, next := h.tokenPass(hName)
	if p.failure == nil || p.failure.Class != failure.Retryable || p.failure.Reason != sfv1.ReasonInvalidSpec ||
		!strings.Contains(p.failure.Message, "instance_url") || !strings.Contains(p.failure.Message, "revoked") {
		t.Fatalf("failure = %+v, want a Retryable InvalidSpec about instance_url, its token revoked", p.failure)
	}
	if n := h.requests(emulator.EndpointRevoke); n != 1 {
		t.Errorf("revoke requests = %d, want the refused token revoked", n)
	}
	if s := h.getSecret("crm-token"); s != nil {
		t.Errorf("token Secret written: %v", s.Data)
	}
	if w := h.allWrites(); len(w) != 0 {
		t.Errorf("writes = %v, want none", w)
	}
	if p.token != nil || p.renewed || !next.IsZero() {
		t.Errorf("token %v, renewed %v, next %v", p.token, p.renewed, next)
	}
	if lf := p.status.LastFailure; lf == nil || lf.Class != string(failure.Retryable) || p.failure.RetryAt.IsZero() {
		t.Errorf("lastFailure = %+v, retry at %v: want a recorded failure that backs off", lf, p.failure.RetryAt)
	}
	if e := eventWith(h.events(), corev1.EventTypeWarning, sfv1.ReasonInvalidSpec); e == "" {
		t.Errorf("no InvalidSpec event")
	}
}

// A login that must wait for its turn defers the pass: nothing is sent, status stays as
// read, the later steps do not run (the due liveness probe is not made), and the turn
// comes at the time returned.
func TestTokenDeferredByLoginLimiter(t *testing.T) {
	h := newHarness(t)
	h.add(h.newConn(withVerifyInterval(5*time.Minute)), credentials())
	h.mustReconcile(hName)
	renewAt := h.getConn(hName).Status.RenewAt.Time

	h.r.Limiter = pacing.NewLoginLimiter(0.01, 1) // one login per 100s, burst 1
	h.clk.SetTime(renewAt)
	if wait := h.r.Limiter.Admit(hOrgID, types.NamespacedName{Namespace: hNamespace, Name: "other"}, h.clk.Now()); wait != 0 {
		t.Fatalf("the other connection waits %v", wait)
	}
	h.resetWrites()
	h.events()
	requests := h.requests("")

	p, next := h.tokenPass(hName)
	if !p.deferred {
		t.Fatalf("pass not deferred: failure %+v, renewed %v", p.failure, p.renewed)
	}
	if want := p.now.Add(100 * time.Second); !next.Equal(want) {
		t.Errorf("next = %v, want the turn at %v", next, want)
	}
	if n := h.requests(""); n != requests {
		t.Errorf("Salesforce requests = %d, want %d", n, requests)
	}
	if !equality.Semantic.DeepEqual(*p.status, h.getConn(hName).Status) {
		t.Errorf("status changed: %+v", p.status)
	}

	// The whole pass: no status patch, no probe, back at the turn.
	res, err := h.reconcile(hName)
	if err != nil {
		t.Fatal(err)
	}
	if w := h.allWrites(); len(w) != 0 {
		t.Errorf("writes = %v, want none", w)
	}
	if n := h.requests(""); n != requests {
		t.Errorf("Salesforce requests = %d, want %d: the probe must not run in a deferred pass", n, requests)
	}
	if res.RequeueAfter != 100*time.Second {
		t.Errorf("requeue after %v, want 100s", res.RequeueAfter)
	}
	if evs := h.events(); len(evs) != 0 {
		t.Errorf("events = %v, want none", evs)
	}

	h.clk.Step(100 * time.Second)
	h.mustReconcile(hName)
	if n := h.logins(); n != 2 {
		t.Errorf("logins at the turn = %d, want 2", n)
	}
}

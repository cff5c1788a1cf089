package authflow

import (
	"context"
	"strings"
	"testing"
	"time"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/failure"
	"github.com/sfconn/sfconn-operator/internal/rotation"
	"github.com/sfconn/sfconn-operator/internal/salesforce"
	"github.com/sfconn/sfconn-operator/internal/salesforce/emulator"
)

// refreshWorld is a world with a refresh token alice approved for app, and a refresh token
// connection for app; the test puts the token in its credentials.
func refreshWorld(t *testing.T, app string) (*world, *sfv1.SalesforceConnection, string) {
	t.Helper()
	w := newWorld(t)
	rt, err := w.emu.IssueRefreshToken(app, alice)
	if err != nil {
		t.Fatal(err)
	}
	conn := w.conn(sfv1.AuthSpec{RefreshToken: &sfv1.RefreshTokenAuth{ClientID: app, CredentialsSecretRef: sfv1.SecretReference{Name: credsName}}})
	return w, conn, rt
}

func TestRefreshTokenWithoutRotation(t *testing.T) {
	w, conn, rt := refreshWorld(t, appID)
	flow, in := flowFor(t, conn, creds("client_secret", appSecret, "refresh_token", rt))
	if !flow.HoldsApproval() {
		t.Error("the refresh token flow holds an approval")
	}
	for i := range 2 {
		res := w.mustToken(flow, in)
		if res.ApprovalSource != rt || res.Minted || res.Token.RefreshToken != "" {
			t.Fatalf("login %d: approval source, minted, refresh token = %t, %t, %q; want the user's token, not minted, none",
				i, res.ApprovalSource == rt, res.Minted, res.Token.RefreshToken)
		}
		w.clk.Step(time.Hour)
	}
	if got := w.sf.sentTokens(); len(got) != 2 || got[0] != rt || got[1] != rt {
		t.Errorf("sent %d refresh tokens, want the user's twice", len(got))
	}
	if s := w.chain(conn, rt); s != nil && len(s.Data[rotation.KeyRefreshToken]) != 0 {
		t.Error("a chain holds a token without rotation")
	}
	if a := w.emu.Approvals(appID, alice); len(a) != 1 || a[0].UseCount != 2 {
		t.Errorf("approvals = %+v, want the user's one, used twice", a)
	}
}

func TestRefreshTokenRotation(t *testing.T) {
	w, conn, rt := refreshWorld(t, rtrAppID)
	flow, in := flowFor(t, conn, creds("client_secret", rtrSecret, "refresh_token", rt))

	first := w.mustToken(flow, in)
	rotated1 := first.Token.RefreshToken
	if rotated1 == "" || rotated1 == rt {
		t.Fatal("Salesforce did not rotate the refresh token")
	}
	if first.ApprovalSource != rt {
		t.Error("the approval is named after the user's token, not the rotated one")
	}
	if got := w.storedRefreshToken(conn, rt); got != rotated1 {
		t.Fatal("the state Secret does not hold the rotated token")
	}
	if v := w.chain(conn, rt).Annotations[rotation.AnnotationLoginURL]; v != w.url {
		t.Errorf("login URL annotation %q, want %q", v, w.url)
	}

	w.clk.Step(time.Hour)
	second := w.mustToken(flow, in)
	rotated2 := second.Token.RefreshToken
	if second.ApprovalSource != rt {
		t.Error("the second login names another approval source")
	}
	if got := w.sf.sentTokens(); len(got) != 2 || got[0] != rt || got[1] != rotated1 {
		t.Fatalf("sent %d tokens (first is the user's: %t, second the rotated one: %t); a replay kills the chain",
			len(got), len(got) > 0 && got[0] == rt, len(got) > 1 && got[1] == rotated1)
	}
	if got := w.storedRefreshToken(conn, rt); got != rotated2 || rotated2 == rotated1 {
		t.Fatal("the state Secret does not hold the second rotated token")
	}
	// A replay would have made Salesforce delete the approval.
	if a := w.emu.Approvals(rtrAppID, alice); len(a) != 1 || a[0].Rotations != 2 {
		t.Fatalf("approvals = %+v, want one rotated twice", a)
	}
	if w.unsaved(conn, rt) {
		t.Error("a token held in memory though every write succeeded")
	}

	// The user puts a new refresh token in the credentials: a new chain, from it.
	w.clk.Step(time.Minute)
	rtNew, err := w.emu.IssueRefreshToken(rtrAppID, alice)
	if err != nil {
		t.Fatal(err)
	}
	flow, in = flowFor(t, conn, creds("client_secret", rtrSecret, "refresh_token", rtNew))
	third := w.mustToken(flow, in)
	if got := w.sf.sentTokens(); got[len(got)-1] != rtNew {
		t.Fatal("a new user token did not start a new chain")
	}
	if third.ApprovalSource != rtNew {
		t.Error("the new chain's approval is not named after the new user token")
	}
	if got := w.storedRefreshToken(conn, rtNew); got != third.Token.RefreshToken {
		t.Fatal("the state Secret does not hold the new chain's rotated token")
	}
	w.noSecretsAnywhere(rt, rotated1, rotated2, rtNew, third.Token.RefreshToken, first.Token.AccessToken)
}

// A rotated token the API server would not store is the only live copy: it stays in
// memory, is stored before the next refresh, and that refresh sends it.
func TestRefreshTokenRotationWhenTheAPIServerFails(t *testing.T) {
	w, conn, rt := refreshWorld(t, rtrAppID)
	flow, in := flowFor(t, conn, creds("client_secret", rtrSecret, "refresh_token", rt))

	// The chain is claimed; then the API server fails, while Salesforce rotates.
	w.sf.beforeLogin = func(salesforce.LoginRequest) { w.failWrites = -1 }
	writes := w.writes
	first := w.mustToken(flow, in)
	w.sf.beforeLogin = nil
	rotated1 := first.Token.RefreshToken
	if held, _ := w.chains.Current(context.Background(), w.chainOf(conn, rt)); !w.unsaved(conn, rt) || held != rotated1 {
		t.Fatalf("held in memory: %t (the rotated token: %t)", w.unsaved(conn, rt), held == rotated1)
	}
	if got := w.storedRefreshToken(conn, rt); got != "" {
		t.Fatal("a token in the chain Secret although its write failed")
	}
	if w.writes-writes < 3 {
		t.Errorf("%d writes: the rotated token's write is retried", w.writes-writes)
	}

	// While the API server still fails, no refresh: the live token would be sent, rotated
	// again, and the one held in memory lost.
	before := len(w.sf.sentTokens())
	if res, err := w.login(flow, in); err == nil || failure.As(err) != nil || res != nil {
		t.Fatalf("Login = %+v, %v; want the API server's error", res, err)
	}
	if len(w.sf.sentTokens()) != before {
		t.Fatal("a refresh while the rotated token could not be stored")
	}

	w.failWrites = 0
	w.sf.beforeLogin = func(req salesforce.LoginRequest) {
		if got := w.storedRefreshToken(conn, rt); got != rotated1 || req.RefreshToken != rotated1 {
			t.Errorf("the refresh went out before the token held in memory was stored (stored: %t, sent: %t)",
				got == rotated1, req.RefreshToken == rotated1)
		}
	}
	w.clk.Step(time.Hour)
	second := w.mustToken(flow, in)
	w.sf.beforeLogin = nil
	if got := w.sf.sentTokens(); got[len(got)-1] != rotated1 {
		t.Fatal("the next refresh did not send the token held in memory")
	}
	if got := w.storedRefreshToken(conn, rt); got != second.Token.RefreshToken {
		t.Fatal("the state Secret does not hold the latest rotated token")
	}
	if w.unsaved(conn, rt) {
		t.Error("the token is still held in memory after it was stored")
	}
	if a := w.emu.Approvals(rtrAppID, alice); len(a) != 1 || a[0].Rotations != 2 {
		t.Fatalf("approvals = %+v, want one rotated twice", a)
	}
	w.noSecretsAnywhere(rt, rotated1, second.Token.RefreshToken)
}

func TestRefreshTokenRevoked(t *testing.T) {
	for _, app := range []struct{ id, secret string }{{appID, appSecret}, {rtrAppID, rtrSecret}} {
		t.Run(app.id, func(t *testing.T) {
			w, conn, rt := refreshWorld(t, app.id)
			flow, in := flowFor(t, conn, creds("client_secret", app.secret, "refresh_token", rt))
			res := w.mustToken(flow, in)
			live := rt
			if res.Token.RefreshToken != "" {
				live = res.Token.RefreshToken
			}
			if !w.emu.RevokeToken(live) {
				t.Fatal("the emulator did not revoke the live refresh token")
			}
			fl := w.mustFail(flow, in, failure.Revoked, sfv1.ReasonRevoked)
			if !strings.Contains(fl.Message, `Secret "creds"`) || !strings.Contains(fl.Message, "expired access/refresh token") {
				t.Errorf("message %q names neither the Secret nor Salesforce's answer", fl.Message)
			}
			noSecrets(t, "failure message", fl.Message, rt, live, res.Token.AccessToken)
			w.noSecretsAnywhere(rt, live, res.Token.AccessToken)
		})
	}
}

func TestRefreshTokenOtherFailures(t *testing.T) {
	w, conn, rt := refreshWorld(t, appID)

	flow, in := flowFor(t, conn, creds("client_secret", "wrong-client-secret", "refresh_token", rt))
	fl := w.mustFail(flow, in, failure.Terminal, sfv1.ReasonAuthenticationFailed)
	noSecrets(t, "failure message", fl.Message, "wrong-client-secret", rt)

	flow, in = flowFor(t, conn, creds("client_secret", appSecret, "refresh_token", rt))
	if err := w.emu.InjectFault(emulator.Fault{Endpoint: emulator.EndpointToken, Count: 1, Status: 502}); err != nil {
		t.Fatal(err)
	}
	_ = w.mustFail(flow, in, failure.Retryable, sfv1.ReasonSalesforceUnavailable)
	// The outage passed: the same token still works.
	if res := w.mustToken(flow, in); res.ApprovalSource != rt {
		t.Error("wrong approval source after an outage")
	}
}

// A shutdown while Salesforce rotates the token must not lose the rotated one: the
// refresh is not cancelled, and neither is storing what it answered.
func TestRefreshTokenRotationSurvivesCancellation(t *testing.T) {
	w, conn, rt := refreshWorld(t, rtrAppID)
	flow, in := flowFor(t, conn, creds("client_secret", rtrSecret, "refresh_token", rt))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w.sf.afterLogin = cancel // the pass is cancelled while Salesforce answers
	res, err := flow.Login(ctx, w.env(), in)
	if err != nil || res.Token == nil {
		t.Fatalf("Login = %+v, %v; want the token Salesforce issued", res, err)
	}
	if w.unsaved(conn, rt) {
		t.Error("the rotated token is only in memory, which a shutdown loses")
	}
	if w.storedRefreshToken(conn, rt) != res.Token.RefreshToken {
		t.Fatal("the rotated token was not stored")
	}
}

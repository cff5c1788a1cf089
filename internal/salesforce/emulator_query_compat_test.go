package salesforce_test

import (
	"context"
	"strings"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/sfconn/sfconn-operator/internal/salesforce"
	"github.com/sfconn/sfconn-operator/internal/salesforce/emulator"
)

// TestEmulatorQueryApprovalsAndIntrospect runs QueryApprovals and Introspect against the
// emulator's query resource and introspection endpoint. The app name holds a quote, a
// double quote and a backslash, so the query only finds its rows if the escaping matches
// what the emulator (like Salesforce) unescapes.
func TestEmulatorQueryApprovalsAndIntrospect(t *testing.T) {
	const (
		clientID = "3MVG9approvalsApp"
		secret   = "approvals-app-secret"
		username = "approver@acme.com"
		appName  = `Ops "O'Brien" \ Tools`
	)
	clk := clocktesting.NewFakeClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	emu := emulator.New(emulator.WithClock(clk))
	if err := emu.Apply(emulator.State{
		Orgs: []emulator.Org{{}},
		Apps: []emulator.ConnectedApp{
			{ClientID: clientID, ClientSecret: secret, Name: appName, Flows: []emulator.Flow{emulator.FlowRefreshToken}},
			{ClientID: "3MVG9otherApp", ClientSecret: "other-secret", Name: "Other", Flows: []emulator.Flow{emulator.FlowRefreshToken}},
		},
		Users: []emulator.User{{Username: username}},
	}); err != nil {
		t.Fatal(err)
	}
	var userID string
	for _, u := range emu.State().Users {
		if u.Username == username {
			userID = u.ID
		}
	}
	srv := emu.NewServer()
	t.Cleanup(srv.Close)
	c := salesforce.NewClient(salesforce.WithHTTPClient(srv.Client()), salesforce.WithClock(clk), salesforce.WithTimeout(10*time.Second))
	ctx := context.Background()

	// Three approvals a minute apart, and one of another app that must not be listed.
	var refresh string
	for range 3 {
		rt, err := emu.IssueRefreshToken(clientID, username)
		if err != nil {
			t.Fatal(err)
		}
		refresh = rt
		clk.Step(time.Minute)
	}
	if _, err := emu.IssueRefreshToken("3MVG9otherApp", username); err != nil {
		t.Fatal(err)
	}
	tok, err := c.Login(ctx, salesforce.LoginRequest{
		LoginURL: srv.URL, Grant: salesforce.GrantRefreshToken, ClientID: clientID, ClientSecret: secret, RefreshToken: refresh,
	})
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}

	got, err := c.QueryApprovals(ctx, tok.InstanceURL, tok.AccessToken, appName, userID)
	if err != nil {
		t.Fatalf("QueryApprovals: %v", err)
	}
	want := emu.Approvals(clientID, username)
	if len(got) != 3 || len(want) != 3 {
		t.Fatalf("QueryApprovals = %+v\nemulator holds %+v", got, want)
	}
	for i, a := range got {
		w := want[i]
		if a.ID == "" || a.AppName != appName || !a.Created.Equal(w.Created) || a.UseCount != w.UseCount ||
			a.LastUsed.IsZero() != w.LastUsed.IsZero() || (!w.LastUsed.IsZero() && !a.LastUsed.Equal(w.LastUsed)) {
			t.Errorf("approval %d = %+v\nemulator: %+v", i, a, w)
		}
	}
	if got[0].UseCount != 0 || got[2].UseCount != 1 || !got[2].LastUsed.After(got[2].Created) {
		t.Errorf("only the refreshed (newest) approval should be used: %+v", got)
	}

	if none, err := c.QueryApprovals(ctx, tok.InstanceURL, tok.AccessToken, "No such app", userID); err != nil || len(none) != 0 {
		t.Errorf("query for another app name = %+v, %v; want none", none, err)
	}

	info, err := c.Introspect(ctx, srv.URL, clientID, secret, tok.AccessToken)
	if err != nil {
		t.Fatalf("Introspect: %v", err)
	}
	if !info.Active || info.Username != username || info.ClientID != clientID || info.Subject != tok.ID ||
		info.TokenType != "access_token" || !info.IssuedAt.Equal(clk.Now()) || !info.Expires.After(info.IssuedAt) {
		t.Errorf("Introspect = %+v (token id %s, now %v)", *info, tok.ID, clk.Now())
	}

	var e *salesforce.Error
	_, err = c.Introspect(ctx, srv.URL, clientID, "wrong-secret", tok.AccessToken)
	if !asSFError(err, &e) || e.Class != salesforce.Terminal || e.Code != "invalid_client" {
		t.Errorf("Introspect with a wrong secret: %v, want Terminal invalid_client", err)
	}
	_, err = c.Introspect(ctx, srv.URL, "3MVG9unknown", secret, tok.AccessToken)
	if !asSFError(err, &e) || e.Class != salesforce.Terminal || e.Code != "invalid_client_id" {
		t.Errorf("Introspect with an unknown client: %v, want Terminal invalid_client_id", err)
	}

	// Revoking the refresh token kills its access token: introspection says so without an
	// error, and the REST API refuses the token.
	if err := c.Revoke(ctx, srv.URL, refresh); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	info, err = c.Introspect(ctx, srv.URL, clientID, secret, tok.AccessToken)
	if err != nil || info.Active {
		t.Errorf("Introspect after Revoke = %+v, %v; want inactive, no error", info, err)
	}
	_, err = c.QueryApprovals(ctx, tok.InstanceURL, tok.AccessToken, appName, userID)
	if !asSFError(err, &e) || e.Class != salesforce.Terminal || e.StatusCode != 401 || e.Code != "INVALID_SESSION_ID" {
		t.Errorf("QueryApprovals with a dead token: %v, want Terminal 401 INVALID_SESSION_ID", err)
	}
	if strings.Contains(err.Error(), tok.AccessToken) {
		t.Error("query error carries the access token")
	}
}

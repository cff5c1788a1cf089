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

// TestEmulatorRESTVersionsAndLimits runs RESTVersions and Limits against the emulator's
// REST API, which the kubectl plugin's test command reads through them: the shapes of the
// version list and of the limits resource must be what the client parses, and a token
// whose session timed out must be refused as INVALID_SESSION_ID.
func TestEmulatorRESTVersionsAndLimits(t *testing.T) {
	const (
		clientID = "3MVG9restApp"
		secret   = "rest-app-secret"
		username = "rest@acme.com"
	)
	clk := clocktesting.NewFakeClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	emu := emulator.New(emulator.WithClock(clk), emulator.WithState(emulator.State{
		Orgs:  []emulator.Org{{SessionTimeout: emulator.Duration(2 * time.Hour)}},
		Apps:  []emulator.ConnectedApp{{ClientID: clientID, ClientSecret: secret, ClientCredentialsUser: username}},
		Users: []emulator.User{{Username: username}},
	}))
	srv := emu.NewServer()
	t.Cleanup(srv.Close)
	c := salesforce.NewClient(salesforce.WithHTTPClient(srv.Client()), salesforce.WithClock(clk), salesforce.WithTimeout(10*time.Second))
	ctx := context.Background()

	tok, err := c.Login(ctx, salesforce.LoginRequest{
		LoginURL: srv.URL, Grant: salesforce.GrantClientCredentials, ClientID: clientID, ClientSecret: secret,
	})
	if err != nil {
		t.Fatalf("login: %v", err)
	}

	versions, err := c.RESTVersions(ctx, tok.InstanceURL, tok.AccessToken)
	if err != nil {
		t.Fatalf("RESTVersions: %v", err)
	}
	latest := versions[len(versions)-1]
	if len(versions) != 5 || latest != (salesforce.RESTVersion{Version: "66.0", Label: "Spring '26"}) ||
		"v"+latest.Version != salesforce.APIVersion {
		t.Errorf("RESTVersions = %+v, want five, the latest %s (Spring '26)", versions, salesforce.APIVersion)
	}

	limits, err := c.Limits(ctx, tok.InstanceURL, tok.AccessToken, latest.Version)
	if err != nil {
		t.Fatalf("Limits: %v", err)
	}
	// Both calls count against DailyApiRequests before the limits answer is written.
	if got := limits["DailyApiRequests"]; got != (salesforce.Limit{Max: emulator.DailyAPIRequests, Remaining: emulator.DailyAPIRequests - 2}) {
		t.Errorf("DailyApiRequests = %+v", got)
	}
	if got, ok := limits["DataStorageMB"]; !ok || got.Max < got.Remaining {
		t.Errorf("DataStorageMB = %+v, %t", got, ok)
	}

	clk.Step(2 * time.Hour) // the session times out
	var e *salesforce.Error
	for name, call := range map[string]func() error{
		"RESTVersions": func() error { _, err := c.RESTVersions(ctx, tok.InstanceURL, tok.AccessToken); return err },
		"Limits":       func() error { _, err := c.Limits(ctx, tok.InstanceURL, tok.AccessToken, latest.Version); return err },
	} {
		err := call()
		if !asSFError(err, &e) || e.Class != salesforce.Terminal || e.StatusCode != 401 || e.Code != "INVALID_SESSION_ID" {
			t.Errorf("%s with a dead token: %v, want Terminal 401 INVALID_SESSION_ID", name, err)
			continue
		}
		if strings.Contains(err.Error(), tok.AccessToken) || strings.Contains(err.Error(), "Session expired or invalid") {
			t.Errorf("%s: error %q carries the token or quotes Salesforce's message", name, err)
		}
	}
}

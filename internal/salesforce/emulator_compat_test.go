package salesforce_test

// These tests run the client against the emulator the rest of the project tests with. They
// live in the external test package so that the emulator, which must not import package
// salesforce (it checks the client rather than agreeing with it), can be imported here
// without a cycle.

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/sfconn/sfconn-operator/internal/salesforce"
	"github.com/sfconn/sfconn-operator/internal/salesforce/emulator"
)

const (
	compatClientID = "3MVG9deviceFlowApp"
	compatSecret   = "device-app-secret"
	compatUsername = "bootstrap@acme.com"
)

type deviceEnv struct {
	emu    *emulator.Emulator
	srv    *httptest.Server
	clock  *clocktesting.FakeClock
	client *salesforce.HTTPClient
	user   emulator.User
	req    salesforce.DeviceLoginRequest
}

// newDeviceEnv starts an emulator with one org, one app with the device flow and one user,
// and a client sharing the emulator's fake clock.
func newDeviceEnv(t *testing.T) *deviceEnv {
	t.Helper()
	clk := clocktesting.NewFakeClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	e := emulator.New(emulator.WithClock(clk))
	if err := e.Apply(emulator.State{
		Orgs: []emulator.Org{{}}, // a generated org ID; the user joins the only org
		Apps: []emulator.ConnectedApp{{
			ClientID: compatClientID, ClientSecret: compatSecret, Name: "device bootstrap",
			Flows: []emulator.Flow{emulator.FlowDevice, emulator.FlowRefreshToken},
		}},
		Users: []emulator.User{{Username: compatUsername, Name: "Bootstrap User", Email: "ops@acme.com"}},
	}); err != nil {
		t.Fatal(err)
	}
	var user emulator.User
	for _, u := range e.State().Users {
		if u.Username == compatUsername {
			user = u
		}
	}
	if user.ID == "" {
		t.Fatal("emulator did not store the user")
	}
	srv := e.NewServer()
	t.Cleanup(srv.Close)
	return &deviceEnv{
		emu: e, srv: srv, clock: clk, user: user,
		client: salesforce.NewClient(salesforce.WithHTTPClient(srv.Client()), salesforce.WithClock(clk), salesforce.WithTimeout(10*time.Second)),
		req:    salesforce.DeviceLoginRequest{LoginURL: srv.URL, ClientID: compatClientID, ClientSecret: compatSecret},
	}
}

func TestEmulatorDeviceFlowRevokeAndUserInfo(t *testing.T) {
	env := newDeviceEnv(t)
	ctx := context.Background()
	c := env.client

	auth, err := c.StartDeviceLogin(ctx, env.req)
	if err != nil {
		t.Fatalf("StartDeviceLogin: %v", err)
	}
	if auth.DeviceCode == "" || auth.UserCode == "" || !strings.HasPrefix(auth.VerificationURI, env.srv.URL) {
		t.Errorf("authorization = %+v", auth)
	}
	if auth.Interval != time.Duration(emulator.DevicePollInterval)*time.Second {
		t.Errorf("Interval = %v, want the emulator's %ds", auth.Interval, emulator.DevicePollInterval)
	}
	// The emulator sends no expires_in, so the client's default applies.
	if want := env.clock.Now().Add(salesforce.DefaultDeviceLifetime); !auth.ExpiresAt.Equal(want) {
		t.Errorf("ExpiresAt = %v, want %v", auth.ExpiresAt, want)
	}

	// Not approved yet.
	_, err = c.PollDeviceLogin(ctx, env.req, auth.DeviceCode)
	if salesforce.ClassOf(err) != salesforce.Pending || salesforce.IsSlowDown(err) {
		t.Fatalf("poll before approval: %v (%v), want Pending", err, salesforce.ClassOf(err))
	}

	if err := env.emu.ApproveDevice(auth.UserCode, compatUsername); err != nil {
		t.Fatalf("ApproveDevice: %v", err)
	}
	env.clock.Step(auth.Interval)
	tok, err := c.PollDeviceLogin(ctx, env.req, auth.DeviceCode)
	if err != nil {
		t.Fatalf("poll after approval: %v", err)
	}
	if tok.RefreshToken == "" || tok.AccessToken == "" {
		t.Fatalf("token without refresh or access token: refresh %t, access %t", tok.RefreshToken != "", tok.AccessToken != "")
	}
	if tok.UserID != env.user.ID || tok.OrgID != env.user.OrgID {
		t.Errorf("token ids = %s/%s, want %s/%s", tok.OrgID, tok.UserID, env.user.OrgID, env.user.ID)
	}
	if !salesforce.VerifySignature(compatSecret, tok.ID, tok.IssuedAtRaw, tok.Signature) {
		t.Error("signature does not verify")
	}
	if got := env.emu.Approvals(compatClientID, compatUsername); len(got) != 1 || got[0].Source != emulator.SourceDevice {
		t.Errorf("approvals after the device flow = %+v, want one device approval", got)
	}

	// The device code is single use.
	_, err = c.PollDeviceLogin(ctx, env.req, auth.DeviceCode)
	if salesforce.ClassOf(err) != salesforce.Terminal {
		t.Errorf("second poll: %v (%v), want Terminal", err, salesforce.ClassOf(err))
	}

	// UserInfo before Revoke: revoking the refresh token takes its access tokens with it.
	ui, err := c.UserInfo(ctx, tok.InstanceURL, tok.AccessToken)
	if err != nil {
		t.Fatalf("UserInfo: %v", err)
	}
	want := salesforce.UserInfo{UserID: env.user.ID, OrgID: env.user.OrgID, Username: compatUsername, Name: "Bootstrap User", Email: "ops@acme.com"}
	if *ui != want {
		t.Errorf("UserInfo = %+v\nwant       %+v", *ui, want)
	}

	if err := c.Revoke(ctx, env.srv.URL, tok.RefreshToken); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if got := env.emu.Approvals(compatClientID, compatUsername); len(got) != 0 {
		t.Errorf("approvals after Revoke = %+v, want none", got)
	}

	// The access token died with its refresh token: a dead access token, not a revoked
	// refresh token.
	_, err = c.UserInfo(ctx, tok.InstanceURL, tok.AccessToken)
	var e *salesforce.Error
	if !asSFError(err, &e) || e.Class != salesforce.Terminal || e.StatusCode != 403 ||
		e.Error() != "salesforce: access token not accepted (status 403)" {
		t.Errorf("UserInfo after Revoke: %v, want Terminal access token not accepted (status 403)", err)
	}

	// Revoking again: the token is dead, which the caller is told rather than shown success.
	err = c.Revoke(ctx, env.srv.URL, tok.RefreshToken)
	if !asSFError(err, &e) || e.Class != salesforce.Terminal || e.Code != "invalid_token" {
		t.Errorf("second Revoke: %v, want Terminal invalid_token", err)
	}
	if strings.Contains(err.Error(), tok.RefreshToken) {
		t.Error("revoke error carries the refresh token")
	}
}

func TestEmulatorExpiredDeviceCodeIsTerminal(t *testing.T) {
	env := newDeviceEnv(t)
	ctx := context.Background()
	auth, err := env.client.StartDeviceLogin(ctx, env.req)
	if err != nil {
		t.Fatal(err)
	}
	env.clock.Step(emulator.DeviceCodeLifetime)
	_, err = env.client.PollDeviceLogin(ctx, env.req, auth.DeviceCode)
	if salesforce.ClassOf(err) != salesforce.Terminal {
		t.Errorf("poll after expiry: %v (%v), want Terminal", err, salesforce.ClassOf(err))
	}
	if strings.Contains(err.Error(), auth.DeviceCode) {
		t.Error("error carries the device code")
	}
}

func TestEmulatorDeviceFlowNotEnabledIsTerminal(t *testing.T) {
	env := newDeviceEnv(t)
	if err := env.emu.PutApp(emulator.ConnectedApp{
		ClientID: "3MVG9noDevice", ClientSecret: "s", Flows: []emulator.Flow{emulator.FlowJWT},
	}); err != nil {
		t.Fatal(err)
	}
	req := env.req
	req.ClientID = "3MVG9noDevice"
	_, err := env.client.StartDeviceLogin(context.Background(), req)
	var e *salesforce.Error
	if !asSFError(err, &e) || e.Class != salesforce.Terminal || e.Code != "unsupported_grant_type" {
		t.Errorf("StartDeviceLogin for an app without the device flow: %v", err)
	}
}

// asSFError is errors.As for *salesforce.Error, false for nil.
func asSFError(err error, target **salesforce.Error) bool {
	e, ok := err.(*salesforce.Error) //nolint:errorlint // the error must be an *Error itself, not wrap one
	if ok {
		*target = e
	}
	return ok
}

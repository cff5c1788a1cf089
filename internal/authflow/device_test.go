package authflow

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/failure"
	"github.com/sfconn/sfconn-operator/internal/rotation"
	"github.com/sfconn/sfconn-operator/internal/salesforce/emulator"
)

// deviceSetup is a device login connection for app, its flow and inputs.
func deviceSetup(t *testing.T, w *world, app, secret string) (*sfv1.SalesforceConnection, Flow, *Inputs) {
	t.Helper()
	conn := w.conn(sfv1.AuthSpec{DeviceLogin: &sfv1.DeviceLoginAuth{ClientID: app, Username: alice,
		CredentialsSecretRef: &sfv1.SecretReference{Name: credsName}}})
	flow, in := flowFor(t, conn, creds("client_secret", secret))
	return conn, flow, in
}

// deviceStep is one pass of the controller: Login, then status.deviceLogin from the
// result, which the next pass reads.
func (w *world) deviceStep(conn *sfv1.SalesforceConnection, flow Flow, in *Inputs) (*Result, error) {
	res, err := w.login(flow, in)
	if res != nil {
		conn.Status.DeviceLogin = res.Device
	} else {
		conn.Status.DeviceLogin = nil
	}
	return res, err
}

// mustPending is a pass that obtains no token, for the reason given.
func (w *world) mustPending(conn *sfv1.SalesforceConnection, flow Flow, in *Inputs, class failure.Class, reason string) *Result {
	w.t.Helper()
	res, err := w.deviceStep(conn, flow, in)
	if err != nil {
		w.t.Fatalf("Login: %v", err)
	}
	if res.Token != nil || res.Pending == nil || res.Pending.Class != class || res.Pending.Reason != reason {
		w.t.Fatalf("Login = %+v (pending %+v), want pending %s/%s", res, res.Pending, class, reason)
	}
	return res
}

func (w *world) deviceCode(conn *sfv1.SalesforceConnection) string {
	if s := w.state(conn); s != nil {
		return string(s.Data[rotation.KeyDeviceCode])
	}
	return ""
}

func TestDeviceLoginLifecycle(t *testing.T) {
	w := newWorld(t)
	conn, flow, in := deviceSetup(t, w, appID, appSecret)
	marker := Marker(conn)

	// A device login starts: the person is told where to go, the code is kept.
	res := w.mustPending(conn, flow, in, failure.WaitingForPerson, sfv1.ReasonAwaitingApproval)
	d := res.Device
	if d == nil || d.UserCode == "" || d.VerificationURI != w.url+"/setup/connect" {
		t.Fatalf("device = %+v", d)
	}
	if !d.ExpiresAt.Time.Equal(flowT0.Add(emulator.DeviceCodeLifetime)) {
		t.Errorf("code expires at %s, want %s", d.ExpiresAt.Time, flowT0.Add(emulator.DeviceCodeLifetime))
	}
	if want := flowT0.Add(emulator.DevicePollInterval * time.Second); !res.Pending.RetryAt.Equal(want) {
		t.Errorf("first poll at %s, want %s", res.Pending.RetryAt, want)
	}
	for _, m := range []string{alice, d.VerificationURI, d.UserCode} {
		if !strings.Contains(res.Pending.Message, m) {
			t.Errorf("pending message %q does not mention %q", res.Pending.Message, m)
		}
	}
	code := w.deviceCode(conn)
	if code == "" || w.state(conn).Annotations[rotation.AnnotationDeviceInterval] != "5s" {
		t.Fatalf("state Secret = %+v, want the device code and the interval", w.state(conn))
	}
	if w.reservations != 1 {
		t.Errorf("ReserveApproval called %d times, want once", w.reservations)
	}
	if len(w.events) != 1 || w.events[0].eventType != corev1.EventTypeNormal || w.events[0].reason != sfv1.ReasonAwaitingApproval ||
		!strings.Contains(w.events[0].note, d.UserCode) {
		t.Fatalf("events = %+v, want one AwaitingApproval with the user code", w.events)
	}
	noSecrets(t, "pending message", res.Pending.Message, code)

	// Nobody approved yet: the same code is polled, no new one started.
	w.clk.Step(5 * time.Second)
	res = w.mustPending(conn, flow, in, failure.WaitingForPerson, sfv1.ReasonAwaitingApproval)
	if res.Device == nil || res.Device.UserCode != d.UserCode || w.deviceCode(conn) != code {
		t.Fatalf("device = %+v; want the same code polled", res.Device)
	}
	if w.grants(emulator.GrantDevice) != 1 || w.grants(emulator.GrantDeviceCode) != 1 || w.reservations != 1 || len(w.events) != 1 {
		t.Fatalf("polls %d, starts %d, reservations %d, events %d; want 1, 1, 1, 1",
			w.grants(emulator.GrantDevice), w.grants(emulator.GrantDeviceCode), w.reservations, len(w.events))
	}
	if want := w.clk.Now().Add(5 * time.Second); !res.Pending.RetryAt.Equal(want) {
		t.Errorf("next poll at %s, want %s", res.Pending.RetryAt, want)
	}

	// The person approves: the token, and the refresh token kept.
	if err := w.emu.ApproveDevice(d.UserCode, alice); err != nil {
		t.Fatal(err)
	}
	w.clk.Step(5 * time.Second)
	res, err := w.deviceStep(conn, flow, in)
	if err != nil || res.Token == nil || res.Pending != nil || res.Device != nil {
		t.Fatalf("Login = %+v, %v; want a token", res, err)
	}
	if !res.Minted || res.ApprovalSource != marker {
		t.Errorf("minted %t, approval source %q; want minted, %q", res.Minted, res.ApprovalSource, marker)
	}
	refresh := res.Token.RefreshToken
	if refresh == "" || w.storedRefreshToken(conn, marker) != refresh {
		t.Fatal("the device login's refresh token was not stored")
	}
	if st := w.state(conn); st != nil && len(st.Data[rotation.KeyDeviceCode]) > 0 {
		t.Error("the state Secret keeps the spent device code")
	}
	if ch := w.chains.Of(conn, marker, w.url, true); w.kube.Get(context.Background(), types.NamespacedName{Namespace: chainNamespace,
		Name: rotation.ChainSecretName(ch.ID)}, &corev1.Secret{}) != nil {
		t.Error("no chain Secret for the device login")
	}
	if a := w.emu.Approvals(appID, alice); len(a) != 1 || a[0].Source != emulator.SourceDevice {
		t.Fatalf("approvals = %+v, want the device login's", a)
	}
	access := res.Token.AccessToken

	// The next login refreshes over the chain: no new device login, no new approval.
	w.clk.Step(time.Hour)
	res, err = w.deviceStep(conn, flow, in)
	if err != nil || res.Token == nil || !res.Minted || res.ApprovalSource != marker {
		t.Fatalf("Login = %+v, %v; want a refreshed token", res, err)
	}
	if got := w.sf.sentTokens(); len(got) != 1 || got[0] != refresh {
		t.Fatal("the refresh did not send the device login's refresh token")
	}
	if w.reservations != 1 || w.grants(emulator.GrantDeviceCode) != 1 || len(w.emu.Approvals(appID, alice)) != 1 {
		t.Fatal("a refresh started a device login or made an approval")
	}

	// Salesforce revokes it: the dead token is dropped and a new device login starts.
	if n := w.emu.RevokeApprovals(appID, alice); n != 1 {
		t.Fatalf("revoked %d approvals", n)
	}
	w.clk.Step(time.Hour)
	res = w.mustPending(conn, flow, in, failure.Retryable, sfv1.ReasonRevoked)
	if !strings.Contains(res.Pending.Message, "starting a new device login") || res.Device != nil {
		t.Errorf("pending = %+v, device %+v; want a restart announced", res.Pending, res.Device)
	}
	if want := w.clk.Now().Add(time.Second); !res.Pending.RetryAt.Equal(want) {
		t.Errorf("restart at %s, want %s", res.Pending.RetryAt, want)
	}
	if w.chain(conn, marker) != nil {
		t.Fatal("the revoked refresh token is still stored")
	}
	last := w.events[len(w.events)-1]
	if last.eventType != corev1.EventTypeWarning || last.reason != sfv1.ReasonRevoked {
		t.Errorf("last event = %+v, want a Revoked warning", last)
	}

	res = w.mustPending(conn, flow, in, failure.WaitingForPerson, sfv1.ReasonAwaitingApproval)
	if res.Device == nil || res.Device.UserCode == d.UserCode || w.reservations != 2 || w.deviceCode(conn) == "" {
		t.Fatalf("device = %+v, reservations %d; want a new device login", res.Device, w.reservations)
	}
	w.noSecretsAnywhere(code, refresh, access, w.deviceCode(conn))
}

// Under refresh token rotation the chain starts at the marker and moves with each refresh.
func TestDeviceLoginRotation(t *testing.T) {
	w := newWorld(t)
	conn, flow, in := deviceSetup(t, w, rtrAppID, rtrSecret)
	marker := Marker(conn)
	res := w.mustPending(conn, flow, in, failure.WaitingForPerson, sfv1.ReasonAwaitingApproval)
	if err := w.emu.ApproveDevice(res.Device.UserCode, alice); err != nil {
		t.Fatal(err)
	}
	w.clk.Step(5 * time.Second)
	res, err := w.deviceStep(conn, flow, in)
	if err != nil || res.Token == nil {
		t.Fatalf("Login = %+v, %v", res, err)
	}
	issued := res.Token.RefreshToken
	var last string
	for i := range 2 {
		w.clk.Step(time.Hour)
		res, err = w.deviceStep(conn, flow, in)
		if err != nil || res.Token == nil || res.ApprovalSource != marker {
			t.Fatalf("refresh %d: %+v, %v", i, res, err)
		}
		last = res.Token.RefreshToken
		if w.storedRefreshToken(conn, marker) != last {
			t.Fatalf("refresh %d: the rotated token was not stored", i)
		}
	}
	sent := w.sf.sentTokens()
	if len(sent) != 2 || sent[0] != issued || sent[1] == issued {
		t.Fatal("the refreshes did not follow the chain")
	}
	if a := w.emu.Approvals(rtrAppID, alice); len(a) != 1 || a[0].Rotations != 2 {
		t.Fatalf("approvals = %+v, want one rotated twice", a)
	}
	w.noSecretsAnywhere(issued, last)
}

func TestDeviceLoginMayNotMakeAnApproval(t *testing.T) {
	w := newWorld(t)
	conn, flow, in := deviceSetup(t, w, appID, appSecret)
	limit := failure.New(failure.Terminal, sfv1.ReasonApprovalLimitReached, "alice holds five approvals")
	w.reserve = func(context.Context) error { return limit }
	res, err := w.deviceStep(conn, flow, in)
	if err != nil || res.Pending != limit || res.Token != nil || res.Device != nil {
		t.Fatalf("Login = %+v, %v; want the reservation's failure as pending", res, err)
	}
	if w.reservations != 1 || w.emu.Stats().TokenRequests != 0 || w.state(conn) != nil || len(w.events) != 0 {
		t.Fatalf("reservations %d, requests %d, events %d; want no device login started",
			w.reservations, w.emu.Stats().TokenRequests, len(w.events))
	}

	// The API server failing the reservation is no pending reason but an error.
	apiErr := errors.New("listing connections: etcd is unavailable")
	w.reserve = func(context.Context) error { return apiErr }
	if res, err := w.deviceStep(conn, flow, in); !errors.Is(err, apiErr) || res != nil {
		t.Fatalf("Login = %+v, %v; want the API server's error", res, err)
	}
	if w.emu.Stats().TokenRequests != 0 {
		t.Fatal("a device login started without a reservation")
	}
}

// A code that ends without approval starts over.
func TestDeviceLoginEndsWithoutApproval(t *testing.T) {
	tests := []struct {
		name string
		end  func(t *testing.T, w *world, conn *sfv1.SalesforceConnection)
		// polled says whether the ended code is polled (Salesforce tells) or known ended
		// from status (no poll).
		polled bool
	}{
		{name: "the person declined", polled: true, end: func(t *testing.T, w *world, conn *sfv1.SalesforceConnection) {
			w.jsonFault(400, "access_denied", "end-user denied authorization")
		}},
		{name: "Salesforce expired the code before status said", polled: true, end: func(t *testing.T, w *world, conn *sfv1.SalesforceConnection) {
			// Salesforce announces no lifetime: the operator's guess may be too long.
			conn.Status.DeviceLogin.ExpiresAt = metav1.NewTime(conn.Status.DeviceLogin.ExpiresAt.Add(time.Hour))
			w.clk.Step(emulator.DeviceCodeLifetime + time.Second)
		}},
		{name: "status says the code expired", end: func(t *testing.T, w *world, conn *sfv1.SalesforceConnection) {
			w.clk.Step(emulator.DeviceCodeLifetime)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			conn, flow, in := deviceSetup(t, w, appID, appSecret)
			first := w.mustPending(conn, flow, in, failure.WaitingForPerson, sfv1.ReasonAwaitingApproval).Device
			firstCode := w.deviceCode(conn)
			tt.end(t, w, conn)

			res := w.mustPending(conn, flow, in, failure.WaitingForPerson, sfv1.ReasonAwaitingApproval)
			if tt.polled {
				if res.Device != nil || !strings.Contains(res.Pending.Message, "starting a new one") || w.deviceCode(conn) != "" {
					t.Fatalf("pending %q, device %+v; want the code dropped and a restart announced", res.Pending.Message, res.Device)
				}
				if w.grants(emulator.GrantDevice) != 1 || w.reservations != 1 {
					t.Fatalf("polls %d, reservations %d; want the ended code polled once, no new start yet",
						w.grants(emulator.GrantDevice), w.reservations)
				}
				noSecrets(t, "pending message", res.Pending.Message, firstCode)
				// The next pass starts over.
				res = w.mustPending(conn, flow, in, failure.WaitingForPerson, sfv1.ReasonAwaitingApproval)
			} else if w.grants(emulator.GrantDevice) != 0 {
				t.Fatal("an expired code was polled")
			}
			if res.Device == nil || res.Device.UserCode == first.UserCode || w.reservations != 2 ||
				w.deviceCode(conn) == "" || w.deviceCode(conn) == firstCode {
				t.Fatalf("device %+v, reservations %d; want a new device login", res.Device, w.reservations)
			}
			// The new code works.
			if err := w.emu.ApproveDevice(res.Device.UserCode, alice); err != nil {
				t.Fatal(err)
			}
			w.clk.Step(5 * time.Second)
			if res, err := w.deviceStep(conn, flow, in); err != nil || res.Token == nil {
				t.Fatalf("Login = %+v, %v; want a token", res, err)
			}
		})
	}
}

func TestDeviceLoginSlowDown(t *testing.T) {
	w := newWorld(t)
	conn, flow, in := deviceSetup(t, w, appID, appSecret)
	w.mustPending(conn, flow, in, failure.WaitingForPerson, sfv1.ReasonAwaitingApproval)
	w.clk.Step(5 * time.Second)
	w.jsonFault(400, "slow_down", "polling too fast")
	res := w.mustPending(conn, flow, in, failure.WaitingForPerson, sfv1.ReasonAwaitingApproval)
	if want := w.clk.Now().Add(10 * time.Second); !res.Pending.RetryAt.Equal(want) || res.Device == nil {
		t.Errorf("next poll at %s (device %+v), want %s", res.Pending.RetryAt, res.Device, want)
	}
	if got := w.state(conn).Annotations[rotation.AnnotationDeviceInterval]; got != "10s" {
		t.Errorf("interval %q, want the slower 10s kept", got)
	}
	// The slower interval stays.
	w.clk.Step(10 * time.Second)
	res = w.mustPending(conn, flow, in, failure.WaitingForPerson, sfv1.ReasonAwaitingApproval)
	if want := w.clk.Now().Add(10 * time.Second); !res.Pending.RetryAt.Equal(want) {
		t.Errorf("next poll at %s, want %s", res.Pending.RetryAt, want)
	}
}

func TestDeviceLoginPollFailures(t *testing.T) {
	w := newWorld(t)
	conn, flow, in := deviceSetup(t, w, appID, appSecret)
	w.mustPending(conn, flow, in, failure.WaitingForPerson, sfv1.ReasonAwaitingApproval)
	device := conn.Status.DeviceLogin
	code := w.deviceCode(conn)

	// An outage while polling: a failed login, the code kept for the next poll.
	w.clk.Step(5 * time.Second)
	if err := w.emu.InjectFault(emulator.Fault{Endpoint: emulator.EndpointToken, Count: 1, Status: 503}); err != nil {
		t.Fatal(err)
	}
	res, err := w.login(flow, in)
	if fl := failure.As(err); fl == nil || fl.Class != failure.Retryable || fl.Reason != sfv1.ReasonSalesforceUnavailable {
		t.Fatalf("err = %v, want SalesforceUnavailable", err)
	}
	if res == nil || res.Device == nil || res.Device.UserCode != device.UserCode || w.deviceCode(conn) != code {
		t.Fatalf("result %+v; want the pending device login kept", res)
	}

	// Approved without the refresh_token scope: nothing to keep.
	if err := w.emu.InjectFault(emulator.Fault{Endpoint: emulator.EndpointToken, Count: 1, Status: 200, ContentType: "application/json",
		Body: `{"access_token":"00D000000000001!AQnorefresh","instance_url":"` + w.url + `","id":"` + w.url + `/id/` + testOrg +
			`/005000000000001AAA","token_type":"Bearer","scope":"api"}`}); err != nil {
		t.Fatal(err)
	}
	res, err = w.login(flow, in)
	fl := failure.As(err)
	if fl == nil || fl.Class != failure.Terminal || fl.Reason != sfv1.ReasonAuthenticationFailed || !strings.Contains(fl.Message, "refresh_token scope") {
		t.Fatalf("Login = %+v, %v; want a terminal failure naming the scope", res, err)
	}
	if s := w.chain(conn, Marker(conn)); s != nil && len(s.Data[rotation.KeyRefreshToken]) != 0 {
		t.Error("a refresh token stored without one")
	}
	noSecrets(t, "failure message", fl.Message, "00D000000000001!AQnorefresh", code)
}

// A shutdown while a person's approval comes back must not lose it: the refresh token is
// the only copy, and its approval counts against the user's five.
func TestDeviceLoginApprovalSurvivesCancellation(t *testing.T) {
	w := newWorld(t)
	conn, flow, in := deviceSetup(t, w, appID, appSecret)
	res := w.mustPending(conn, flow, in, failure.WaitingForPerson, sfv1.ReasonAwaitingApproval)
	if err := w.emu.ApproveDevice(res.Device.UserCode, alice); err != nil {
		t.Fatal(err)
	}
	w.clk.Step(5 * time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w.sf.beforePoll = cancel // the pass is cancelled while the poll is under way
	res, err := flow.Login(ctx, w.env(), in)
	if err != nil || res.Token == nil {
		t.Fatalf("Login = %+v, %v; want the approved token", res, err)
	}
	if w.storedRefreshToken(conn, Marker(conn)) != res.Token.RefreshToken {
		t.Fatal("the approved refresh token was not stored")
	}
}

// Whoever enters the user code first approves the device login: the operator asks
// Salesforce who the token belongs to, and revokes it at once when it is not the user the
// spec names.
func TestDeviceLoginVerifiesItsApprover(t *testing.T) {
	w := newWorld(t)
	conn, flow, in := deviceSetup(t, w, appID, appSecret)
	res := w.mustPending(conn, flow, in, failure.WaitingForPerson, sfv1.ReasonAwaitingApproval)
	if err := w.emu.ApproveDevice(res.Device.UserCode, limited); err != nil {
		t.Fatal(err)
	}
	w.clk.Step(5 * time.Second)
	res = w.mustPending(conn, flow, in, failure.WaitingForPerson, sfv1.ReasonAwaitingApproval)
	if !strings.Contains(res.Pending.Message, "approved by "+limited) || !strings.Contains(res.Pending.Message, "not by "+alice) {
		t.Fatalf("pending message %q does not say who approved", res.Pending.Message)
	}
	if w.chain(conn, Marker(conn)) != nil {
		t.Fatal("the wrong approver's refresh token was kept")
	}
	if n := len(w.emu.Approvals(appID, limited)); n != 0 {
		t.Fatalf("the wrong approver still holds %d approval(s): the token was not revoked", n)
	}
	if last := w.events[len(w.events)-1]; last.reason != "DeviceLoginWrongUser" || last.eventType != corev1.EventTypeWarning {
		t.Fatalf("last event = %+v, want a Warning DeviceLoginWrongUser", last)
	}

	// The next pass starts over; the right person approves; the principal's name is
	// Salesforce's.
	w.clk.Step(time.Second)
	res = w.mustPending(conn, flow, in, failure.WaitingForPerson, sfv1.ReasonAwaitingApproval)
	if err := w.emu.ApproveDevice(res.Device.UserCode, alice); err != nil {
		t.Fatal(err)
	}
	w.clk.Step(5 * time.Second)
	res = w.mustToken(flow, in)
	if res.Username != alice {
		t.Fatalf("username %q, want Salesforce's %q", res.Username, alice)
	}
}

// A pending device login counts the approvals again before each poll: when other
// approvals took the user to five since the code was shown, the code is abandoned.
func TestDeviceLoginChecksApprovalsBeforePolling(t *testing.T) {
	w := newWorld(t)
	conn, flow, in := deviceSetup(t, w, appID, appSecret)
	w.mustPending(conn, flow, in, failure.WaitingForPerson, sfv1.ReasonAwaitingApproval)
	refused := failure.New(failure.Terminal, sfv1.ReasonApprovalLimitReached, "five already")
	env := w.env()
	env.CheckApprovals = func(context.Context) error { return refused }
	w.clk.Step(5 * time.Second)
	res, err := flow.Login(context.Background(), env, in)
	if err != nil || res.Pending != refused || res.Token != nil {
		t.Fatalf("Login = %+v, %v; want the refusal", res, err)
	}
	if w.deviceCode(conn) != "" || w.grants(emulator.GrantDevice) != 0 {
		t.Fatalf("code %q kept, %d polls: want the code abandoned unpolled", w.deviceCode(conn), w.grants(emulator.GrantDevice))
	}
}

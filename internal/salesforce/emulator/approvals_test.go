package emulator

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// TestFiveApprovalEviction: a sixth approval of the same user and app revokes the oldest,
// its refresh token then fails with expired access/refresh token, and its access tokens die
// (docs/salesforce-behaviour.md#five-approvals-per-user-per-connected-app).
func TestFiveApprovalEviction(t *testing.T) {
	f := newFixture(t)
	var refresh, access []string
	for i := 0; i < 5; i++ {
		f.clk.Step(time.Minute)
		rt := f.issueRefresh(appID, alice)
		refresh = append(refresh, rt)
		access = append(access, f.mustToken(refreshForm(appID, appSecret, rt))["access_token"].(string))
	}
	// Other users and other apps have their own five.
	other := f.issueRefresh(appID, bob)
	otherApp := f.issueRefresh(rtrAppID, alice)
	if got := len(f.emu.Approvals(appID, alice)); got != 5 {
		t.Fatalf("approvals = %d, want 5", got)
	}

	// The sixth approval comes through the authorization-code flow.
	f.clk.Step(time.Minute)
	code, err := f.emu.AuthorizationCode(appID, alice)
	if err != nil {
		t.Fatal(err)
	}
	sixth := f.mustToken(url.Values{"grant_type": {"authorization_code"}, "client_id": {appID}, "client_secret": {appSecret}, "code": {code}})

	list := f.emu.Approvals(appID, alice)
	if len(list) != 5 {
		t.Fatalf("approvals after the sixth = %d, want 5", len(list))
	}
	if list[0].Created != t0.Add(2*time.Minute) || list[4].Source != SourceAuthorizationCode {
		t.Errorf("approvals = %+v, want the oldest gone and the code approval last", list)
	}
	f.wantOAuthError(f.token(refreshForm(appID, appSecret, refresh[0])), "invalid_grant", "expired access/refresh token")
	if f.alive(access[0]) {
		t.Error("access token of the evicted approval still works")
	}
	for i := 1; i < 5; i++ {
		if !f.alive(access[i]) {
			t.Errorf("access token %d died", i)
		}
		f.mustToken(refreshForm(appID, appSecret, refresh[i]))
	}
	f.mustToken(refreshForm(appID, appSecret, sixth["refresh_token"].(string)))
	f.mustToken(refreshForm(appID, appSecret, other))
	f.mustToken(refreshForm(rtrAppID, rtrSecret, otherApp))

	// Approvals are listed with their use counts and no tokens.
	for _, a := range f.emu.Approvals(appID, alice)[:4] {
		if a.UseCount != 2 || a.LastUsed.Before(a.Created) {
			t.Errorf("approval %+v: want UseCount 2", a)
		}
	}
}

// TestRefreshTokenRotationReplay: under RTR each refresh returns a new token and kills the
// old one; replaying the old one deletes the current token and its access tokens
// (docs/salesforce-behaviour.md#refresh-token-rotation-and-replay).
func TestRefreshTokenRotationReplay(t *testing.T) {
	f := newFixture(t)
	rt0 := f.issueRefresh(rtrAppID, alice)
	b1 := f.mustToken(refreshForm(rtrAppID, rtrSecret, rt0))
	rt1 := b1["refresh_token"].(string)
	if rt1 == rt0 || rt1 == "" {
		t.Fatalf("rotation returned %q", rt1)
	}
	b2 := f.mustToken(refreshForm(rtrAppID, rtrSecret, rt1))
	rt2 := b2["refresh_token"].(string)
	// Access tokens survive rotation.
	if !f.alive(b1["access_token"].(string)) || !f.alive(b2["access_token"].(string)) {
		t.Fatal("rotation killed access tokens")
	}
	// Replay of rt0 (two generations old): the whole grant dies.
	f.wantOAuthError(f.token(refreshForm(rtrAppID, rtrSecret, rt0)), "invalid_grant", "expired access/refresh token")
	f.wantOAuthError(f.token(refreshForm(rtrAppID, rtrSecret, rt2)), "invalid_grant", "expired access/refresh token")
	if f.alive(b1["access_token"].(string)) || f.alive(b2["access_token"].(string)) {
		t.Error("replay must delete the grant's access tokens")
	}
	if n := len(f.emu.Approvals(rtrAppID, alice)); n != 0 {
		t.Errorf("approvals after replay = %d", n)
	}
}

func TestRefreshWithoutRotationReusesToken(t *testing.T) {
	f := newFixture(t)
	rt := f.issueRefresh(appID, alice)
	for i := 0; i < 3; i++ {
		body := f.mustToken(refreshForm(appID, appSecret, rt))
		if _, ok := body["refresh_token"]; ok {
			t.Fatal("refresh_token sent without rotation")
		}
	}
}

func TestRefreshSecretOptional(t *testing.T) {
	f := newFixture(t)
	if err := f.emu.PutApp(ConnectedApp{ClientID: "public", ClientSecret: "s", RequireSecretForRefreshToken: new(bool)}); err != nil {
		t.Fatal(err)
	}
	rt := f.issueRefresh("public", alice)
	f.mustToken(refreshForm("public", "", rt))
	f.mustToken(refreshForm("public", "s", rt))
}

// TestRefreshTokenPolicies runs the four policies of
// docs/salesforce-behaviour.md#refresh-token-policies on the fake clock.
func TestRefreshTokenPolicies(t *testing.T) {
	tests := []struct {
		policy string
		// steps: advance the clock, then refresh, expecting success or not.
		steps []struct {
			after time.Duration
			ok    bool
		}
	}{
		{"infinite", []struct {
			after time.Duration
			ok    bool
		}{{0, true}, {24 * 365 * time.Hour, true}}},
		{"zero", []struct {
			after time.Duration
			ok    bool
		}{{0, false}}},
		{"specific_lifetime:2:HOURS", []struct {
			after time.Duration
			ok    bool
		}{{time.Hour, true}, {59 * time.Minute, true}, {time.Minute, false}}},
		{"SPECIFIC_LIFETIME:1:days", []struct {
			after time.Duration
			ok    bool
		}{{23 * time.Hour, true}, {time.Hour, false}}},
		{"specific_inactivity:1:HOURS", []struct {
			after time.Duration
			ok    bool
		}{{50 * time.Minute, true}, {50 * time.Minute, true}, {59 * time.Minute, true}, {time.Hour, false}}},
		{"specific_inactivity:1:MONTHS", []struct {
			after time.Duration
			ok    bool
		}{{27 * 24 * time.Hour, true}, {27 * 24 * time.Hour, true}, {32 * 24 * time.Hour, false}}},
	}
	for _, tc := range tests {
		t.Run(tc.policy, func(t *testing.T) {
			f := newFixture(t)
			if err := f.emu.PutApp(ConnectedApp{ClientID: "p", ClientSecret: "s", RefreshTokenPolicy: tc.policy}); err != nil {
				t.Fatal(err)
			}
			code, err := f.emu.AuthorizationCode("p", alice)
			if err != nil {
				t.Fatal(err)
			}
			first := f.mustToken(url.Values{"grant_type": {"authorization_code"}, "client_id": {"p"}, "client_secret": {"s"}, "code": {code}})
			rt := first["refresh_token"].(string)
			for i, s := range tc.steps {
				f.clk.Step(s.after)
				r := f.token(refreshForm("p", "s", rt))
				if s.ok && r.status != http.StatusOK {
					t.Fatalf("step %d: refresh failed: %s", i, r.raw)
				}
				if !s.ok {
					f.wantOAuthError(r, "invalid_grant", "expired access/refresh token")
				}
			}
			// The policy never shortens a session already issued
			// (docs/salesforce-behaviour.md#refresh-token-policies).
			if tc.policy == "zero" && !f.alive(first["access_token"].(string)) {
				t.Error("zero policy killed the current session")
			}
		})
	}
}

func TestInvalidRefreshTokenPolicy(t *testing.T) {
	e := New()
	for _, p := range []string{"sometimes", "specific_lifetime:0:HOURS", "specific_lifetime:1:WEEKS", "zero:1"} {
		if err := e.PutApp(ConnectedApp{ClientID: "x", RefreshTokenPolicy: p}); err == nil {
			t.Errorf("policy %q accepted", p)
		}
	}
}

func TestRevokeCascade(t *testing.T) {
	f := newFixture(t)
	rt := f.issueRefresh(appID, alice)
	a1 := f.mustToken(refreshForm(appID, appSecret, rt))["access_token"].(string)
	a2 := f.mustToken(refreshForm(appID, appSecret, rt))["access_token"].(string)
	pw := f.mustToken(passwordForm(appID, appSecret, alice, alicePass+aliceToken))["access_token"].(string)

	// POST form token=<refresh token>: 200, and its access tokens die
	// (docs/salesforce-behaviour.md#revoking-a-token).
	r := f.postForm(f.srv.URL, "/services/oauth2/revoke", url.Values{"token": {rt}})
	if r.status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.status, r.raw)
	}
	if f.alive(a1) || f.alive(a2) {
		t.Error("revoking the refresh token left its access tokens alive")
	}
	if !f.alive(pw) {
		t.Error("revoking a refresh token killed an unrelated session")
	}
	f.wantOAuthError(f.token(refreshForm(appID, appSecret, rt)), "invalid_grant", "expired access/refresh token")
	f.wantOAuthError(f.postForm(f.srv.URL, "/services/oauth2/revoke", url.Values{"token": {rt}}), "invalid_token", "invalid token")

	// Blind GET ?token=<access token>.
	if r := f.get("/services/oauth2/revoke?token="+url.QueryEscape(pw), ""); r.status != http.StatusOK {
		t.Fatalf("GET revoke: %d %s", r.status, r.raw)
	}
	if f.alive(pw) {
		t.Error("revoked access token still works")
	}
	f.wantOAuthError(f.get("/services/oauth2/revoke?token=nope", ""), "invalid_token", "invalid token")
	f.wantOAuthError(f.get("/services/oauth2/revoke", ""), "invalid_token", "invalid token")
}

func TestAdminRevocation(t *testing.T) {
	f := newFixture(t)
	rt1 := f.issueRefresh(appID, alice)
	rt2 := f.issueRefresh(appID, alice)
	a1 := f.mustToken(refreshForm(appID, appSecret, rt1))["access_token"].(string)
	list := f.emu.Approvals(appID, alice)
	if err := f.emu.RevokeApproval(list[0].ID); err != nil {
		t.Fatal(err)
	}
	if f.alive(a1) {
		t.Error("admin revoke left the access token alive")
	}
	f.wantOAuthError(f.token(refreshForm(appID, appSecret, rt1)), "invalid_grant", "expired access/refresh token")
	f.mustToken(refreshForm(appID, appSecret, rt2))
	if err := f.emu.RevokeApproval(list[0].ID); err == nil {
		t.Error("revoking twice succeeded")
	}
	if n := f.emu.RevokeApprovals(appID, ""); n != 1 {
		t.Errorf("RevokeApprovals = %d, want 1", n)
	}
	if f.emu.RevokeToken(rt2) {
		t.Error("RevokeToken of a dead token reported success")
	}
}

// TestJWTPriorApproval: a JWT login needs a live approval or pre-authorization
// (docs/salesforce-behaviour.md#jwt-bearer-needs-a-prior-approval).
func TestJWTPriorApproval(t *testing.T) {
	f := newFixture(t)
	form := func() url.Values { return jwtForm(f.assertion(signKey, f.jwtClaims(bob, AudienceLogin))) }
	f.wantOAuthError(f.token(form()), "invalid_grant", "user hasn't approved this consumer")
	rt := f.issueRefresh(appID, bob)
	body := f.mustToken(form())
	if _, ok := body["refresh_token"]; ok {
		t.Error("JWT bearer must never return a refresh token")
	}
	f.emu.RevokeToken(rt)
	f.wantOAuthError(f.token(form()), "invalid_grant", "user hasn't approved this consumer")
}

func TestAuthorizationCodePKCE(t *testing.T) {
	f := newFixture(t)
	verifier := "a-long-enough-code-verifier-0123456789-abcdefghijklmnop"
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	code, err := f.emu.AuthorizationCodeWithPKCE(appID, bob, challenge)
	if err != nil {
		t.Fatal(err)
	}
	form := func(v string) url.Values {
		f := url.Values{"grant_type": {"authorization_code"}, "client_id": {appID}, "client_secret": {appSecret}, "code": {code}}
		if v != "" {
			f.Set("code_verifier", v)
		}
		return f
	}
	f.wantOAuthError(f.token(form("")), "invalid_grant", "invalid code verifier")
	f.wantOAuthError(f.token(form("wrong")), "invalid_request", "invalid code verifier")
	body := f.mustToken(form(verifier))
	wantKeys(t, body, "access_token", "refresh_token", "signature", "scope", "instance_url", "id", "token_type", "issued_at")
	checkSignature(t, body, appSecret)
	f.wantOAuthError(f.token(form(verifier)), "invalid_grant", "invalid authorization code")

	code2, _ := f.emu.AuthorizationCode(appID, bob)
	f.clk.Step(AuthorizationCodeLifetime)
	f.wantOAuthError(f.token(url.Values{"grant_type": {"authorization_code"}, "client_id": {appID}, "client_secret": {appSecret}, "code": {code2}}), "invalid_grant", "expired authorization code")

	if _, err := f.emu.AuthorizationCode(appID, "ghost@x"); err == nil {
		t.Error("code for an unknown user")
	}
}

func TestAdminApprovedAppRefusesOtherApprovers(t *testing.T) {
	f := newFixture(t)
	if err := f.emu.PutApp(ConnectedApp{ClientID: "aa", ClientSecret: "s", AdminApproved: true, PreAuthorizedUsers: []string{alice}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.emu.IssueRefreshToken("aa", bob); !errors.Is(err, ErrNotAdminApproved) {
		t.Errorf("err = %v", err)
	}
	if _, err := f.emu.IssueRefreshToken("aa", alice); err != nil {
		t.Error(err)
	}
}

func TestDeviceFlow(t *testing.T) {
	f := newFixture(t)
	start := f.mustToken(url.Values{"response_type": {"device_code"}, "client_id": {appID}, "scope": {"refresh_token api"}})
	wantKeys(t, start, "device_code", "user_code", "verification_uri", "interval")
	if start["interval"] != float64(DevicePollInterval) {
		t.Errorf("interval = %v", start["interval"])
	}
	if start["verification_uri"] != f.srv.URL+"/setup/connect" {
		t.Errorf("verification_uri = %v", start["verification_uri"])
	}
	poll := url.Values{"grant_type": {"device"}, "client_id": {appID}, "code": {start["device_code"].(string)}}
	for i := 0; i < 3; i++ {
		f.wantOAuthError(f.token(poll), "authorization_pending", "authorization pending")
	}
	if err := f.emu.ApproveDevice("WRONG", alice); err == nil {
		t.Error("approved an unknown user code")
	}
	if err := f.emu.ApproveDevice(start["user_code"].(string), alice); err != nil {
		t.Fatal(err)
	}
	body := f.mustToken(poll)
	wantKeys(t, body, "access_token", "refresh_token", "signature", "scope", "instance_url", "id", "token_type", "issued_at")
	checkSignature(t, body, appSecret)
	list := f.emu.Approvals(appID, alice)
	if len(list) != 1 || list[0].Source != SourceDevice {
		t.Errorf("approvals = %+v", list)
	}
	f.mustToken(refreshForm(appID, appSecret, body["refresh_token"].(string)))
	f.wantOAuthError(f.token(poll), "invalid_grant", "invalid device code")

	// Codes expire on the fake clock.
	again := f.mustToken(url.Values{"response_type": {"device_code"}, "client_id": {appID}})
	f.clk.Step(DeviceCodeLifetime)
	if err := f.emu.ApproveDevice(again["user_code"].(string), alice); err == nil {
		t.Error("approved an expired code")
	}
	f.wantOAuthError(f.token(url.Values{"grant_type": {"device"}, "client_id": {appID}, "code": {again["device_code"].(string)}}), "invalid_grant", "expired authorization code")
}

func TestDeletingUserDropsApprovals(t *testing.T) {
	f := newFixture(t)
	rt := f.issueRefresh(appID, bob)
	at := f.mustToken(refreshForm(appID, appSecret, rt))["access_token"].(string)
	f.emu.DeleteUser(bob)
	if len(f.emu.Approvals("", bob)) != 0 {
		t.Error("approvals survived the user")
	}
	if r := f.get("/services/data/", at); r.status != http.StatusUnauthorized {
		t.Errorf("data with a deleted user's token: %d", r.status)
	}
}

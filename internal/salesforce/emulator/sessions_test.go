package emulator

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestSessionTimeoutPrecedence: app → profile → org → default
// (docs/salesforce-behaviour.md#lifetime-is-the-session-timeout), checked on the fake clock
// through userinfo (403 when dead) and the REST API (401 INVALID_SESSION_ID).
func TestSessionTimeoutPrecedence(t *testing.T) {
	tests := []struct {
		name    string
		app     Duration
		profile Duration
		org     Duration
		want    time.Duration
	}{
		{"app wins", Duration(15 * time.Minute), Duration(30 * time.Minute), Duration(time.Hour), 15 * time.Minute},
		{"profile when the app sets none", 0, Duration(30 * time.Minute), Duration(time.Hour), 30 * time.Minute},
		{"org when neither sets one", 0, 0, Duration(24 * time.Hour), 24 * time.Hour},
		{"two hours by default", 0, 0, 0, DefaultOrgSessionTimeout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, WithInactivityExtension(false))
			err := f.emu.Apply(State{
				Orgs:  []Org{{ID: prodOrg, SessionTimeout: tc.org}},
				Users: []User{{Username: bob, Password: bobPass, OrgID: prodOrg, ProfileSessionTimeout: tc.profile}},
				Apps:  []ConnectedApp{{ClientID: "t", ClientSecret: "s", SessionTimeout: tc.app}},
			})
			if err != nil {
				t.Fatal(err)
			}
			at := f.mustToken(passwordForm("t", "s", bob, bobPass))["access_token"].(string)
			f.clk.Step(tc.want - time.Millisecond)
			if !f.alive(at) {
				t.Fatal("session died early")
			}
			f.clk.Step(time.Millisecond)
			if f.alive(at) {
				t.Fatal("session outlived its timeout")
			}
			r := f.get("/services/data/v65.0/", at)
			if r.status != http.StatusUnauthorized || strings.TrimSpace(r.raw) != `[{"errorCode":"INVALID_SESSION_ID","message":"Session expired or invalid"}]` {
				t.Errorf("dead token on REST: %d %s", r.status, r.raw)
			}
			ui := f.get("/services/oauth2/userinfo", at)
			if ui.status != http.StatusForbidden || ui.raw != "Bad_OAuth_Token" {
				t.Errorf("dead token on userinfo: %d %q", ui.status, ui.raw)
			}
		})
	}
}

// TestInactivityExtension: a successful REST call resets the inactivity timeout
// (docs/salesforce-behaviour.md#the-session-timeout-is-an-inactivity-timeout).
func TestInactivityExtension(t *testing.T) {
	f := newFixture(t)
	at := f.mustToken(passwordForm(appID, appSecret, bob, bobPass))["access_token"].(string)
	f.clk.Step(110 * time.Minute)
	if !f.alive(at) { // activity at 1h50m
		t.Fatal("dead too early")
	}
	f.clk.Step(119 * time.Minute)
	if !f.alive(at) {
		t.Fatal("activity did not extend the session")
	}
	f.clk.Step(2 * time.Hour)
	if f.alive(at) {
		t.Fatal("session outlived two idle hours")
	}
}

func TestDeactivatedUserLosesSessions(t *testing.T) {
	f := newFixture(t)
	at := f.mustToken(passwordForm(appID, appSecret, bob, bobPass))["access_token"].(string)
	rt := f.issueRefresh(appID, bob)
	if err := f.emu.SetUserActive(bob, false); err != nil {
		t.Fatal(err)
	}
	if f.alive(at) {
		t.Error("inactive user's session works")
	}
	f.wantOAuthError(f.token(refreshForm(appID, appSecret, rt)), "inactive_user", "user is inactive")
	_ = f.emu.SetUserActive(bob, true)
	f.mustToken(refreshForm(appID, appSecret, rt))
}

func TestIntrospect(t *testing.T) {
	f := newFixture(t)
	cc := f.mustToken(ccForm(appID, appSecret))["access_token"].(string)
	pw := f.mustToken(passwordForm(appID, appSecret, bob, bobPass))["access_token"].(string)
	rt := f.issueRefresh(appID, alice)
	otherApp := f.mustToken(refreshForm(rtrAppID, rtrSecret, f.issueRefresh(rtrAppID, bob)))["access_token"].(string)
	f.clk.Step(10 * time.Minute)

	introspect := func(token string, basic bool) response {
		form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
		if basic {
			return f.postForm(f.srv.URL, "/services/oauth2/introspect", form, appID, appSecret)
		}
		form.Set("client_id", appID)
		form.Set("client_secret", appSecret)
		return f.postForm(f.srv.URL, "/services/oauth2/introspect", form)
	}
	r := introspect(cc, true)
	if r.status != http.StatusOK {
		t.Fatalf("introspect: %d %s", r.status, r.raw)
	}
	wantKeys(t, r.body, "active", "scope", "client_id", "username", "sub", "token_type", "exp", "iat", "nbf")
	iat := t0.Unix()
	if r.body["active"] != true || r.body["token_type"] != "access_token" || r.body["client_id"] != appID || r.body["username"] != runAs ||
		r.body["iat"] != float64(iat) || r.body["nbf"] != float64(iat) || r.body["exp"] != float64(iat+7200) ||
		!strings.HasPrefix(r.body["sub"].(string), "https://login.salesforce.com/id/"+prodOrg+"/005") {
		t.Errorf("introspect body = %s", r.raw)
	}
	if r := introspect(cc, false); r.body["active"] != true {
		t.Errorf("body credentials: %s", r.raw)
	}
	inactive := map[string]string{
		"password-flow token": pw,
		"unknown token":       "00D!nope",
		"other app's token":   otherApp,
	}
	for name, tok := range inactive {
		if r := introspect(tok, true); r.status != http.StatusOK || strings.TrimSpace(r.raw) != `{"active":false}` {
			t.Errorf("%s: %d %s", name, r.status, r.raw)
		}
	}
	rr := introspect(rt, true)
	if rr.body["active"] != true || rr.body["token_type"] != "refresh_token" || rr.body["username"] != alice {
		t.Errorf("refresh token: %s", rr.raw)
	}
	// Expired sessions are inactive.
	f.clk.Step(2 * time.Hour)
	if r := introspect(cc, true); r.body["active"] != false {
		t.Errorf("expired token: %s", r.raw)
	}
	f.wantOAuthError(f.postForm(f.srv.URL, "/services/oauth2/introspect", url.Values{"token": {cc}}, appID, "wrong"), "invalid_client", "invalid client credentials")
	f.wantOAuthError(f.postForm(f.srv.URL, "/services/oauth2/introspect", url.Values{"token": {cc}}), "invalid_client_id", "client identifier invalid")
}

func TestIntrospectAllTokens(t *testing.T) {
	f := newFixture(t)
	at := f.mustToken(ccForm(appID, appSecret))["access_token"].(string)
	if err := f.emu.PutApp(ConnectedApp{ClientID: "auditor", ClientSecret: "s", IntrospectAllTokens: true}); err != nil {
		t.Fatal(err)
	}
	r := f.postForm(f.srv.URL, "/services/oauth2/introspect", url.Values{"token": {at}}, "auditor", "s")
	if r.body["active"] != true || r.body["client_id"] != appID {
		t.Errorf("%s", r.raw)
	}
}

func TestUserInfoIdentityAndData(t *testing.T) {
	f := newFixture(t)
	body := f.mustToken(passwordForm(appID, appSecret, alice, alicePass+aliceToken))
	at := body["access_token"].(string)

	ui := f.get("/services/oauth2/userinfo", at)
	if ui.status != http.StatusOK {
		t.Fatalf("userinfo: %d %s", ui.status, ui.raw)
	}
	for k, want := range map[string]any{"user_id": aliceID, "organization_id": prodOrg, "preferred_username": alice, "sub": body["id"]} {
		if ui.body[k] != want {
			t.Errorf("userinfo %s = %v, want %v", k, ui.body[k], want)
		}
	}
	id := f.get(strings.TrimPrefix(body["id"].(string), "https://login.salesforce.com"), at)
	if id.status != http.StatusOK || id.body["username"] != alice || id.body["id"] != body["id"] {
		t.Errorf("identity: %d %s", id.status, id.raw)
	}
	if r := f.get("/id/"+prodOrg+"/"+to18("0055g00000OtHeR"), at); r.status != http.StatusForbidden {
		t.Errorf("someone else's identity: %d", r.status)
	}
	versions := f.get("/services/data/", at)
	if versions.status != http.StatusOK || !strings.Contains(versions.raw, `"version":"65.0"`) {
		t.Errorf("versions: %d %s", versions.status, versions.raw)
	}
	if r := f.get("/services/data/v65.0", at); r.status != http.StatusOK || r.body["sobjects"] != "/services/data/v65.0/sobjects" {
		t.Errorf("resources: %d %s", r.status, r.raw)
	}
	if r := f.get("/services/data/v65.0/sobjects/Account", at); r.status != http.StatusNotFound {
		t.Errorf("unknown resource: %d", r.status)
	}
	if r := f.get("/services/data/", ""); r.status != http.StatusUnauthorized {
		t.Errorf("no token: %d", r.status)
	}
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/services/oauth2/userinfo", nil)
	req.Header.Set("Authorization", "OAuth "+at)
	if r := f.do(req); r.status != http.StatusOK {
		t.Errorf("OAuth scheme: %d", r.status)
	}
}

func TestIDNormalisation(t *testing.T) {
	// The documented example of a 15 → 18 character conversion.
	if got := to18("001A0000006Vm9r"); got != "001A0000006Vm9rIAC" {
		t.Errorf("to18 = %s", got)
	}
	e := New()
	o, err := e.PutOrg(Org{ID: "00D5g00000AbCdE"})
	if err != nil || o.ID != to18("00D5g00000AbCdE") {
		t.Fatalf("PutOrg = %+v, %v", o, err)
	}
	u, err := e.PutUser(User{Username: "gen@x"})
	if err != nil || len(u.ID) != 18 || !strings.HasPrefix(u.ID, "005") || u.OrgID != o.ID {
		t.Fatalf("PutUser = %+v, %v", u, err)
	}
	for _, bad := range []Org{{ID: "001000000000001"}, {ID: "00D12"}, {ID: "00D00000000000!"}, {InstanceURL: "not a url"}} {
		if _, err := e.PutOrg(bad); err == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
	if _, err := e.PutUser(User{Username: "x", OrgID: "00Dnope"}); err == nil {
		t.Error("accepted a user in an unknown org")
	}
}

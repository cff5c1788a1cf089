package emulator

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

func (f *fixture) admin(method, path string, in, out any) int {
	f.t.Helper()
	var body bytes.Buffer
	if in != nil {
		if err := json.NewEncoder(&body).Encode(in); err != nil {
			f.t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, f.srv.URL+"/_emulator/"+path, &body)
	if err != nil {
		f.t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	if out != nil {
		if err := json.NewDecoder(res.Body).Decode(out); err != nil {
			f.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	return res.StatusCode
}

func TestAdminAPIRoundTrip(t *testing.T) {
	f := newFixture(t)

	// State: add an org, an app and a user, then read them back.
	add := State{
		Orgs:  []Org{{ID: "00D000000000009", Sandbox: true, SessionTimeout: Duration(15 * time.Minute)}},
		Apps:  []ConnectedApp{{ClientID: "e2e-app", ClientSecret: "e2e-secret", Flows: []Flow{FlowPassword, FlowRefreshToken}, RefreshTokenRotation: true}},
		Users: []User{{Username: "e2e@sandbox.example", Password: "e2e-password", OrgID: "00D000000000009"}},
	}
	var got State
	if code := f.admin("POST", "state", add, &got); code != 200 || len(got.Orgs) != 3 || len(got.Apps) != 4 || len(got.Users) != 5 {
		t.Fatalf("POST state: %d %+v", code, got)
	}
	var read State
	f.admin("GET", "state", nil, &read)
	var org Org
	for _, o := range read.Orgs {
		if o.ID == to18("00D000000000009") {
			org = o
		}
	}
	if org.SessionTimeout != Duration(15*time.Minute) || !org.Sandbox {
		t.Errorf("org read back = %+v", org)
	}
	var errBody map[string]string
	if code := f.admin("POST", "state", State{Users: []User{{Username: "x", OrgID: "00Dunknown00000"}}}, &errBody); code != 400 || errBody["error"] == "" {
		t.Errorf("bad state: %d %v", code, errBody)
	}
	if code := f.admin("POST", "state", map[string]any{"orgz": []any{}}, &errBody); code != 400 {
		t.Errorf("unknown field accepted: %d", code)
	}

	// Refresh token issued from outside, then used.
	var issued map[string]string
	if code := f.admin("POST", "refresh-tokens", map[string]string{"clientId": "e2e-app", "username": "e2e@sandbox.example"}, &issued); code != 200 {
		t.Fatalf("refresh-tokens: %d", code)
	}
	body := f.mustToken(refreshForm("e2e-app", "e2e-secret", issued["refreshToken"]))
	if !strings.HasPrefix(body["id"].(string), "https://test.salesforce.com/id/") {
		t.Errorf("id = %v", body["id"])
	}
	var approvals []Approval
	f.admin("GET", "approvals?clientId=e2e-app&username="+url.QueryEscape("e2e@sandbox.example"), nil, &approvals)
	if len(approvals) != 1 || approvals[0].UseCount != 1 || approvals[0].Rotations != 1 {
		t.Fatalf("approvals = %+v", approvals)
	}
	raw, _ := json.Marshal(approvals)
	if strings.Contains(string(raw), issued["refreshToken"]) || strings.Contains(string(raw), body["refresh_token"].(string)) {
		t.Error("approvals leak tokens")
	}
	var revoked map[string]int
	f.admin("POST", "approvals/revoke", map[string]string{"id": approvals[0].ID}, &revoked)
	if revoked["revoked"] != 1 {
		t.Errorf("revoke = %v", revoked)
	}
	f.wantOAuthError(f.token(refreshForm("e2e-app", "e2e-secret", body["refresh_token"].(string))), "invalid_grant", "expired access/refresh token")
	f.admin("POST", "refresh-tokens", map[string]string{"clientId": "e2e-app", "username": "e2e@sandbox.example"}, &issued)
	f.admin("POST", "approvals/revoke", map[string]string{"clientId": "e2e-app"}, &revoked)
	if revoked["revoked"] != 1 {
		t.Errorf("revoke by app = %v", revoked)
	}

	// Faults.
	var faults []Fault
	if code := f.admin("POST", "faults", map[string]any{"endpoint": "token", "count": 1, "status": 500, "delay": "1ms"}, &faults); code != 200 || len(faults) != 1 {
		t.Fatalf("POST faults: %d %+v", code, faults)
	}
	if r := f.token(passwordForm("e2e-app", "e2e-secret", "e2e@sandbox.example", "e2e-password")); r.status != 500 {
		t.Errorf("fault not applied: %d", r.status)
	}
	f.admin("POST", "faults", Fault{Status: 503}, nil)
	f.admin("DELETE", "faults", nil, &faults)
	if len(faults) != 0 {
		t.Errorf("faults after DELETE = %+v", faults)
	}

	// Device flow approved through the API, authorization code minted through it.
	if err := f.emu.PutApp(ConnectedApp{ClientID: "dev", ClientSecret: "s", Flows: []Flow{FlowDevice, FlowAuthorizationCode}}); err != nil {
		t.Fatal(err)
	}
	start := f.mustToken(url.Values{"response_type": {"device_code"}, "client_id": {"dev"}})
	if code := f.admin("POST", "device/approve", map[string]string{"userCode": start["user_code"].(string), "username": bob}, nil); code != 200 {
		t.Fatalf("device/approve: %d", code)
	}
	f.mustToken(url.Values{"grant_type": {"device"}, "client_id": {"dev"}, "code": {start["device_code"].(string)}})
	var code map[string]string
	f.admin("POST", "authorization-codes", map[string]string{"clientId": "dev", "username": bob}, &code)
	f.mustToken(url.Values{"grant_type": {"authorization_code"}, "client_id": {"dev"}, "client_secret": {"s"}, "code": {code["code"]}})

	// Deactivate a user.
	f.admin("POST", "users/active", map[string]any{"username": bob, "active": false}, nil)
	f.wantOAuthError(f.token(passwordForm(appID, appSecret, bob, bobPass)), "inactive_user", "user is inactive")

	// Stats, then reset.
	var st Stats
	f.admin("GET", "stats", nil, &st)
	if st.TokenRequests == 0 || st.SuccessfulLoginsByGrant["device"] != 1 || st.SuccessfulLoginsByGrant["authorization_code"] != 1 || st.TokenRequestsByGrant["device_code"] != 1 {
		t.Errorf("stats = %+v", st)
	}
	f.admin("POST", "stats/reset", nil, &st)
	if st.TokenRequests != 0 || len(st.Requests) != 0 {
		t.Errorf("stats after reset = %+v", st)
	}

	// PUT replaces the whole model and drops what no longer exists.
	f.admin("PUT", "state", State{Orgs: []Org{{ID: prodOrg}}, Users: []User{{Username: alice, Password: "p"}}, Apps: []ConnectedApp{{ClientID: appID, ClientSecret: appSecret}}}, &got)
	if len(got.Orgs) != 1 || len(got.Users) != 1 || got.Users[0].ID != aliceID {
		t.Errorf("PUT state = %+v", got)
	}
}

func TestAdminAPIDisabled(t *testing.T) {
	e := New(WithoutAdminAPI())
	srv := e.NewServer()
	defer srv.Close()
	res, err := http.Get(srv.URL + "/_emulator/state")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("admin API answered %d", res.StatusCode)
	}
}

// TestRequestLogHasNoSecrets: the log carries grant, client and user, never a secret.
func TestRequestLogHasNoSecrets(t *testing.T) {
	f := newFixture(t)
	rt := f.issueRefresh(appID, alice)
	at := f.mustToken(refreshForm(appID, appSecret, rt))["access_token"].(string)
	f.mustToken(passwordForm(appID, appSecret, alice, alicePass+aliceToken))
	f.token(passwordForm(appID, appSecret, alice, "wrong-password"))
	f.mustToken(jwtForm(f.assertion(signKey, f.jwtClaims(alice, AudienceLogin))))
	f.get("/services/oauth2/userinfo", at)
	st := f.emu.Stats()
	raw, _ := json.Marshal(st)
	for _, secret := range []string{appSecret, alicePass, aliceToken, rt, at, "wrong-password"} {
		if strings.Contains(string(raw), secret) {
			t.Errorf("stats contain a secret %q", secret[:4])
		}
	}
	if st.TokenRequestsByUser[alice] != 4 || st.TokenRequestsByClient[appID] != 4 || st.SuccessfulLoginsByUser[alice] != 3 {
		t.Errorf("stats = %+v", st)
	}
	last := st.Requests[len(st.Requests)-1]
	if last.Endpoint != EndpointUserInfo || last.Username != alice || last.Status != 200 || !last.Time.Equal(t0) {
		t.Errorf("last record = %+v", last)
	}
	failed := st.Requests[2]
	if failed.Grant != "password" || failed.Status != 400 || failed.Error != "invalid_grant: authentication failure" {
		t.Errorf("failed record = %+v", failed)
	}
}

func TestDemoConfigLoads(t *testing.T) {
	raw, err := readDemoConfig()
	if err != nil {
		t.Skip(err)
	}
	var s State
	if err := yaml.UnmarshalStrict(raw, &s); err != nil {
		t.Fatal(err)
	}
	e := New(WithState(s))
	srv := e.NewServer()
	defer srv.Close()
	f := &fixture{t: t, emu: e, srv: srv}
	f.mustToken(passwordForm("demo-consumer-key", "demo-consumer-secret", "password@demo.example", "demo-passworddemo-token"))
	f.mustToken(ccForm("demo-consumer-key", "demo-consumer-secret"))
	rt := f.issueRefresh("demo-consumer-key", "refresh@demo.example")
	f.mustToken(refreshForm("demo-consumer-key", "demo-consumer-secret", rt))
}

// TestConcurrentUse hammers every path at once; run with -race.
func TestConcurrentUse(t *testing.T) {
	f := newFixture(t)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 10; j++ {
				rt, err := f.emu.IssueRefreshToken(rtrAppID, bob)
				if err != nil {
					t.Error(err)
					return
				}
				res, err := http.PostForm(f.srv.URL+"/services/oauth2/token", refreshForm(rtrAppID, rtrSecret, rt))
				if err != nil {
					t.Error(err)
					return
				}
				res.Body.Close()
				res, err = http.PostForm(f.srv.URL+"/services/oauth2/token", ccForm(appID, appSecret))
				if err != nil {
					t.Error(err)
					return
				}
				res.Body.Close()
				_ = f.emu.Approvals(rtrAppID, bob)
				_ = f.emu.Stats()
				f.clk.Step(time.Second)
			}
		}()
	}
	wg.Wait()
	if n := len(f.emu.Approvals(rtrAppID, bob)); n != DefaultApprovalLimit {
		t.Errorf("approvals = %d, want %d", n, DefaultApprovalLimit)
	}
}

func readDemoConfig() ([]byte, error) {
	return os.ReadFile(filepath.Join("..", "..", "..", "hack", "emulator-demo.yaml"))
}

package emulator

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"maps"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	testingclock "k8s.io/utils/clock/testing"
)

// The fixture's world: a production org and a sandbox org, one general app, one app with
// refresh token rotation, one app limited to the password flow.
var (
	t0         = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	prodOrg    = to18("00D5g00000AbCdE")
	sandboxOrg = to18("00D7x00000SaNdB")
	aliceID    = to18("0055g00000AlIcE")
)

const (
	appID      = "3MVG9test.consumer.key"
	appSecret  = "test-consumer-secret"
	rtrAppID   = "3MVG9rtr.consumer.key"
	rtrSecret  = "rtr-consumer-secret"
	pwOnlyApp  = "3MVG9pwonly.consumer.key"
	pwOnlySec  = "pwonly-secret"
	alice      = "alice@prod.example"
	alicePass  = "alice-password"
	aliceToken = "aliceSecurityToken"
	bob        = "bob@prod.example"
	bobPass    = "bob-password"
	runAs      = "integration@prod.example"
	sandy      = "sandy@sandbox.example"
)

var (
	keysOnce  sync.Once
	signKey   *rsa.PrivateKey
	otherKey  *rsa.PrivateKey
	signKeyPK string
)

func testKeys(t *testing.T) {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		if signKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if otherKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		der, err := x509.MarshalPKIXPublicKey(&signKey.PublicKey)
		if err != nil {
			panic(err)
		}
		signKeyPK = string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	})
}

func certificatePEM(t *testing.T, key *rsa.PrivateKey) string {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "sfconn-test"},
		NotBefore:    t0.Add(-time.Hour),
		NotAfter:     t0.AddDate(1, 0, 0),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

type fixture struct {
	t     *testing.T
	clk   *testingclock.FakeClock
	emu   *Emulator
	srv   *httptest.Server // My Domain host
	login *httptest.Server // login.salesforce.com
}

func baseState() State {
	return State{
		Orgs: []Org{
			{ID: prodOrg, SessionTimeout: Duration(2 * time.Hour)},
			{ID: sandboxOrg, Sandbox: true, InstanceURL: "https://acme--dev.sandbox.my.salesforce.com"},
		},
		Apps: []ConnectedApp{
			{ClientID: appID, ClientSecret: appSecret, Name: "sfconn test", PublicKeyPEM: signKeyPK, ClientCredentialsUser: runAs},
			{ClientID: rtrAppID, ClientSecret: rtrSecret, RefreshTokenRotation: true},
			{ClientID: pwOnlyApp, ClientSecret: pwOnlySec, Flows: []Flow{FlowPassword}},
		},
		Users: []User{
			{Username: alice, Password: alicePass, SecurityToken: aliceToken, OrgID: prodOrg, ID: aliceID},
			{Username: bob, Password: bobPass, OrgID: prodOrg},
			{Username: runAs, OrgID: prodOrg},
			{Username: sandy, Password: "sandy-password", OrgID: sandboxOrg},
		},
	}
}

func newFixture(t *testing.T, opts ...Option) *fixture {
	t.Helper()
	testKeys(t)
	clk := testingclock.NewFakeClock(t0)
	f := &fixture{t: t, clk: clk}
	f.emu = New(append([]Option{WithClock(clk), WithState(baseState())}, opts...)...)
	f.srv = httptest.NewServer(f.emu.Handler())
	f.login = httptest.NewServer(f.emu.LoginHostHandler())
	t.Cleanup(f.srv.Close)
	t.Cleanup(f.login.Close)
	return f
}

// with returns a copy of the fixture that reports to a subtest.
func (f *fixture) with(t *testing.T) *fixture {
	c := *f
	c.t = t
	return &c
}

type response struct {
	status int
	header http.Header
	raw    string
	body   map[string]any
}

func (f *fixture) do(req *http.Request) response {
	f.t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	r := response{status: res.StatusCode, header: res.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

// postForm posts a form to path on base, with optional HTTP Basic client credentials.
func (f *fixture) postForm(base, path string, form url.Values, basic ...string) response {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+path, strings.NewReader(form.Encode()))
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if len(basic) == 2 {
		req.SetBasicAuth(basic[0], basic[1])
	}
	return f.do(req)
}

func (f *fixture) token(form url.Values, basic ...string) response {
	f.t.Helper()
	return f.postForm(f.srv.URL, "/services/oauth2/token", form, basic...)
}

func (f *fixture) get(path, accessToken string) response {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.srv.URL+path, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	if accessToken != "" {
		req.Header.Set("Authorization", "Bearer "+accessToken)
	}
	return f.do(req)
}

func passwordForm(clientID, secret, user, password string) url.Values {
	return url.Values{"grant_type": {"password"}, "client_id": {clientID}, "client_secret": {secret}, "username": {user}, "password": {password}}
}

func refreshForm(clientID, secret, refreshToken string) url.Values {
	v := url.Values{"grant_type": {"refresh_token"}, "client_id": {clientID}, "refresh_token": {refreshToken}}
	if secret != "" {
		v.Set("client_secret", secret)
	}
	return v
}

func jwtForm(assertion string) url.Values {
	return url.Values{"grant_type": {GrantJWTBearer}, "assertion": {assertion}}
}

func ccForm(clientID, secret string) url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}}
}

func (f *fixture) assertion(key *rsa.PrivateKey, claims jwt.MapClaims) string {
	f.t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(key)
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

func (f *fixture) jwtClaims(sub, aud string) jwt.MapClaims {
	return jwt.MapClaims{"iss": appID, "sub": sub, "aud": aud, "exp": f.clk.Now().Add(3 * time.Minute).Unix()}
}

// mustLogin runs a grant that must succeed and returns the body.
func (f *fixture) mustToken(form url.Values, basic ...string) map[string]any {
	f.t.Helper()
	r := f.token(form, basic...)
	if r.status != http.StatusOK {
		f.t.Fatalf("token %s: status %d, body %s", form.Get("grant_type"), r.status, r.raw)
	}
	return r.body
}

func (f *fixture) issueRefresh(clientID, user string) string {
	f.t.Helper()
	rt, err := f.emu.IssueRefreshToken(clientID, user)
	if err != nil {
		f.t.Fatal(err)
	}
	return rt
}

func (f *fixture) wantOAuthError(r response, code, description string) {
	f.t.Helper()
	if r.status != http.StatusBadRequest {
		f.t.Errorf("status = %d, want 400 (body %s)", r.status, r.raw)
	}
	if ct := r.header.Get("Content-Type"); ct != jsonContentType {
		f.t.Errorf("Content-Type = %q", ct)
	}
	want := map[string]any{"error": code, "error_description": description}
	if !maps.Equal(r.body, want) {
		f.t.Errorf("body = %s, want %v", r.raw, want)
	}
}

// alive reports whether an access token works on userinfo (200) and on the REST API.
func (f *fixture) alive(accessToken string) bool {
	f.t.Helper()
	ui := f.get("/services/oauth2/userinfo", accessToken)
	data := f.get("/services/data/", accessToken)
	switch {
	case ui.status == http.StatusOK && data.status == http.StatusOK:
		return true
	case ui.status == http.StatusForbidden && data.status == http.StatusUnauthorized:
		return false
	}
	f.t.Fatalf("userinfo %d %s / data %d %s", ui.status, ui.raw, data.status, data.raw)
	return false
}

func keysOf(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }

func wantKeys(t *testing.T, body map[string]any, want ...string) {
	t.Helper()
	slices.Sort(want)
	if got := keysOf(body); !slices.Equal(got, want) {
		t.Errorf("fields = %v, want %v", got, want)
	}
}

// checkSignature recomputes signature = base64(HMAC-SHA256(secret, id + issued_at))
// (docs/salesforce-behaviour.md#the-signature-is-an-hmac-of-id-and-issued_at).
func checkSignature(t *testing.T, body map[string]any, secret string) {
	t.Helper()
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body["id"].(string) + body["issued_at"].(string)))
	if want := base64.StdEncoding.EncodeToString(mac.Sum(nil)); body["signature"] != want {
		t.Errorf("signature = %v, want %s", body["signature"], want)
	}
}

package emulator

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const jwtOnlyApp = "3MVG9jwtonly.consumer.key"

// The operator generates its own key and self-signed certificate; the fixture's keys were
// registered up front, so the onboarding tests use one the emulator has never seen.
var (
	operatorKeyOnce sync.Once
	operatorKey     *rsa.PrivateKey
)

func freshOperatorKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	operatorKeyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		operatorKey = k
	})
	return operatorKey
}

// onboardingAdmin plays the Salesforce admin, through the Go methods or the admin API, so
// that one walk checks both.
type onboardingAdmin interface {
	createApp(a ConnectedApp)
	uploadCertificate(clientID, certificatePEM string)
	preAuthorize(clientID, username string, authorized bool)
	adminApprove(clientID string, adminApproved bool)
}

type goAdmin struct{ f *fixture }

func (a goAdmin) createApp(app ConnectedApp) {
	a.f.t.Helper()
	if err := a.f.emu.PutApp(app); err != nil {
		a.f.t.Fatal(err)
	}
}

func (a goAdmin) uploadCertificate(clientID, certificatePEM string) {
	a.f.t.Helper()
	if err := a.f.emu.SetAppCertificate(clientID, certificatePEM); err != nil {
		a.f.t.Fatal(err)
	}
}

func (a goAdmin) preAuthorize(clientID, username string, authorized bool) {
	a.f.t.Helper()
	if err := a.f.emu.SetPreAuthorized(clientID, username, authorized); err != nil {
		a.f.t.Fatal(err)
	}
}

func (a goAdmin) adminApprove(clientID string, adminApproved bool) {
	a.f.t.Helper()
	if err := a.f.emu.SetAdminApproved(clientID, adminApproved); err != nil {
		a.f.t.Fatal(err)
	}
}

type httpAdmin struct{ f *fixture }

func (a httpAdmin) post(path string, in any) {
	a.f.t.Helper()
	var out map[string]string
	if code := a.f.admin("POST", path, in, &out); code != http.StatusOK {
		a.f.t.Fatalf("POST %s: %d %v", path, code, out)
	}
}

func (a httpAdmin) createApp(app ConnectedApp) {
	a.f.t.Helper()
	var got State
	if code := a.f.admin("POST", "state", State{Apps: []ConnectedApp{app}}, &got); code != http.StatusOK {
		a.f.t.Fatalf("POST state: %d", code)
	}
}

func (a httpAdmin) uploadCertificate(clientID, certificatePEM string) {
	a.f.t.Helper()
	a.post("apps/certificate", map[string]string{"clientId": clientID, "certificatePEM": certificatePEM})
}

func (a httpAdmin) preAuthorize(clientID, username string, authorized bool) {
	a.f.t.Helper()
	a.post("apps/preauthorized", map[string]any{"clientId": clientID, "username": username, "authorized": authorized})
}

func (a httpAdmin) adminApprove(clientID string, adminApproved bool) {
	a.f.t.Helper()
	a.post("apps/admin-approved", map[string]any{"clientId": clientID, "adminApproved": adminApproved})
}

func (f *fixture) app(clientID string) (ConnectedApp, bool) {
	for _, a := range f.emu.State().Apps {
		if a.ClientID == clientID {
			return a, true
		}
	}
	return ConnectedApp{}, false
}

// TestJWTOnboardingSteps walks the admin's setup of a JWT bearer connection
// (docs/salesforce-behaviour.md#jwt-bearer-needs-a-prior-approval) one step at a time while
// the client keeps sending the same kind of assertion, and checks the exact Salesforce
// error (docs/salesforce-behaviour.md#error-strings-and-their-classes) after each step.
func TestJWTOnboardingSteps(t *testing.T) {
	testKeys(t)
	key := freshOperatorKey(t)
	for name, newAdmin := range map[string]func(*fixture) onboardingAdmin{
		"go":   func(f *fixture) onboardingAdmin { return goAdmin{f} },
		"http": func(f *fixture) onboardingAdmin { return httpAdmin{f} },
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			adm := newAdmin(f)
			cert := certificatePEM(t, key)
			wrongCert := certificatePEM(t, otherKey)
			steps := []struct {
				name      string
				do        func()
				code, msg string // empty: the assertion succeeds
			}{
				{"no app", func() {}, "invalid_client_id", "client identifier invalid"},
				{"app without certificate or secret", func() {
					adm.createApp(ConnectedApp{ClientID: jwtOnlyApp, Flows: []Flow{FlowJWT}})
				}, "invalid_grant", "invalid assertion"},
				{"certificate of another key", func() { adm.uploadCertificate(jwtOnlyApp, wrongCert) }, "invalid_grant", "invalid assertion"},
				{"matching certificate", func() { adm.uploadCertificate(jwtOnlyApp, cert) }, "invalid_grant", "user hasn't approved this consumer"},
				// Under "All users may self-authorize" an assignment pre-authorizes nobody.
				{"profile assigned, users self-authorize", func() { adm.preAuthorize(jwtOnlyApp, bob, true) }, "invalid_grant", "user hasn't approved this consumer"},
				{"admin approved users are pre-authorized", func() { adm.adminApprove(jwtOnlyApp, true) }, "", ""},
				{"profile unassigned", func() { adm.preAuthorize(jwtOnlyApp, bob, false) }, "invalid_grant", "user hasn't approved this consumer"},
				{"profile assigned again", func() { adm.preAuthorize(jwtOnlyApp, strings.ToUpper(bob), true) }, "", ""},
				{"policy back to self-authorize", func() { adm.adminApprove(jwtOnlyApp, false) }, "invalid_grant", "user hasn't approved this consumer"},
				{"policy back to admin approved", func() { adm.adminApprove(jwtOnlyApp, true) }, "", ""},
				{"certificate replaced by another", func() { adm.uploadCertificate(jwtOnlyApp, wrongCert) }, "invalid_grant", "invalid assertion"},
				{"matching certificate again", func() { adm.uploadCertificate(jwtOnlyApp, cert) }, "", ""},
				{"certificate removed", func() { adm.uploadCertificate(jwtOnlyApp, "") }, "invalid_grant", "invalid assertion"},
			}
			var issued []string
			for _, s := range steps {
				s.do()
				claims := jwt.MapClaims{"iss": jwtOnlyApp, "sub": bob, "aud": AudienceLogin, "exp": f.clk.Now().Add(3 * time.Minute).Unix()}
				r := f.token(jwtForm(f.assertion(key, claims)))
				if s.code != "" {
					f.with(t).wantOAuthError(r, s.code, s.msg)
					if t.Failed() {
						t.Fatalf("after step %q", s.name)
					}
					continue
				}
				if r.status != http.StatusOK {
					t.Fatalf("after step %q: %d %s", s.name, r.status, r.raw)
				}
				wantKeys(t, r.body, "access_token", "scope", "instance_url", "id", "token_type")
				issued = append(issued, r.body["access_token"].(string))
			}
			if len(issued) != 4 {
				t.Fatalf("%d logins, want 4", len(issued))
			}
			// What the admin changed stopped new logins only; sessions already issued live on.
			for _, at := range issued {
				if !f.alive(at) {
					t.Error("a session died with a setting change")
				}
			}
			app, _ := f.app(jwtOnlyApp)
			if app.CertificatePEM != "" || app.PublicKeyPEM != "" || !app.AdminApproved || len(app.PreAuthorizedUsers) != 1 || app.PreAuthorizedUsers[0] != bob {
				t.Errorf("app at the end = %+v", app)
			}
			// No approval was created on the way: JWT logins issue no refresh token
			// (docs/salesforce-behaviour.md#which-fields-each-grant-returns).
			if n := len(f.emu.Approvals(jwtOnlyApp, "")); n != 0 {
				t.Errorf("approvals = %d", n)
			}
		})
	}
}

// TestUploadCertificateReplacesKey: one verification key per app, so an upload replaces a
// configured public key, keeps every other setting, and only the new key verifies.
func TestUploadCertificateReplacesKey(t *testing.T) {
	f := newFixture(t)
	key := freshOperatorKey(t)
	f.issueRefresh(appID, alice) // alice's prior approval (docs/salesforce-behaviour.md#jwt-bearer-needs-a-prior-approval)
	f.mustToken(jwtForm(f.assertion(signKey, f.jwtClaims(alice, AudienceLogin))))

	cert := certificatePEM(t, key)
	if err := f.emu.SetAppCertificate(appID, cert); err != nil {
		t.Fatal(err)
	}
	f.wantOAuthError(f.token(jwtForm(f.assertion(signKey, f.jwtClaims(alice, AudienceLogin)))), "invalid_grant", "invalid assertion")
	f.mustToken(jwtForm(f.assertion(key, f.jwtClaims(alice, AudienceLogin))))

	app, _ := f.app(appID)
	if app.CertificatePEM != cert || app.PublicKeyPEM != "" {
		t.Errorf("key material: certificate set %t, public key set %t", app.CertificatePEM != "", app.PublicKeyPEM != "")
	}
	if app.ClientSecret != appSecret || app.ClientCredentialsUser != runAs || app.Name != "sfconn test" {
		t.Error("the upload changed other settings of the app")
	}
	f.mustToken(ccForm(appID, appSecret))
}

func TestUploadCertificateRefusesInvalidPEM(t *testing.T) {
	f := newFixture(t)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "ec"}, NotBefore: t0, NotAfter: t0.AddDate(1, 0, 0)}
	ecDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &ecKey.PublicKey, ecKey)
	if err != nil {
		t.Fatal(err)
	}
	privDER := x509.MarshalPKCS1PrivateKey(otherKey)
	cases := []struct{ name, pem, want string }{
		{"not PEM", "hello", "no PEM CERTIFICATE block"},
		{"public key instead of certificate", signKeyPK, `PEM block is "PUBLIC KEY", want CERTIFICATE`},
		{"private key instead of certificate", string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: privDER})), `PEM block is "RSA PRIVATE KEY", want CERTIFICATE`},
		{"garbage in a CERTIFICATE block", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not DER")})), "certificatePEM: x509:"},
		{"ECDSA certificate", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ecDER})), "not an RSA key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := f.emu.SetAppCertificate(appID, c.pem)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("SetAppCertificate: %v, want %q", err, c.want)
			}
			var body map[string]string
			code := f.with(t).admin("POST", "apps/certificate", map[string]string{"clientId": appID, "certificatePEM": c.pem}, &body)
			if code != http.StatusBadRequest || !strings.Contains(body["error"], c.want) {
				t.Errorf("POST apps/certificate: %d %q, want 400 %q", code, body["error"], c.want)
			}
			if strings.Contains(body["error"], "PRIVATE KEY-----") || (err != nil && strings.Contains(err.Error(), "PRIVATE KEY-----")) {
				t.Error("the error echoes the uploaded PEM")
			}
		})
	}
	// Nothing changed: the configured key still verifies.
	f.issueRefresh(appID, alice)
	f.mustToken(jwtForm(f.assertion(signKey, f.jwtClaims(alice, AudienceLogin))))
	if app, _ := f.app(appID); app.PublicKeyPEM != signKeyPK || app.CertificatePEM != "" {
		t.Error("a refused upload changed the app's key")
	}
}

// TestAppAdminErrors: mistakes in the admin's steps are refused with a reason, by the Go
// methods and as 400 {"error"} by the admin API, and change nothing.
func TestAppAdminErrors(t *testing.T) {
	f := newFixture(t)
	if err := f.emu.PutApp(ConnectedApp{ClientID: jwtOnlyApp, OrgID: prodOrg, Flows: []Flow{FlowJWT}}); err != nil {
		t.Fatal(err)
	}
	goCases := []struct {
		name string
		err  error
		want string
	}{
		{"certificate for unknown app", f.emu.SetAppCertificate("nope", ""), `unknown connected app "nope"`},
		{"pre-authorize for unknown app", f.emu.SetPreAuthorized("nope", bob, true), `unknown connected app "nope"`},
		{"admin-approve unknown app", f.emu.SetAdminApproved("nope", true), `unknown connected app "nope"`},
		{"pre-authorize unknown user", f.emu.SetPreAuthorized(jwtOnlyApp, "ghost@prod.example", true), `unknown user "ghost@prod.example"`},
		{"un-authorize unknown user", f.emu.SetPreAuthorized(jwtOnlyApp, "ghost@prod.example", false), `unknown user "ghost@prod.example"`},
		{"pre-authorize without username", f.emu.SetPreAuthorized(jwtOnlyApp, "", true), "username is required"},
		{"pre-authorize user of another org", f.emu.SetPreAuthorized(jwtOnlyApp, sandy, true), "not in the org of app"},
	}
	for _, c := range goCases {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, c.err, c.want)
		}
	}
	httpCases := []struct {
		name, path string
		body       any
		want       string
	}{
		{"certificate for unknown app", "apps/certificate", map[string]string{"clientId": "nope", "certificatePEM": ""}, `unknown connected app "nope"`},
		{"certificate field missing", "apps/certificate", map[string]string{"clientId": jwtOnlyApp}, "certificatePEM is required"},
		{"certificate unknown field", "apps/certificate", map[string]string{"clientId": jwtOnlyApp, "certificate": ""}, "bad JSON body"},
		{"pre-authorize unknown user", "apps/preauthorized", map[string]any{"clientId": jwtOnlyApp, "username": "ghost@prod.example", "authorized": true}, "unknown user"},
		{"pre-authorize user of another org", "apps/preauthorized", map[string]any{"clientId": jwtOnlyApp, "username": sandy, "authorized": true}, "not in the org of app"},
		{"authorized missing", "apps/preauthorized", map[string]any{"clientId": jwtOnlyApp, "username": bob}, "authorized is required"},
		{"admin-approve unknown app", "apps/admin-approved", map[string]any{"clientId": "nope", "adminApproved": true}, `unknown connected app "nope"`},
		{"adminApproved missing", "apps/admin-approved", map[string]any{"clientId": jwtOnlyApp}, "adminApproved is required"},
		{"adminApproved not a bool", "apps/admin-approved", map[string]any{"clientId": jwtOnlyApp, "adminApproved": "yes"}, "bad JSON body"},
	}
	for _, c := range httpCases {
		var body map[string]string
		if code := f.admin("POST", c.path, c.body, &body); code != http.StatusBadRequest || !strings.Contains(body["error"], c.want) {
			t.Errorf("%s: %d %q, want 400 %q", c.name, code, body["error"], c.want)
		}
	}
	if app, _ := f.app(jwtOnlyApp); app.AdminApproved || len(app.PreAuthorizedUsers) != 0 {
		t.Errorf("a refused change was applied: %+v", app)
	}
	// Un-authorizing someone listed but no longer a user still works, and twice is harmless.
	if err := f.emu.SetPreAuthorized(jwtOnlyApp, bob, true); err != nil {
		t.Fatal(err)
	}
	if err := f.emu.SetPreAuthorized(jwtOnlyApp, bob, true); err != nil {
		t.Fatal(err)
	}
	f.emu.DeleteUser(bob)
	if err := f.emu.SetPreAuthorized(jwtOnlyApp, bob, false); err != nil {
		t.Fatal(err)
	}
	if app, _ := f.app(jwtOnlyApp); len(app.PreAuthorizedUsers) != 0 {
		t.Errorf("preAuthorizedUsers = %v", app.PreAuthorizedUsers)
	}
}

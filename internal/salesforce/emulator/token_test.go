package emulator

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestGrantSuccessBodies checks the exact field set of every grant
// (docs/salesforce-behaviour.md#which-fields-each-grant-returns), the headers, issued_at
// and signature, and the shape of tokens and identity URLs.
func TestGrantSuccessBodies(t *testing.T) {
	f := newFixture(t)
	if err := f.emu.Apply(State{Users: []User{{Username: "pre@prod.example", OrgID: prodOrg}}, Apps: []ConnectedApp{
		{ClientID: appID, ClientSecret: appSecret, PublicKeyPEM: signKeyPK, ClientCredentialsUser: runAs, AdminApproved: true, PreAuthorizedUsers: []string{"pre@prod.example", alice, bob}},
	}}); err != nil {
		t.Fatal(err)
	}
	code, err := f.emu.AuthorizationCode(appID, bob)
	if err != nil {
		t.Fatal(err)
	}
	signed := []string{"issued_at", "signature"}
	base := []string{"access_token", "instance_url", "id", "token_type"}
	tests := []struct {
		name    string
		form    func() url.Values
		basic   []string
		secret  string
		fields  []string
		userID  string
		sandbox bool
	}{
		{
			name:   "password",
			form:   func() url.Values { return passwordForm(appID, appSecret, alice, alicePass+aliceToken) },
			secret: appSecret, fields: append(base, signed...), userID: aliceID,
		},
		{
			name:   "refresh_token without rotation",
			form:   func() url.Values { return refreshForm(appID, appSecret, f.issueRefresh(appID, alice)) },
			secret: appSecret, fields: append(append(base, signed...), "scope"), userID: aliceID,
		},
		{
			name:   "refresh_token with rotation",
			form:   func() url.Values { return refreshForm(rtrAppID, rtrSecret, f.issueRefresh(rtrAppID, alice)) },
			secret: rtrSecret, fields: append(append(base, signed...), "scope", "refresh_token"), userID: aliceID,
		},
		{
			name: "jwt bearer",
			form: func() url.Values {
				return jwtForm(f.assertion(signKey, f.jwtClaims("pre@prod.example", AudienceLogin)))
			},
			fields: append(base, "scope"),
		},
		{
			name:   "client_credentials in body",
			form:   func() url.Values { return ccForm(appID, appSecret) },
			secret: appSecret, fields: append(append(base, signed...), "scope", "api_instance_url"),
		},
		{
			name:   "client_credentials in Basic header",
			form:   func() url.Values { return url.Values{"grant_type": {"client_credentials"}} },
			basic:  []string{appID, appSecret},
			secret: appSecret, fields: append(append(base, signed...), "scope", "api_instance_url"),
		},
		{
			name: "authorization_code",
			form: func() url.Values {
				return url.Values{"grant_type": {"authorization_code"}, "client_id": {appID}, "client_secret": {appSecret}, "code": {code}, "redirect_uri": {"http://localhost/cb"}}
			},
			secret: appSecret, fields: append(append(base, signed...), "scope", "refresh_token"),
		},
		{
			name:   "password on the login host",
			form:   func() url.Values { return passwordForm(appID, appSecret, alice, alicePass+aliceToken) },
			secret: appSecret, fields: append(base, signed...), userID: aliceID,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := f.with(t)
			f.clk.Step(1234 * time.Millisecond)
			srv := f.srv.URL
			if strings.Contains(tc.name, "login host") {
				srv = f.login.URL
			}
			r := f.postForm(srv, "/services/oauth2/token", tc.form(), tc.basic...)
			if r.status != http.StatusOK {
				t.Fatalf("status %d: %s", r.status, r.raw)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json;charset=UTF-8" {
				t.Errorf("Content-Type = %q", ct)
			}
			if cc := r.header.Get("Cache-Control"); cc != "no-cache,must-revalidate,max-age=0,no-store,private" {
				t.Errorf("Cache-Control = %q", cc)
			}
			wantKeys(t, r.body, tc.fields...)
			if _, ok := r.body["expires_in"]; ok {
				t.Error("expires_in must never be sent")
			}
			if r.body["token_type"] != "Bearer" {
				t.Errorf("token_type = %v", r.body["token_type"])
			}
			if !strings.HasPrefix(r.body["access_token"].(string), prodOrg[:15]+"!") {
				t.Errorf("access_token %q lacks the 15-char org prefix", r.body["access_token"])
			}
			id := r.body["id"].(string)
			if !regexp.MustCompile(`^https://login\.salesforce\.com/id/` + prodOrg + `/005[A-Za-z0-9]{15}$`).MatchString(id) {
				t.Errorf("id = %q", id)
			}
			if tc.userID != "" && !strings.HasSuffix(id, "/"+tc.userID) {
				t.Errorf("id %q is not user %s", id, tc.userID)
			}
			if r.body["instance_url"] != srv {
				t.Errorf("instance_url = %v, want the request's base URL %s", r.body["instance_url"], srv)
			}
			if ia, ok := r.body["issued_at"]; ok {
				s, isString := ia.(string)
				if !isString || !regexp.MustCompile(`^[0-9]{13}$`).MatchString(s) {
					t.Fatalf("issued_at = %#v, want a 13-digit string", ia)
				}
				if want := strconv.FormatInt(f.clk.Now().UnixMilli(), 10); s != want {
					t.Errorf("issued_at = %s, want the fake clock %s", s, want)
				}
				checkSignature(t, r.body, tc.secret)
			}
			if tc.name == "client_credentials in body" && r.body["api_instance_url"] != "https://api.salesforce.com" {
				t.Errorf("api_instance_url = %v", r.body["api_instance_url"])
			}
			if s, ok := r.body["scope"]; ok && s != DefaultScope {
				t.Errorf("scope = %v", s)
			}
		})
	}
}

func TestAccessTokensAreUniqueAndIndependent(t *testing.T) {
	f := newFixture(t)
	form := passwordForm(appID, appSecret, bob, bobPass)
	a, b := f.mustToken(form)["access_token"].(string), f.mustToken(form)["access_token"].(string)
	if a == b {
		t.Fatal("two logins returned the same access token")
	}
	if !f.alive(a) || !f.alive(b) {
		t.Fatal("a new login must not invalidate the user's other sessions")
	}
}

func TestSandboxIdentityURLAndInstanceURL(t *testing.T) {
	f := newFixture(t)
	body := f.mustToken(passwordForm(appID, appSecret, sandy, "sandy-password"))
	if id := body["id"].(string); !strings.HasPrefix(id, "https://test.salesforce.com/id/"+sandboxOrg+"/005") {
		t.Errorf("sandbox id = %q, want test.salesforce.com", id)
	}
	if body["instance_url"] != "https://acme--dev.sandbox.my.salesforce.com" {
		t.Errorf("instance_url = %v", body["instance_url"])
	}
}

// TestTokenErrors checks every error answer with Salesforce's exact strings
// (docs/salesforce-behaviour.md#error-strings-and-their-classes).
func TestTokenErrors(t *testing.T) {
	f := newFixture(t)
	if err := f.emu.Apply(State{
		Orgs: []Org{{ID: to18("00D0000000BlOcK"), PasswordFlowBlocked: true}},
		Users: []User{
			{Username: "inactive@prod.example", Password: "x", OrgID: prodOrg, Active: new(bool)},
			{Username: "blocked@new.example", Password: "x", OrgID: to18("00D0000000BlOcK")},
		},
		Apps: []ConnectedApp{
			{ClientID: "no-runas", ClientSecret: "s"},
			{ClientID: "admin-approved", ClientSecret: "s", AdminApproved: true, PreAuthorizedUsers: []string{alice}},
			{ClientID: "no-cert", ClientSecret: "s"},
			{ClientID: "optional-secret", ClientSecret: "s", RequireSecretForRefreshToken: new(bool)},
		},
	}); err != nil {
		t.Fatal(err)
	}
	aliceRT := f.issueRefresh(appID, alice)
	optRT := f.issueRefresh("optional-secret", alice)
	claims := func(mut func(jwt.MapClaims)) string {
		c := f.jwtClaims(alice, AudienceLogin)
		mut(c)
		return f.assertion(signKey, c)
	}
	tests := []struct {
		name        string
		form        url.Values
		basic       []string
		loginHost   bool
		code, descr string
	}{
		{"unknown client", passwordForm("nope", appSecret, alice, alicePass+aliceToken), nil, false, "invalid_client_id", "client identifier invalid"},
		{"missing client", url.Values{"grant_type": {"password"}, "username": {alice}}, nil, false, "invalid_client_id", "client identifier invalid"},
		{"wrong secret", passwordForm(appID, "wrong", alice, alicePass+aliceToken), nil, false, "invalid_client", "invalid client credentials"},
		{"missing secret", passwordForm(appID, "", alice, alicePass+aliceToken), nil, false, "invalid_client", "invalid client credentials"},
		{"wrong password", passwordForm(appID, appSecret, alice, "nope"+aliceToken), nil, false, "invalid_grant", "authentication failure"},
		{"password without security token", passwordForm(appID, appSecret, alice, alicePass), nil, false, "invalid_grant", "authentication failure"},
		{"unknown user", passwordForm(appID, appSecret, "ghost@prod.example", "x"), nil, false, "invalid_grant", "authentication failure"},
		{"password flow blocked in org", passwordForm(appID, appSecret, "blocked@new.example", "x"), nil, false, "invalid_grant", "authentication failure"},
		{"inactive user", passwordForm(appID, appSecret, "inactive@prod.example", "x"), nil, false, "inactive_user", "user is inactive"},
		{"user not admin approved", passwordForm("admin-approved", "s", bob, bobPass), nil, false, "invalid_app_access", "user is not admin approved to access this app"},
		{"flow not enabled on app", ccForm(pwOnlyApp, pwOnlySec), nil, false, "unsupported_grant_type", "grant type not supported"},
		{"unknown grant type", url.Values{"grant_type": {"foo"}, "client_id": {appID}}, nil, false, "unsupported_grant_type", "grant type not supported"},
		{"missing grant type", url.Values{"client_id": {appID}}, nil, false, "invalid_request", "grant type is missing"},
		{"unknown refresh token", refreshForm(appID, appSecret, "5Aep861nope"), nil, false, "invalid_grant", "expired access/refresh token"},
		{"refresh token of another app", refreshForm(rtrAppID, rtrSecret, aliceRT), nil, false, "invalid_grant", "expired access/refresh token"},
		{"refresh without required secret", refreshForm(appID, "", aliceRT), nil, false, "invalid_client", "invalid client credentials"},
		{"refresh with wrong optional secret", refreshForm("optional-secret", "wrong", optRT), nil, false, "invalid_client", "invalid client credentials"},
		{"jwt garbage", jwtForm("not.a.jwt"), nil, false, "invalid_grant", "invalid assertion"},
		{"jwt missing assertion", url.Values{"grant_type": {GrantJWTBearer}}, nil, false, "invalid_grant", "invalid assertion"},
		{"jwt unknown iss", jwtForm(claims(func(c jwt.MapClaims) { c["iss"] = "nope" })), nil, false, "invalid_client_id", "client identifier invalid"},
		{"jwt app without certificate", jwtForm(claims(func(c jwt.MapClaims) { c["iss"] = "no-cert" })), nil, false, "invalid_grant", "invalid assertion"},
		{"jwt flow not enabled", jwtForm(claims(func(c jwt.MapClaims) { c["iss"] = pwOnlyApp })), nil, false, "unsupported_grant_type", "grant type not supported"},
		{"jwt wrong key", jwtForm(f.assertion(otherKey, f.jwtClaims(alice, AudienceLogin))), nil, false, "invalid_grant", "invalid assertion"},
		{"jwt HS256", jwtForm(func() string {
			s, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, f.jwtClaims(alice, AudienceLogin)).SignedString([]byte("k"))
			return s
		}()), nil, false, "invalid_grant", "invalid assertion"},
		{"jwt audience My Domain", jwtForm(claims(func(c jwt.MapClaims) { c["aud"] = "https://acme.my.salesforce.com" })), nil, false, "invalid_grant", "audience is invalid"},
		{"jwt test audience for production user", jwtForm(claims(func(c jwt.MapClaims) { c["aud"] = AudienceTest })), nil, false, "invalid_grant", "audience is invalid"},
		{"jwt login audience for sandbox user", jwtForm(claims(func(c jwt.MapClaims) { c["sub"] = sandy })), nil, false, "invalid_grant", "audience is invalid"},
		{"jwt expired", jwtForm(claims(func(c jwt.MapClaims) { c["exp"] = t0.Add(-time.Second).Unix() })), nil, false, "invalid_grant", "expired authorization code"},
		{"jwt without exp", jwtForm(claims(func(c jwt.MapClaims) { delete(c, "exp") })), nil, false, "invalid_grant", "invalid assertion"},
		{"jwt user never approved", jwtForm(claims(func(c jwt.MapClaims) { c["sub"] = bob })), nil, false, "invalid_grant", "user hasn't approved this consumer"},
		{"jwt unknown user", jwtForm(claims(func(c jwt.MapClaims) { c["sub"] = "ghost@prod.example" })), nil, false, "invalid_grant", "user hasn't approved this consumer"},
		{"client credentials on login host", ccForm(appID, appSecret), nil, true, "invalid_grant", "request not supported on this domain"},
		{"client credentials without run-as user", ccForm("no-runas", "s"), nil, false, "invalid_grant", "no client credentials user enabled"},
		{"client credentials wrong Basic secret", url.Values{"grant_type": {"client_credentials"}}, []string{appID, "wrong"}, false, "invalid_client", "invalid client credentials"},
		{"authorization code unknown", url.Values{"grant_type": {"authorization_code"}, "client_id": {appID}, "client_secret": {appSecret}, "code": {"nope"}}, nil, false, "invalid_grant", "invalid authorization code"},
		{"device code unknown", url.Values{"grant_type": {"device"}, "client_id": {appID}, "code": {"nope"}}, nil, false, "invalid_grant", "invalid device code"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := f.srv.URL
			if tc.loginHost {
				base = f.login.URL
			}
			f := f.with(t)
			r := f.postForm(base, "/services/oauth2/token", tc.form, tc.basic...)
			f.wantOAuthError(r, tc.code, tc.descr)
		})
	}
}

func TestTokenEndpointTransport(t *testing.T) {
	f := newFixture(t)
	t.Run("JSON body refused", func(t *testing.T) {
		f := f.with(t)
		req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/services/oauth2/token",
			strings.NewReader(`{"grant_type":"password","client_id":"`+appID+`","client_secret":"`+appSecret+`","username":"`+bob+`","password":"`+bobPass+`"}`))
		req.Header.Set("Content-Type", "application/json")
		f.wantOAuthError(f.do(req), "unsupported_grant_type", "grant type not supported")
	})
	t.Run("GET refused", func(t *testing.T) {
		f := f.with(t)
		f.wantOAuthError(f.get("/services/oauth2/token?grant_type=password", ""), "invalid_request", "must use HTTP POST")
	})
	t.Run("query string ignored", func(t *testing.T) {
		f := f.with(t)
		q := passwordForm(appID, appSecret, bob, bobPass).Encode()
		req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/services/oauth2/token?"+q, strings.NewReader(""))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		f.wantOAuthError(f.do(req), "invalid_request", "grant type is missing")
	})
	t.Run("multipart accepted", func(t *testing.T) {
		f := f.with(t)
		var b strings.Builder
		b.WriteString("--X\r\nContent-Disposition: form-data; name=\"response_type\"\r\n\r\ndevice_code\r\n")
		b.WriteString("--X\r\nContent-Disposition: form-data; name=\"client_id\"\r\n\r\n" + appID + "\r\n--X--\r\n")
		req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/services/oauth2/token", strings.NewReader(b.String()))
		req.Header.Set("Content-Type", "multipart/form-data; boundary=X")
		if r := f.do(req); r.status != http.StatusOK {
			t.Fatalf("multipart device request: %d %s", r.status, r.raw)
		}
	})
}

// TestJWTLeniency covers what Salesforce accepts although a strict JWT library would not:
// exp in milliseconds (sfdx-core), exp as a string (go-salesforce), aud as an array
// (docs/salesforce-behaviour.md#jwt-exp-three-minutes-leniently-enforced).
func TestJWTLeniency(t *testing.T) {
	f := newFixture(t)
	f.issueRefresh(appID, alice) // a prior approval (docs/salesforce-behaviour.md#jwt-bearer-needs-a-prior-approval)
	for name, mut := range map[string]func(jwt.MapClaims){
		"exp in milliseconds": func(c jwt.MapClaims) { c["exp"] = t0.UnixMilli() + 300 },
		"exp as a string":     func(c jwt.MapClaims) { c["exp"] = strconv.FormatInt(t0.Add(5*time.Minute).Unix(), 10) },
		"exp in a year":       func(c jwt.MapClaims) { c["exp"] = t0.AddDate(1, 0, 0).Unix() },
		"aud as an array":     func(c jwt.MapClaims) { c["aud"] = []string{AudienceLogin} },
	} {
		t.Run(name, func(t *testing.T) {
			c := f.jwtClaims(alice, AudienceLogin)
			mut(c)
			f := f.with(t)
			body := f.mustToken(jwtForm(f.assertion(signKey, c)))
			wantKeys(t, body, "access_token", "scope", "instance_url", "id", "token_type")
		})
	}
}

func TestJWTWithCertificateSandboxAndPreAuthorization(t *testing.T) {
	f := newFixture(t)
	if err := f.emu.PutApp(ConnectedApp{ClientID: "cert-app", CertificatePEM: certificatePEM(t, signKey), AdminApproved: true, PreAuthorizedUsers: []string{sandy}}); err != nil {
		t.Fatal(err)
	}
	c := jwt.MapClaims{"iss": "cert-app", "sub": sandy, "aud": AudienceTest, "exp": t0.Add(time.Minute).Unix()}
	body := f.mustToken(jwtForm(f.assertion(signKey, c)))
	if id := body["id"].(string); !strings.HasPrefix(id, "https://test.salesforce.com/id/") {
		t.Errorf("id = %s", id)
	}
	// The JWT exp has nothing to do with the session
	// (docs/salesforce-behaviour.md#jwt-exp-three-minutes-leniently-enforced): the token
	// outlives it.
	f.clk.Step(10 * time.Minute)
	if !f.alive(body["access_token"].(string)) {
		t.Error("session died with the assertion")
	}
}

func TestClientCredentialsPasswordUnaffectedOnLoginHost(t *testing.T) {
	f := newFixture(t)
	r := f.postForm(f.login.URL, "/services/oauth2/token", passwordForm(appID, appSecret, bob, bobPass))
	if r.status != http.StatusOK {
		t.Fatalf("password on login host: %d %s", r.status, r.raw)
	}
}

func TestLoginRateLimit(t *testing.T) {
	f := newFixture(t)
	u := baseState().Users[1] // bob
	u.LoginRateLimit = 3
	if _, err := f.emu.PutUser(u); err != nil {
		t.Fatal(err)
	}
	rt := f.issueRefresh(appID, bob)
	f.issueRefresh(appID, bob)
	logins := []url.Values{
		passwordForm(appID, appSecret, bob, bobPass),
		refreshForm(appID, appSecret, rt),
		jwtForm(f.assertion(signKey, jwt.MapClaims{"iss": appID, "sub": bob, "aud": AudienceLogin, "exp": t0.Add(24 * time.Hour).Unix()})),
	}
	for _, form := range logins {
		f.clk.Step(time.Minute)
		f.mustToken(form)
	}
	for _, form := range logins {
		f.wantOAuthError(f.token(form), "invalid_grant", "login rate exceeded")
	}
	// A rolling hour: once the first login is an hour old, one more fits.
	f.clk.SetTime(t0.Add(time.Hour + time.Minute))
	f.mustToken(logins[0])
	f.wantOAuthError(f.token(logins[0]), "invalid_grant", "login rate exceeded")
	// Other users are not affected.
	f.mustToken(passwordForm(appID, appSecret, alice, alicePass+aliceToken))
	if got := f.emu.Stats().SuccessfulLoginsByUser[bob]; got != 4 {
		t.Errorf("successful logins of bob = %d, want 4", got)
	}
}

func TestDefaultLoginRateLimitOption(t *testing.T) {
	f := newFixture(t, WithLoginRateLimit(2))
	if err := f.emu.PutApp(ConnectedApp{ClientID: appID, ClientSecret: appSecret, ClientCredentialsUser: runAs}); err != nil {
		t.Fatal(err)
	}
	f.mustToken(ccForm(appID, appSecret))
	f.mustToken(ccForm(appID, appSecret))
	f.wantOAuthError(f.token(ccForm(appID, appSecret)), "invalid_grant", "login rate exceeded")
}

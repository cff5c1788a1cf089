package salesforce

import (
	"context"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

// deviceStartAnswer is the start answer as sfdx-core's DeviceCodeResponse reads it
// (docs/salesforce-behaviour.md#device-flow); the codes are made up.
const deviceStartAnswer = `{"device_code":"M2FhZDevIceCode.Secret","user_code":"QRTZ7K4P",` +
	`"verification_uri":"https://login.salesforce.com/setup/connect","interval":5}`

// deviceTokenAnswer is the shape of the Postman collection's "Device Flow 2" sample.
const deviceTokenAnswer = `{"access_token":"00D58000000arpq!AQ4AQDeviceFlowToken","refresh_token":"5Aep861DeviceRefreshToken==",` +
	`"signature":"` + sampleSignature + `","scope":"refresh_token api","instance_url":"https://pozil-dev-ed.my.salesforce.com",` +
	`"id":"` + sampleID + `","token_type":"Bearer","issued_at":"` + sampleIssuedAt + `"}`

func deviceRequest(loginURL string) DeviceLoginRequest {
	return DeviceLoginRequest{LoginURL: loginURL, ClientID: "3MVG9consumerKey", ClientSecret: "client-secret"}
}

func TestStartDeviceLoginSendsFormAndParsesAnswer(t *testing.T) {
	tests := []struct {
		name      string
		scope     string
		answer    string
		wantScope string
		wantIntvl time.Duration
		wantExp   time.Duration // after testNow
	}{
		{"default scope, interval 5, no expires_in", "", deviceStartAnswer, "refresh_token api", 5 * time.Second, 10 * time.Minute},
		{"blank scope is the default", "  ", deviceStartAnswer, "refresh_token api", 5 * time.Second, 10 * time.Minute},
		{"own scope, expires_in", "full refresh_token",
			`{"device_code":"dc","user_code":"uc","verification_uri":"https://v","interval":10,"expires_in":600}`,
			"full refresh_token", 10 * time.Second, 10 * time.Minute},
		{"no interval", "",
			`{"device_code":"dc","user_code":"uc","verification_uri":"https://v","expires_in":900}`,
			"refresh_token api", 5 * time.Second, 15 * time.Minute},
		{"interval 0 and expires_in 0", "",
			`{"device_code":"dc","user_code":"uc","verification_uri":"https://v","interval":0,"expires_in":0}`,
			"refresh_token api", 5 * time.Second, 10 * time.Minute},
		{"negative interval", "",
			`{"device_code":"dc","user_code":"uc","verification_uri":"https://v","interval":-3}`,
			"refresh_token api", 5 * time.Second, 10 * time.Minute},
		{"interval as a string", "",
			`{"device_code":"dc","user_code":"uc","verification_uri":"https://v","interval":"7","expires_in":"120"}`,
			"refresh_token api", 7 * time.Second, 2 * time.Minute},
		{"fractional interval", "",
			`{"device_code":"dc","user_code":"uc","verification_uri":"https://v","interval":0.5}`,
			"refresh_token api", 5 * time.Second, 10 * time.Minute},
		{"absurd values are capped", "",
			`{"device_code":"dc","user_code":"uc","verification_uri":"https://v","interval":99999999999,"expires_in":1e15}`,
			"refresh_token api", time.Hour, 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, got := jsonServer(t, http.StatusOK, tt.answer)
			req := deviceRequest(srv.URL)
			req.Scope = tt.scope
			d, err := newTestClient().StartDeviceLogin(context.Background(), req)
			if err != nil {
				t.Fatalf("StartDeviceLogin: %v", err)
			}
			method, path, header, form := got.get()
			if method != http.MethodPost || path != "/services/oauth2/token" {
				t.Errorf("request = %s %s, want POST /services/oauth2/token", method, path)
			}
			if ct := header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
				t.Errorf("Content-Type = %q", ct)
			}
			// No client_secret: the start request does not need it.
			want := url.Values{"response_type": {"device_code"}, "client_id": {"3MVG9consumerKey"}, "scope": {tt.wantScope}}
			if !reflect.DeepEqual(form, want) {
				t.Errorf("form = %v\nwant   %v", form, want)
			}
			if d.Interval != tt.wantIntvl {
				t.Errorf("Interval = %v, want %v", d.Interval, tt.wantIntvl)
			}
			if !d.ExpiresAt.Equal(testNow.Add(tt.wantExp)) {
				t.Errorf("ExpiresAt = %v, want now+%v", d.ExpiresAt, tt.wantExp)
			}
			if d.DeviceCode == "" || d.UserCode == "" || d.VerificationURI == "" {
				t.Errorf("codes missing: %+v", d)
			}
		})
	}
}

func TestStartDeviceLoginParsesSample(t *testing.T) {
	srv, _ := jsonServer(t, http.StatusOK, deviceStartAnswer)
	d, err := newTestClient().StartDeviceLogin(context.Background(), deviceRequest(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	want := DeviceAuthorization{
		DeviceCode: "M2FhZDevIceCode.Secret", UserCode: "QRTZ7K4P",
		VerificationURI: "https://login.salesforce.com/setup/connect",
		Interval:        5 * time.Second, ExpiresAt: testNow.Add(10 * time.Minute),
	}
	if *d != want {
		t.Errorf("got %+v\nwant %+v", *d, want)
	}
}

func TestStartDeviceLoginFailures(t *testing.T) {
	const html = "<html><body>Maintenance</body></html>"
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		want        Class
		wantText    string
	}{
		{"no device_code", 200, "", `{"user_code":"uc","verification_uri":"https://v","interval":5}`, Retryable, "no device_code"},
		{"no user_code", 200, "", `{"device_code":"dc","verification_uri":"https://v"}`, Retryable, "no user_code"},
		{"no verification_uri", 200, "", `{"device_code":"dc","user_code":"uc"}`, Retryable, "no verification_uri"},
		{"200 HTML", 200, "text/html", html, Retryable, "HTML answer (status 200)"},
		{"200 wrong types", 200, "", `{"device_code":5,"user_code":"uc","verification_uri":"https://v"}`, Retryable, "malformed JSON answer (status 200)"},
		{"unknown client", 400, "", oauthErr("invalid_client_id", "client identifier invalid"), Terminal, "invalid_client_id"},
		{"device flow not enabled", 400, "", oauthErr("unsupported_grant_type", "grant type not supported"), Terminal, "unsupported_grant_type"},
		{"503 HTML", 503, "text/html", html, Retryable, "HTML answer (status 503)"},
		{"429", 429, "", "", RateLimited, "status 429"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct := tt.contentType
			if ct == "" {
				ct = "application/json;charset=UTF-8"
			}
			srv, _ := answerServer(t, tt.status, ct, tt.body)
			_, err := newTestClient().StartDeviceLogin(context.Background(), deviceRequest(srv.URL))
			e := asError(t, err)
			if e.Class != tt.want || !strings.Contains(e.Error(), tt.wantText) {
				t.Errorf("got %q (%v), want %v containing %q", e.Error(), e.Class, tt.want, tt.wantText)
			}
		})
	}
}

func TestDeviceLoginRefusesIncompleteRequestsBeforeSending(t *testing.T) {
	srv, got := jsonServer(t, http.StatusOK, deviceStartAnswer)
	c := newTestClient()
	ctx := context.Background()
	noClient := deviceRequest(srv.URL)
	noClient.ClientID = " "
	badURL := deviceRequest(srv.URL + "/services/oauth2/token")

	checks := []struct {
		name    string
		call    func() error
		wantMsg string
	}{
		{"start: client id", func() error { _, err := c.StartDeviceLogin(ctx, noClient); return err }, "missing client_id"},
		{"start: login URL", func() error { _, err := c.StartDeviceLogin(ctx, badURL); return err }, "invalid login URL: must not contain a path"},
		{"poll: client id", func() error { _, err := c.PollDeviceLogin(ctx, noClient, "dc"); return err }, "missing client_id"},
		{"poll: device code", func() error { _, err := c.PollDeviceLogin(ctx, deviceRequest(srv.URL), ""); return err }, `missing device_code for grant "device"`},
		{"poll: login URL", func() error { _, err := c.PollDeviceLogin(ctx, badURL, "dc"); return err }, "invalid login URL"},
	}
	for _, ch := range checks {
		e := asError(t, ch.call())
		if e.Class != Terminal || !strings.Contains(e.Error(), ch.wantMsg) {
			t.Errorf("%s: got %q (%v), want Terminal containing %q", ch.name, e.Error(), e.Class, ch.wantMsg)
		}
	}
	if n := got.hits.Load(); n != 0 {
		t.Errorf("server was called %d times; validation must fail before sending", n)
	}
}

func TestPollDeviceLoginSendsFormAndParsesToken(t *testing.T) {
	tests := []struct {
		name     string
		secret   string
		wantForm url.Values
	}{
		{"with client secret", "client-secret", url.Values{
			"grant_type": {"device"}, "code": {"M2FhZDevIceCode.Secret"}, "client_id": {"3MVG9consumerKey"}, "client_secret": {"client-secret"},
		}},
		{"without client secret", "", url.Values{
			"grant_type": {"device"}, "code": {"M2FhZDevIceCode.Secret"}, "client_id": {"3MVG9consumerKey"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, got := jsonServer(t, http.StatusOK, deviceTokenAnswer)
			req := deviceRequest(srv.URL)
			req.ClientSecret = tt.secret
			tok, err := newTestClient().PollDeviceLogin(context.Background(), req, "M2FhZDevIceCode.Secret")
			if err != nil {
				t.Fatal(err)
			}
			method, path, header, form := got.get()
			if method != http.MethodPost || path != "/services/oauth2/token" || header.Get("Accept") != "application/json" {
				t.Errorf("request = %s %s Accept %q", method, path, header.Get("Accept"))
			}
			if !reflect.DeepEqual(form, tt.wantForm) {
				t.Errorf("form = %v\nwant   %v", form, tt.wantForm)
			}
			want := Token{
				AccessToken: "00D58000000arpq!AQ4AQDeviceFlowToken", RefreshToken: "5Aep861DeviceRefreshToken==",
				InstanceURL: "https://pozil-dev-ed.my.salesforce.com", TokenType: "Bearer", ID: sampleID,
				OrgID: "00D58000000arpqEAA", UserID: "00558000000yFyDAAU", Scope: "refresh_token api",
				IssuedAt: time.UnixMilli(1609942615640), IssuedAtRaw: sampleIssuedAt, Signature: sampleSignature,
			}
			gotTok := *tok
			if !gotTok.IssuedAt.Equal(want.IssuedAt) {
				t.Errorf("IssuedAt = %v", gotTok.IssuedAt)
			}
			gotTok.IssuedAt, want.IssuedAt = time.Time{}, time.Time{}
			if gotTok != want {
				t.Errorf("token = %+v\nwant    %+v", gotTok, want)
			}
		})
	}
}

func TestPollDeviceLoginClassifies(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     string
		want     Class
		slowDown bool
	}{
		{"authorization_pending", 400, oauthErr("authorization_pending", "authorization pending"), Pending, false},
		{"authorization_pending without description", 400, `{"error":"authorization_pending"}`, Pending, false},
		{"authorization_pending, other case", 400, `{"error":" Authorization_Pending "}`, Pending, false},
		{"slow_down", 400, oauthErr("slow_down", "polling too fast"), Pending, true},
		{"expired_token", 400, oauthErr("expired_token", "device code expired"), Terminal, false},
		{"expired as invalid_grant", 400, oauthErr("invalid_grant", "expired authorization code"), Terminal, false},
		{"expired device code wording", 400, oauthErr("invalid_grant", "Device Code Expired"), Terminal, false},
		{"expired_token does not count as Revoked", 400, oauthErr("invalid_grant", "expired access/refresh token"), Terminal, false},
		{"access_denied", 400, oauthErr("access_denied", "end-user denied authorization"), Terminal, false},
		{"invalid device code", 400, oauthErr("invalid_grant", "invalid device code"), Terminal, false},
		{"unknown client", 400, oauthErr("invalid_client_id", "client identifier invalid"), Terminal, false},
		{"bad secret", 400, oauthErr("invalid_client", "invalid client credentials"), Terminal, false},
		{"login rate exceeded", 400, oauthErr("invalid_grant", "login rate exceeded"), RateLimited, false},
		{"429", 429, `{"error":"slow_down"}`, RateLimited, false},
		{"503 saying pending stays Retryable", 503, oauthErr("authorization_pending", "authorization pending"), Retryable, false},
		{"400 HTML", 400, "<html>proxy</html>", Retryable, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := jsonServer(t, tt.status, tt.body)
			_, err := newTestClient().PollDeviceLogin(context.Background(), deviceRequest(srv.URL), "M2FhZDevIceCode.Secret")
			e := asError(t, err)
			if e.Class != tt.want || ClassOf(err) != tt.want {
				t.Errorf("class = %v, want %v (error %q)", e.Class, tt.want, e.Error())
			}
			if IsSlowDown(err) != tt.slowDown {
				t.Errorf("IsSlowDown = %v, want %v", IsSlowDown(err), tt.slowDown)
			}
			if e.StatusCode != tt.status {
				t.Errorf("StatusCode = %d, want %d", e.StatusCode, tt.status)
			}
			if strings.Contains(e.Error(), "M2FhZDevIceCode") {
				t.Errorf("error %q carries the device code", e.Error())
			}
		})
	}
}

func TestPendingIsOnlyForTheDevicePoll(t *testing.T) {
	// The same words from another grant or the device start are not a "not yet".
	for _, g := range []Grant{GrantJWTBearer, GrantPassword, GrantRefreshToken, GrantClientCredentials, grantDeviceStart, ""} {
		for _, code := range []string{"authorization_pending", "slow_down"} {
			if c := classifyOAuthError(g, code, ""); c == Pending {
				t.Errorf("grant %q, %s: Pending", g, code)
			}
		}
	}
	if got := Pending.String(); got != "Pending" {
		t.Errorf("Pending.String() = %q", got)
	}
	if IsSlowDown(nil) || IsSlowDown(&Error{Class: Terminal, Code: "slow_down"}) {
		t.Error("IsSlowDown true outside a Pending slow_down")
	}
	// The existing classes keep their values: they may be stored or compared as ints.
	if Retryable != 0 || Terminal != 1 || Revoked != 2 || RateLimited != 3 || Pending != 4 {
		t.Error("class values changed")
	}
}

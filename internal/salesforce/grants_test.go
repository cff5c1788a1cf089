package salesforce

import (
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLoginSendsEachGrantsFormAndParsesItsAnswer(t *testing.T) {
	issued := time.UnixMilli(1609942615640)
	tests := []struct {
		name     string
		grant    Grant
		mutate   func(*LoginRequest)
		answer   string
		wantForm url.Values // nil for JWT, whose assertion is checked in jwt_test.go
		want     Token
	}{
		{
			name:   "password: security token appended, no scope, no refresh token",
			grant:  GrantPassword,
			answer: passwordAnswer,
			wantForm: url.Values{
				"grant_type":    {"password"},
				"client_id":     {"3MVG9consumerKey"},
				"client_secret": {"client-secret"},
				"username":      {"integration@acme.com"},
				"password":      {"pa55wordSecTok123"},
			},
			want: Token{
				AccessToken: "00D58000000arpq!AQ4AQPasswordFlowToken", InstanceURL: "https://pozil-dev-ed.my.salesforce.com",
				TokenType: "Bearer", ID: sampleID, OrgID: "00D58000000arpqEAA", UserID: "00558000000yFyDAAU",
				IssuedAt: issued, IssuedAtRaw: sampleIssuedAt, Signature: sampleSignature,
			},
		},
		{
			name:   "password without security token",
			grant:  GrantPassword,
			mutate: func(r *LoginRequest) { r.SecurityToken = "" },
			answer: passwordAnswer,
			wantForm: url.Values{
				"grant_type": {"password"}, "client_id": {"3MVG9consumerKey"}, "client_secret": {"client-secret"},
				"username": {"integration@acme.com"}, "password": {"pa55word"},
			},
			want: Token{
				AccessToken: "00D58000000arpq!AQ4AQPasswordFlowToken", InstanceURL: "https://pozil-dev-ed.my.salesforce.com",
				TokenType: "Bearer", ID: sampleID, OrgID: "00D58000000arpqEAA", UserID: "00558000000yFyDAAU",
				IssuedAt: issued, IssuedAtRaw: sampleIssuedAt, Signature: sampleSignature,
			},
		},
		{
			name:   "refresh without rotation: no new refresh token",
			grant:  GrantRefreshToken,
			answer: refreshAnswer,
			wantForm: url.Values{
				"grant_type": {"refresh_token"}, "refresh_token": {"5Aep861OldRefreshToken=="},
				"client_id": {"3MVG9consumerKey"}, "client_secret": {"client-secret"},
			},
			want: Token{
				AccessToken: "00D58000000arpq!AQ4AQRefreshedToken", InstanceURL: "https://pozil-dev-ed.my.salesforce.com",
				TokenType: "Bearer", ID: sampleID, OrgID: "00D58000000arpqEAA", UserID: "00558000000yFyDAAU",
				Scope: "id api refresh_token openid", IssuedAt: issued, IssuedAtRaw: sampleIssuedAt, Signature: sampleSignature,
			},
		},
		{
			name:   "refresh with rotation, and no client secret sent when none is set",
			grant:  GrantRefreshToken,
			mutate: func(r *LoginRequest) { r.ClientSecret = "" },
			answer: refreshRotatedAnswer,
			wantForm: url.Values{
				"grant_type": {"refresh_token"}, "refresh_token": {"5Aep861OldRefreshToken=="}, "client_id": {"3MVG9consumerKey"},
			},
			want: Token{
				AccessToken: "00D58000000arpq!AQ4AQRefreshedToken", RefreshToken: "5Aep861NewRotatedRefreshToken==",
				InstanceURL: "https://pozil-dev-ed.my.salesforce.com", TokenType: "Bearer", ID: sampleID,
				OrgID: "00D58000000arpqEAA", UserID: "00558000000yFyDAAU", Scope: "id api refresh_token",
				IssuedAt: issued, IssuedAtRaw: sampleIssuedAt, Signature: sampleSignature,
			},
		},
		{
			name:   "client credentials: secret in the body, api_instance_url kept",
			grant:  GrantClientCredentials,
			answer: clientCredentialsAnswer,
			wantForm: url.Values{
				"grant_type": {"client_credentials"}, "client_id": {"3MVG9consumerKey"}, "client_secret": {"client-secret"},
			},
			want: Token{
				AccessToken: "00D58000000arpq!AQ4AQClientCredToken", InstanceURL: "https://pozil-dev-ed.my.salesforce.com",
				APIInstanceURL: "https://api.salesforce.com", TokenType: "Bearer", ID: sampleID,
				OrgID: "00D58000000arpqEAA", UserID: "00558000000yFyDAAU", Scope: "api",
				IssuedAt: issued, IssuedAtRaw: sampleIssuedAt, Signature: sampleSignature,
			},
		},
		{
			name:   "JWT bearer: no issued_at, so the receive time",
			grant:  GrantJWTBearer,
			answer: jwtAnswer,
			want: Token{
				AccessToken: "00D58000000arpq!AQ4AQJwtFlowToken", InstanceURL: "https://pozil-dev-ed.my.salesforce.com",
				TokenType: "Bearer", ID: sampleID, OrgID: "00D58000000arpqEAA", UserID: "00558000000yFyDAAU",
				Scope: "web openid api full", IssuedAt: testNow,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, got := jsonServer(t, http.StatusOK, tt.answer)
			req := fullRequest(t, srv.URL+"/", tt.grant)
			if tt.mutate != nil {
				tt.mutate(&req)
			}
			tok, err := login(t, newTestClient(), req)
			if err != nil {
				t.Fatalf("Login: %v", err)
			}

			method, path, header, form := got.get()
			if method != http.MethodPost || path != "/services/oauth2/token" {
				t.Errorf("request = %s %s, want POST /services/oauth2/token", method, path)
			}
			for h, want := range map[string]string{
				"Content-Type": "application/x-www-form-urlencoded",
				"Accept":       "application/json",
				"User-Agent":   "sfconn-operator",
			} {
				if header.Get(h) != want {
					t.Errorf("header %s = %q, want %q", h, header.Get(h), want)
				}
			}
			if tt.wantForm != nil && !reflect.DeepEqual(form, tt.wantForm) {
				t.Errorf("form = %v\nwant   %v", form, tt.wantForm)
			}
			if tt.grant == GrantJWTBearer {
				if len(form) != 2 || form.Get("grant_type") != string(GrantJWTBearer) || form.Get("assertion") == "" {
					t.Errorf("JWT form = %v, want exactly grant_type and assertion (no client secret)", form)
				}
			}

			if !tok.IssuedAt.Equal(tt.want.IssuedAt) {
				t.Errorf("IssuedAt = %v, want %v", tok.IssuedAt, tt.want.IssuedAt)
			}
			gotTok, wantTok := *tok, tt.want
			gotTok.IssuedAt, wantTok.IssuedAt = time.Time{}, time.Time{}
			if gotTok != wantTok {
				t.Errorf("token = %+v\nwant    %+v", gotTok, wantTok)
			}
		})
	}
}

func TestLoginSignatureOfSampleAnswerVerifies(t *testing.T) {
	srv, _ := jsonServer(t, http.StatusOK, passwordAnswer)
	tok, err := login(t, newTestClient(), fullRequest(t, srv.URL, GrantPassword))
	if err != nil {
		t.Fatal(err)
	}
	if !VerifySignature("client-secret", tok.ID, tok.IssuedAtRaw, tok.Signature) {
		t.Error("signature of the parsed answer does not verify")
	}
}

func TestLoginUserAgentOption(t *testing.T) {
	srv, got := jsonServer(t, http.StatusOK, jwtAnswer)
	if _, err := login(t, newTestClient(WithUserAgent("sfconn-operator/1.2.3")), fullRequest(t, srv.URL, GrantJWTBearer)); err != nil {
		t.Fatal(err)
	}
	if _, _, h, _ := got.get(); h.Get("User-Agent") != "sfconn-operator/1.2.3" {
		t.Errorf("User-Agent = %q", h.Get("User-Agent"))
	}
}

func TestLoginRefusesIncompleteRequestsBeforeSending(t *testing.T) {
	tests := []struct {
		name    string
		grant   Grant
		mutate  func(*LoginRequest)
		wantMsg string
	}{
		{"password: client id", GrantPassword, func(r *LoginRequest) { r.ClientID = "" }, "missing client_id"},
		{"password: client secret", GrantPassword, func(r *LoginRequest) { r.ClientSecret = "" }, "missing client_secret"},
		{"password: username", GrantPassword, func(r *LoginRequest) { r.Username = "" }, "missing username"},
		{"password: password", GrantPassword, func(r *LoginRequest) { r.Password = "" }, "missing password"},
		{"password: blank password", GrantPassword, func(r *LoginRequest) { r.Password = " \n" }, "missing password"},
		{"refresh: client id", GrantRefreshToken, func(r *LoginRequest) { r.ClientID = "" }, "missing client_id"},
		{"refresh: refresh token", GrantRefreshToken, func(r *LoginRequest) { r.RefreshToken = "" }, "missing refresh_token"},
		{"client credentials: client id", GrantClientCredentials, func(r *LoginRequest) { r.ClientID = "" }, "missing client_id"},
		{"client credentials: client secret", GrantClientCredentials, func(r *LoginRequest) { r.ClientSecret = "" }, "missing client_secret"},
		{"jwt: client id", GrantJWTBearer, func(r *LoginRequest) { r.ClientID = "" }, "missing client_id"},
		{"jwt: username", GrantJWTBearer, func(r *LoginRequest) { r.Username = "" }, "missing username"},
		{"jwt: key", GrantJWTBearer, func(r *LoginRequest) { r.PrivateKey = nil }, "missing private_key"},
		{"no grant", "", nil, "missing grant"},
		{"unknown grant", "authorization_code", nil, `unsupported grant "authorization_code"`},
		{"login URL", GrantJWTBearer, func(r *LoginRequest) { r.LoginURL = "" }, "invalid login URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, got := jsonServer(t, http.StatusOK, jwtAnswer)
			req := fullRequest(t, srv.URL, tt.grant)
			if tt.mutate != nil {
				tt.mutate(&req)
			}
			_, err := login(t, newTestClient(), req)
			e := asError(t, err)
			if e.Class != Terminal {
				t.Errorf("class = %v, want Terminal", e.Class)
			}
			if !strings.Contains(e.Error(), tt.wantMsg) {
				t.Errorf("error %q does not contain %q", e.Error(), tt.wantMsg)
			}
			if n := got.hits.Load(); n != 0 {
				t.Errorf("server was called %d times; validation must fail before sending", n)
			}
		})
	}
}

func TestParseLoginURL(t *testing.T) {
	tests := []struct {
		in, wantURL, wantHost, wantErr string
	}{
		{in: "https://login.salesforce.com", wantURL: "https://login.salesforce.com/services/oauth2/token", wantHost: "login.salesforce.com"},
		{in: "https://login.salesforce.com/", wantURL: "https://login.salesforce.com/services/oauth2/token", wantHost: "login.salesforce.com"},
		{in: "https://Acme--UAT.sandbox.my.salesforce.com", wantURL: "https://Acme--UAT.sandbox.my.salesforce.com/services/oauth2/token", wantHost: "acme--uat.sandbox.my.salesforce.com"},
		{in: "http://127.0.0.1:8443/", wantURL: "http://127.0.0.1:8443/services/oauth2/token", wantHost: "127.0.0.1"},
		{in: "", wantErr: "missing loginURL"},
		{in: "login.salesforce.com", wantErr: "scheme must be https"},
		{in: "ftp://login.salesforce.com", wantErr: "scheme must be https"},
		{in: "https://user:hunter2@login.salesforce.com", wantErr: "user info"},
		{in: "https://login.salesforce.com/services/oauth2/token", wantErr: "path"},
		{in: "https://login.salesforce.com//", wantErr: "path"},
		{in: "https://login.salesforce.com/?x=1", wantErr: "query"},
		{in: "https://login.salesforce.com/#frag", wantErr: "fragment"},
		{in: "https://", wantErr: "missing host"},
		{in: "https://:443", wantErr: "missing host"},
		{in: "https://hunter2%zz", wantErr: "not a URL"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			ep, err := parseLoginURL(tt.in)
			if tt.wantErr != "" {
				e := asError(t, err)
				if e.Class != Terminal || !strings.Contains(e.Error(), tt.wantErr) {
					t.Errorf("error = %v (%v), want Terminal containing %q", e, e.Class, tt.wantErr)
				}
				if strings.Contains(e.Error(), "hunter2") {
					t.Errorf("error %q repeats the URL", e.Error())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ep.tokenURL != tt.wantURL || ep.host != tt.wantHost {
				t.Errorf("got (%q, %q), want (%q, %q)", ep.tokenURL, ep.host, tt.wantURL, tt.wantHost)
			}
		})
	}
}

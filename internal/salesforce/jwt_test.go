package salesforce

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestJWTAssertionClaims(t *testing.T) {
	srv, got := jsonServer(t, http.StatusOK, jwtAnswer)
	req := fullRequest(t, srv.URL, GrantJWTBearer)
	if _, err := login(t, newTestClient(), req); err != nil {
		t.Fatal(err)
	}
	_, _, _, form := got.get()
	assertion := form.Get("assertion")

	// Verify as Salesforce would: RS256 only, against the public key of the uploaded
	// certificate, at the time the assertion was made.
	claims := jwt.MapClaims{}
	tok, err := jwt.ParseWithClaims(assertion, claims,
		func(*jwt.Token) (any, error) { return &rsaKey(t).PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithTimeFunc(func() time.Time { return testNow }),
		jwt.WithIssuer("3MVG9consumerKey"),
		jwt.WithSubject("integration@acme.com"),
		jwt.WithAudience(AudienceProduction),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
	)
	if err != nil || !tok.Valid {
		t.Fatalf("assertion does not verify: %v", err)
	}
	if tok.Header["alg"] != "RS256" || tok.Header["typ"] != "JWT" {
		t.Errorf("header = %v", tok.Header)
	}

	// exp and iat must be whole seconds (not milliseconds, not fractions), exp 3 minutes
	// after iat, and aud a plain string as in every Salesforce sample.
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(assertion, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(payload, &raw); err != nil {
		t.Fatal(err)
	}
	if want := `"` + AudienceProduction + `"`; string(raw["aud"]) != want {
		t.Errorf("aud = %s, want %s", raw["aud"], want)
	}
	if got, want := string(raw["exp"]), jsonInt(testNow.Add(3*time.Minute).Unix()); got != want {
		t.Errorf("exp = %s, want %s (now + 180 s, in seconds)", got, want)
	}
	if got, want := string(raw["iat"]), jsonInt(testNow.Unix()); got != want {
		t.Errorf("iat = %s, want %s", got, want)
	}
	if len(raw) != 5 {
		t.Errorf("claims = %s, want exactly iss, sub, aud, exp, iat", payload)
	}
}

func jsonInt(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestJWTAudience(t *testing.T) {
	tests := []struct {
		loginURL, override, want string
	}{
		{"https://login.salesforce.com", "", AudienceProduction},
		{"https://test.salesforce.com", "", AudienceSandbox},
		{"https://TEST.salesforce.com/", "", AudienceSandbox},
		{"https://acme--uat.sandbox.my.salesforce.com", "", AudienceSandbox},
		{"https://acme--uat.sandbox.my.salesforce.mil", "", AudienceSandbox},
		{"https://acme--uat.my.salesforce.com", "", AudienceSandbox},           // legacy sandbox My Domain
		{"https://cssny--Staging.cs92.my.salesforce.com", "", AudienceSandbox}, // legacy, with pod
		{"https://acme.my.salesforce.com", "", AudienceProduction},
		{"https://acme-dev-ed.develop.my.salesforce.com", "", AudienceProduction},
		{"https://acme.my.site.com", "", AudienceProduction},
		{"https://test.salesforce.com", "https://acme.my.site.com/customers", "https://acme.my.site.com/customers"},
		{"https://acme.my.salesforce.com", AudienceSandbox, AudienceSandbox},
	}
	for _, tt := range tests {
		t.Run(tt.loginURL+" "+tt.override, func(t *testing.T) {
			ep, err := parseLoginURL(tt.loginURL)
			if err != nil {
				t.Fatal(err)
			}
			req := fullRequest(t, tt.loginURL, GrantJWTBearer)
			req.Audience = tt.override
			form, err := jwtBearerForm(req, ep.host, testNow)
			if err != nil {
				t.Fatal(err)
			}
			claims := jwt.MapClaims{}
			if _, _, err := jwt.NewParser().ParseUnverified(form.Get("assertion"), claims); err != nil {
				t.Fatal(err)
			}
			if claims["aud"] != tt.want {
				t.Errorf("aud = %v, want %s", claims["aud"], tt.want)
			}
		})
	}
}

func TestJWTAudienceOverrideReachesTheWire(t *testing.T) {
	srv, got := jsonServer(t, http.StatusOK, jwtAnswer)
	req := fullRequest(t, srv.URL, GrantJWTBearer)
	req.Audience = AudienceSandbox
	if _, err := login(t, newTestClient(), req); err != nil {
		t.Fatal(err)
	}
	_, _, _, form := got.get()
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(form.Get("assertion"), claims); err != nil {
		t.Fatal(err)
	}
	if claims["aud"] != AudienceSandbox {
		t.Errorf("aud = %v", claims["aud"])
	}
}

func TestJWTEachLoginSignsAFreshAssertion(t *testing.T) {
	srv, got := jsonServer(t, http.StatusOK, jwtAnswer)
	clk := newFakeClock()
	c := NewClient(WithClock(clk))
	req := fullRequest(t, srv.URL, GrantJWTBearer)
	if _, err := login(t, c, req); err != nil {
		t.Fatal(err)
	}
	_, _, _, first := got.get()
	clk.SetTime(testNow.Add(time.Hour))
	if _, err := login(t, c, req); err != nil {
		t.Fatal(err)
	}
	_, _, _, second := got.get()
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(second.Get("assertion"), claims); err != nil {
		t.Fatal(err)
	}
	if first.Get("assertion") == second.Get("assertion") {
		t.Error("the assertion was reused")
	}
	if exp, _ := claims.GetExpirationTime(); !exp.Equal(testNow.Add(time.Hour + 3*time.Minute)) {
		t.Errorf("exp = %v, want the new clock + 3m", exp)
	}
}

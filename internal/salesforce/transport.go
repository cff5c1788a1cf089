package salesforce

import (
	"crypto/tls"
	"net"
	"net/http"
	"time"
)

const (
	dialTimeout         = 10 * time.Second
	tlsHandshakeTimeout = 10 * time.Second
)

// newHTTPClient builds the one *http.Client that every login of a process shares, so
// renewals of many connections to the same My Domain reuse TLS connections instead of
// opening one per reconcile.
// maxIdleConnsPerHost is above any sensible --max-concurrent-reconciles.
const maxIdleConnsPerHost = 64

func newHTTPClient(timeout time.Duration) *http.Client {
	// Cloning the default transport keeps proxy-from-environment and HTTP/2, which a
	// cluster behind an egress proxy needs.
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = tlsHandshakeTimeout
	// Salesforce itself refuses anything older than TLS 1.2; refusing it here too means a
	// man in the middle cannot downgrade the connection that carries credentials.
	t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	t.ForceAttemptHTTP2 = true
	// Go keeps two idle connections per host by default: with several workers logging
	// in to one My Domain over HTTP/1.1, every other login would open a new TLS session.
	t.MaxIdleConnsPerHost = maxIdleConnsPerHost
	return &http.Client{Transport: t, Timeout: timeout, CheckRedirect: noRedirects}
}

// noRedirects stops net/http from following a 3xx. A redirect of a token POST would replay
// the credentials body (password, client secret, refresh token) to whatever host the
// Location names; the 3xx is reported as a Retryable error instead.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

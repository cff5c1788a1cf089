package salesforce

import (
	"net/http"
	"time"

	"k8s.io/utils/clock"
)

const (
	// DefaultTimeout bounds one token request end to end. Salesforce answers in well under
	// a second; 30s leaves room for a slow pod without letting a hung connection hold a
	// reconcile worker for long.
	DefaultTimeout = 30 * time.Second
	// DefaultUserAgent lets a Salesforce admin tell the operator's logins apart in Login
	// History.
	DefaultUserAgent = "sfconn-operator"
)

// Option configures NewClient.
type Option func(*config)

type config struct {
	httpClient *http.Client
	timeout    time.Duration
	timeoutSet bool
	clock      clock.PassiveClock
	userAgent  string
}

// WithHTTPClient makes the client send requests through hc (a proxy, a custom root CA, a
// test server's client). hc is copied, not modified: the copy never follows redirects,
// whatever hc.CheckRedirect says, because following one would resend the credentials
// body to another host.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *config) {
		if hc != nil {
			c.httpClient = hc
		}
	}
}

// WithTimeout sets the overall timeout of one token request (DefaultTimeout if unset).
// A zero or negative d is ignored: a token request without any deadline could hang a
// reconcile forever.
func WithTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.timeout = d
			c.timeoutSet = true
		}
	}
}

// WithClock sets the clock read for the receive time of answers and for the iat and exp
// claims of JWT assertions, so tests can pin both.
func WithClock(k clock.PassiveClock) Option {
	return func(c *config) {
		if k != nil {
			c.clock = k
		}
	}
}

// WithUserAgent replaces DefaultUserAgent, e.g. to add the operator's version.
func WithUserAgent(ua string) Option {
	return func(c *config) {
		if ua != "" {
			c.userAgent = ua
		}
	}
}

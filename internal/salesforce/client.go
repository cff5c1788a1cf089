package salesforce

import (
	"context"
	"net/http"

	"k8s.io/utils/clock"
)

// HTTPClient is the Client that talks to Salesforce over HTTPS. It is safe for concurrent
// use; create one per process and share it, so connections are reused.
type HTTPClient struct {
	http      *http.Client
	clock     clock.PassiveClock
	userAgent string
}

var _ Client = (*HTTPClient)(nil)

// NewClient returns a Client with sane transport defaults (see the Options).
func NewClient(opts ...Option) *HTTPClient {
	cfg := config{timeout: DefaultTimeout, clock: clock.RealClock{}, userAgent: DefaultUserAgent}
	for _, o := range opts {
		o(&cfg)
	}

	var hc *http.Client
	if cfg.httpClient == nil {
		hc = newHTTPClient(cfg.timeout)
	} else {
		// A shallow copy shares the caller's transport (and its connection pool) but lets us
		// force the redirect policy and timeout without changing the caller's client.
		cp := *cfg.httpClient
		cp.CheckRedirect = noRedirects
		if cfg.timeoutSet || cp.Timeout <= 0 {
			cp.Timeout = cfg.timeout
		}
		hc = &cp
	}
	return &HTTPClient{http: hc, clock: cfg.clock, userAgent: cfg.userAgent}
}

// Login runs one token request for req.Grant against req.LoginURL. Every error it returns
// is an *Error whose Class tells the caller whether to retry, wait, or stop.
func (c *HTTPClient) Login(ctx context.Context, req LoginRequest) (*Token, error) {
	ep, err := parseLoginURL(req.LoginURL)
	if err != nil {
		return nil, err
	}
	form, err := c.grantForm(req, ep.host)
	if err != nil {
		return nil, err
	}
	return c.postToken(ctx, ep.tokenURL, req.Grant, form)
}

package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sfconn/sfconn-operator/internal/salesforce"
)

// Values of the grant label: the OAuth flow of a token request, or the endpoint of
// another call. A fixed set, so the label's cardinality is bounded.
const (
	GrantJWTBearer         = "jwt_bearer"
	GrantPassword          = "password"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
	GrantDeviceCode        = "device_code"
	GrantRevoke            = "revoke"
	GrantUserInfo          = "userinfo"
	GrantQuery             = "query"
	GrantIntrospect        = "introspect"
	GrantOther             = "other"
)

// Values of the result label: the class the Salesforce client gave the answer.
const (
	ResultSuccess     = "success"
	ResultTerminal    = "terminal"
	ResultRevoked     = "revoked"
	ResultTransient   = "transient"
	ResultRateLimited = "rate_limited"
	// ResultPending is a device login not approved yet: an expected answer, not an error.
	ResultPending = "pending"
)

// Requests counts and times the operator's calls to Salesforce.
type Requests struct {
	total    *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewRequests makes the request metrics; register them with Register.
func NewRequests() *Requests {
	return &Requests{
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: RequestsTotal,
			Help: "Requests the operator made to Salesforce, by grant (or endpoint) and result.",
		}, []string{"grant", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    RequestDuration,
			Help:    "Duration of the operator's requests to Salesforce, by grant (or endpoint).",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"grant"}),
	}
}

// Collectors returns the metrics to register.
func (m *Requests) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.total, m.duration}
}

// Instrument wraps a Salesforce client so that every call is counted and timed.
func (m *Requests) Instrument(c salesforce.Client) salesforce.Client {
	return &instrumented{next: c, m: m}
}

func (m *Requests) observe(grant string, start time.Time, err error) {
	m.duration.WithLabelValues(grant).Observe(time.Since(start).Seconds())
	m.total.WithLabelValues(grant, result(err)).Inc()
}

func result(err error) string {
	if err == nil {
		return ResultSuccess
	}
	switch salesforce.ClassOf(err) {
	case salesforce.Terminal:
		return ResultTerminal
	case salesforce.Revoked:
		return ResultRevoked
	case salesforce.RateLimited:
		return ResultRateLimited
	case salesforce.Pending:
		return ResultPending
	default:
		return ResultTransient
	}
}

func grantLabel(g salesforce.Grant) string {
	switch g {
	case salesforce.GrantJWTBearer:
		return GrantJWTBearer
	case salesforce.GrantPassword:
		return GrantPassword
	case salesforce.GrantRefreshToken:
		return GrantRefreshToken
	case salesforce.GrantClientCredentials:
		return GrantClientCredentials
	}
	return GrantOther
}

// instrumented is a salesforce.Client that records metrics around another.
type instrumented struct {
	next salesforce.Client
	m    *Requests
}

func (c *instrumented) Login(ctx context.Context, req salesforce.LoginRequest) (*salesforce.Token, error) {
	start := time.Now()
	tok, err := c.next.Login(ctx, req)
	c.m.observe(grantLabel(req.Grant), start, err)
	return tok, err
}

func (c *instrumented) StartDeviceLogin(ctx context.Context, req salesforce.DeviceLoginRequest) (*salesforce.DeviceAuthorization, error) {
	start := time.Now()
	auth, err := c.next.StartDeviceLogin(ctx, req)
	c.m.observe(GrantDeviceCode, start, err)
	return auth, err
}

func (c *instrumented) PollDeviceLogin(ctx context.Context, req salesforce.DeviceLoginRequest, deviceCode string) (*salesforce.Token, error) {
	start := time.Now()
	tok, err := c.next.PollDeviceLogin(ctx, req, deviceCode)
	c.m.observe(GrantDeviceCode, start, err)
	return tok, err
}

func (c *instrumented) Revoke(ctx context.Context, loginURL, token string) error {
	start := time.Now()
	err := c.next.Revoke(ctx, loginURL, token)
	c.m.observe(GrantRevoke, start, err)
	return err
}

func (c *instrumented) UserInfo(ctx context.Context, instanceURL, accessToken string) (*salesforce.UserInfo, error) {
	start := time.Now()
	info, err := c.next.UserInfo(ctx, instanceURL, accessToken)
	c.m.observe(GrantUserInfo, start, err)
	return info, err
}

func (c *instrumented) QueryApprovals(ctx context.Context, instanceURL, accessToken, appName, userID string) ([]salesforce.OAuthApproval, error) {
	start := time.Now()
	approvals, err := c.next.QueryApprovals(ctx, instanceURL, accessToken, appName, userID)
	c.m.observe(GrantQuery, start, err)
	return approvals, err
}

func (c *instrumented) Introspect(ctx context.Context, loginURL, clientID, clientSecret, token string) (*salesforce.Introspection, error) {
	start := time.Now()
	info, err := c.next.Introspect(ctx, loginURL, clientID, clientSecret, token)
	c.m.observe(GrantIntrospect, start, err)
	return info, err
}

package salesforce

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"
)

const (
	// DefaultDeviceScope is asked for when DeviceLoginRequest.Scope is empty: refresh_token
	// is why anyone runs the device flow, api is what the token is for.
	DefaultDeviceScope = "refresh_token api"
	// DefaultDeviceInterval is used when the answer has no usable interval (absent, or under a
	// second): RFC 8628's default. Salesforce documents none
	// (docs/salesforce-behaviour.md#device-flow).
	DefaultDeviceInterval = 5 * time.Second
	// DefaultDeviceLifetime is used when the answer has no expires_in. Salesforce does not
	// document the lifetime of a device code, and its answers show no expires_in
	// (docs/salesforce-behaviour.md#device-flow); 10 minutes is the usual value and only
	// decides when a caller stops polling.
	DefaultDeviceLifetime = 10 * time.Minute

	// Caps on what the answer may announce, so a bogus value can neither overflow a
	// time.Duration nor park a poller for days.
	maxDeviceInterval = time.Hour
	maxDeviceLifetime = 24 * time.Hour
)

// The device flow is not a Grant that Login accepts: it needs a person to approve, so it
// has its own methods. These labels tell classifyFailure which request was answered.
const (
	// grantDevice is the poll, grant_type=device.
	grantDevice Grant = "device"
	// grantDeviceStart is the start, response_type=device_code.
	grantDeviceStart Grant = "device_code"
)

// StartDeviceLogin asks Salesforce for a device code and a user code (the device flow's
// first step, docs/salesforce-behaviour.md#device-flow). Salesforce blocks the flow for
// uninstalled apps and the Salesforce CLI has deprecated it
// (docs/salesforce-behaviour.md#device-flow-restrictions), so it suits a person
// bootstrapping a refresh token, not unattended renewal. Every error is an *Error.
func (c *HTTPClient) StartDeviceLogin(ctx context.Context, req DeviceLoginRequest) (*DeviceAuthorization, error) {
	ep, err := parseLoginURL(req.LoginURL)
	if err != nil {
		return nil, err
	}
	if err := require(grantDeviceStart, field{"client_id", req.ClientID}); err != nil {
		return nil, err
	}
	scope := strings.TrimSpace(req.Scope)
	if scope == "" {
		scope = DefaultDeviceScope
	}
	// No client_secret: the start request authenticates nothing, and a secret sent where
	// it is not needed is one more place it can leak.
	form := url.Values{
		"response_type": {"device_code"},
		"client_id":     {req.ClientID},
		"scope":         {scope},
	}
	r, err := c.postForm(ctx, ep.tokenURL, form, "token request")
	if err != nil {
		return nil, err
	}
	if r.status != http.StatusOK {
		return nil, classifyFailure(grantDeviceStart, r.status, r.body, formSecrets(form))
	}
	return parseDeviceAnswer(r.body, r.receivedAt)
}

// PollDeviceLogin asks whether the user has approved deviceCode. Until they have, the
// error's class is Pending (poll again after the interval; IsSlowDown says to lengthen
// it); a refused or expired code is Terminal, and the flow must start over. The token
// normally carries a RefreshToken; it is empty when the app does not grant the
// refresh_token scope, which the caller must treat as a failed bootstrap.
func (c *HTTPClient) PollDeviceLogin(ctx context.Context, req DeviceLoginRequest, deviceCode string) (*Token, error) {
	ep, err := parseLoginURL(req.LoginURL)
	if err != nil {
		return nil, err
	}
	if err := require(grantDevice,
		field{"client_id", req.ClientID},
		field{"device_code", deviceCode},
	); err != nil {
		return nil, err
	}
	form := url.Values{
		"grant_type": {string(grantDevice)},
		"code":       {deviceCode},
		"client_id":  {req.ClientID},
	}
	// As with the refresh grant: an absent secret is not checked, an empty one would be.
	if req.ClientSecret != "" {
		form.Set("client_secret", req.ClientSecret)
	}
	return c.postToken(ctx, ep.tokenURL, grantDevice, form)
}

// deviceAnswer is the start answer. interval and expires_in are raw so a string of digits
// is read as well as a number.
type deviceAnswer struct {
	DeviceCode      string          `json:"device_code"`
	UserCode        string          `json:"user_code"`
	VerificationURI string          `json:"verification_uri"`
	Interval        json.RawMessage `json:"interval"`
	ExpiresIn       json.RawMessage `json:"expires_in"`
}

// parseDeviceAnswer reads an HTTP 200 start answer. The three codes are required: without
// any of them the flow cannot go on. Errors never quote the body: it holds the device code.
func parseDeviceAnswer(body []byte, receivedAt time.Time) (*DeviceAuthorization, error) {
	var a deviceAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, malformed(body)
	}
	for _, f := range []field{
		{"device_code", a.DeviceCode},
		{"user_code", a.UserCode},
		{"verification_uri", a.VerificationURI},
	} {
		if strings.TrimSpace(f.value) == "" {
			return nil, &Error{Class: Retryable, StatusCode: http.StatusOK, Message: "malformed answer: no " + f.name}
		}
	}
	d := &DeviceAuthorization{
		DeviceCode:      a.DeviceCode,
		UserCode:        a.UserCode,
		VerificationURI: a.VerificationURI,
		Interval:        DefaultDeviceInterval,
		ExpiresAt:       receivedAt.Add(DefaultDeviceLifetime),
	}
	if v, ok := seconds(a.Interval, maxDeviceInterval); ok {
		d.Interval = v
	}
	if v, ok := seconds(a.ExpiresIn, maxDeviceLifetime); ok {
		d.ExpiresAt = receivedAt.Add(v)
	}
	return d, nil
}

// seconds reads a positive whole number of seconds, capped at limit; ok is false when it
// is absent, zero, negative or not a whole number.
func seconds(v json.RawMessage, limit time.Duration) (time.Duration, bool) {
	_, n, ok := parsePositiveInt(v)
	if !ok {
		return 0, false
	}
	if n > int64(limit/time.Second) {
		return limit, true
	}
	return time.Duration(n) * time.Second, true
}

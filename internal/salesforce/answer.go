package salesforce

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"time"
)

// maxIssuedAtAge is how far before the receive time an issued_at may be and still be
// believed: no session outlives 24 hours. An older value (a broken clock, a bogus field)
// would make a fresh token look expired and send the operator into a login loop that
// burns the user's 3,600-per-hour quota, so the receive time is used instead
// (docs/salesforce-behaviour.md#lifetime-is-the-session-timeout).
const maxIssuedAtAge = 24 * time.Hour

// tokenAnswer is the success body. issued_at is raw because Salesforce sends a string of
// epoch milliseconds, while its JWT-format token answers send a number
// (docs/salesforce-behaviour.md#issued_at-is-a-string-of-epoch-milliseconds).
type tokenAnswer struct {
	AccessToken    string          `json:"access_token"`
	RefreshToken   string          `json:"refresh_token"`
	InstanceURL    string          `json:"instance_url"`
	APIInstanceURL string          `json:"api_instance_url"`
	ID             string          `json:"id"`
	TokenType      string          `json:"token_type"`
	Scope          string          `json:"scope"`
	Signature      string          `json:"signature"`
	IssuedAt       json.RawMessage `json:"issued_at"`
}

// parseTokenAnswer reads an HTTP 200 body. Only access_token is required: every other
// field is missing from at least one grant's answer, and the id-derived org and user ids
// are informational, so a surprise there must not fail a login that Salesforce counted.
// Errors never quote the body: it holds the access token.
func parseTokenAnswer(body []byte, receivedAt time.Time) (*Token, error) {
	var a tokenAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, malformed(body)
	}
	if a.AccessToken == "" {
		return nil, &Error{Class: Retryable, StatusCode: http.StatusOK, Message: "malformed answer: no access_token"}
	}
	t := &Token{
		AccessToken:    a.AccessToken,
		RefreshToken:   a.RefreshToken,
		InstanceURL:    a.InstanceURL,
		APIInstanceURL: a.APIInstanceURL,
		TokenType:      a.TokenType,
		ID:             a.ID,
		Scope:          a.Scope,
		Signature:      a.Signature,
		IssuedAt:       receivedAt,
	}
	raw, ms, ok := parsePositiveInt(a.IssuedAt)
	t.IssuedAtRaw = raw
	if ok {
		if at := time.UnixMilli(ms); at.Before(receivedAt) && receivedAt.Sub(at) <= maxIssuedAtAge {
			t.IssuedAt = at
		}
	}
	if a.ID != "" {
		if org, user, err := ParseIdentityURL(a.ID); err == nil {
			t.OrgID, t.UserID = org, user
		}
	}
	return t, nil
}

// parsePositiveInt reads a whole number sent as a JSON number or a string of digits:
// issued_at is a string of milliseconds, but a number in JWT-format answers, and the
// device flow's interval and expires_in are numbers that a proxy could stringify. raw is
// the value as sent (what the signature covers); ok is false when it is absent or not a
// positive integer.
func parsePositiveInt(v json.RawMessage) (raw string, ms int64, ok bool) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || string(v) == "null" {
		return "", 0, false
	}
	if v[0] == '"' {
		if err := json.Unmarshal(v, &raw); err != nil {
			return "", 0, false
		}
	} else if v[0] == '-' || (v[0] >= '0' && v[0] <= '9') {
		raw = string(v)
	} else {
		return "", 0, false
	}
	if n, err := strconv.ParseInt(raw, 10, 64); err == nil {
		return raw, n, n > 0
	}
	// 1.609942615640e12 is valid JSON for the same instant; accept whole numbers only.
	f, err := strconv.ParseFloat(raw, 64)
	if err != nil || f <= 0 || f >= math.MaxInt64 || f != math.Trunc(f) {
		return raw, 0, false
	}
	return raw, int64(f), true
}

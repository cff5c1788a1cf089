package emulator

import (
	"maps"
	"slices"
	"time"
)

// maxRequestLog bounds the request log so a long demo does not grow without limit.
const maxRequestLog = 10000

// RequestRecord is one request as the emulator saw it. It never holds a secret: no
// password, client secret, assertion, code or token.
type RequestRecord struct {
	Time     time.Time `json:"time"`
	Endpoint string    `json:"endpoint"`
	Method   string    `json:"method"`
	// Grant is the grant_type (or "device_code" for a device authorization request).
	Grant    string `json:"grant,omitempty"`
	ClientID string `json:"clientId,omitempty"`
	Username string `json:"username,omitempty"`
	// Status is the HTTP status sent, 0 when the connection was reset or the client left.
	Status int `json:"status"`
	// Error is the OAuth error code and description of a failed request.
	Error string `json:"error,omitempty"`
	// Fault names the injected fault that shaped the answer, if any.
	Fault string `json:"fault,omitempty"`
	// Login is true for a token request that minted an access token.
	Login bool `json:"login,omitempty"`
}

// Stats counts requests since the emulator started or ResetStats.
type Stats struct {
	// TokenRequests counts every request to the token endpoint, faulted ones included.
	TokenRequests         int            `json:"tokenRequests"`
	TokenRequestsByGrant  map[string]int `json:"tokenRequestsByGrant"`
	TokenRequestsByClient map[string]int `json:"tokenRequestsByClient"`
	TokenRequestsByUser   map[string]int `json:"tokenRequestsByUser"`
	// SuccessfulLogins counts token requests that minted an access token.
	SuccessfulLogins        int            `json:"successfulLogins"`
	SuccessfulLoginsByGrant map[string]int `json:"successfulLoginsByGrant"`
	SuccessfulLoginsByUser  map[string]int `json:"successfulLoginsByUser"`
	// Requests is the request log, oldest first (at most the last 10,000).
	Requests []RequestRecord `json:"requests"`
}

type statsState struct{ Stats }

func (s *statsState) reset() {
	s.Stats = Stats{
		TokenRequestsByGrant:    map[string]int{},
		TokenRequestsByClient:   map[string]int{},
		TokenRequestsByUser:     map[string]int{},
		SuccessfulLoginsByGrant: map[string]int{},
		SuccessfulLoginsByUser:  map[string]int{},
	}
}

func (s *statsState) add(r RequestRecord) {
	if r.Endpoint == EndpointToken {
		s.TokenRequests++
		if r.Grant != "" {
			s.TokenRequestsByGrant[r.Grant]++
		}
		if r.ClientID != "" {
			s.TokenRequestsByClient[r.ClientID]++
		}
		if r.Username != "" {
			s.TokenRequestsByUser[r.Username]++
		}
		if r.Login {
			s.SuccessfulLogins++
			s.SuccessfulLoginsByGrant[r.Grant]++
			s.SuccessfulLoginsByUser[r.Username]++
		}
	}
	if len(s.Requests) >= maxRequestLog {
		s.Requests = slices.Delete(s.Requests, 0, len(s.Requests)-maxRequestLog+1)
	}
	s.Requests = append(s.Requests, r)
}

// Stats returns a copy of the counters and the request log.
func (e *Emulator) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.stats.Stats
	c.TokenRequestsByGrant = maps.Clone(c.TokenRequestsByGrant)
	c.TokenRequestsByClient = maps.Clone(c.TokenRequestsByClient)
	c.TokenRequestsByUser = maps.Clone(c.TokenRequestsByUser)
	c.SuccessfulLoginsByGrant = maps.Clone(c.SuccessfulLoginsByGrant)
	c.SuccessfulLoginsByUser = maps.Clone(c.SuccessfulLoginsByUser)
	c.Requests = slices.Clone(c.Requests)
	return c
}

// ResetStats zeroes the counters and clears the request log. Approvals, sessions and the
// login-rate window are untouched.
func (e *Emulator) ResetStats() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stats.reset()
}

func (e *Emulator) record(r RequestRecord) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r.Time = e.now()
	e.stats.add(r)
}

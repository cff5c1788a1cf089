package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"net/http/httptest"
	"sort"
	"sync"
	"time"

	"github.com/sfconn/sfconn-operator/internal/salesforce/emulator"
)

// Grants the benchmark can use: none makes an approval, so Salesforce's five-approval
// limit does not apply to thousands of connections of one user. The password flow is the
// expiry phase's: its tokens cannot be introspected, so spec.sessionTimeout alone sets
// their expiry, which the harness moves to make N tokens expire together.
const (
	grantJWT               = "jwt"
	grantClientCredentials = "client-credentials"
	grantPassword          = "password"
)

// freezableClock is the emulator's clock. Frozen, every token the emulator issues says it
// was issued at the same instant (password and client credentials answers carry
// issued_at), which is how
// the expiry phase makes N tokens expire at the same moment.
type freezableClock struct {
	mu     sync.Mutex
	frozen time.Time
}

func (c *freezableClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.frozen.IsZero() {
		return c.frozen
	}
	return time.Now()
}

func (c *freezableClock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

func (c *freezableClock) freeze(at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.frozen = at
}

func (c *freezableClock) thaw() { c.freeze(time.Time{}) }

// salesforce is the in-process Salesforce emulator: one org, one connected app, one user.
type salesforce struct {
	emu   *emulator.Emulator
	clock *freezableClock
	srv   *httptest.Server

	clientID      string
	clientSecret  string
	username      string
	password      string
	privateKeyPEM string
}

// startSalesforce starts the emulator. session is the org's session timeout, which
// introspection reports: the same as the connections' spec.sessionTimeout, as in an org
// whose connections are configured right.
func startSalesforce(latency, session time.Duration) (*salesforce, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	secret := make([]byte, 24)
	_, _ = rand.Read(secret)
	s := &salesforce{
		clock:         &freezableClock{},
		clientID:      "3MVG9-bench-consumer-key",
		clientSecret:  hex.EncodeToString(secret),
		username:      "bench@sfconn.example",
		password:      hex.EncodeToString(secret[:12]),
		privateKeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
	}
	state := emulator.State{
		Orgs: []emulator.Org{{SessionTimeout: emulator.Duration(session)}},
		Apps: []emulator.ConnectedApp{{
			ClientID: s.clientID, ClientSecret: s.clientSecret, Name: "sfconn bench",
			PublicKeyPEM:          string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})),
			AdminApproved:         true,
			PreAuthorizedUsers:    []string{s.username},
			ClientCredentialsUser: s.username,
		}},
		// No security token: the user logs in from a trusted IP range.
		Users: []emulator.User{{Username: s.username, Password: s.password}},
	}
	// Salesforce allows a user 3,600 logins per rolling hour; one user behind 5,000
	// connections is past it by design of the benchmark, so the cap is off here (the
	// report says what it would mean in a real org).
	s.emu = emulator.New(emulator.WithClock(s.clock), emulator.WithLoginRateLimit(-1), emulator.WithState(state))
	if latency > 0 {
		if err := s.emu.InjectFault(emulator.Fault{Endpoint: emulator.EndpointToken, Delay: emulator.Duration(latency)}); err != nil {
			return nil, err
		}
	}
	s.srv = httptest.NewServer(s.emu.Handler())
	return s, nil
}

func (s *salesforce) url() string { return s.srv.URL }

func (s *salesforce) close() { s.srv.Close() }

// tokenRequests is the number of token-endpoint requests since the last reset.
func (s *salesforce) tokenRequests() int { return s.emu.Stats().TokenRequests }

// loginTimes returns the times of the successful logins in the request log, sorted.
func (s *salesforce) loginTimes() []time.Time {
	var out []time.Time
	for _, r := range s.emu.Stats().Requests {
		if r.Endpoint == emulator.EndpointToken && r.Login {
			out = append(out, r.Time)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out
}

// peakPerSecond is the largest number of times within one wall-clock second.
func peakPerSecond(times []time.Time) int {
	counts := map[int64]int{}
	peak := 0
	for _, t := range times {
		s := t.Unix()
		counts[s]++
		peak = max(peak, counts[s])
	}
	return peak
}

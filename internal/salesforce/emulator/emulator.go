package emulator

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// Emulator holds the whole emulated Salesforce: orgs, connected apps, users, approvals,
// sessions, injected faults and statistics. All methods are safe for concurrent use.
type Emulator struct {
	clock              clock.PassiveClock
	defaultInstanceURL string
	defaultLoginLimit  int
	approvalLimit      int
	extendSessions     bool
	adminAPI           bool

	mu        sync.Mutex
	seq       uint64 // generated IDs and ordering
	lastOrgID string // the org PutOrg just stored
	orgs      map[string]*Org
	apps      map[string]*appEntry
	users     map[string]*User // by lower-cased username: Salesforce usernames are case-insensitive

	approvals     map[string]*approval // by approval ID
	refreshTokens map[string]string    // current refresh token → approval ID
	retired       map[string]string    // rotated-out refresh token → approval ID (RTR replay)
	sessions      map[string]*session  // access token → session
	pruneAt       int                  // session count that triggers the next prune
	codes         map[string]*authCode
	devices       map[string]*deviceGrant // by device_code
	userCodes     map[string]string       // user_code → device_code
	logins        map[string][]time.Time  // username → successful login times (rate limit)
	apiCalls      map[string][]time.Time  // org ID → authenticated REST calls of the last 24h (limits)

	faults    []*faultEntry
	delayHook func() // tests: called when a delay fault starts waiting
	stats     statsState

	myDomain  http.Handler
	loginHost http.Handler
}

// Option configures an Emulator.
type Option func(*Emulator)

// WithClock sets the clock for every time the emulator keeps: issued_at, session expiry,
// approval dates, refresh token policies, authorization and device code expiry and the
// login-rate window. Fault delays alone run on real time, since they stand for a slow
// network. Default: the real clock.
func WithClock(c clock.PassiveClock) Option { return func(e *Emulator) { e.clock = c } }

// WithState loads orgs, apps and users. It panics on an invalid state: it is meant for
// literal test fixtures; use Apply for data read at run time.
func WithState(s State) Option {
	return func(e *Emulator) {
		if err := e.Apply(s); err != nil {
			panic("emulator.WithState: " + err.Error())
		}
	}
}

// WithDefaultInstanceURL sets instance_url for orgs that configure none. Without it such orgs
// answer with the scheme and host of the request, which is right for a single listener;
// the standalone binary points it at its My Domain listener so logins on the login-host
// listener still send clients to the My Domain one.
func WithDefaultInstanceURL(u string) Option {
	return func(e *Emulator) { e.defaultInstanceURL = trimSlash(u) }
}

// WithLoginRateLimit sets the default per-user logins per rolling hour (default 3,600,
// docs/salesforce-behaviour.md#login-rate-limit-3600-per-user-per-hour); negative disables
// the cap. User.LoginRateLimit overrides it.
func WithLoginRateLimit(n int) Option { return func(e *Emulator) { e.defaultLoginLimit = n } }

// WithApprovalLimit changes the five-approval rule's limit
// (docs/salesforce-behaviour.md#five-approvals-per-user-per-connected-app); 0 means no
// limit. Only for experiments: the default 5 is what Salesforce documents.
func WithApprovalLimit(n int) Option { return func(e *Emulator) { e.approvalLimit = n } }

// WithInactivityExtension sets whether a successful REST or userinfo call moves a session's
// expiry forward. Salesforce's session timeout is an inactivity timeout
// (docs/salesforce-behaviour.md#the-session-timeout-is-an-inactivity-timeout), so the
// default is true; false gives every access token a fixed life of one timeout.
func WithInactivityExtension(on bool) Option { return func(e *Emulator) { e.extendSessions = on } }

// WithoutAdminAPI removes the /_emulator/ routes from both handlers.
func WithoutAdminAPI() Option { return func(e *Emulator) { e.adminAPI = false } }

// New returns an emulator with no orgs, apps or users unless options add them.
func New(opts ...Option) *Emulator {
	e := &Emulator{
		clock:             clock.RealClock{},
		defaultLoginLimit: DefaultLoginRateLimit,
		approvalLimit:     DefaultApprovalLimit,
		extendSessions:    true,
		adminAPI:          true,
		orgs:              map[string]*Org{},
		apps:              map[string]*appEntry{},
		users:             map[string]*User{},
		approvals:         map[string]*approval{},
		refreshTokens:     map[string]string{},
		retired:           map[string]string{},
		sessions:          map[string]*session{},
		pruneAt:           1024,
		codes:             map[string]*authCode{},
		devices:           map[string]*deviceGrant{},
		userCodes:         map[string]string{},
		logins:            map[string][]time.Time{},
		apiCalls:          map[string][]time.Time{},
	}
	e.stats.reset()
	for _, o := range opts {
		o(e)
	}
	e.myDomain = e.newMux(hostMyDomain)
	e.loginHost = e.newMux(hostLogin)
	return e
}

// Handler serves the emulator as an org's My Domain host (https://x.my.salesforce.com),
// where every grant, including client credentials, is allowed.
func (e *Emulator) Handler() http.Handler { return e.myDomain }

// LoginHostHandler serves the same state as the generic login host (login.salesforce.com or
// test.salesforce.com), where the client-credentials grant answers invalid_grant / request
// not supported on this domain
// (docs/salesforce-behaviour.md#client-credentials-only-on-my-domain).
func (e *Emulator) LoginHostHandler() http.Handler { return e.loginHost }

// NewServer starts a plain-HTTP httptest server serving Handler (the My Domain host).
// The caller closes it.
func (e *Emulator) NewServer() *httptest.Server { return httptest.NewServer(e.myDomain) }

// NewTLSServer starts an HTTPS httptest server serving Handler; use its Client() to trust it.
func (e *Emulator) NewTLSServer() *httptest.Server { return httptest.NewTLSServer(e.myDomain) }

// NewLoginServer starts a plain-HTTP httptest server serving LoginHostHandler.
func (e *Emulator) NewLoginServer() *httptest.Server { return httptest.NewServer(e.loginHost) }

func (e *Emulator) now() time.Time { return e.clock.Now() }

func trimSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}

package main

import "fmt"

// result is everything measured for one N.
type result struct {
	N             int    `json:"n"`
	Grant         string `json:"grant"`
	MaxConcurrent int    `json:"maxConcurrentReconciles"`
	// LatencySeconds is the delay added to each answer of the token endpoint.
	LatencySeconds float64 `json:"salesforceLatencySeconds,omitempty"`
	WallSeconds    float64 `json:"wallSeconds"`

	// FloorSeconds is the harness making the API server's floor of 4N writes itself: per
	// connection its credentials Secret, the connection, a token Secret and a status patch.
	// (Before issue 17 it was the operator's 2N writes only, under the same name.)
	FloorSeconds float64 `json:"floorSeconds"`
	// CredentialsSeconds is the harness creating the N credentials Secrets, before the
	// clock of AllReadySeconds starts.
	CredentialsSeconds float64 `json:"credentialsSeconds"`
	// CreateSeconds is the harness creating the N connections.
	CreateSeconds float64 `json:"createSeconds"`
	// AllReadySeconds is from the first create until a list shows all N Ready.
	AllReadySeconds float64 `json:"allReadySeconds"`
	// ReadyP50 and ReadyP99 are from creationTimestamp to the Ready condition's
	// lastTransitionTime (whole seconds both).
	ReadyP50 float64 `json:"readyP50Seconds"`
	ReadyP99 float64 `json:"readyP99Seconds"`
	// SettledSeconds is from the first create until the manager is idle.
	SettledSeconds float64 `json:"settledSeconds"`
	// TokenRequests is the emulator's token requests while the N connections were created.
	TokenRequests int         `json:"tokenRequests"`
	CreateWrites  writeCounts `json:"createWrites"`
	CreateReads   readCounts  `json:"createReads"`
	// CreateReconciles and CreateCPUSeconds are the manager's reconciles and CPU time
	// from the first create until it was idle.
	CreateReconciles float64 `json:"createReconciles"`
	CreateCPUSeconds float64 `json:"createCPUSeconds"`
	// Memory is the manager's, with N connections Ready and idle.
	Memory memory `json:"memory"`
	// StatusBytes is the JSON size of an operator-written status, FloorStatusBytes that of
	// the floor's patch: the floor is fair when they are alike.
	StatusBytes      int `json:"statusBytes"`
	FloorStatusBytes int `json:"floorStatusBytes"`
	// Scrape is one /metrics request with N connections.
	Scrape scrapeCost `json:"scrape"`

	Rest      *restResult      `json:"rest,omitempty"`
	Restart   *restartResult   `json:"restart,omitempty"`
	Unrelated *unrelatedResult `json:"unrelated,omitempty"`
	Expiry    []*expiryResult  `json:"expiry,omitempty"`

	CPUProfile  string `json:"cpuProfile,omitempty"`
	HeapProfile string `json:"heapProfile,omitempty"`

	Notes  []string `json:"notes,omitempty"`
	Errors []string `json:"errors,omitempty"`
}

type restResult struct {
	Seconds       float64     `json:"seconds"`
	Writes        writeCounts `json:"writes"`
	TokenRequests int         `json:"tokenRequests"`
}

type restartResult struct {
	// Seconds is from the new process's start until it has reconciled N times;
	// SettledSeconds until it is idle.
	Seconds        float64 `json:"seconds"`
	SettledSeconds float64 `json:"settledSeconds"`
	// Reconciles and CPUSeconds are the new process's, until it was idle.
	Reconciles    float64     `json:"reconciles"`
	CPUSeconds    float64     `json:"cpuSeconds"`
	TokenRequests int         `json:"tokenRequests"`
	Writes        writeCounts `json:"writes"`
	Reads         readCounts  `json:"reads"`
}

type unrelatedResult struct {
	Count         int         `json:"count"`
	CreateSeconds float64     `json:"createSeconds"`
	Before        memory      `json:"before"`
	After         memory      `json:"after"`
	Writes        writeCounts `json:"writes"`
}

type expiryResult struct {
	SalesforceQPS   float64 `json:"salesforceQPS"`
	SalesforceBurst int     `json:"salesforceBurst,omitempty"`
	SessionTimeout  string  `json:"sessionTimeout"`
	RenewBefore     string  `json:"renewBefore"`
	// Users is how many Salesforce users the connections log in as.
	Users int `json:"users,omitempty"`
	// SetupSeconds is how long the N frozen-clock logins took, until the manager was idle;
	// SetupTokenRequests how many there were (N when none renewed early).
	SetupSeconds       float64 `json:"setupSeconds"`
	SetupTokenRequests int     `json:"setupTokenRequests"`
	// TokenRequests and Logins (successful) are those of the renewal wave.
	TokenRequests int `json:"tokenRequests"`
	Logins        int `json:"logins"`
	PeakPerSecond int `json:"peakLoginsPerSecond"`
	// SpreadSeconds is from the first renewal login to the last.
	SpreadSeconds float64 `json:"spreadSeconds"`
	// FirstLoginBeforeExpiry is how long before the common expiry the first renewal came.
	FirstLoginBeforeExpiry float64     `json:"firstLoginBeforeExpirySeconds"`
	Late                   int         `json:"late"`
	MaxLateSeconds         float64     `json:"maxLateSeconds"`
	Writes                 writeCounts `json:"writes"`
	Reads                  readCounts  `json:"reads"`
	Reconciles             float64     `json:"reconciles"`
	CPUSeconds             float64     `json:"cpuSeconds"`
	Seconds                float64     `json:"seconds"`
}

func (r *result) fail(phase string, err error) {
	r.Errors = append(r.Errors, fmt.Sprintf("%s: %v", phase, err))
}

func (r *result) note(s string) { r.Notes = append(r.Notes, s) }

// loginsPerConnection is the token requests of one token lifetime (creation and the rest
// window) per connection.
func (r *result) loginsPerConnection() float64 {
	total := r.TokenRequests
	if r.Rest != nil {
		total += r.Rest.TokenRequests
	}
	return float64(total) / float64(r.N)
}

// floorRatio is the time until all are Ready over the floor of four writes per
// connection, measured in the same run.
func (r *result) floorRatio() float64 {
	if r.FloorSeconds == 0 {
		return 0
	}
	return r.AllReadySeconds / r.FloorSeconds
}

// floorRatioWithCredentials counts the harness's creation of the credentials Secrets in,
// as the floor does: the stricter of the two ratios.
func (r *result) floorRatioWithCredentials() float64 {
	if r.FloorSeconds == 0 {
		return 0
	}
	return (r.CredentialsSeconds + r.AllReadySeconds) / r.FloorSeconds
}

// check returns the count targets that this result misses. Times are never checked.
func (r *result) check() []string {
	var out []string
	for _, e := range r.Errors {
		out = append(out, fmt.Sprintf("N=%d: %s", r.N, e))
	}
	if r.TokenRequests+restTokenRequests(r) != r.N {
		out = append(out, fmt.Sprintf("N=%d: %.2f logins per connection, want 1.00", r.N, r.loginsPerConnection()))
	}
	if r.Rest == nil {
		out = append(out, fmt.Sprintf("N=%d: the rest phase did not run", r.N))
	} else if w := r.Rest.Writes; w.Total()+w.Events > 0 {
		out = append(out, fmt.Sprintf("N=%d: %d writes at rest (%s), want 0", r.N, w.Total()+w.Events, w))
	}
	if r.Restart == nil {
		out = append(out, fmt.Sprintf("N=%d: the restart phase did not run", r.N))
	} else if r.Restart.TokenRequests != 0 {
		out = append(out, fmt.Sprintf("N=%d: %d logins after the restart, want 0", r.N, r.Restart.TokenRequests))
	}
	return out
}

func restTokenRequests(r *result) int {
	if r.Rest == nil {
		return 0
	}
	return r.Rest.TokenRequests
}

func (w writeCounts) String() string {
	return fmt.Sprintf("secrets %d, status %d, events %d, other %d, leases %d, refused %d",
		w.Secrets, w.Status, w.Events, w.Other, w.Leases, w.Failed)
}

// perConnection says how many per-connection series a scrape carried for each of n
// connections: what every Prometheus that scrapes the operator stores.
func (s scrapeCost) perConnection(n int) string {
	if n == 0 {
		return "- series per connection"
	}
	return fmt.Sprintf("%.2f series per connection", float64(s.ConnectionSeries)/float64(n))
}

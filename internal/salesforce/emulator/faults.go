package emulator

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Endpoints, as named by faults and the request log.
const (
	EndpointToken      = "token"
	EndpointRevoke     = "revoke"
	EndpointIntrospect = "introspect"
	EndpointUserInfo   = "userinfo"
	EndpointData       = "data"
	EndpointIdentity   = "identity"
)

var endpoints = []string{EndpointToken, EndpointRevoke, EndpointIntrospect, EndpointUserInfo, EndpointData, EndpointIdentity}

// Fault makes matching requests fail the way a real network or a Salesforce outage does, so
// tests can check that the client retries 5xx and transport errors
// (docs/salesforce-behaviour.md#answers-that-are-not-salesforces). A fault applies in this
// order: Delay, then Reset, Malformed or Status; a fault with only a Delay answers normally
// once the delay is over.
type Fault struct {
	// Endpoint limits the fault to one endpoint (token, revoke, introspect, userinfo, data,
	// identity); empty matches them all. The admin API is never faulted.
	Endpoint string `json:"endpoint,omitempty"`
	// ClientID limits the fault to requests that carry this consumer key (the token,
	// revoke and introspect endpoints); empty matches every request. Tests that share one
	// emulator use it so that a fault meant for one connection does not slow the others.
	ClientID string `json:"clientID,omitempty"`
	// Count is how many requests the fault applies to; 0 means until ClearFaults.
	Count int `json:"count,omitempty"`
	// Status answers with this HTTP status. Body defaults to a maintenance HTML page for
	// 5xx (what Salesforce shows during outages) and to a JSON OAuth error otherwise.
	Status      int    `json:"status,omitempty"`
	Body        string `json:"body,omitempty"`
	ContentType string `json:"contentType,omitempty"`
	// Delay holds the answer back for this long on the real clock (it models a slow
	// network, not Salesforce time). A client that gives up ends the wait at once.
	Delay Duration `json:"delay,omitempty"`
	// Malformed answers 200 with a truncated JSON body.
	Malformed bool `json:"malformed,omitempty"`
	// Reset closes the connection without an answer (a TCP reset where possible).
	Reset bool `json:"reset,omitempty"`
}

type faultEntry struct {
	Fault
	used int
}

// maintenancePage stands in for the HTML page Salesforce serves during maintenance: what
// matters to a client is that a 503 can carry HTML rather than JSON.
const maintenancePage = `<!DOCTYPE html>
<html><head><title>Salesforce - Down For Maintenance</title></head>
<body><h1>Down For Maintenance</h1>
<p>Salesforce is down for maintenance. Please try again later.</p></body></html>
`

// InjectFault queues a fault. Faults are tried in the order they were injected; the first
// one that matches a request and has uses left applies.
func (e *Emulator) InjectFault(f Fault) error {
	if f.Endpoint != "" {
		known := false
		for _, ep := range endpoints {
			known = known || ep == f.Endpoint
		}
		if !known {
			return fmt.Errorf("unknown endpoint %q (want one of %v or empty)", f.Endpoint, endpoints)
		}
	}
	if f.Count < 0 || f.Delay < 0 || f.Status < 0 || f.Status > 599 || (f.Status > 0 && f.Status < 200) {
		return errors.New("fault: count and delay must not be negative, status must be 200-599")
	}
	if !f.Reset && !f.Malformed && f.Status == 0 && f.Delay == 0 {
		return errors.New("fault: set status, delay, malformed or reset")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = append(e.faults, &faultEntry{Fault: f})
	return nil
}

// ClearFaults removes every queued fault.
func (e *Emulator) ClearFaults() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = nil
}

// Faults lists the queued faults; Count is the number of uses left (0: unlimited).
func (e *Emulator) Faults() []Fault {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := []Fault{}
	for _, f := range e.faults {
		c := f.Fault
		if c.Count > 0 {
			c.Count -= f.used
		}
		out = append(out, c)
	}
	return out
}

func (e *Emulator) takeFault(endpoint, clientID string) *Fault {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, f := range e.faults {
		if (f.Endpoint != "" && f.Endpoint != endpoint) || (f.ClientID != "" && f.ClientID != clientID) {
			continue
		}
		f.used++
		if f.Count > 0 && f.used >= f.Count {
			e.faults = append(e.faults[:i:i], e.faults[i+1:]...)
		}
		c := f.Fault
		return &c
	}
	return nil
}

// applyFault serves the next matching fault, if any. It reports whether the request has
// been answered (or abandoned) and which fault shaped it.
func (e *Emulator) applyFault(w http.ResponseWriter, r *http.Request, endpoint, clientID string) (done bool, kind string) {
	f := e.takeFault(endpoint, clientID)
	if f == nil {
		return false, ""
	}
	if f.Delay > 0 {
		if e.delayHook != nil {
			e.delayHook()
		}
		if !waitReal(r.Context(), time.Duration(f.Delay)) {
			return true, "delay (client gone)"
		}
		kind = "delay"
	}
	switch {
	case f.Reset:
		resetConnection(w)
		return true, "reset"
	case f.Malformed:
		w.Header().Set("Content-Type", jsonContentType)
		status := f.Status
		if status == 0 {
			status = http.StatusOK
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"access_token":"00D000000000001!AQ`))
		return true, "malformed"
	case f.Status != 0:
		body, ct := f.Body, f.ContentType
		if body == "" {
			if f.Status >= 500 {
				body, ct = maintenancePage, "text/html;charset=UTF-8"
			} else {
				body, ct = `{"error":"invalid_request","error_description":"injected fault"}`, jsonContentType
			}
		}
		if ct == "" {
			ct = "text/plain;charset=UTF-8"
		}
		w.Header().Set("Content-Type", ct)
		w.WriteHeader(f.Status)
		_, _ = w.Write([]byte(body))
		return true, fmt.Sprintf("status %d", f.Status)
	}
	return false, kind
}

// waitReal blocks for d of real time, or until ctx ends (the server cancels a request's
// context when the client goes away). It reports whether the full delay elapsed.
func waitReal(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// resetConnection drops the connection without an answer. On a hijackable HTTP/1 connection
// linger 0 turns the close into a TCP RST ("connection reset by peer"); otherwise the
// handler aborts, which net/http turns into a closed connection or a reset HTTP/2 stream.
func resetConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = conn.Close()
}

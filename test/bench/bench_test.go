package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The harness's pure parts; the harness itself runs with `make bench`.

func TestParseMetrics(t *testing.T) {
	m := parseMetrics(`# HELP controller_runtime_reconcile_total Total number of reconciliations
# TYPE controller_runtime_reconcile_total counter
controller_runtime_reconcile_total{controller="salesforceconnection",result="success"} 12
controller_runtime_reconcile_total{controller="salesforceconnection",result="requeue_after"} 3
controller_runtime_reconcile_total{controller="other",result="success"} 100
process_resident_memory_bytes 7.5e+07
sfconn_connection_condition{name="a\"b",namespace="ns",type="Stalled"} 1
sfconn_connection_not_ready{kind="SalesforceConnection",name="c",namespace="ns",reason="Unknown",status="Unknown"} 1
sfconn_salesforce_requests_total{grant="password",result="success"} 4
sfconn_leader 1
`)
	if got := m.sum("controller_runtime_reconcile_total", map[string]string{"controller": controllerName}); got != 15 {
		t.Errorf("reconciles = %v, want 15", got)
	}
	if got := m.sum("process_resident_memory_bytes", nil); got != 7.5e7 {
		t.Errorf("RSS = %v", got)
	}
	if !m.has("sfconn_connection_condition", map[string]string{"name": `a"b`}) {
		t.Error("an escaped label value was not read")
	}
	// Per-connection series only: not the requests or the leader, nor other metrics.
	if got := connectionSeries(m); got != 2 {
		t.Errorf("connection series = %d, want 2", got)
	}
	if got := (scrapeCost{ConnectionSeries: 2}).perConnection(4); got != "0.50 series per connection" {
		t.Errorf("perConnection = %q", got)
	}
}

func TestCheck(t *testing.T) {
	good := &result{N: 10, TokenRequests: 10, Rest: &restResult{Writes: writeCounts{Leases: 30}}, Restart: &restartResult{}}
	if f := good.check(); len(f) != 0 {
		t.Errorf("check() = %v, want nothing", f)
	}
	bad := &result{N: 10, TokenRequests: 11, Rest: &restResult{Writes: writeCounts{Events: 1}}, Restart: &restartResult{TokenRequests: 2}}
	f := strings.Join(bad.check(), "\n")
	for _, want := range []string{"1.10 logins per connection", "1 writes at rest", "2 logins after the restart"} {
		if !strings.Contains(f, want) {
			t.Errorf("check() = %q, want it to say %q", f, want)
		}
	}
	if len((&result{N: 1, TokenRequests: 1}).check()) != 2 {
		t.Error("missing rest and restart phases must fail the check")
	}
}

func TestWriteCounts(t *testing.T) {
	var w writeCounts
	for _, e := range []struct{ resource, subresource string }{
		{"secrets", ""}, {"salesforceconnections", "status"}, {"salesforceconnections", ""}, {"events", ""}, {"leases", ""},
	} {
		w.add(&auditEntry{Verb: "patch", ObjectRef: &auditObjectRef{Resource: e.resource, Subresource: e.subresource}})
	}
	if w != (writeCounts{Secrets: 1, Status: 1, Other: 1, Events: 1, Leases: 1}) || w.Total() != 3 {
		t.Errorf("counts = %+v, total %d", w, w.Total())
	}
}

func TestPeakAndPercentile(t *testing.T) {
	base := time.Unix(1000, 0)
	times := []time.Time{base, base.Add(100 * time.Millisecond), base.Add(900 * time.Millisecond), base.Add(1500 * time.Millisecond)}
	if got := peakPerSecond(times); got != 3 {
		t.Errorf("peak = %d, want 3", got)
	}
	sorted := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	if p50, p99 := percentile(sorted, 50), percentile(sorted, 99); p50 != 5 || p99 != 10 {
		t.Errorf("p50, p99 = %v, %v", p50, p99)
	}
}

// The harness runs in the nested module test/, whose go.mod is not the repository root:
// bin/manager and config/ are found from the operator's go.mod, two levels up.
func TestModuleRoot(t *testing.T) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	want, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if root != want {
		t.Errorf("moduleRoot() = %s, want %s", root, want)
	}
	o, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	if wantOut := filepath.Join(want, "bin", "bench"); o.out != wantOut {
		t.Errorf("default -out = %s, want %s", o.out, wantOut)
	}
}

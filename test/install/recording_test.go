package install

import (
	"context"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/promqltest"
)

// TestRecordingRules evaluates the recording rules of config/prometheus/prometheus_rule.yaml
// on recorded series, as Prometheus would, and compares every series they record.
func TestRecordingRules(t *testing.T) {
	var records []rule
	for _, r := range loadRules(t) {
		if r.Record != "" {
			records = append(records, r)
		}
	}
	// Named level:metric:operations, and listed in recordedMetrics, which the dashboard's
	// queries are checked against.
	names := map[string]bool{}
	for _, r := range records {
		names[r.Record] = true
		if parts := strings.Split(r.Record, ":"); len(parts) != 3 || !strings.HasPrefix(parts[1], "sfconn_") {
			t.Errorf("recording rule %s is not named level:metric:operations", r.Record)
		}
		checkQuery(t, r.Record, r.Expr)
	}
	if got, want := slices.Sorted(maps.Keys(names)), slices.Sorted(maps.Keys(recordedMetrics)); !slices.Equal(got, want) {
		t.Errorf("recording rules record %v, recordedMetrics lists %v", got, want)
	}

	// At minute 10: crm is reported by two replicas (a handover), erp is stalled, new is
	// not reconciled yet, and an older release's zero for Revoked counts as nothing. One
	// refresh_token request a second succeeds, half within 0.1s, all within 0.5s.
	storage := promqltest.LoadedStorage(t, `load 1m
sfconn_token_expiration_timestamp_seconds{kind="SalesforceConnection", namespace="billing", name="crm", pod="a"} 86400x10
sfconn_token_expiration_timestamp_seconds{kind="SalesforceConnection", namespace="billing", name="crm", pod="b"} 86400x10
sfconn_token_expiration_timestamp_seconds{kind="SalesforceConnection", namespace="billing", name="erp", pod="a"} 300x10
sfconn_connection_not_ready{kind="SalesforceConnection", namespace="billing", name="erp", status="False", reason="AuthenticationFailed", pod="a"} 1x10
sfconn_connection_not_ready{kind="SalesforceConnection", namespace="billing", name="new", status="Unknown", reason="Unknown", pod="a"} 1x10
sfconn_token_expiration_timestamp_seconds{kind="SalesforceConnection", namespace="ops", name="jwt", pod="a"} 86400x10
sfconn_token_expiration_timestamp_seconds{kind="ClusterSalesforceConnection", name="crm", pod="a"} 86400x10
sfconn_connection_condition{kind="SalesforceConnection", namespace="billing", name="erp", type="Stalled", pod="a"} 1x10
sfconn_connection_condition{kind="SalesforceConnection", namespace="billing", name="crm", type="Revoked", pod="b"} 0x10
sfconn_salesforce_requests_total{grant="refresh_token", result="success", pod="a"} 0+60x10
sfconn_salesforce_request_duration_seconds_bucket{grant="refresh_token", le="0.1", pod="a"} 0+30x10
sfconn_salesforce_request_duration_seconds_bucket{grant="refresh_token", le="0.5", pod="a"} 0+60x10
sfconn_salesforce_request_duration_seconds_bucket{grant="refresh_token", le="+Inf", pod="a"} 0+60x10
`)
	p := parser.NewParser(parser.Options{})
	engine := promqltest.NewTestEngineWithOpts(t, promql.EngineOpts{
		MaxSamples: 1_000_000, Timeout: time.Minute, LookbackDelta: 5 * time.Minute, Parser: p,
	})
	got := map[string]float64{}
	for _, r := range records {
		q, err := engine.NewInstantQuery(context.Background(), storage, nil, r.Expr, time.Unix(600, 0))
		if err != nil {
			t.Fatalf("%s: %v", r.Record, err)
		}
		res := q.Exec(context.Background())
		if res.Err != nil {
			t.Fatalf("%s: %v", r.Record, res.Err)
		}
		vec, err := res.Vector()
		if err != nil {
			t.Fatalf("%s: %v", r.Record, err)
		}
		for _, s := range vec {
			// The rule's labels are added to what it records, as Prometheus does.
			lbls := s.Metric.Map()
			maps.Copy(lbls, r.Labels)
			lbls["__name__"] = r.Record
			key := strings.Builder{}
			for _, k := range slices.Sorted(maps.Keys(lbls)) {
				key.WriteString(k + "=" + lbls[k] + " ")
			}
			got[strings.TrimSpace(key.String())] = math.Round(s.F*1000) / 1000
		}
		q.Close()
	}
	want := map[string]float64{
		// crm once though two replicas report it, erp once though it has both series.
		"__name__=kind_namespace:sfconn_connections:count kind=SalesforceConnection namespace=billing":                                                                 3,
		"__name__=kind_namespace:sfconn_connections:count kind=SalesforceConnection namespace=ops":                                                                     1,
		"__name__=kind_namespace:sfconn_connections:count kind=ClusterSalesforceConnection":                                                                            1,
		"__name__=kind_namespace_status_reason:sfconn_connection_not_ready:count kind=SalesforceConnection namespace=billing reason=AuthenticationFailed status=False": 1,
		"__name__=kind_namespace_status_reason:sfconn_connection_not_ready:count kind=SalesforceConnection namespace=billing reason=Unknown status=Unknown":            1,
		"__name__=kind_namespace_type:sfconn_connection_condition:count kind=SalesforceConnection namespace=billing type=Stalled":                                      1,
		"__name__=grant_result:sfconn_salesforce_requests:rate5m grant=refresh_token result=success":                                                                   1,
		"__name__=grant_quantile:sfconn_salesforce_request_duration_seconds:histogram_quantile_rate5m grant=refresh_token quantile=0.5":                                0.1,
		"__name__=grant_quantile:sfconn_salesforce_request_duration_seconds:histogram_quantile_rate5m grant=refresh_token quantile=0.95":                               0.46,
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			t.Errorf("%s = %v (recorded: %v), want %v", k, g, ok, w)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected recorded series %s = %v", k, g)
		}
	}
}

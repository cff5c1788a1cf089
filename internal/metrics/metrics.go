// Package metrics exposes the operator's Prometheus metrics: the state of every
// SalesforceConnection, read from the informer cache at scrape time (so a deleted
// connection's series vanish with it), and the operator's requests to Salesforce.
package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

// Metric names; the PrometheusRule and the Grafana dashboard use them.
const (
	TokenExpiration = "sfconn_token_expiration_timestamp_seconds"
	TokenRenewal    = "sfconn_token_renewal_timestamp_seconds"
	ReadyStatus     = "sfconn_connection_ready_status"
	ConditionStatus = "sfconn_connection_condition"
	Approvals       = "sfconn_approvals"
	ApprovalsLimit  = "sfconn_approvals_limit"
	RequestsTotal   = "sfconn_salesforce_requests_total"
	RequestDuration = "sfconn_salesforce_request_duration_seconds"
	// UnsavedRefreshTokens counts the rotated refresh tokens held in the operator's memory
	// only, which a restart of the operator would lose.
	UnsavedRefreshTokens = "sfconn_refresh_tokens_unsaved"
	collectTimeout       = 10 * time.Second
)

// Names lists every metric the operator exports.
var Names = []string{TokenExpiration, TokenRenewal, ReadyStatus, ConditionStatus, Approvals, ApprovalsLimit, RequestsTotal, RequestDuration,
	UnsavedRefreshTokens}

// reportedConditions are the condition types exported by sfconn_connection_condition:
// each is 1 while True and 0 otherwise, also when absent (Reconciling, Stalled and the
// others are present only while True), so an alert compares with 1 and never misses a
// series.
var reportedConditions = []string{
	sfv1.ConditionReady, sfv1.ConditionReconciling, sfv1.ConditionStalled,
	sfv1.ConditionExpiring, sfv1.ConditionRevoked, sfv1.ConditionApprovalLimit,
	// Suspended lets an alert leave out a connection suspended on purpose.
	sfv1.ConditionSuspended,
}

var connLabels = []string{"namespace", "name"}

var (
	expirationDesc = prometheus.NewDesc(TokenExpiration,
		"The time the token in the token Secret expires, in seconds since the epoch.", connLabels, nil)
	renewalDesc = prometheus.NewDesc(TokenRenewal,
		"The time the operator renews the token, in seconds since the epoch.", connLabels, nil)
	readyDesc = prometheus.NewDesc(ReadyStatus,
		"The Ready condition of the connection: 1 for its current status (True, False or Unknown), 0 for the others.",
		append(connLabels, "condition"), nil)
	conditionDesc = prometheus.NewDesc(ConditionStatus,
		"1 while the condition of this type is True, else 0.", append(connLabels, "type"), nil)
	approvalsDesc = prometheus.NewDesc(Approvals,
		"Approvals (refresh tokens) the connection's Salesforce user and connected app hold, as counted in the cluster.", connLabels, nil)
	approvalsLimitDesc = prometheus.NewDesc(ApprovalsLimit,
		"Approvals Salesforce keeps per user and connected app before it revokes the oldest.", connLabels, nil)
)

// ConnectionCollector reports every SalesforceConnection at scrape time, from a cached
// reader: a scrape costs no API call.
type ConnectionCollector struct {
	reader client.Reader
}

// NewConnectionCollector returns a collector over the connections reader can list.
func NewConnectionCollector(reader client.Reader) *ConnectionCollector {
	return &ConnectionCollector{reader: reader}
}

// Describe implements prometheus.Collector.
func (c *ConnectionCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{expirationDesc, renewalDesc, readyDesc, conditionDesc, approvalsDesc, approvalsLimitDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *ConnectionCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), collectTimeout)
	defer cancel()
	var list sfv1.SalesforceConnectionList
	if err := c.reader.List(ctx, &list); err != nil {
		// The cache is not ready yet (before the manager started, or without leadership
		// in some setups): report nothing rather than zeros that would fire alerts.
		logf.FromContext(ctx).V(1).Info("Listing connections for metrics failed", "error", err.Error())
		return
	}
	for i := range list.Items {
		collectConnection(ch, &list.Items[i])
	}
}

func collectConnection(ch chan<- prometheus.Metric, conn *sfv1.SalesforceConnection) {
	ns, name := conn.Namespace, conn.Name
	st := &conn.Status
	if st.ExpiresAt != nil {
		ch <- prometheus.MustNewConstMetric(expirationDesc, prometheus.GaugeValue, unix(st.ExpiresAt), ns, name)
	}
	if st.RenewAt != nil {
		ch <- prometheus.MustNewConstMetric(renewalDesc, prometheus.GaugeValue, unix(st.RenewAt), ns, name)
	}
	ready := metav1.ConditionUnknown
	if c := meta.FindStatusCondition(st.Conditions, sfv1.ConditionReady); c != nil && st.ObservedGeneration == conn.Generation {
		ready = c.Status
	}
	for _, s := range []metav1.ConditionStatus{metav1.ConditionTrue, metav1.ConditionFalse, metav1.ConditionUnknown} {
		ch <- prometheus.MustNewConstMetric(readyDesc, prometheus.GaugeValue, boolValue(s == ready), ns, name, string(s))
	}
	for _, t := range reportedConditions {
		ch <- prometheus.MustNewConstMetric(conditionDesc, prometheus.GaugeValue, boolValue(meta.IsStatusConditionTrue(st.Conditions, t)), ns, name, t)
	}
	if a := st.Approvals; a != nil {
		ch <- prometheus.MustNewConstMetric(approvalsDesc, prometheus.GaugeValue, float64(a.Count), ns, name)
		ch <- prometheus.MustNewConstMetric(approvalsLimitDesc, prometheus.GaugeValue, float64(a.Limit), ns, name)
	}
}

func unix(t *metav1.Time) float64 { return float64(t.Unix()) }

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Register registers the connection collector over reader, the request metrics, and the
// count of rotated refresh tokens held in memory only (unsaved) with reg, and returns the
// request metrics, which instrument the Salesforce client.
func Register(reg prometheus.Registerer, reader client.Reader, unsaved func() int) (*Requests, error) {
	req := NewRequests()
	unsavedGauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: UnsavedRefreshTokens,
		Help: "Rotated refresh tokens held in the operator's memory only: the API server did not store them, and a restart now would lose them."},
		func() float64 { return float64(unsaved()) })
	for _, c := range append(req.Collectors(), NewConnectionCollector(reader), unsavedGauge) {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return req, nil
}

// Package metrics exposes the operator's Prometheus metrics: the state of every
// SalesforceConnection and ClusterSalesforceConnection, read from the informer cache at
// scrape time (so a deleted connection's series vanish with it) by the leader alone,
// whether this replica leads, and the operator's requests to Salesforce.
package metrics

import (
	"context"
	"slices"
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
	// TokenExpiration is the one series a healthy connection costs: Ready True means a
	// token in the Secret, so a status with Ready True has an expiry.
	TokenExpiration = "sfconn_token_expiration_timestamp_seconds"
	// NotReady is present, with the status and reason of Ready in its labels, only while a
	// connection is not Ready for its current generation: the healthy many cost nothing here.
	// A connection the leader reports has this series or a token expiry (or both), which
	// the alerts read to tell "reported without a cause" from "not reported".
	NotReady        = "sfconn_connection_not_ready"
	ConditionStatus = "sfconn_connection_condition"
	Approvals       = "sfconn_approvals"
	RequestsTotal   = "sfconn_salesforce_requests_total"
	RequestDuration = "sfconn_salesforce_request_duration_seconds"
	// JWTCertificateExpiration and JWTCertificateNextPending describe a generated JWT
	// certificate: when the one in use ends, and whether its successor waits for an admin.
	JWTCertificateExpiration  = "sfconn_jwt_certificate_expiration_timestamp_seconds"
	JWTCertificateNextPending = "sfconn_jwt_certificate_next_pending"
	// UnsavedRefreshTokens counts the rotated refresh tokens held in the operator's memory
	// only, which a restart of the operator would lose.
	UnsavedRefreshTokens = "sfconn_refresh_tokens_unsaved"
	// Leader is 1 on the replica that holds the leader lease: an alert on its absence
	// fires when no operator runs, which no series the operator exports can say itself.
	Leader         = "sfconn_leader"
	collectTimeout = 10 * time.Second
)

// Names lists every metric the operator exports.
var Names = []string{TokenExpiration, NotReady, ConditionStatus, Approvals,
	JWTCertificateExpiration, JWTCertificateNextPending, RequestsTotal, RequestDuration, UnsavedRefreshTokens, Leader}

// Values of the reason label of sfconn_connection_not_ready besides the Ready reasons:
// ReasonUnknown while Ready is missing or describes an older generation of the spec (the
// status label then says Unknown too), ReasonOther for a reason this build does not know,
// so that the label's values stay a fixed set whatever a status holds.
const (
	ReasonUnknown = "Unknown"
	ReasonOther   = "Other"
)

// ReadyReasons are the values of the reason label: every reason the operator gives Ready,
// then ReasonUnknown and ReasonOther.
var ReadyReasons = []string{
	sfv1.ReasonTokenIssued, sfv1.ReasonInvalidSpec, sfv1.ReasonCredentialsNotFound, sfv1.ReasonInvalidCredentials,
	sfv1.ReasonAuthenticationFailed, sfv1.ReasonRevoked, sfv1.ReasonApprovalLimitReached, sfv1.ReasonSalesforceUnavailable,
	sfv1.ReasonRateLimited, sfv1.ReasonExpired, sfv1.ReasonAwaitingAdmin, sfv1.ReasonAwaitingApproval, sfv1.ReasonClusterError,
	sfv1.ReasonSuspended, ReasonUnknown, ReasonOther,
}

// ReportedConditions are the condition types exported by sfconn_connection_condition, with
// the value 1 and only while True: a series that is 0 for almost every connection costs
// every scrape and every Prometheus for nothing. These are the types an alert reads; Ready
// has sfconn_connection_not_ready and Reconciling restates a Ready reason.
var ReportedConditions = []string{
	sfv1.ConditionStalled, sfv1.ConditionRevoked, sfv1.ConditionApprovalLimit,
	// Expiring is True once the renewal time passed without a new token: the renewal-overdue
	// alert reads it, so that no renewal timestamp is exported for every connection.
	sfv1.ConditionExpiring,
	// Suspended lets an alert leave out a connection suspended on purpose.
	sfv1.ConditionSuspended,
}

// connLabels name a connection: its kind, as a ClusterSalesforceConnection and a
// SalesforceConnection may share a name, and its namespace, empty for the cluster kind.
// Prometheus stores an empty label as no label, and a scrape with honor_labels may fill it
// with the operator's own namespace: either way the rules group by all three, so that
// every series of one connection lands in one group.
var connLabels = []string{"kind", "namespace", "name"}

// Values of the kind label.
const (
	KindConnection        = "SalesforceConnection"
	KindClusterConnection = sfv1.ClusterSalesforceConnectionKind
)

var (
	expirationDesc = prometheus.NewDesc(TokenExpiration,
		"The time the token in the token Secret expires, in seconds since the epoch.", connLabels, nil)
	notReadyDesc = prometheus.NewDesc(NotReady,
		"1 while the connection is not Ready, with the status (False, or Unknown while the current generation is not reconciled yet) and reason of its Ready condition; absent while Ready is True.",
		append(connLabels, "status", "reason"), nil)
	conditionDesc = prometheus.NewDesc(ConditionStatus,
		"1 while the condition of this type is True; absent otherwise.", append(connLabels, "type"), nil)
	approvalsDesc = prometheus.NewDesc(Approvals,
		"Approvals (refresh tokens) the connection's Salesforce user and connected app hold, as counted in the cluster.", connLabels, nil)
	certExpirationDesc = prometheus.NewDesc(JWTCertificateExpiration,
		"The time the generated JWT certificate in use ends, in seconds since the epoch.", connLabels, nil)
	certNextPendingDesc = prometheus.NewDesc(JWTCertificateNextPending,
		"1 while the next generated JWT certificate is published and Salesforce has not accepted it yet; absent otherwise.", connLabels, nil)
)

// ConnectionCollector reports every connection at scrape time, from a cached reader: a
// scrape costs no API call. Only the leader reports: the others' caches hold the same
// status, and a series per replica would double every sum and count, and every series,
// for nothing.
type ConnectionCollector struct {
	reader client.Reader
	leader func() bool
	// cluster says whether the operator serves ClusterSalesforceConnections. Without it
	// the cache has no informer for them, and listing them would start one the manager's
	// role may not allow: a list that never syncs, and a scrape that waits for it.
	cluster bool
}

// NewConnectionCollector returns a collector over the connections reader can list (the
// cluster kind too when cluster is true), which reports while leader says this replica
// leads.
func NewConnectionCollector(reader client.Reader, leader func() bool, cluster bool) *ConnectionCollector {
	return &ConnectionCollector{reader: reader, leader: leader, cluster: cluster}
}

// Describe implements prometheus.Collector.
func (c *ConnectionCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{expirationDesc, notReadyDesc, conditionDesc,
		approvalsDesc, certExpirationDesc, certNextPendingDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *ConnectionCollector) Collect(ch chan<- prometheus.Metric) {
	if !c.leader() {
		return
	}
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
		conn := &list.Items[i]
		collectConnection(ch, []string{KindConnection, conn.Namespace, conn.Name}, conn.Generation, &conn.Status)
	}
	if !c.cluster {
		return
	}
	var clusterList sfv1.ClusterSalesforceConnectionList
	if err := c.reader.List(ctx, &clusterList); err != nil {
		logf.FromContext(ctx).V(1).Info("Listing cluster connections for metrics failed", "error", err.Error())
		return
	}
	for i := range clusterList.Items {
		conn := &clusterList.Items[i]
		collectConnection(ch, []string{KindClusterConnection, "", conn.Name}, conn.Generation, &conn.Status.SalesforceConnectionStatus)
	}
}

// collectConnection reports the status st of the connection that labels name (the values
// of connLabels), whose spec is at generation.
func collectConnection(ch chan<- prometheus.Metric, labels []string, generation int64, st *sfv1.SalesforceConnectionStatus) {
	gauge := func(d *prometheus.Desc, v float64, extra ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append(labels[:len(labels):len(labels)], extra...)...)
	}
	if st.ExpiresAt != nil {
		gauge(expirationDesc, unix(st.ExpiresAt))
	}
	ready, reason := metav1.ConditionUnknown, ReasonUnknown
	if c := meta.FindStatusCondition(st.Conditions, sfv1.ConditionReady); c != nil && st.ObservedGeneration == generation {
		ready, reason = readyStatusLabel(c.Status), readyReasonLabel(c.Reason)
	}
	if ready != metav1.ConditionTrue {
		gauge(notReadyDesc, 1, string(ready), reason)
	}
	for _, t := range ReportedConditions {
		if meta.IsStatusConditionTrue(st.Conditions, t) {
			gauge(conditionDesc, 1, t)
		}
	}
	if a := st.Approvals; a != nil {
		// The limit is not exported: Salesforce's is a constant (5), the same for every
		// connection, and a series per connection to say so cost as much as the count.
		gauge(approvalsDesc, float64(a.Count))
	}
	if cert := st.JWTCertificate; cert != nil && !cert.NotAfter.IsZero() {
		gauge(certExpirationDesc, unix(&cert.NotAfter))
		// A next certificate in status is one Salesforce has not accepted: the first login
		// it signs makes it the current one, and status then names no next.
		if cert.NextFingerprint != "" {
			gauge(certNextPendingDesc, 1)
		}
	}
}

// readyStatusLabel keeps the status label within True, False and Unknown, as the CRD's
// schema does for a condition's status; anything else is not known to mean either.
func readyStatusLabel(s metav1.ConditionStatus) metav1.ConditionStatus {
	switch s {
	case metav1.ConditionTrue, metav1.ConditionFalse:
		return s
	}
	return metav1.ConditionUnknown
}

// readyReasonLabel keeps the reason label within ReadyReasons: a status is written by
// the operator, but an older or newer build, or a person with the status subresource,
// may have written another reason, and a label must not take any value it holds.
func readyReasonLabel(reason string) string {
	if slices.Contains(ReadyReasons, reason) && reason != ReasonOther {
		return reason
	}
	return ReasonOther
}

func unix(t *metav1.Time) float64 { return float64(t.Unix()) }

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Register registers with reg the connection collector over reader (cluster connections
// too when cluster is true), the request metrics, the count of rotated refresh tokens held
// in memory only (unsaved), and whether this replica leads: elected is closed once it does
// (controller-runtime's Manager.Elected, closed at once without leader election). It
// returns the request metrics, which instrument the Salesforce client.
func Register(reg prometheus.Registerer, reader client.Reader, cluster bool, unsaved func() int, elected <-chan struct{}) (*Requests, error) {
	req := NewRequests()
	leader := func() bool {
		select {
		case <-elected:
			return true
		default:
			return false
		}
	}
	unsavedGauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: UnsavedRefreshTokens,
		Help: "Rotated refresh tokens held in the operator's memory only: the API server did not store them, and a restart now would lose them."},
		func() float64 { return float64(unsaved()) })
	leaderGauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: Leader,
		Help: "1 on the replica of the operator that holds the leader lease (or runs without leader election), else 0."},
		func() float64 { return boolValue(leader()) })
	for _, c := range append(req.Collectors(), NewConnectionCollector(reader, leader, cluster), unsavedGauge, leaderGauge) {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return req, nil
}

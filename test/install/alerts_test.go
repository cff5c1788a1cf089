package install

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/promqltest"
	"github.com/prometheus/prometheus/rules"
)

// The alert rules of config/prometheus/prometheus_rule.yaml, run by Prometheus' own rule
// evaluation against recorded series: each scenario loads series in promqltest's notation
// (one sample a minute from minute 0; "_" is no sample, "stale" is what Prometheus writes
// when a target or a series goes away), evaluates every rule once a minute as a rule
// group would, and compares the firing alerts, with all their labels, at given minutes.

// evalInterval is how often the rules are evaluated, as a rule group's interval.
const evalInterval = time.Minute

type alertCheck struct {
	minute int
	firing []string // alert("Name", "namespace/name", "severity"), all that fire
	// summaries, when set, are the summary annotations of all that fire.
	summaries []string
}

type alertScenario struct {
	name   string
	series string
	checks []alertCheck
}

// alert is how a firing alert is compared: its name and every label it carries. A
// connection is "namespace/name" for a SalesforceConnection, "cluster:name" for a
// ClusterSalesforceConnection whose series carry no namespace, and
// "cluster:namespace/name" for one whose series the scrape gave the operator's namespace.
func alert(name, connection, severity string) string {
	m := map[string]string{labels.AlertName: name, "severity": severity}
	kind := "SalesforceConnection"
	if c, ok := strings.CutPrefix(connection, "cluster:"); ok {
		kind, connection = "ClusterSalesforceConnection", c
		if !strings.Contains(c, "/") {
			m["kind"], m["name"] = kind, c
		}
	}
	if ns, n, ok := strings.Cut(connection, "/"); ok {
		m["kind"], m["namespace"], m["name"] = kind, ns, n
	}
	return labels.FromMap(m).String()
}

// at is a time in the scenarios' clock, in seconds since the epoch, as the timestamp
// metrics hold: minute m of the scenario.
func at(minute int) string { return fmt.Sprint(minute * 60) }

func TestAlertsOnRecordedSeries(t *testing.T) {
	const day = 24 * 60
	for _, sc := range []alertScenario{
		{
			name: "the operator goes down with a token close to expiry: the expiry alert fires when the token expires",
			// The only replica reports until minute 30, then is gone. Its token expires at
			// minute 60, renewal was due at minute 40: with no operator, nothing reports
			// Expiring, so SfconnTokenRenewalOverdue stays quiet and SfconnOperatorDown says why.
			series: `
sfconn_leader{pod="a"} 1x30 stale
sfconn_token_expiration_timestamp_seconds{kind="SalesforceConnection", namespace="billing", name="crm", pod="a"} ` + at(60) + `x30 stale
`,
			checks: []alertCheck{
				{minute: 30, firing: nil},
				{minute: 35, firing: nil},
				{minute: 36, firing: []string{alert("SfconnOperatorDown", "", "critical")}},
				{minute: 47, firing: []string{alert("SfconnOperatorDown", "", "critical")}},
				// The token expires at 60: expired from 61, for 1 minute.
				{minute: 61, firing: []string{alert("SfconnOperatorDown", "", "critical")}},
				{minute: 62, firing: []string{alert("SfconnOperatorDown", "", "critical"),
					alert("SfconnTokenExpired", "billing/crm", "critical")}},
				{minute: 20 * 60, firing: []string{alert("SfconnOperatorDown", "", "critical"),
					alert("SfconnTokenExpired", "billing/crm", "critical")}},
				// 25 hours after the last sample, the rules forget the connection.
				{minute: 30 + 25*60 + 1, firing: []string{alert("SfconnOperatorDown", "", "critical")}},
			},
		},
		{
			name: "a renewal overdue fires 5 minutes after Expiring, holds across a leader change, resolves once renewed",
			// crm's renewal was due at minute 40 and fails: the operator sets Expiring
			// (RenewalFailing) then. Pod a leads until minute 42, pod b reports from 45; at
			// minute 51 a renewal succeeds: a new expiry, Expiring gone. erp renews on time.
			// old is past its renewal and its token has expired: SfconnTokenExpired says so.
			series: `
sfconn_leader{pod="a"} 1x42 stale
sfconn_leader{pod="b"} 0x43 1x60
sfconn_token_expiration_timestamp_seconds{kind="SalesforceConnection", namespace="billing", name="crm", pod="a"} ` + at(120) + `x42 stale
sfconn_token_expiration_timestamp_seconds{kind="SalesforceConnection", namespace="billing", name="crm", pod="b"} _x45 ` + at(120) + `x5 ` + at(2*day) + `x50
sfconn_connection_condition{kind="SalesforceConnection", namespace="billing", name="crm", type="Expiring", pod="a"} _x40 1x2 stale
sfconn_connection_condition{kind="SalesforceConnection", namespace="billing", name="crm", type="Expiring", pod="b"} _x45 1x5 stale
sfconn_token_expiration_timestamp_seconds{kind="SalesforceConnection", namespace="billing", name="erp", pod="a"} ` + at(2*day) + `x42 stale
sfconn_token_expiration_timestamp_seconds{kind="SalesforceConnection", namespace="billing", name="erp", pod="b"} _x45 ` + at(2*day) + `x60
sfconn_token_expiration_timestamp_seconds{kind="SalesforceConnection", namespace="billing", name="old", pod="a"} ` + at(30) + `x42 stale
sfconn_connection_condition{kind="SalesforceConnection", namespace="billing", name="old", type="Expiring", pod="a"} 1x42 stale
sfconn_token_expiration_timestamp_seconds{kind="SalesforceConnection", namespace="billing", name="old", pod="b"} _x45 ` + at(30) + `x60
sfconn_connection_condition{kind="SalesforceConnection", namespace="billing", name="old", type="Expiring", pod="b"} _x45 1x60
`,
			checks: []alertCheck{
				{minute: 44, firing: []string{alert("SfconnTokenExpired", "billing/old", "critical")}},
				// Expiring since 40, for 5 minutes, across the gap between leaders (43, 44).
				{minute: 45, firing: []string{alert("SfconnTokenExpired", "billing/old", "critical"),
					alert("SfconnTokenRenewalOverdue", "billing/crm", "warning")}},
				{minute: 50, firing: []string{alert("SfconnTokenExpired", "billing/old", "critical"),
					alert("SfconnTokenRenewalOverdue", "billing/crm", "warning")}},
				// Renewed at 51: resolved at once.
				{minute: 51, firing: []string{alert("SfconnTokenExpired", "billing/old", "critical")}},
			},
		},
		{
			name: "a connection deleted while the operator runs stops alerting; one that exists alerts",
			// crm is deleted at minute 31; erp stays. Both tokens expire at minute 60.
			series: `
sfconn_leader{pod="a"} 1x120
sfconn_token_expiration_timestamp_seconds{kind="SalesforceConnection", namespace="billing", name="crm", pod="a"} ` + at(60) + `x30 stale
sfconn_token_expiration_timestamp_seconds{kind="SalesforceConnection", namespace="billing", name="erp", pod="a"} ` + at(60) + `x120
`,
			checks: []alertCheck{
				{minute: 61, firing: nil},
				{minute: 62, firing: []string{alert("SfconnTokenExpired", "billing/erp", "critical")}},
				{minute: 120, firing: []string{alert("SfconnTokenExpired", "billing/erp", "critical")}},
			},
		},
		{
			name: "waiting for an admin or an approval is a warning, not a critical NotReady",
			series: `
sfconn_leader{pod="a"} 1x60
sfconn_connection_not_ready{kind="SalesforceConnection", namespace="ops", name="jwt", status="False", reason="AwaitingAdmin", pod="a"} 1x60
sfconn_connection_not_ready{kind="SalesforceConnection", namespace="ops", name="device", status="False", reason="AwaitingApproval", pod="a"} 1x60
sfconn_connection_not_ready{kind="SalesforceConnection", namespace="billing", name="crm", status="False", reason="AuthenticationFailed", pod="a"} 1x60
sfconn_connection_not_ready{kind="SalesforceConnection", namespace="billing", name="new", status="Unknown", reason="Unknown", pod="a"} 1x60
sfconn_token_expiration_timestamp_seconds{kind="SalesforceConnection", namespace="billing", name="ok", pod="a"} ` + at(2*day) + `x60
`,
			checks: []alertCheck{
				{minute: 14, firing: nil},
				{minute: 15, firing: []string{
					alert("SfconnAwaitingAdmin", "ops/jwt", "warning"),
					alert("SfconnAwaitingApproval", "ops/device", "warning"),
					alert("SfconnConnectionNotReady", "billing/crm", "critical"),
					alert("SfconnConnectionNotReady", "billing/new", "critical"),
				}},
			},
		},
		{
			name: "a connection that stops waiting for a person and fails is critical",
			// jwt waits for an admin until minute 20; from 21 its login fails for good.
			series: `
sfconn_leader{pod="a"} 1x60
sfconn_connection_not_ready{kind="SalesforceConnection", namespace="ops", name="jwt", status="False", reason="AwaitingAdmin", pod="a"} 1x20 stale
sfconn_connection_not_ready{kind="SalesforceConnection", namespace="ops", name="jwt", status="False", reason="InvalidSpec", pod="a"} _x21 1x39
`,
			checks: []alertCheck{
				{minute: 20, firing: []string{alert("SfconnAwaitingAdmin", "ops/jwt", "warning")}},
				// Reported without AwaitingAdmin: resolved at once; NotReady is pending for its 15.
				{minute: 21, firing: nil},
				{minute: 35, firing: nil},
				{minute: 36, firing: []string{alert("SfconnConnectionNotReady", "ops/jwt", "critical")}},
			},
		},
		{
			name: "every per-connection alert resolves at the first evaluation after the leader reports the connection without its cause",
			// Until minute 30: crm revoked and stalled, lim at the approval limit, jwt waits
			// for an admin with its certificate ending and the next pending, device waits for
			// an approval. From 31 the leader reports each without its cause.
			series: `
sfconn_leader{pod="a"} 1x60
sfconn_connection_not_ready{kind="SalesforceConnection", namespace="billing", name="crm", status="False", reason="Revoked", pod="a"} 1x30 stale
sfconn_token_expiration_timestamp_seconds{kind="SalesforceConnection", namespace="billing", name="crm", pod="a"} _x31 ` + at(2*day) + `x29
sfconn_connection_condition{kind="SalesforceConnection", namespace="billing", name="crm", type="Revoked", pod="a"} 1x30 stale
sfconn_connection_condition{kind="SalesforceConnection", namespace="billing", name="crm", type="Stalled", pod="a"} 1x30 stale
sfconn_token_expiration_timestamp_seconds{kind="SalesforceConnection", namespace="billing", name="lim", pod="a"} ` + at(2*day) + `x60
sfconn_connection_condition{kind="SalesforceConnection", namespace="billing", name="lim", type="ApprovalLimit", pod="a"} 1x30 stale
sfconn_connection_not_ready{kind="SalesforceConnection", namespace="ops", name="jwt", status="False", reason="AwaitingAdmin", pod="a"} 1x30 stale
sfconn_token_expiration_timestamp_seconds{kind="SalesforceConnection", namespace="ops", name="jwt", pod="a"} _x31 ` + at(2*day) + `x29
sfconn_jwt_certificate_expiration_timestamp_seconds{kind="SalesforceConnection", namespace="ops", name="jwt", pod="a"} ` + at(10*day) + `x60
sfconn_jwt_certificate_next_pending{kind="SalesforceConnection", namespace="ops", name="jwt", pod="a"} 1x30 stale
sfconn_connection_not_ready{kind="SalesforceConnection", namespace="ops", name="device", status="False", reason="AwaitingApproval", pod="a"} 1x30 stale
sfconn_token_expiration_timestamp_seconds{kind="SalesforceConnection", namespace="ops", name="device", pod="a"} _x31 ` + at(2*day) + `x29
`,
			checks: []alertCheck{
				{minute: 30, firing: []string{
					alert("SfconnConnectionRevoked", "billing/crm", "critical"),
					alert("SfconnConnectionStalled", "billing/crm", "warning"),
					alert("SfconnConnectionNotReady", "billing/crm", "critical"),
					alert("SfconnApprovalLimitReached", "billing/lim", "warning"),
					alert("SfconnAwaitingAdmin", "ops/jwt", "warning"),
					alert("SfconnJWTCertificateExpiring", "ops/jwt", "warning"),
					alert("SfconnAwaitingApproval", "ops/device", "warning"),
				}},
				{minute: 31, firing: nil},
				{minute: 60, firing: nil},
			},
		},
		{
			name: "two replicas reporting the same connection give one alert each",
			// As during a handover, or with replicas of an older release that all report.
			series: `
sfconn_leader{pod="a"} 1x30
sfconn_leader{pod="b"} 0x30
sfconn_connection_not_ready{kind="SalesforceConnection", namespace="billing", name="crm", status="False", reason="Revoked", pod="a"} 1x30
sfconn_connection_not_ready{kind="SalesforceConnection", namespace="billing", name="crm", status="False", reason="Revoked", pod="b"} 1x30
sfconn_connection_condition{kind="SalesforceConnection", namespace="billing", name="crm", type="Revoked", pod="a"} 1x30
sfconn_connection_condition{kind="SalesforceConnection", namespace="billing", name="crm", type="Revoked", pod="b"} 1x30
sfconn_connection_condition{kind="SalesforceConnection", namespace="billing", name="crm", type="Stalled", pod="a"} 1x30
sfconn_connection_condition{kind="SalesforceConnection", namespace="billing", name="crm", type="Stalled", pod="b"} 1x30
sfconn_token_expiration_timestamp_seconds{kind="SalesforceConnection", namespace="billing", name="crm", pod="a"} ` + at(10) + `x30
sfconn_token_expiration_timestamp_seconds{kind="SalesforceConnection", namespace="billing", name="crm", pod="b"} ` + at(10) + `x30
`,
			checks: []alertCheck{
				{minute: 20, firing: []string{
					alert("SfconnConnectionRevoked", "billing/crm", "critical"),
					alert("SfconnConnectionStalled", "billing/crm", "warning"),
					alert("SfconnConnectionNotReady", "billing/crm", "critical"),
					alert("SfconnTokenExpired", "billing/crm", "critical"),
				}},
			},
		},
		{
			name: "a leader change with scrapes between without series neither resolves nor restarts an alert",
			// Pod a leads until minute 40 and is gone (its series stale at 41); pod b leads
			// from minute 42, and reports the connections from minute 43. crm is not ready
			// from the start and its token expired at minute 30; it turned Stalled at 38.
			// jwt waits for an admin from minute 30.
			series: `
sfconn_leader{pod="a"} 1x40 stale
sfconn_leader{pod="b"} 0x41 1x60
sfconn_connection_not_ready{kind="SalesforceConnection", namespace="billing", name="crm", status="False", reason="AuthenticationFailed", pod="a"} 1x40 stale
sfconn_connection_not_ready{kind="SalesforceConnection", namespace="billing", name="crm", status="False", reason="AuthenticationFailed", pod="b"} _x43 1x60
sfconn_connection_condition{kind="SalesforceConnection", namespace="billing", name="crm", type="Stalled", pod="a"} _x38 1x2 stale
sfconn_connection_condition{kind="SalesforceConnection", namespace="billing", name="crm", type="Stalled", pod="b"} _x43 1x60
sfconn_token_expiration_timestamp_seconds{kind="SalesforceConnection", namespace="billing", name="crm", pod="a"} ` + at(30) + `x40 stale
sfconn_token_expiration_timestamp_seconds{kind="SalesforceConnection", namespace="billing", name="crm", pod="b"} _x43 ` + at(30) + `x60
sfconn_token_expiration_timestamp_seconds{kind="SalesforceConnection", namespace="ops", name="jwt", pod="a"} ` + at(2*day) + `x29 stale
sfconn_connection_not_ready{kind="SalesforceConnection", namespace="ops", name="jwt", status="False", reason="AwaitingAdmin", pod="a"} _x30 1x10 stale
sfconn_connection_not_ready{kind="SalesforceConnection", namespace="ops", name="jwt", status="False", reason="AwaitingAdmin", pod="b"} _x43 1x60
`,
			checks: []alertCheck{
				{minute: 40, firing: []string{
					alert("SfconnConnectionNotReady", "billing/crm", "critical"),
					alert("SfconnTokenExpired", "billing/crm", "critical"),
				}},
				{minute: 42, firing: []string{
					alert("SfconnConnectionNotReady", "billing/crm", "critical"),
					alert("SfconnTokenExpired", "billing/crm", "critical"),
				}},
				// Stalled since 38, for 5 minutes: on time, not 5 minutes after the handover.
				{minute: 43, firing: []string{
					alert("SfconnConnectionNotReady", "billing/crm", "critical"),
					alert("SfconnConnectionStalled", "billing/crm", "warning"),
					alert("SfconnTokenExpired", "billing/crm", "critical"),
				}},
				{minute: 44, firing: []string{
					alert("SfconnConnectionNotReady", "billing/crm", "critical"),
					alert("SfconnConnectionStalled", "billing/crm", "warning"),
					alert("SfconnTokenExpired", "billing/crm", "critical"),
				}},
				// Waiting since 30, for 15 minutes, across the gap.
				{minute: 45, firing: []string{
					alert("SfconnAwaitingAdmin", "ops/jwt", "warning"),
					alert("SfconnConnectionNotReady", "billing/crm", "critical"),
					alert("SfconnConnectionStalled", "billing/crm", "warning"),
					alert("SfconnTokenExpired", "billing/crm", "critical"),
				}},
			},
		},
		{
			name: "a suspended connection pages neither for its expired token nor for not being ready, also while the operator is down",
			// Three tokens expire at minute 30; sus is suspended throughout, resumed is
			// suspended until minute 40, crm never. The operator is gone from minute 61.
			series: `
sfconn_leader{pod="a"} 1x60 stale
sfconn_token_expiration_timestamp_seconds{kind="SalesforceConnection", namespace="billing", name="sus", pod="a"} ` + at(30) + `x60 stale
sfconn_connection_condition{kind="SalesforceConnection", namespace="billing", name="sus", type="Suspended", pod="a"} 1x60 stale
sfconn_connection_not_ready{kind="SalesforceConnection", namespace="billing", name="sus", status="False", reason="Suspended", pod="a"} 1x60 stale
sfconn_token_expiration_timestamp_seconds{kind="SalesforceConnection", namespace="billing", name="resumed", pod="a"} ` + at(30) + `x60 stale
sfconn_connection_condition{kind="SalesforceConnection", namespace="billing", name="resumed", type="Suspended", pod="a"} 1x40 stale
sfconn_connection_not_ready{kind="SalesforceConnection", namespace="billing", name="resumed", status="False", reason="Suspended", pod="a"} 1x40 stale
sfconn_token_expiration_timestamp_seconds{kind="SalesforceConnection", namespace="billing", name="crm", pod="a"} ` + at(30) + `x60 stale
`,
			checks: []alertCheck{
				{minute: 32, firing: []string{alert("SfconnTokenExpired", "billing/crm", "critical")}},
				// Reported without Suspended from 41: pending at once, firing after its minute.
				{minute: 41, firing: []string{alert("SfconnTokenExpired", "billing/crm", "critical")}},
				{minute: 42, firing: []string{
					alert("SfconnTokenExpired", "billing/crm", "critical"),
					alert("SfconnTokenExpired", "billing/resumed", "critical"),
				}},
				// No leader: a connection reported Suspended in the last 25 hours is left out,
				// resumed or not.
				{minute: 80, firing: []string{
					alert("SfconnOperatorDown", "", "critical"),
					alert("SfconnTokenExpired", "billing/crm", "critical"),
				}},
			},
		},
		{
			name: "a cluster connection alerts apart from a namespaced one of the same name, and says which it is",
			// The operator is gone from minute 30; both tokens expire at minute 60. The
			// cluster connection's series carry no namespace (the exported label is empty).
			series: `
sfconn_leader{pod="a"} 1x30 stale
sfconn_token_expiration_timestamp_seconds{kind="ClusterSalesforceConnection", name="crm", pod="a"} ` + at(60) + `x30 stale
sfconn_token_expiration_timestamp_seconds{kind="SalesforceConnection", namespace="billing", name="crm", pod="a"} ` + at(60) + `x30 stale
`,
			checks: []alertCheck{
				{minute: 62, firing: []string{
					alert("SfconnOperatorDown", "", "critical"),
					alert("SfconnTokenExpired", "cluster:crm", "critical"),
					alert("SfconnTokenExpired", "billing/crm", "critical"),
				}, summaries: []string{
					"No sfconn operator reports metrics",
					"Salesforce token of ClusterSalesforceConnection crm has expired",
					"Salesforce token of SalesforceConnection billing/crm has expired",
				}},
			},
		},
		{
			name: "a namespaced connection reported without a cause resolves its alert, not that of the cluster connection of the same name",
			// Both are revoked; the namespaced one gets a new token at minute 11.
			series: `
sfconn_leader{pod="a"} 1x30
sfconn_connection_not_ready{kind="ClusterSalesforceConnection", name="crm", status="False", reason="Revoked", pod="a"} 1x30
sfconn_connection_condition{kind="ClusterSalesforceConnection", name="crm", type="Revoked", pod="a"} 1x30
sfconn_connection_not_ready{kind="SalesforceConnection", namespace="billing", name="crm", status="False", reason="Revoked", pod="a"} 1x10 stale
sfconn_token_expiration_timestamp_seconds{kind="SalesforceConnection", namespace="billing", name="crm", pod="a"} _x11 ` + at(2*day) + `x19
sfconn_connection_condition{kind="SalesforceConnection", namespace="billing", name="crm", type="Revoked", pod="a"} 1x10 stale
`,
			checks: []alertCheck{
				{minute: 10, firing: []string{
					alert("SfconnConnectionRevoked", "cluster:crm", "critical"),
					alert("SfconnConnectionRevoked", "billing/crm", "critical"),
				}},
				{minute: 11, firing: []string{alert("SfconnConnectionRevoked", "cluster:crm", "critical")}},
				{minute: 15, firing: []string{
					alert("SfconnConnectionRevoked", "cluster:crm", "critical"),
					alert("SfconnConnectionNotReady", "cluster:crm", "critical"),
				}, summaries: []string{
					"Salesforce revoked the token of ClusterSalesforceConnection crm",
					"ClusterSalesforceConnection crm is not ready",
				}},
			},
		},
		{
			name: "a cluster connection whose series the scrape gave the operator's namespace alerts once, by its kind and name",
			series: `
sfconn_leader{pod="a"} 1x30
sfconn_connection_not_ready{kind="ClusterSalesforceConnection", namespace="sfconn-system", name="shared", status="False", reason="InvalidCredentials", pod="a"} 1x30
sfconn_connection_condition{kind="ClusterSalesforceConnection", namespace="sfconn-system", name="shared", type="Stalled", pod="a"} 1x30
`,
			checks: []alertCheck{
				{minute: 15, firing: []string{
					alert("SfconnConnectionNotReady", "cluster:sfconn-system/shared", "critical"),
					alert("SfconnConnectionStalled", "cluster:sfconn-system/shared", "warning"),
				}, summaries: []string{
					"ClusterSalesforceConnection shared is not ready",
					"ClusterSalesforceConnection shared is stalled",
				}},
			},
		},
		{
			name: "replicas that run with no leader fire SfconnNoLeader",
			series: `
sfconn_leader{pod="a"} 0x20
sfconn_leader{pod="b"} 0x20
`,
			checks: []alertCheck{
				{minute: 4, firing: nil},
				{minute: 5, firing: []string{alert("SfconnNoLeader", "", "critical")}},
			},
		},
		{
			name: "a leader that starts late fires nothing",
			series: `
sfconn_leader{pod="a"} 0x3 1x20
`,
			checks: []alertCheck{{minute: 5, firing: nil}, {minute: 20, firing: nil}},
		},
		{
			name: "no replica at all fires SfconnOperatorDown",
			series: `
up{job="something-else"} 1x20
`,
			checks: []alertCheck{
				{minute: 4, firing: nil},
				{minute: 5, firing: []string{alert("SfconnOperatorDown", "", "critical")}},
			},
		},
		{
			name: "a JWT certificate near its end warns until Salesforce accepts the next one",
			// jwt's certificate ends on day 10, its next is published; at minute 31 a login
			// with the next succeeds and it becomes the current, ending in two years. far's
			// ends in 20 days: not yet.
			series: `
sfconn_leader{pod="a"} 1x60
sfconn_jwt_certificate_expiration_timestamp_seconds{kind="SalesforceConnection", namespace="ops", name="jwt", pod="a"} ` + at(10*day) + `x30 ` + at(730*day) + `x30
sfconn_jwt_certificate_next_pending{kind="SalesforceConnection", namespace="ops", name="jwt", pod="a"} 1x30 stale
sfconn_token_expiration_timestamp_seconds{kind="SalesforceConnection", namespace="ops", name="jwt", pod="a"} ` + at(2*day) + `x60
sfconn_jwt_certificate_expiration_timestamp_seconds{kind="SalesforceConnection", namespace="ops", name="far", pod="a"} ` + at(20*day) + `x60
sfconn_jwt_certificate_next_pending{kind="SalesforceConnection", namespace="ops", name="far", pod="a"} 1x60
`,
			checks: []alertCheck{
				{minute: 1, firing: []string{alert("SfconnJWTCertificateExpiring", "ops/jwt", "warning")}},
				{minute: 30, firing: []string{alert("SfconnJWTCertificateExpiring", "ops/jwt", "warning")}},
				{minute: 31, firing: nil},
				{minute: 60, firing: nil},
			},
		},
		{
			name: "a JWT certificate near its end with no next published yet does not warn",
			series: `
sfconn_leader{pod="a"} 1x10
sfconn_jwt_certificate_expiration_timestamp_seconds{kind="SalesforceConnection", namespace="ops", name="jwt", pod="a"} ` + at(10*day) + `x10
sfconn_token_expiration_timestamp_seconds{kind="SalesforceConnection", namespace="ops", name="jwt", pod="a"} ` + at(2*day) + `x10
`,
			checks: []alertCheck{{minute: 10, firing: nil}},
		},
	} {
		t.Run(sc.name, func(t *testing.T) {
			runAlertScenario(t, sc)
		})
	}
}

func runAlertScenario(t *testing.T, sc alertScenario) {
	t.Helper()
	storage := promqltest.LoadedStorage(t, "load 1m\n"+strings.TrimSpace(sc.series))
	// Default parser options: a rule that needs an experimental function or syntax would
	// fail in a Prometheus that has not turned it on, so it fails here.
	p := parser.NewParser(parser.Options{})
	engine := promqltest.NewTestEngineWithOpts(t, promql.EngineOpts{
		MaxSamples: 50_000_000, Timeout: time.Minute, LookbackDelta: 5 * time.Minute, Parser: p,
	})
	query := rules.EngineQueryFunc(engine, storage)
	alerting := prometheusAlertingRules(t, p)

	ctx := context.Background()
	last := slices.MaxFunc(sc.checks, func(a, b alertCheck) int { return a.minute - b.minute }).minute
	next := 0
	for ts := time.Unix(0, 0).UTC(); ts.Unix() <= int64(last*60); ts = ts.Add(evalInterval) {
		for _, r := range alerting {
			if _, err := r.Eval(ctx, 0, ts, query, nil, 0); err != nil {
				t.Fatalf("%s at minute %d: %v", r.Name(), ts.Unix()/60, err)
			}
		}
		for next < len(sc.checks) && int64(sc.checks[next].minute*60) == ts.Unix() {
			c := sc.checks[next]
			got := firingAlerts(alerting)
			want := slices.Clone(c.firing)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("minute %d: firing\n  %s\nwant\n  %s", c.minute, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
			}
			if c.summaries != nil {
				gotSummaries, wantSummaries := firingSummaries(alerting), slices.Sorted(slices.Values(c.summaries))
				if !slices.Equal(gotSummaries, wantSummaries) {
					t.Errorf("minute %d: summaries\n  %s\nwant\n  %s", c.minute,
						strings.Join(gotSummaries, "\n  "), strings.Join(wantSummaries, "\n  "))
				}
			}
			next++
		}
	}
	if next != len(sc.checks) {
		t.Fatalf("checks must be in order of minute; %d of %d ran", next, len(sc.checks))
	}
}

func firingAlerts(alerting []*rules.AlertingRule) []string {
	var out []string
	for _, r := range alerting {
		for _, a := range r.ActiveAlerts() {
			if a.State == rules.StateFiring {
				out = append(out, a.Labels.String())
			}
		}
	}
	slices.Sort(out)
	return out
}

// firingSummaries are the summary annotations of the firing alerts, as Prometheus
// expands their templates.
func firingSummaries(alerting []*rules.AlertingRule) []string {
	var out []string
	for _, r := range alerting {
		for _, a := range r.ActiveAlerts() {
			if a.State == rules.StateFiring {
				out = append(out, a.Annotations.Get("summary"))
			}
		}
	}
	slices.Sort(out)
	return out
}

// prometheusAlertingRules turns the PrometheusRule's alerts into Prometheus' alerting
// rules, fresh for each scenario: a rule keeps the state of its alerts.
func prometheusAlertingRules(t *testing.T, p parser.Parser) []*rules.AlertingRule {
	t.Helper()
	var out []*rules.AlertingRule
	for _, r := range loadRules(t) {
		if r.Alert == "" {
			continue
		}
		expr, err := p.ParseExpr(r.Expr)
		if err != nil {
			t.Fatalf("%s: %v", r.Alert, err)
		}
		var hold model.Duration
		if r.For != "" {
			if hold, err = model.ParseDuration(r.For); err != nil {
				t.Fatalf("%s: for: %v", r.Alert, err)
			}
		}
		out = append(out, rules.NewAlertingRule(r.Alert, expr, time.Duration(hold), 0,
			labels.FromMap(r.Labels), labels.FromMap(r.Annotations), labels.EmptyLabels(), "", true, nil))
	}
	return out
}

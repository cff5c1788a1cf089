package install

import (
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"
	"text/template"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/yaml"

	"github.com/sfconn/sfconn-operator/internal/metrics"
)

// metric describes one of the operator's metrics: its type, its labels, and the values an
// enumerated label takes.
type metric struct {
	kind   string // gauge, counter or histogram
	labels []string
	values map[string][]string
}

var (
	connectionConditions = metrics.ReportedConditions
	// other: a request internal/metrics cannot name; pending: a device login not approved
	// yet, an expected answer rather than an error.
	grants  = []string{"jwt_bearer", "password", "refresh_token", "client_credentials", "device_code", "revoke", "userinfo", "query", "introspect", "other"}
	results = []string{"success", "terminal", "revoked", "transient", "rate_limited", "pending"}
	// not_ready is absent while Ready is True.
	notReadyStatuses = []string{"False", "Unknown"}
)

// operatorMetrics are the sfconn_* metrics the operator exports. It must match
// internal/metrics: the alerts in config/prometheus and the dashboard in config/grafana may
// use these names, labels and label values only.
var operatorMetrics = map[string]metric{
	"sfconn_token_expiration_timestamp_seconds": {kind: "gauge", labels: []string{"namespace", "name"}},
	"sfconn_connection_not_ready": {kind: "gauge", labels: []string{"namespace", "name", "status", "reason"},
		values: map[string][]string{"status": notReadyStatuses, "reason": metrics.ReadyReasons}},
	"sfconn_connection_condition": {kind: "gauge", labels: []string{"namespace", "name", "type"},
		values: map[string][]string{"type": connectionConditions}},
	"sfconn_approvals": {kind: "gauge", labels: []string{"namespace", "name"}},
	"sfconn_salesforce_requests_total": {kind: "counter", labels: []string{"grant", "result"},
		values: map[string][]string{"grant": grants, "result": results}},
	"sfconn_salesforce_request_duration_seconds": {kind: "histogram", labels: []string{"grant"},
		values: map[string][]string{"grant": grants}},
	"sfconn_jwt_certificate_expiration_timestamp_seconds": {kind: "gauge", labels: []string{"namespace", "name"}},
	"sfconn_jwt_certificate_next_pending":                 {kind: "gauge", labels: []string{"namespace", "name"}},
	"sfconn_refresh_tokens_unsaved":                       {kind: "gauge"},
	"sfconn_leader":                                       {kind: "gauge"},
}

// recordedMetrics are the series the recording rules of config/prometheus record, with
// the labels each keeps. The dashboard may use these too; TestRecordingRules keeps the
// list and the rules in step.
var recordedMetrics = map[string]metric{
	"kind_namespace:sfconn_connections:count": {kind: "gauge", labels: []string{"kind", "namespace"}},
	"kind_namespace_status_reason:sfconn_connection_not_ready:count": {kind: "gauge", labels: []string{"kind", "namespace", "status", "reason"},
		values: map[string][]string{"status": notReadyStatuses, "reason": metrics.ReadyReasons}},
	"kind_namespace_type:sfconn_connection_condition:count": {kind: "gauge", labels: []string{"kind", "namespace", "type"},
		values: map[string][]string{"type": connectionConditions}},
	"grant_result:sfconn_salesforce_requests:rate5m": {kind: "gauge", labels: []string{"grant", "result"},
		values: map[string][]string{"grant": grants, "result": results}},
	"grant_quantile:sfconn_salesforce_request_duration_seconds:histogram_quantile_rate5m": {kind: "gauge",
		labels: []string{"grant", "quantile"}, values: map[string][]string{"grant": grants, "quantile": {"0.5", "0.95"}}},
}

var (
	// A recorded series is level:metric:operations; an operator metric has no colon.
	seriesRE  = regexp.MustCompile(`(?:\b[a-zA-Z_][a-zA-Z0-9_]*:)?\bsfconn_[a-zA-Z0-9_:]*(\s*\{[^}]*\})?`)
	matcherRE = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"`)
)

// seriesRef is one reference to an operator metric in a query.
type seriesRef struct {
	name   string // as written, such as sfconn_salesforce_request_duration_seconds_bucket
	base   string // the metric, such as sfconn_salesforce_request_duration_seconds
	labels []string
}

// checkQuery checks every sfconn_* name in text against operatorMetrics, and the label
// matchers that follow it against the metric's labels and label values. It returns the
// references it found.
func checkQuery(t *testing.T, where, text string) []seriesRef {
	t.Helper()
	refs, problems := queryRefs(text)
	for _, p := range problems {
		t.Errorf("%s: %s", where, p)
	}
	return refs
}

func queryRefs(text string) ([]seriesRef, []string) {
	var refs []seriesRef
	var problems []string
	for _, m := range seriesRE.FindAllStringSubmatch(text, -1) {
		name := strings.TrimSpace(strings.SplitN(m[0], "{", 2)[0])
		base, extraLabel := name, ""
		if _, ok := operatorMetrics[name]; !ok {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if b, ok := strings.CutSuffix(name, suffix); ok && operatorMetrics[b].kind == "histogram" {
					base = b
					if suffix == "_bucket" {
						extraLabel = "le"
					}
				}
			}
		}
		def, ok := operatorMetrics[base]
		if rec, isRecorded := recordedMetrics[name]; isRecorded {
			def, ok = rec, true
		}
		if !ok {
			problems = append(problems, fmt.Sprintf("%s is not one of the operator's metrics (operatorMetrics)", name))
			continue
		}
		allowed := def.labels
		if extraLabel != "" {
			allowed = append(slices.Clone(allowed), extraLabel)
		}
		for _, mm := range matcherRE.FindAllStringSubmatch(m[1], -1) {
			label, op, value := mm[1], mm[2], mm[3]
			if !slices.Contains(allowed, label) {
				problems = append(problems, fmt.Sprintf("%s has no label %q (it has %v)", name, label, allowed))
				continue
			}
			if vals := def.values[label]; vals != nil && (op == "=" || op == "!=") && !strings.Contains(value, "$") &&
				!slices.Contains(vals, value) {
				problems = append(problems, fmt.Sprintf("%s{%s%s%q}: %q is not one of %v", name, label, op, value, value, vals))
			}
		}
		refs = append(refs, seriesRef{name: name, base: base, labels: allowed})
	}
	return refs, problems
}

// rule is an alerting rule of config/prometheus/prometheus_rule.yaml.
type rule struct {
	Alert       string            `json:"alert"`
	Record      string            `json:"record"`
	Expr        string            `json:"expr"`
	For         string            `json:"for"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

func loadRules(t *testing.T) []rule {
	t.Helper()
	var pr struct {
		APIVersion string         `json:"apiVersion"`
		Kind       string         `json:"kind"`
		Metadata   map[string]any `json:"metadata"`
		Spec       struct {
			Groups []struct {
				Name  string `json:"name"`
				Rules []rule `json:"rules"`
			} `json:"groups"`
		} `json:"spec"`
	}
	if err := yaml.UnmarshalStrict(readRepoFile(t, "config/prometheus/prometheus_rule.yaml"), &pr); err != nil {
		t.Fatalf("config/prometheus/prometheus_rule.yaml: %v", err)
	}
	var rules []rule
	for _, g := range pr.Spec.Groups {
		if g.Name == "" || len(g.Rules) == 0 {
			t.Errorf("config/prometheus/prometheus_rule.yaml: group %q has no name or no rules", g.Name)
		}
		rules = append(rules, g.Rules...)
	}
	return rules
}

const runbookPrefix = "https://github.com/sfconn/sfconn-operator/blob/main/docs/troubleshooting.md#"

var (
	labelRefRE = regexp.MustCompile(`\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)`)
	byRE       = regexp.MustCompile(`\bby\s*\(([^)]*)\)`)
)

func TestAlertRules(t *testing.T) {
	rules := loadRules(t)
	anchors := markdownAnchors(string(readRepoFile(t, "docs/troubleshooting.md")))
	seen := map[string]rule{}
	for _, r := range rules {
		if r.Alert == "" {
			continue
		}
		t.Run(r.Alert, func(t *testing.T) {
			g := NewWithT(t)
			g.Expect(seen).NotTo(HaveKey(r.Alert), "duplicate alert")
			seen[r.Alert] = r
			refs := checkQuery(t, r.Alert, r.Expr)
			g.Expect(refs).NotTo(BeEmpty(), "the alert uses none of the operator's metrics")
			g.Expect(strings.Count(r.Expr, "(")).To(Equal(strings.Count(r.Expr, ")")), "unbalanced parentheses")

			g.Expect(r.Labels).To(HaveKey("severity"))
			g.Expect([]string{"critical", "warning", "info"}).To(ContainElement(r.Labels["severity"]))
			for _, a := range []string{"summary", "description", "runbook_url"} {
				g.Expect(strings.TrimSpace(r.Annotations[a])).NotTo(BeEmpty(), "annotation %s", a)
			}
			anchor, ok := strings.CutPrefix(r.Annotations["runbook_url"], runbookPrefix)
			g.Expect(ok).To(BeTrue(), "runbook_url must start with %s", runbookPrefix)
			g.Expect(anchors).To(ContainElement(anchor), "runbook_url: docs/troubleshooting.md has no heading #%s", anchor)

			// The labels the alert carries: those of its by (...) clause, else those of its
			// metrics. The annotations may name only these.
			var carried []string
			if by := byRE.FindAllStringSubmatch(r.Expr, -1); by != nil {
				for _, l := range strings.Split(by[len(by)-1][1], ",") {
					carried = append(carried, strings.TrimSpace(l))
				}
			} else {
				for _, ref := range refs {
					carried = append(carried, ref.labels...)
				}
			}
			for _, a := range []string{"summary", "description"} {
				for _, m := range labelRefRE.FindAllStringSubmatch(r.Annotations[a], -1) {
					g.Expect(carried).To(ContainElement(m[1]), "%s names $labels.%s, which the alert does not carry", a, m[1])
				}
				if slices.Contains(carried, "namespace") && slices.Contains(carried, "name") {
					g.Expect(r.Annotations[a]).To(And(ContainSubstring("$labels.namespace"), ContainSubstring("$labels.name")),
						"%s must name the connection", a)
				}
				checkTemplate(t, a, r.Annotations[a], carried)
			}
		})
	}

	// The alerts the operator's users rely on.
	want := map[string]struct{ severity, expr, forDuration string }{
		"SfconnOperatorDown":           {"critical", "absent(sfconn_leader)", "5m"},
		"SfconnNoLeader":               {"critical", "max(sfconn_leader) < 1", "5m"},
		"SfconnTokenRenewalOverdue":    {"warning", `last_over_time(sfconn_connection_condition{type="Expiring"}[5m])`, "5m"},
		"SfconnTokenExpired":           {"critical", "(last_over_time(sfconn_token_expiration_timestamp_seconds[25h])) < time()", ""},
		"SfconnConnectionRevoked":      {"critical", `last_over_time(sfconn_connection_condition{type="Revoked"}[5m])`, ""},
		"SfconnApprovalLimitReached":   {"warning", `last_over_time(sfconn_connection_condition{type="ApprovalLimit"}[5m])`, ""},
		"SfconnConnectionStalled":      {"warning", `last_over_time(sfconn_connection_condition{type="Stalled"}[5m])`, "5m"},
		"SfconnConnectionNotReady":     {"critical", `last_over_time(sfconn_connection_not_ready{reason!~"AwaitingAdmin|AwaitingApproval"}[5m])`, "15m"},
		"SfconnAwaitingAdmin":          {"warning", `sfconn_connection_not_ready{reason="AwaitingAdmin"}`, "15m"},
		"SfconnAwaitingApproval":       {"warning", `sfconn_connection_not_ready{reason="AwaitingApproval"}`, "15m"},
		"SfconnJWTCertificateExpiring": {"warning", "sfconn_jwt_certificate_next_pending", ""},
		"SfconnSalesforceErrors":       {"warning", `result=~"terminal|revoked|transient|rate_limited"`, ""},
		"SfconnRefreshTokenUnsaved":    {"critical", "max(sfconn_refresh_tokens_unsaved) > 0", "5m"},
	}
	// A cause reported only while it holds is read over 5 minutes, and dropped once the
	// leader reports the connection without it (config/prometheus/prometheus_rule.yaml
	// says why); alerts_test.go proves it on recorded series.
	for _, name := range []string{"SfconnTokenRenewalOverdue", "SfconnConnectionRevoked", "SfconnApprovalLimitReached", "SfconnConnectionStalled",
		"SfconnConnectionNotReady", "SfconnAwaitingAdmin", "SfconnAwaitingApproval", "SfconnJWTCertificateExpiring"} {
		if !strings.Contains(seen[name].Expr, "((max by (kind, namespace, name) (sfconn_token_expiration_timestamp_seconds) or max by (kind, namespace, name) (sfconn_connection_not_ready)) unless on (kind, namespace, name) ") {
			t.Errorf("alert %s does not resolve when the leader reports the connection without its cause", name)
		}
	}
	for name, w := range want {
		r, ok := seen[name]
		if !ok {
			t.Errorf("alert %s is missing", name)
			continue
		}
		if r.Labels["severity"] != w.severity || !strings.Contains(r.Expr, w.expr) || (w.forDuration != "" && r.For != w.forDuration) {
			t.Errorf("alert %s: want severity %s, an expr with %q and for %q; got %s, %q, %q", name, w.severity, w.expr, w.forDuration, r.Labels["severity"], r.Expr, r.For)
		}
	}
}

// checkTemplate renders an annotation as Prometheus would: a Go template with $labels and
// $value defined, and Prometheus' humanize functions.
func checkTemplate(t *testing.T, name, text string, labels []string) {
	t.Helper()
	humanize := func(v any) string { return fmt.Sprint(v) }
	tmpl, err := template.New(name).Option("missingkey=error").Funcs(template.FuncMap{
		"humanize": humanize, "humanizeDuration": humanize, "humanizePercentage": humanize, "humanizeTimestamp": humanize,
	}).Parse("{{$labels := .Labels}}{{$value := .Value}}" + text)
	if err != nil {
		t.Errorf("annotation %s: %v", name, err)
		return
	}
	data := struct {
		Labels map[string]string
		Value  float64
	}{Labels: map[string]string{}, Value: 1}
	for _, l := range labels {
		data.Labels[l] = "x"
	}
	if err := tmpl.Execute(io.Discard, data); err != nil {
		t.Errorf("annotation %s: %v", name, err)
	}
}

// markdownAnchors returns the anchors GitHub gives the headings of a Markdown document.
func markdownAnchors(doc string) []string {
	var out []string
	inFence := false
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(line, "```") {
			inFence = !inFence
		}
		if inFence || !strings.HasPrefix(line, "#") {
			continue
		}
		heading := strings.ToLower(strings.TrimSpace(strings.TrimLeft(line, "#")))
		var b strings.Builder
		for _, r := range heading {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9'):
				b.WriteRune(r)
			}
		}
		out = append(out, b.String())
	}
	return out
}

// dashboard is the part of the Grafana dashboard model the tests read.
type dashboard struct {
	UID        string `json:"uid"`
	Title      string `json:"title"`
	Templating struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Datasource *datasource     `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type panel struct {
	ID         int                      `json:"id"`
	Type       string                   `json:"type"`
	Title      string                   `json:"title"`
	Datasource *datasource              `json:"datasource"`
	GridPos    struct{ X, Y, W, H int } `json:"gridPos"`
	Targets    []struct {
		Expr       string      `json:"expr"`
		RefID      string      `json:"refId"`
		Datasource *datasource `json:"datasource"`
	} `json:"targets"`
}

func TestDashboard(t *testing.T) {
	g := NewWithT(t)
	raw := readRepoFile(t, "config/grafana/sfconn-dashboard.json")
	var d dashboard
	g.Expect(json.Unmarshal(raw, &d)).To(Succeed())
	g.Expect(d.UID).NotTo(BeEmpty())
	g.Expect(d.Title).NotTo(BeEmpty())

	// Every sfconn_* name anywhere in the dashboard, descriptions included, is a metric of
	// the operator.
	var all any
	g.Expect(json.Unmarshal(raw, &all)).To(Succeed())
	walkStrings(all, func(s string) { checkQuery(t, "dashboard", s) })

	// The data source and the namespace are variables.
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
		if v.Name == "namespace" {
			g.Expect(v.Datasource).NotTo(BeNil())
			g.Expect(v.Datasource.UID).To(Equal("${datasource}"))
			g.Expect(string(v.Query)).To(ContainSubstring("sfconn_"))
		}
	}
	g.Expect(vars).To(HaveKeyWithValue("datasource", "datasource"))
	g.Expect(vars).To(HaveKeyWithValue("namespace", "query"))

	ids := map[int]bool{}
	used := map[string]bool{}
	var exprs []string
	for _, p := range d.Panels {
		g.Expect(ids).NotTo(HaveKey(p.ID), "panel id %d is used twice", p.ID)
		ids[p.ID] = true
		g.Expect(p.Datasource).NotTo(BeNil(), "panel %q has no data source", p.Title)
		g.Expect(p.Datasource.UID).To(Equal("${datasource}"), "panel %q", p.Title)
		g.Expect(p.GridPos.X+p.GridPos.W).To(BeNumerically("<=", 24), "panel %q is wider than the dashboard", p.Title)
		g.Expect(p.GridPos.W*p.GridPos.H).To(BeNumerically(">", 0), "panel %q has no size", p.Title)
		g.Expect(p.Targets).NotTo(BeEmpty(), "panel %q has no query", p.Title)
		for _, target := range p.Targets {
			g.Expect(target.Datasource).NotTo(BeNil())
			g.Expect(target.Datasource.UID).To(Equal("${datasource}"), "panel %q", p.Title)
			g.Expect(strings.Count(target.Expr, "(")).To(Equal(strings.Count(target.Expr, ")")), "panel %q: unbalanced parentheses", p.Title)
			exprs = append(exprs, target.Expr)
			for _, ref := range checkQuery(t, "panel "+p.Title, target.Expr) {
				used[ref.name] = true
				// Per-connection metrics follow the namespace variable.
				if slices.Contains(ref.labels, "namespace") {
					g.Expect(target.Expr).To(ContainSubstring(`namespace=~"$namespace"`), "panel %q", p.Title)
				}
			}
		}
	}

	// The panels: connections reported, ready (all minus not ready) and those not ready, by
	// condition, time to expiry, approvals against the limit, request rate by grant and
	// result, latency percentiles by grant. Counts and request panels read the recorded
	// series, which cost a series per group rather than per connection.
	for _, name := range []string{
		"kind_namespace:sfconn_connections:count",
		"kind_namespace_status_reason:sfconn_connection_not_ready:count",
		"kind_namespace_type:sfconn_connection_condition:count",
		"sfconn_connection_not_ready",
		"sfconn_token_expiration_timestamp_seconds",
		"sfconn_approvals",
		"grant_result:sfconn_salesforce_requests:rate5m",
		"grant_quantile:sfconn_salesforce_request_duration_seconds:histogram_quantile_rate5m",
	} {
		g.Expect(used).To(HaveKey(name), "no panel shows %s", name)
	}
	for _, name := range []string{"sfconn_salesforce_requests_total", "sfconn_salesforce_request_duration_seconds_bucket"} {
		g.Expect(used).NotTo(HaveKey(name), "a panel computes what a recording rule records: %s", name)
	}
	joined := strings.Join(exprs, "\n")
	g.Expect(joined).To(ContainSubstring(`quantile="0.5"`))
	g.Expect(joined).To(ContainSubstring(`quantile="0.95"`))
	g.Expect(joined).To(ContainSubstring("by (grant, result)"))
	// Ready connections are all reported minus those not ready: no series says Ready True.
	g.Expect(joined).To(ContainSubstring(`sum(kind_namespace:sfconn_connections:count{namespace=~"$namespace"}) - (sum(kind_namespace_status_reason:sfconn_connection_not_ready:count{namespace=~"$namespace"}) or vector(0))`))
	// A panel that lists connections one by one lists a bounded number: at thousands of
	// connections, a query per connection is what the recording rules avoid.
	for _, e := range exprs {
		for _, ref := range checkQuery(t, "dashboard", e) {
			if _, recorded := recordedMetrics[ref.name]; !recorded && slices.Contains(ref.labels, "name") {
				g.Expect(e).To(MatchRegexp(`^(topk|bottomk)\(\d+, |\) and on \(kind, namespace, name\) bottomk\(`), "unbounded per-connection query %s", e)
			}
		}
	}
	var tables int
	for _, p := range d.Panels {
		if p.Type == "table" {
			tables++
		}
	}
	g.Expect(tables).To(BeNumerically(">=", 1), "a table lists the connections that are not ready")
}

func walkStrings(v any, f func(string)) {
	switch x := v.(type) {
	case string:
		f(x)
	case []any:
		for _, e := range x {
			walkStrings(e, f)
		}
	case map[string]any:
		for _, e := range x {
			walkStrings(e, f)
		}
	}
}

// TestCheckQueryCatchesMistakes makes sure the metric check above can fail.
func TestCheckQueryCatchesMistakes(t *testing.T) {
	for _, q := range []string{
		"sfconn_token_expiry_seconds",                             // not a metric
		`sfconn_connection_condition{type="Ready2"}`,              // not a condition type
		`sfconn_connection_condition{condition="True"}`,           // not a label of it
		`sfconn_salesforce_requests_total{result="failure"}`,      // not a result
		`sfconn_approvals_bucket`,                                 // not a histogram
		`rate(sfconn_salesforce_requests_total{grant="jwt"}[5m])`, // not a grant
	} {
		if _, problems := queryRefs(q); len(problems) == 0 {
			t.Errorf("queryRefs accepted %s", q)
		}
	}
	refs, problems := queryRefs(`histogram_quantile(0.95, sum by (le) (rate(sfconn_salesforce_request_duration_seconds_bucket{grant="password", le!=""}[5m])))`)
	if len(problems) != 0 || len(refs) != 1 || refs[0].base != "sfconn_salesforce_request_duration_seconds" {
		t.Errorf("queryRefs on a histogram bucket: %v, %v", refs, problems)
	}
}

// TestOperatorMetricsMatchTheOperator keeps operatorMetrics honest: the names the alerts
// and dashboard are checked against are the names internal/metrics exports.
func TestOperatorMetricsMatchTheOperator(t *testing.T) {
	exported := map[string]bool{}
	for _, n := range metrics.Names {
		exported[n] = true
		if _, ok := operatorMetrics[n]; !ok {
			t.Errorf("internal/metrics exports %s, which operatorMetrics lacks", n)
		}
	}
	for n := range operatorMetrics {
		if !exported[n] {
			t.Errorf("operatorMetrics lists %s, which internal/metrics does not export", n)
		}
	}
}

// TestMetricsAndAlertsDocumented keeps docs/metrics.md whole: every metric the operator
// exports, every alert and every recorded series the rules define has a row of its own in
// a table there.
func TestMetricsAndAlertsDocumented(t *testing.T) {
	doc := string(readRepoFile(t, "docs/metrics.md"))
	rowOf := func(name string) bool {
		return regexp.MustCompile("(?m)^\\| `" + regexp.QuoteMeta(name) + "` \\|").MatchString(doc)
	}
	for _, n := range metrics.Names {
		if !rowOf(n) {
			t.Errorf("docs/metrics.md has no table row for the metric %s", n)
		}
	}
	for _, r := range loadRules(t) {
		if r.Alert != "" && !rowOf(r.Alert) {
			t.Errorf("docs/metrics.md has no table row for the alert %s", r.Alert)
		}
		if r.Record != "" && !rowOf(r.Record) {
			t.Errorf("docs/metrics.md has no table row for the recorded series %s", r.Record)
		}
	}
}

package kubectlplugin

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

var now = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

func at(d time.Duration) *metav1.Time {
	t := metav1.NewTime(now.Add(d))
	return &t
}

func TestHumanDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{999 * time.Millisecond, "0s"},
		{45 * time.Second, "45s"},
		{59*time.Second + 999*time.Millisecond, "59s"},
		{time.Minute, "1m"},
		{4*time.Minute + 5*time.Second, "4m5s"},
		{9*time.Minute + 59*time.Second, "9m59s"},
		{10*time.Minute + 30*time.Second, "10m"},
		{59*time.Minute + 59*time.Second, "59m"},
		{time.Hour, "1h"},
		{time.Hour + 12*time.Minute + 40*time.Second, "1h12m"},
		{2 * time.Hour, "2h"},
		{23*time.Hour + 59*time.Minute, "23h59m"},
		{24 * time.Hour, "1d"},
		{3*24*time.Hour + 4*time.Hour + 30*time.Minute, "3d4h"},
		{-3 * time.Minute, "3m"},
	}
	for _, tc := range tests {
		if got := humanDuration(tc.d); got != tc.want {
			t.Errorf("humanDuration(%s) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestExpiresAndRenewsIn(t *testing.T) {
	tests := []struct {
		name    string
		t       *metav1.Time
		expires string
		renews  string
	}{
		{"no time", nil, "-", "-"},
		{"ahead", at(time.Hour + 12*time.Minute), "1h12m", "1h12m"},
		{"seconds ahead", at(30 * time.Second), "30s", "30s"},
		{"now", at(0), "expired 0s ago", "overdue 0s"},
		{"past", at(-3*time.Minute - 10*time.Second), "expired 3m10s ago", "overdue 3m10s"},
		{"long past", at(-50 * time.Hour), "expired 2d2h ago", "overdue 2d2h"},
	}
	for _, tc := range tests {
		if got := expiresIn(now, tc.t); got != tc.expires {
			t.Errorf("%s: expiresIn = %q, want %q", tc.name, got, tc.expires)
		}
		if got := renewsIn(now, tc.t); got != tc.renews {
			t.Errorf("%s: renewsIn = %q, want %q", tc.name, got, tc.renews)
		}
	}
}

func TestRelative(t *testing.T) {
	if got := relative(now, now.Add(90*time.Minute)); got != "in 1h30m" {
		t.Errorf("future: %q", got)
	}
	if got := relative(now, now.Add(-90*time.Second)); got != "1m30s ago" {
		t.Errorf("past: %q", got)
	}
}

func TestTruncateAndCell(t *testing.T) {
	tests := []struct {
		s    string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly ten", 11, "exactly ten"},
		{"a longer message", 10, "a longe..."},
		{"héllo wörld", 8, "héllo..."},
		{"abcdef", 2, "ab"},
	}
	for _, tc := range tests {
		if got := truncate(tc.s, tc.n); got != tc.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
		}
	}
	if got := cell("two\tlines\nhere "); got != "two lines here" {
		t.Errorf("cell = %q", got)
	}
	if got := cell(" "); got != "-" {
		t.Errorf("empty cell = %q", got)
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 5: "5", 999: "999", 1000: "1,000", 15000: "15,000", 976562: "976,562", 1234567: "1,234,567", -4200: "-4,200"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

func readyConn(ns, name string) sfv1.SalesforceConnection {
	return sfv1.SalesforceConnection{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Generation: 1},
		Status: sfv1.SalesforceConnectionStatus{
			ObservedGeneration: 1,
			InstanceURL:        "https://acme.my.salesforce.com",
			OrgID:              "00D5g00000AbCdEEAQ",
			UserID:             "0055g00000AlIcEAAV",
			IssuedAt:           at(-48 * time.Minute),
			ExpiresAt:          at(time.Hour + 12*time.Minute),
			RenewAt:            at(32 * time.Minute),
			TokenSecretName:    name + "-token",
			Principal:          &sfv1.Principal{OrgID: "00D5g00000AbCdEEAQ", ClientID: "3MVG9", UserID: "0055g00000AlIcEAAV", Username: "integration@acme.com"},
			Approvals:          &sfv1.ApprovalsSummary{Count: 2, Limit: 5},
			Conditions: []metav1.Condition{{
				Type: sfv1.ConditionReady, Status: metav1.ConditionTrue, Reason: sfv1.ReasonTokenIssued,
				Message: "Token valid until 2026-03-02T10:42:00Z; renewal at 2026-03-02T10:02:00Z",
			}},
		},
	}
}

func failedConn(ns, name string) sfv1.SalesforceConnection {
	return sfv1.SalesforceConnection{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Status: sfv1.SalesforceConnectionStatus{
			Conditions: []metav1.Condition{{
				Type: sfv1.ConditionReady, Status: metav1.ConditionFalse, Reason: sfv1.ReasonAuthenticationFailed,
				Message: "Salesforce refused the credentials\n(invalid_grant: authentication failure): check the password and security token in Secret crm-credentials",
			}},
		},
	}
}

func TestStatusTable(t *testing.T) {
	expired := readyConn("billing", "old")
	expired.Status.ExpiresAt, expired.Status.RenewAt = at(-3*time.Minute), at(-23*time.Minute)
	expired.Status.Principal, expired.Status.Approvals = nil, nil
	expired.Status.Conditions[0] = metav1.Condition{Type: sfv1.ConditionReady, Status: metav1.ConditionFalse, Reason: sfv1.ReasonExpired, Message: "expired"}
	fresh := sfv1.SalesforceConnection{ObjectMeta: metav1.ObjectMeta{Namespace: "a-team", Name: "new"}}
	conns := []sfv1.SalesforceConnection{readyConn("billing", "crm"), failedConn("billing", "broken"), expired, fresh}

	tests := []struct {
		name          string
		withNamespace bool
		wide          bool
		header        []string
		rows          [][]string
	}{{
		name:   "default",
		header: []string{"NAME", "READY", "REASON", "EXPIRES IN", "RENEWS IN", "PRINCIPAL", "APPROVALS", "MESSAGE"},
		rows: [][]string{
			{"new", "-", "-", "-", "-", "-", "-", ""},
			{"broken", "False", "AuthenticationFailed", "-", "-", "-", "-", "Salesforce refused the credentials (invalid_grant: authen..."},
			{"crm", "True", "TokenIssued", "1h12m", "32m", "integration@acme.com", "2/5", "Token valid until 2026-03-02T10:42:00Z; renewal at 2026-0..."},
			{"old", "False", "Expired", "expired 3m ago", "overdue 23m", "0055g00000AlIcEAAV", "-", "expired"},
		},
	}, {
		name:          "all namespaces, wide",
		withNamespace: true,
		wide:          true,
		header:        []string{"NAMESPACE", "NAME", "READY", "REASON", "EXPIRES IN", "RENEWS IN", "PRINCIPAL", "APPROVALS", "SECRET", "INSTANCE URL", "MESSAGE"},
		rows: [][]string{
			{"a-team", "new", "-", "-", "-", "-", "-", "-", "", "", ""},
			{"billing", "broken", "False", "AuthenticationFailed", "-", "-", "-", "-", "", "",
				"Salesforce refused the credentials (invalid_grant: authentication failure): check the password and security token in Secret crm-credentials"},
			{"billing", "crm", "True", "TokenIssued", "1h12m", "32m", "integration@acme.com", "2/5", "crm-token", "https://acme.my.salesforce.com",
				"Token valid until 2026-03-02T10:42:00Z; renewal at 2026-03-02T10:02:00Z"},
			{"billing", "old", "False", "Expired", "expired 3m ago", "overdue 23m", "0055g00000AlIcEAAV", "-", "old-token", "https://acme.my.salesforce.com", "expired"},
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			header, rows := statusTable(conns, now, tc.withNamespace, tc.wide)
			if !slices.Equal(header, tc.header) {
				t.Errorf("header = %q\nwant     %q", header, tc.header)
			}
			if len(rows) != len(tc.rows) {
				t.Fatalf("%d rows, want %d: %q", len(rows), len(tc.rows), rows)
			}
			for i := range rows {
				if !slices.Equal(rows[i], tc.rows[i]) {
					t.Errorf("row %d = %q\nwant     %q", i, rows[i], tc.rows[i])
				}
			}
		})
	}
}

func TestWriteTable(t *testing.T) {
	var out bytes.Buffer
	err := writeTable(&out, []string{"NAME", "READY", "MESSAGE"}, [][]string{
		{"crm", "True", "ok"},
		{"a-much-longer-name", "", "two\nlines"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"NAME                 READY   MESSAGE",
		"crm                  True    ok",
		"a-much-longer-name   -       two lines",
		"",
	}, "\n")
	if out.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", out.String(), want)
	}
}

package kubectlplugin

import (
	"regexp"
	"strings"
	"testing"

	testingclock "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

func TestStatusCommand(t *testing.T) {
	crm, broken, other := readyConn("billing", "crm"), failedConn("billing", "broken"), readyConn("sales", "leads")
	c := fakeCluster(interceptor.Funcs{}, &crm, &broken, &other)
	env := testEnv(c, testingclock.NewFakeClock(now))

	t.Run("a namespace", func(t *testing.T) {
		r := run(t, env, "status")
		if r.err != nil {
			t.Fatal(r.err)
		}
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) != 3 {
			t.Fatalf("want a header and two rows:\n%s", r.stdout)
		}
		for i, want := range []string{
			`^NAME\s+READY\s+REASON\s+EXPIRES IN\s+RENEWS IN\s+PRINCIPAL\s+APPROVALS\s+MESSAGE$`,
			`^broken\s+False\s+AuthenticationFailed\s+-\s+-\s+-\s+-\s+Salesforce refused`,
			`^crm\s+True\s+TokenIssued\s+1h12m\s+32m\s+integration@acme.com\s+2/5\s+Token valid until`,
		} {
			if !regexp.MustCompile(want).MatchString(lines[i]) {
				t.Errorf("line %d = %q, want %s", i, lines[i], want)
			}
		}
	})

	t.Run("all namespaces, wide", func(t *testing.T) {
		r := run(t, env, "status", "-A", "-o", "wide")
		if r.err != nil {
			t.Fatal(r.err)
		}
		for _, want := range []string{
			`(?m)^NAMESPACE\s+NAME\s+.*\s+SECRET\s+INSTANCE URL\s+MESSAGE$`,
			`(?m)^billing\s+crm\s+True\s+.*\s+crm-token\s+https://acme.my.salesforce.com\s+Token`,
			`(?m)^sales\s+leads\s+True\s+`,
		} {
			if !regexp.MustCompile(want).MatchString(r.stdout) {
				t.Errorf("output does not match %s:\n%s", want, r.stdout)
			}
		}
	})

	t.Run("one by name", func(t *testing.T) {
		r := run(t, env, "status", "leads", "-n", "sales")
		if r.err != nil {
			t.Fatal(r.err)
		}
		if !strings.Contains(r.stdout, "leads") || strings.Contains(r.stdout, "crm") {
			t.Errorf("output:\n%s", r.stdout)
		}
	})

	t.Run("errors", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"status", "nope"}, `SalesforceConnection "nope" not found in namespace "billing"`},
			{[]string{"status", "crm", "-A"}, "cannot be looked up by name across all namespaces"},
			{[]string{"status", "-o", "yaml"}, `unsupported output format "yaml"`},
			{[]string{"status", "a", "b"}, "accepts at most 1 arg"},
		} {
			r := run(t, env, tc.args...)
			if r.err == nil || !strings.Contains(r.err.Error(), tc.want) {
				t.Errorf("%v: error %v, want %q", tc.args, r.err, tc.want)
			}
		}
	})

	t.Run("none", func(t *testing.T) {
		r := run(t, env, "status", "-n", "empty")
		if r.err != nil || r.stdout != "" || r.stderr != "No SalesforceConnections found in namespace empty.\n" {
			t.Errorf("stdout %q, stderr %q, err %v", r.stdout, r.stderr, r.err)
		}
	})
}

package metrics

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/salesforce"
	"github.com/sfconn/sfconn-operator/internal/salesforce/emulator"
)

func TestConnectionCollector(t *testing.T) {
	expires := metav1.NewTime(time.Unix(1795608000, 0))
	renew := metav1.NewTime(time.Unix(1795605600, 0))
	ready := &sfv1.SalesforceConnection{
		ObjectMeta: metav1.ObjectMeta{Namespace: "billing", Name: "crm", Generation: 2},
		Status: sfv1.SalesforceConnectionStatus{
			ObservedGeneration: 2, ExpiresAt: &expires, RenewAt: &renew,
			Approvals: &sfv1.ApprovalsSummary{Count: 5, Limit: 5},
			Conditions: []metav1.Condition{
				{Type: sfv1.ConditionReady, Status: metav1.ConditionTrue, Reason: sfv1.ReasonTokenIssued},
				{Type: sfv1.ConditionApprovalLimit, Status: metav1.ConditionTrue, Reason: sfv1.ReasonAtLimit},
			},
		},
	}
	stalled := &sfv1.SalesforceConnection{
		ObjectMeta: metav1.ObjectMeta{Namespace: "billing", Name: "erp", Generation: 1},
		Status: sfv1.SalesforceConnectionStatus{
			ObservedGeneration: 1,
			Conditions: []metav1.Condition{
				{Type: sfv1.ConditionReady, Status: metav1.ConditionFalse, Reason: sfv1.ReasonAuthenticationFailed},
				{Type: sfv1.ConditionStalled, Status: metav1.ConditionTrue, Reason: sfv1.ReasonAuthenticationFailed},
			},
		},
	}
	// Generation not observed yet: Ready is not known to describe the spec.
	fresh := &sfv1.SalesforceConnection{ObjectMeta: metav1.ObjectMeta{Namespace: "ops", Name: "new", Generation: 1}}

	scheme := runtime.NewScheme()
	if err := sfv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	reader := fake.NewClientBuilder().WithScheme(scheme).WithObjects(ready, stalled, fresh).Build()
	c := NewConnectionCollector(reader)

	want := `
# HELP sfconn_token_expiration_timestamp_seconds The time the token in the token Secret expires, in seconds since the epoch.
# TYPE sfconn_token_expiration_timestamp_seconds gauge
sfconn_token_expiration_timestamp_seconds{name="crm",namespace="billing"} 1.795608e+09
# HELP sfconn_token_renewal_timestamp_seconds The time the operator renews the token, in seconds since the epoch.
# TYPE sfconn_token_renewal_timestamp_seconds gauge
sfconn_token_renewal_timestamp_seconds{name="crm",namespace="billing"} 1.7956056e+09
# HELP sfconn_connection_ready_status The Ready condition of the connection: 1 for its current status (True, False or Unknown), 0 for the others.
# TYPE sfconn_connection_ready_status gauge
sfconn_connection_ready_status{condition="False",name="crm",namespace="billing"} 0
sfconn_connection_ready_status{condition="True",name="crm",namespace="billing"} 1
sfconn_connection_ready_status{condition="Unknown",name="crm",namespace="billing"} 0
sfconn_connection_ready_status{condition="False",name="erp",namespace="billing"} 1
sfconn_connection_ready_status{condition="True",name="erp",namespace="billing"} 0
sfconn_connection_ready_status{condition="Unknown",name="erp",namespace="billing"} 0
sfconn_connection_ready_status{condition="False",name="new",namespace="ops"} 0
sfconn_connection_ready_status{condition="True",name="new",namespace="ops"} 0
sfconn_connection_ready_status{condition="Unknown",name="new",namespace="ops"} 1
# HELP sfconn_approvals Approvals (refresh tokens) the connection's Salesforce user and connected app hold, as counted in the cluster.
# TYPE sfconn_approvals gauge
sfconn_approvals{name="crm",namespace="billing"} 5
# HELP sfconn_approvals_limit Approvals Salesforce keeps per user and connected app before it revokes the oldest.
# TYPE sfconn_approvals_limit gauge
sfconn_approvals_limit{name="crm",namespace="billing"} 5
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want),
		TokenExpiration, TokenRenewal, ReadyStatus, Approvals, ApprovalsLimit); err != nil {
		t.Fatal(err)
	}

	conditions := map[string]float64{}
	for _, typ := range reportedConditions {
		conditions[typ] = 0
	}
	conditions[sfv1.ConditionReady], conditions[sfv1.ConditionApprovalLimit] = 1, 1
	var b strings.Builder
	b.WriteString("# HELP sfconn_connection_condition 1 while the condition of this type is True, else 0.\n# TYPE sfconn_connection_condition gauge\n")
	for _, conn := range []struct {
		ns, name string
		true     []string
	}{
		{"billing", "crm", []string{sfv1.ConditionReady, sfv1.ConditionApprovalLimit}},
		{"billing", "erp", []string{sfv1.ConditionStalled}},
		{"ops", "new", nil},
	} {
		for _, typ := range reportedConditions {
			v := "0"
			for _, tr := range conn.true {
				if tr == typ {
					v = "1"
				}
			}
			b.WriteString(`sfconn_connection_condition{name="` + conn.name + `",namespace="` + conn.ns + `",type="` + typ + `"} ` + v + "\n")
		}
	}
	if err := testutil.CollectAndCompare(c, strings.NewReader(b.String()), ConditionStatus); err != nil {
		t.Fatal(err)
	}
}

func TestRequestsCountsByGrantAndResult(t *testing.T) {
	emu := emulator.New()
	srv := httptest.NewServer(emu.Handler())
	defer srv.Close()
	if err := emu.Apply(emulator.State{
		Orgs:  []emulator.Org{{ID: "00D000000000001AAA"}},
		Apps:  []emulator.ConnectedApp{{ClientID: "app", ClientSecret: "app-secret", Name: "App", AdminApproved: true, ClientCredentialsUser: "u@example.com"}},
		Users: []emulator.User{{Username: "u@example.com", Password: "pw", OrgID: "00D000000000001AAA"}},
	}); err != nil {
		t.Fatal(err)
	}
	m := NewRequests()
	c := m.Instrument(salesforce.NewClient())
	ctx := context.Background()
	good := salesforce.LoginRequest{LoginURL: srv.URL, Grant: salesforce.GrantClientCredentials, ClientID: "app", ClientSecret: "app-secret"}
	if _, err := c.Login(ctx, good); err != nil {
		t.Fatalf("login: %v", err)
	}
	bad := good
	bad.ClientSecret = "wrong"
	if _, err := c.Login(ctx, bad); err == nil {
		t.Fatal("a wrong client secret logged in")
	}
	if err := emu.InjectFault(emulator.Fault{Endpoint: emulator.EndpointToken, Status: 503}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Login(ctx, good); err == nil {
		t.Fatal("a 503 logged in")
	}

	for result, want := range map[string]float64{ResultSuccess: 1, ResultTerminal: 1, ResultTransient: 1, ResultRevoked: 0} {
		if got := testutil.ToFloat64(m.total.WithLabelValues(GrantClientCredentials, result)); got != want {
			t.Errorf("requests{grant=client_credentials,result=%s} = %v, want %v", result, got, want)
		}
	}
	if n := testutil.CollectAndCount(m.duration, RequestDuration); n != 1 {
		t.Errorf("duration series = %d, want 1 (one grant)", n)
	}

	reg := prometheus.NewPedanticRegistry()
	if _, err := Register(reg, fake.NewClientBuilder().Build(), func() int { return 2 }); err != nil {
		t.Fatalf("Register: %v", err)
	}
	if got, err := testutil.GatherAndCount(reg, UnsavedRefreshTokens); err != nil || got != 1 {
		t.Fatalf("%s series = %d (%v), want 1", UnsavedRefreshTokens, got, err)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`# HELP sfconn_refresh_tokens_unsaved Rotated refresh tokens held in the operator's memory only: the API server did not store them, and a restart now would lose them.
# TYPE sfconn_refresh_tokens_unsaved gauge
sfconn_refresh_tokens_unsaved 2
`), UnsavedRefreshTokens); err != nil {
		t.Fatal(err)
	}
}

func TestRequestsLabelsQueryAndIntrospect(t *testing.T) {
	emu := emulator.New()
	srv := httptest.NewServer(emu.Handler())
	defer srv.Close()
	if err := emu.Apply(emulator.State{
		Orgs: []emulator.Org{{ID: "00D000000000001AAA"}},
		Apps: []emulator.ConnectedApp{{ClientID: "app", ClientSecret: "app-secret", Name: "App"}},
	}); err != nil {
		t.Fatal(err)
	}
	m := NewRequests()
	c := m.Instrument(salesforce.NewClient())
	ctx := context.Background()

	// A token the emulator never issued: the REST API refuses it, introspection calls it
	// inactive, which is an answer rather than an error.
	if _, err := c.QueryApprovals(ctx, srv.URL, "00D000000000001!dead", "App", "005000000000001AAA"); salesforce.ClassOf(err) != salesforce.Terminal {
		t.Fatalf("query with a dead token: %v", err)
	}
	info, err := c.Introspect(ctx, srv.URL, "app", "app-secret", "00D000000000001!dead")
	if err != nil || info.Active {
		t.Fatalf("introspect of a dead token = %+v, %v", info, err)
	}
	if _, err := c.Introspect(ctx, srv.URL, "unknown", "app-secret", "00D000000000001!dead"); err == nil {
		t.Fatal("introspect with an unknown client succeeded")
	}

	for _, tt := range []struct {
		grant, result string
		want          float64
	}{
		{GrantQuery, ResultTerminal, 1},
		{GrantIntrospect, ResultSuccess, 1},
		{GrantIntrospect, ResultTerminal, 1},
	} {
		if got := testutil.ToFloat64(m.total.WithLabelValues(tt.grant, tt.result)); got != tt.want {
			t.Errorf("requests{grant=%s,result=%s} = %v, want %v", tt.grant, tt.result, got, tt.want)
		}
	}
	if n := testutil.CollectAndCount(m.duration, RequestDuration); n != 2 {
		t.Errorf("duration series = %d, want 2 (query and introspect)", n)
	}
}

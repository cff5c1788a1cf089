package metrics

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

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
			// The next certificate is published and not accepted yet.
			JWTCertificate: &sfv1.GeneratedCertificate{Fingerprint: "aa", NotAfter: metav1.NewTime(time.Unix(1796000000, 0)),
				NextFingerprint: "bb", NextNotAfter: &metav1.Time{Time: time.Unix(1860000000, 0)}},
			Conditions: []metav1.Condition{
				{Type: sfv1.ConditionReady, Status: metav1.ConditionTrue, Reason: sfv1.ReasonTokenIssued},
				{Type: sfv1.ConditionApprovalLimit, Status: metav1.ConditionTrue, Reason: sfv1.ReasonAtLimit},
				// Past the renewal time, the token still valid.
				{Type: sfv1.ConditionExpiring, Status: metav1.ConditionTrue, Reason: sfv1.ReasonRenewalFailing},
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
	// Generation not observed yet: Ready is not known to describe the spec, whatever
	// reason it still shows.
	fresh := &sfv1.SalesforceConnection{ObjectMeta: metav1.ObjectMeta{Namespace: "ops", Name: "new", Generation: 2},
		Status: sfv1.SalesforceConnectionStatus{ObservedGeneration: 1, Conditions: []metav1.Condition{
			{Type: sfv1.ConditionReady, Status: metav1.ConditionFalse, Reason: sfv1.ReasonAwaitingAdmin}}}}
	// A generated key whose next certificate was accepted: status names no next.
	waiting := &sfv1.SalesforceConnection{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ops", Name: "jwt", Generation: 1},
		Status: sfv1.SalesforceConnectionStatus{
			ObservedGeneration: 1,
			JWTCertificate:     &sfv1.GeneratedCertificate{Fingerprint: "cc", NotAfter: metav1.NewTime(time.Unix(1860000000, 0))},
			Conditions: []metav1.Condition{
				{Type: sfv1.ConditionReady, Status: metav1.ConditionFalse, Reason: sfv1.ReasonAwaitingAdmin},
			},
		},
	}

	// A cluster connection of the same name as a namespaced one: the kind tells them
	// apart, and its namespace is empty.
	cluster := &sfv1.ClusterSalesforceConnection{
		ObjectMeta: metav1.ObjectMeta{Name: "crm", Generation: 3},
		Status: sfv1.ClusterSalesforceConnectionStatus{SalesforceConnectionStatus: sfv1.SalesforceConnectionStatus{
			ObservedGeneration: 3, ExpiresAt: &expires,
			Conditions: []metav1.Condition{{Type: sfv1.ConditionReady, Status: metav1.ConditionTrue, Reason: sfv1.ReasonTokenIssued}},
		}},
	}

	scheme := runtime.NewScheme()
	if err := sfv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	reader := fake.NewClientBuilder().WithScheme(scheme).WithObjects(ready, stalled, fresh, waiting, cluster).Build()
	c := NewConnectionCollector(reader, func() bool { return true }, true)

	want := `
# HELP sfconn_token_expiration_timestamp_seconds The time the token in the token Secret expires, in seconds since the epoch.
# TYPE sfconn_token_expiration_timestamp_seconds gauge
sfconn_token_expiration_timestamp_seconds{kind="ClusterSalesforceConnection",name="crm",namespace=""} 1.795608e+09
sfconn_token_expiration_timestamp_seconds{kind="SalesforceConnection",name="crm",namespace="billing"} 1.795608e+09
# HELP sfconn_connection_not_ready 1 while the connection is not Ready, with the status (False, or Unknown while the current generation is not reconciled yet) and reason of its Ready condition; absent while Ready is True.
# TYPE sfconn_connection_not_ready gauge
sfconn_connection_not_ready{kind="SalesforceConnection",name="erp",namespace="billing",reason="AuthenticationFailed",status="False"} 1
sfconn_connection_not_ready{kind="SalesforceConnection",name="jwt",namespace="ops",reason="AwaitingAdmin",status="False"} 1
sfconn_connection_not_ready{kind="SalesforceConnection",name="new",namespace="ops",reason="Unknown",status="Unknown"} 1
# HELP sfconn_connection_condition 1 while the condition of this type is True; absent otherwise.
# TYPE sfconn_connection_condition gauge
sfconn_connection_condition{kind="SalesforceConnection",name="crm",namespace="billing",type="ApprovalLimit"} 1
sfconn_connection_condition{kind="SalesforceConnection",name="crm",namespace="billing",type="Expiring"} 1
sfconn_connection_condition{kind="SalesforceConnection",name="erp",namespace="billing",type="Stalled"} 1
# HELP sfconn_approvals Approvals (refresh tokens) the connection's Salesforce user and connected app hold, as counted in the cluster.
# TYPE sfconn_approvals gauge
sfconn_approvals{kind="SalesforceConnection",name="crm",namespace="billing"} 5
# HELP sfconn_jwt_certificate_expiration_timestamp_seconds The time the generated JWT certificate in use ends, in seconds since the epoch.
# TYPE sfconn_jwt_certificate_expiration_timestamp_seconds gauge
sfconn_jwt_certificate_expiration_timestamp_seconds{kind="SalesforceConnection",name="crm",namespace="billing"} 1.796e+09
sfconn_jwt_certificate_expiration_timestamp_seconds{kind="SalesforceConnection",name="jwt",namespace="ops"} 1.86e+09
# HELP sfconn_jwt_certificate_next_pending 1 while the next generated JWT certificate is published and Salesforce has not accepted it yet; absent otherwise.
# TYPE sfconn_jwt_certificate_next_pending gauge
sfconn_jwt_certificate_next_pending{kind="SalesforceConnection",name="crm",namespace="billing"} 1
`
	// Compared whole, with no name filter: a series the collector adds is a failure here.
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}

	// Without cluster connections, the collector lists none: the cache has no informer
	// for them, which the manager's role may not allow.
	noCluster := fake.NewClientBuilder().WithScheme(scheme).WithObjects(ready).
		WithInterceptorFuncs(interceptor.Funcs{List: func(ctx context.Context, cl client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			if _, ok := list.(*sfv1.ClusterSalesforceConnectionList); ok {
				t.Error("listed cluster connections with cluster connections off")
			}
			return cl.List(ctx, list, opts...)
		}}).Build()
	if n := testutil.CollectAndCount(NewConnectionCollector(noCluster, func() bool { return true }, false), TokenExpiration); n != 1 {
		t.Errorf("without cluster connections: %d expiry series, want 1", n)
	}

	// A replica that does not lead reports no connection: its cache says what the
	// leader's does, and two copies would double every count.
	if n := testutil.CollectAndCount(NewConnectionCollector(reader, func() bool { return false }, true)); n != 0 {
		t.Errorf("a replica that does not lead reported %d series, want 0", n)
	}
}

func TestReadyReasonLabel(t *testing.T) {
	for _, tt := range []struct{ reason, want string }{
		{sfv1.ReasonTokenIssued, sfv1.ReasonTokenIssued},
		{sfv1.ReasonAwaitingAdmin, sfv1.ReasonAwaitingAdmin},
		{sfv1.ReasonAwaitingApproval, sfv1.ReasonAwaitingApproval},
		{sfv1.ReasonClusterError, sfv1.ReasonClusterError},
		// Anything else a status may hold becomes one value, so the label stays bounded.
		{"", ReasonOther},
		{"SomethingNew", ReasonOther},
		{"tokenissued", ReasonOther},
		{strings.Repeat("x", 1024), ReasonOther},
		{ReasonOther, ReasonOther},
	} {
		if got := readyReasonLabel(tt.reason); got != tt.want {
			t.Errorf("readyReasonLabel(%.20q) = %q, want %q", tt.reason, got, tt.want)
		}
	}
	// Every reason the operator sets on Ready is a value of its own.
	for _, r := range []string{sfv1.ReasonTokenIssued, sfv1.ReasonInvalidSpec, sfv1.ReasonCredentialsNotFound, sfv1.ReasonInvalidCredentials,
		sfv1.ReasonAuthenticationFailed, sfv1.ReasonRevoked, sfv1.ReasonApprovalLimitReached, sfv1.ReasonSalesforceUnavailable,
		sfv1.ReasonRateLimited, sfv1.ReasonExpired, sfv1.ReasonAwaitingAdmin, sfv1.ReasonAwaitingApproval, sfv1.ReasonClusterError,
		sfv1.ReasonSuspended} {
		if readyReasonLabel(r) != r {
			t.Errorf("Ready reason %s is reported as %s", r, readyReasonLabel(r))
		}
	}
}

// TestReadyReasonsCoverTheAPI reads the Ready reasons from api/v1alpha1/conditions.go, so
// that a reason added there without a value of its own here fails, rather than being
// reported as Other.
func TestReadyReasonsCoverTheAPI(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "../../api/v1alpha1/conditions.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	var found int
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST || gd.Doc == nil || !strings.HasPrefix(gd.Doc.Text(), "Reasons of the Ready") {
			continue
		}
		for _, spec := range gd.Specs {
			for _, v := range spec.(*ast.ValueSpec).Values {
				lit, ok := v.(*ast.BasicLit)
				if !ok {
					continue
				}
				reason, _ := strconv.Unquote(lit.Value)
				found++
				if !slices.Contains(ReadyReasons, reason) {
					t.Errorf("Ready reason %s of api/v1alpha1 is not in ReadyReasons", reason)
				}
			}
		}
	}
	if found == 0 {
		t.Fatal("found no Ready reasons in api/v1alpha1/conditions.go")
	}
}

func TestLeaderGauge(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := sfv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	conn := &sfv1.SalesforceConnection{ObjectMeta: metav1.ObjectMeta{Namespace: "billing", Name: "crm"}}
	reader := fake.NewClientBuilder().WithScheme(scheme).WithObjects(conn).Build()
	reg := prometheus.NewPedanticRegistry()
	elected := make(chan struct{})
	if _, err := Register(reg, reader, false, func() int { return 0 }, elected); err != nil {
		t.Fatalf("Register: %v", err)
	}
	leader := func(v string) string {
		return "# HELP sfconn_leader 1 on the replica of the operator that holds the leader lease (or runs without leader election), else 0.\n" +
			"# TYPE sfconn_leader gauge\nsfconn_leader " + v + "\n"
	}

	if err := testutil.GatherAndCompare(reg, strings.NewReader(leader("0")), Leader); err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.GatherAndCount(reg, NotReady); err != nil || n != 0 {
		t.Fatalf("before the election: %d %s series (%v), want none", n, NotReady, err)
	}

	close(elected)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(leader("1")), Leader); err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.GatherAndCount(reg, NotReady); err != nil || n != 1 {
		t.Fatalf("once elected: %d %s series (%v), want 1", n, NotReady, err)
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
	if _, err := Register(reg, fake.NewClientBuilder().Build(), false, func() int { return 2 }, make(chan struct{})); err != nil {
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

package kubectlplugin

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stypes "k8s.io/apimachinery/pkg/types"
	testingclock "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

// clusterConn is a ClusterSalesforceConnection with the status of readyConn, delivered to
// three namespaces.
func clusterConn(name string) *sfv1.ClusterSalesforceConnection {
	c := &sfv1.ClusterSalesforceConnection{ObjectMeta: metav1.ObjectMeta{Name: name, Generation: 1, UID: k8stypes.UID("uid-" + name)}}
	c.Status.SalesforceConnectionStatus = readyConn("", name).Status
	c.Status.TokenSecretNamespaces = 3
	return c
}

// forbid makes the fake API server refuse calls as RBAC would: those for which refused
// says so get a 403.
func forbid(refused func(obj client.Object, ns string) bool) interceptor.Funcs {
	deny := func(obj client.Object, ns, name string) error {
		return apierrors.NewForbidden(schema.GroupResource{Group: "test", Resource: fmt.Sprintf("%T", obj)}, name, errors.New("no such right"))
	}
	return interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if refused(obj, key.Namespace) {
				return deny(obj, key.Namespace, key.Name)
			}
			return c.Get(ctx, key, obj, opts...)
		},
		List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			lo := (&client.ListOptions{}).ApplyOptions(opts)
			if _, ok := list.(*sfv1.ClusterSalesforceConnectionList); ok && refused(&sfv1.ClusterSalesforceConnection{}, lo.Namespace) {
				return deny(&sfv1.ClusterSalesforceConnection{}, "", "")
			}
			return c.List(ctx, list, opts...)
		},
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			if refused(obj, obj.GetNamespace()) {
				return deny(obj, obj.GetNamespace(), obj.GetName())
			}
			return c.Patch(ctx, obj, patch, opts...)
		},
	}
}

func TestParseRef(t *testing.T) {
	tests := []struct {
		arg  string
		want connRef
		err  string
	}{
		{arg: "crm", want: connRef{namespace: "billing", name: "crm"}},
		{arg: "sfconn/crm", want: connRef{namespace: "billing", name: "crm"}},
		{arg: "SalesforceConnection/crm", want: connRef{namespace: "billing", name: "crm"}},
		{arg: "salesforceconnections.salesforce.sfconn.io/crm", want: connRef{namespace: "billing", name: "crm"}},
		{arg: "csfconn/crm", want: connRef{cluster: true, name: "crm"}},
		{arg: "clustersalesforceconnection/crm", want: connRef{cluster: true, name: "crm"}},
		{arg: "ClusterSalesforceConnections.salesforce.sfconn.io/crm.v2", want: connRef{cluster: true, name: "crm.v2"}},
		{arg: "secret/crm", err: `"secret" is not a type of connection`},
		{arg: "csfconn.example.com/crm", err: `"csfconn.example.com" is not a type of connection`},
		{arg: "csfconn/", err: `"" is not a connection name`},
		{arg: "csfconn/a/b", err: `"a/b" is not a connection name`},
		{arg: "Crm", err: `"Crm" is not a connection name`},
	}
	for _, tc := range tests {
		got, err := parseRef(tc.arg, "billing")
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.arg, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %+v, %v; want %+v", tc.arg, got, err, tc.want)
		}
	}
	if s := (connRef{cluster: true, name: "crm"}).String(); s != "csfconn/crm" {
		t.Errorf("String() = %q", s)
	}
}

func TestClusterStatusTable(t *testing.T) {
	fresh := sfv1.ClusterSalesforceConnection{ObjectMeta: metav1.ObjectMeta{Name: "new"}}
	conns := []sfv1.ClusterSalesforceConnection{*clusterConn("crm"), fresh}
	header, rows := clusterStatusTable(conns, now, false)
	if want := []string{"NAME", "READY", "REASON", "EXPIRES IN", "RENEWS IN", "NAMESPACES", "PRINCIPAL", "APPROVALS", "MESSAGE"}; !slices.Equal(header, want) {
		t.Errorf("header = %q", header)
	}
	want := [][]string{
		{"csfconn/crm", "True", "TokenIssued", "1h12m", "32m", "3", "integration@acme.com", "2/5", "Token valid until 2026-03-02T10:42:00Z; renewal at 2026-0..."},
		{"csfconn/new", "-", "-", "-", "-", "-", "-", "-", ""},
	}
	if !slices.EqualFunc(rows, want, slices.Equal) {
		t.Errorf("rows = %q\nwant   %q", rows, want)
	}
	header, rows = clusterStatusTable(conns[:1], now, true)
	if header[8] != "SECRET" || rows[0][8] != "crm-token" || rows[0][9] != "https://acme.my.salesforce.com" {
		t.Errorf("wide: %q %q", header, rows)
	}
}

func TestStatusWithClusterConnections(t *testing.T) {
	crm := readyConn("billing", "crm")
	objs := []client.Object{&crm, clusterConn("crm"), clusterConn("leads")}
	env := testEnv(fakeCluster(interceptor.Funcs{}, objs...), testingclock.NewFakeClock(now))

	r := run(t, env, "status")
	if r.err != nil {
		t.Fatal(r.err)
	}
	// The namespace's table, a blank line, then the cluster connections by csfconn/NAME.
	tables := strings.Split(r.stdout, "\n\n")
	if len(tables) != 2 {
		t.Fatalf("want two tables:\n%s", r.stdout)
	}
	if !regexp.MustCompile(`^NAME\s+READY\s+REASON\s+EXPIRES IN\s+RENEWS IN\s+PRINCIPAL\s+APPROVALS\s+MESSAGE\ncrm\s+True\s+`).MatchString(tables[0]) {
		t.Errorf("namespaced table:\n%s", tables[0])
	}
	if !regexp.MustCompile(`^NAME\s+READY\s+REASON\s+EXPIRES IN\s+RENEWS IN\s+NAMESPACES\s+PRINCIPAL\s+APPROVALS\s+MESSAGE\n` +
		`csfconn/crm\s+True\s+TokenIssued\s+1h12m\s+32m\s+3\s+integration@acme.com\s+2/5\s+Token valid\S*.*\ncsfconn/leads\s+True\s+.*\n$`).MatchString(tables[1]) {
		t.Errorf("cluster table:\n%s", tables[1])
	}

	// -n does not matter to cluster connections; the namespace's absence is said apart.
	r = run(t, env, "status", "-n", "empty")
	if r.err != nil || r.stderr != "No SalesforceConnections found in namespace empty.\n" ||
		!strings.HasPrefix(r.stdout, "NAME") || !strings.Contains(r.stdout, "\ncsfconn/crm ") || strings.Contains(r.stdout, "\n\n") {
		t.Errorf("stdout %q, stderr %q, err %v", r.stdout, r.stderr, r.err)
	}

	r = run(t, env, "status", "csfconn/leads", "-n", "elsewhere", "-o", "wide")
	if r.err != nil || !regexp.MustCompile(`\ncsfconn/leads\s+True\s+.*\s+3\s+.*\s+leads-token\s+https://`).MatchString(r.stdout) ||
		strings.Contains(r.stdout, "csfconn/crm") || strings.Count(r.stdout, "\n") != 2 {
		t.Errorf("one by name: %v\n%s", r.err, r.stdout)
	}
	// A cluster-scoped name is the same in every namespace: -A does not refuse it.
	if r := run(t, env, "status", "csfconn/crm", "-A"); r.err != nil {
		t.Errorf("csfconn/crm -A: %v", r.err)
	}
	if r := run(t, env, "status", "csfconn/nope"); r.err == nil || r.err.Error() != `ClusterSalesforceConnection "nope" not found` {
		t.Errorf("missing: %v", r.err)
	}
}

// TestStatusForATenant: a user who may not read cluster connections sees the namespace's
// connections as before, and is told why when naming one.
func TestStatusForATenant(t *testing.T) {
	crm := readyConn("billing", "crm")
	tenant := forbid(func(obj client.Object, _ string) bool {
		_, cluster := obj.(*sfv1.ClusterSalesforceConnection)
		return cluster
	})
	env := testEnv(fakeCluster(tenant, &crm, clusterConn("crm")), testingclock.NewFakeClock(now))
	r := run(t, env, "status")
	if r.err != nil || strings.Contains(r.stdout, "csfconn") || !strings.Contains(r.stdout, "\ncrm ") || r.stderr != "" {
		t.Errorf("stdout %q, stderr %q, err %v", r.stdout, r.stderr, r.err)
	}
	r = run(t, env, "status", "csfconn/crm")
	if r.err == nil || !strings.Contains(r.err.Error(), `you may not read ClusterSalesforceConnection "crm": the platform team grants that`) {
		t.Errorf("error = %v", r.err)
	}
}

// clusterRenew is a fake cluster with csfconn/crm whose operator handles a renewal
// request on the second read after the patch (so renew --wait polls), unless operator is nil.
func clusterRenew(t *testing.T, conn *sfv1.ClusterSalesforceConnection, operator operatorFunc, funcs interceptor.Funcs) (*renewCluster, *[]client.Object) {
	t.Helper()
	rc := &renewCluster{clk: testingclock.NewFakeClock(renewNow)}
	var patched []client.Object
	reads := 0
	rc.WithWatch = fakeCluster(interceptor.Funcs{
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			if funcs.Patch != nil {
				if err := funcs.Patch(ctx, c, obj, patch, opts...); err != nil {
					return err
				}
			} else if err := c.Patch(ctx, obj, patch, opts...); err != nil {
				return err
			}
			rc.patches = append(rc.patches, patch)
			patched = append(patched, obj)
			return nil
		},
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if _, ok := obj.(*sfv1.ClusterSalesforceConnection); ok && len(patched) > 0 && operator != nil {
				if reads++; reads == 2 {
					var cur sfv1.ClusterSalesforceConnection
					if err := c.Get(ctx, key, &cur); err != nil {
						return err
					}
					view := cur.AsConnection("sfconn-system")
					operator(view)
					cur.Status.SalesforceConnectionStatus = view.Status
					cur.Status.LastHandledReconcileAt = cur.Annotations[sfv1.AnnotationRequestedAt]
					if err := c.Status().Update(ctx, &cur); err != nil {
						t.Errorf("operator: %v", err)
					}
				}
			}
			return c.Get(ctx, key, obj, opts...)
		},
	}, conn)
	return rc, &patched
}

func TestRenewClusterConnection(t *testing.T) {
	rc, patched := clusterRenew(t, clusterConn("crm"), renewed, interceptor.Funcs{})
	r := rc.runWithTime(t, "renew", "csfconn/crm", "--wait", "-n", "billing")
	if r.err != nil {
		t.Fatal(r.err)
	}
	for _, want := range []string{
		"Renewal of csfconn/crm requested (reconcile.fluxcd.io/requestedAt=" + renewValue + ")\n",
		"Ready:      True (TokenIssued)\n",
		"Expires at: 2026-03-02T11:30:00Z (in 1h59m)\n",
		"Namespaces: 3 hold the token (Secret crm-token)\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	if len(*patched) != 1 {
		t.Fatalf("%d patches, want 1", len(*patched))
	}
	if _, ok := (*patched)[0].(*sfv1.ClusterSalesforceConnection); !ok {
		t.Errorf("patched a %T, not the cluster connection", (*patched)[0])
	}
	var cur sfv1.ClusterSalesforceConnection
	if err := rc.Get(context.Background(), client.ObjectKey{Name: "crm"}, &cur); err != nil {
		t.Fatal(err)
	}
	if cur.Annotations[sfv1.AnnotationRequestedAt] != renewValue {
		t.Errorf("annotations %v", cur.Annotations)
	}
}

func TestRenewClusterConnectionFailures(t *testing.T) {
	t.Run("stalled", func(t *testing.T) {
		rc, _ := clusterRenew(t, clusterConn("crm"), stalled, interceptor.Funcs{})
		r := rc.runWithTime(t, "renew", "csfconn/crm", "--wait")
		if r.err == nil || !strings.HasPrefix(r.err.Error(), "renewal of csfconn/crm failed and needs a person: Ready=False AuthenticationFailed") {
			t.Errorf("error = %v", r.err)
		}
	})
	t.Run("no operator for cluster connections", func(t *testing.T) {
		rc, _ := clusterRenew(t, clusterConn("crm"), nil, interceptor.Funcs{})
		r := rc.runWithTime(t, "renew", "csfconn/crm", "--wait", "--timeout", "5s")
		if r.err == nil || !strings.Contains(r.err.Error(), "timed out after 5s waiting for the operator to handle the renewal of csfconn/crm") ||
			!strings.Contains(r.err.Error(), "does it serve ClusterSalesforceConnections? (not with --watch-namespaces") {
			t.Errorf("error = %v", r.err)
		}
	})
	t.Run("suspended", func(t *testing.T) {
		conn := clusterConn("crm")
		conn.Spec.Suspend = true
		rc, patched := clusterRenew(t, conn, nil, interceptor.Funcs{})
		r := rc.runWithTime(t, "renew", "csfconn/crm")
		if r.err == nil || !strings.Contains(r.err.Error(), `csfconn/crm is suspended`) ||
			!strings.Contains(r.err.Error(), `kubectl patch csfconn crm --type merge -p '{"spec":{"suspend":false}}'`) || len(*patched) != 0 {
			t.Errorf("error = %v, %d patches", r.err, len(*patched))
		}
	})
	t.Run("a tenant may not patch it", func(t *testing.T) {
		f := forbid(func(obj client.Object, _ string) bool { _, ok := obj.(*sfv1.ClusterSalesforceConnection); return ok })
		rc, patched := clusterRenew(t, clusterConn("crm"), nil, interceptor.Funcs{Patch: f.Patch})
		r := rc.runWithTime(t, "renew", "csfconn/crm", "--wait")
		if r.err == nil || !strings.Contains(r.err.Error(), "you may not renew csfconn/crm: patching a ClusterSalesforceConnection is the platform team's") ||
			len(*patched) != 0 {
			t.Errorf("error = %v", r.err)
		}
	})
	t.Run("missing", func(t *testing.T) {
		rc, _ := clusterRenew(t, clusterConn("crm"), nil, interceptor.Funcs{})
		if r := rc.runWithTime(t, "renew", "csfconn/nope"); r.err == nil || r.err.Error() != `ClusterSalesforceConnection "nope" not found` {
			t.Errorf("error = %v", r.err)
		}
	})
}

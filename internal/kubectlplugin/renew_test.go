package kubectlplugin

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	testingclock "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

// renewNow is the fake clock's time when renew runs; the annotation must carry it.
var renewNow = time.Date(2026, 3, 2, 9, 30, 0, 123456789, time.UTC)

const renewValue = "2026-03-02T09:30:00.123456789Z"

// operatorFunc changes a connection the way the operator would on handling a renewal.
type operatorFunc func(c *sfv1.SalesforceConnection)

func renewed(c *sfv1.SalesforceConnection) {
	c.Status.IssuedAt, c.Status.ExpiresAt, c.Status.RenewAt = at(0), at(2*time.Hour), at(80*time.Minute)
	meta.SetStatusCondition(&c.Status.Conditions, metav1.Condition{Type: sfv1.ConditionReady, Status: metav1.ConditionTrue,
		Reason: sfv1.ReasonTokenIssued, Message: "Token valid until 2026-03-02T11:30:00Z; renewal at 2026-03-02T10:50:00Z"})
}

func stalled(c *sfv1.SalesforceConnection) {
	c.Status.IssuedAt, c.Status.ExpiresAt, c.Status.RenewAt, c.Status.TokenSecretName = nil, nil, nil, ""
	msg := "Salesforce refused the credentials (invalid_grant: authentication failure)"
	meta.SetStatusCondition(&c.Status.Conditions, metav1.Condition{Type: sfv1.ConditionReady, Status: metav1.ConditionFalse,
		Reason: sfv1.ReasonAuthenticationFailed, Message: msg})
	meta.SetStatusCondition(&c.Status.Conditions, metav1.Condition{Type: sfv1.ConditionStalled, Status: metav1.ConditionTrue,
		Reason: sfv1.ReasonAuthenticationFailed, Message: msg})
}

func unavailable(c *sfv1.SalesforceConnection) {
	meta.SetStatusCondition(&c.Status.Conditions, metav1.Condition{Type: sfv1.ConditionReady, Status: metav1.ConditionTrue,
		Reason: sfv1.ReasonTokenIssued, Message: "Token valid until 2026-03-02T10:42:00Z; renewing failed (HTTP 503), next attempt at 2026-03-02T09:30:10Z"})
	meta.SetStatusCondition(&c.Status.Conditions, metav1.Condition{Type: sfv1.ConditionReconciling, Status: metav1.ConditionTrue,
		Reason: sfv1.ReasonSalesforceUnavailable, Message: "Obtaining a token: HTTP 503; next attempt at 2026-03-02T09:30:10Z"})
}

// renewCluster is a fake cluster with billing/crm whose "operator" handles a renewal request
// on the third read after the patch (so renew --wait polls), unless operator is nil. It
// records the patches sent.
type renewCluster struct {
	client.WithWatch
	patches []client.Patch
	clk     *testingclock.FakeClock
}

func newRenewCluster(t *testing.T, operator operatorFunc) *renewCluster {
	t.Helper()
	conn := readyConn("billing", "crm")
	conn.Spec.LoginURL = "https://login.salesforce.com"
	rc := &renewCluster{clk: testingclock.NewFakeClock(renewNow)}
	var reads atomic.Int32
	patched := false
	rc.WithWatch = fakeCluster(interceptor.Funcs{
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			rc.patches = append(rc.patches, patch)
			patched = true
			return c.Patch(ctx, obj, patch, opts...)
		},
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if patched && operator != nil && reads.Add(1) == 3 {
				var cur sfv1.SalesforceConnection
				if err := c.Get(ctx, key, &cur); err != nil {
					return err
				}
				operator(&cur)
				cur.Status.LastHandledReconcileAt = cur.Annotations[sfv1.AnnotationRequestedAt]
				if err := c.Status().Update(ctx, &cur); err != nil {
					t.Errorf("operator: %v", err)
				}
			}
			return c.Get(ctx, key, obj, opts...)
		},
	}, &conn)
	return rc
}

// runWithTime runs the command while moving the fake clock on whenever the command waits.
func (rc *renewCluster) runWithTime(t *testing.T, args ...string) result {
	t.Helper()
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
				if rc.clk.HasWaiters() {
					rc.clk.Step(time.Second)
				}
			}
		}
	}()
	defer close(done)
	return run(t, testEnv(rc, rc.clk), args...)
}

func (rc *renewCluster) conn(t *testing.T) *sfv1.SalesforceConnection {
	t.Helper()
	var c sfv1.SalesforceConnection
	if err := rc.Get(context.Background(), types.NamespacedName{Namespace: "billing", Name: "crm"}, &c); err != nil {
		t.Fatal(err)
	}
	return &c
}

func TestRenewSetsTheAnnotationWithAMergePatch(t *testing.T) {
	rc := newRenewCluster(t, nil)
	r := rc.runWithTime(t, "renew", "crm")
	if r.err != nil {
		t.Fatal(r.err)
	}
	if want := "Renewal of billing/crm requested (reconcile.fluxcd.io/requestedAt=" + renewValue + ")\n"; r.stdout != want {
		t.Errorf("stdout = %q, want %q", r.stdout, want)
	}
	if len(rc.patches) != 1 {
		t.Fatalf("%d patches, want 1", len(rc.patches))
	}
	p := rc.patches[0]
	data, err := p.Data(nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Type() != types.MergePatchType || string(data) != `{"metadata":{"annotations":{"reconcile.fluxcd.io/requestedAt":"`+renewValue+`"}}}` {
		t.Errorf("patch %s %s", p.Type(), data)
	}
	c := rc.conn(t)
	if c.Annotations[sfv1.AnnotationRequestedAt] != renewValue || c.Spec.LoginURL != "https://login.salesforce.com" {
		t.Errorf("after the patch: annotations %v, loginURL %q", c.Annotations, c.Spec.LoginURL)
	}
	if _, err := time.Parse(time.RFC3339Nano, c.Annotations[sfv1.AnnotationRequestedAt]); err != nil {
		t.Error(err)
	}
}

func TestRenewWait(t *testing.T) {
	tests := []struct {
		name     string
		operator operatorFunc
		args     []string
		stdout   []string
		err      []string
	}{{
		name:     "renewed",
		operator: renewed,
		stdout: []string{
			"Renewal of billing/crm requested",
			"Ready:      True (TokenIssued)\n",
			"Issued at:  2026-03-02T09:30:00Z\n",
			"Expires at: 2026-03-02T11:30:00Z (in 1h59m)\n",
			"Renews at:  2026-03-02T10:50:00Z (in 1h19m)\n",
		},
	}, {
		name:     "stalled",
		operator: stalled,
		err:      []string{"renewal of billing/crm failed and needs a person", "AuthenticationFailed", "authentication failure"},
	}, {
		name:     "Salesforce unavailable",
		operator: unavailable,
		err:      []string{"renewal of billing/crm failed: Obtaining a token: HTTP 503", "the current token is still valid"},
	}, {
		name: "no operator",
		args: []string{"--timeout", "10s"},
		err:  []string{"timed out after 10s waiting for the operator", "does it watch namespace billing?"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rc := newRenewCluster(t, tc.operator)
			r := rc.runWithTime(t, append([]string{"renew", "crm", "--wait"}, tc.args...)...)
			for _, want := range tc.stdout {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
				}
			}
			if len(tc.err) == 0 && r.err != nil {
				t.Fatalf("error: %v", r.err)
			}
			for _, want := range tc.err {
				if r.err == nil || !strings.Contains(r.err.Error(), want) {
					t.Errorf("error %v, want it to say %q", r.err, want)
				}
			}
			if len(rc.patches) != 1 {
				t.Errorf("%d patches, want 1", len(rc.patches))
			}
		})
	}
}

func TestRenewUnknownConnection(t *testing.T) {
	rc := newRenewCluster(t, nil)
	r := rc.runWithTime(t, "renew", "nope", "--wait")
	if r.err == nil || r.err.Error() != `SalesforceConnection "nope" not found in namespace "billing"` {
		t.Errorf("error = %v", r.err)
	}
	if len(rc.patches) != 0 {
		t.Errorf("patched a connection that does not exist")
	}
}

func TestRenewalResult(t *testing.T) {
	conn := readyConn("billing", "crm")
	conn.Status.Conditions = nil
	tg := &target{ref: connRef{namespace: "billing", name: "crm"}, obj: &conn, conn: &conn}
	if _, err := renewalResult(tg, now); err == nil || !strings.Contains(err.Error(), "no Ready condition") {
		t.Errorf("no Ready: %v", err)
	}
	conn.Status.Conditions = []metav1.Condition{{Type: sfv1.ConditionReady, Status: metav1.ConditionFalse,
		Reason: sfv1.ReasonSalesforceUnavailable, Message: "HTTP 503; next attempt at 2026-03-02T09:30:10Z"}}
	if _, err := renewalResult(tg, now); err == nil || !strings.Contains(err.Error(), "Ready=False SalesforceUnavailable: HTTP 503") {
		t.Errorf("not ready: %v", err)
	}
}

func TestRenewRefusesASuspendedConnection(t *testing.T) {
	rc := newRenewCluster(t, nil)
	conn := rc.conn(t)
	conn.Spec.Suspend = true
	if err := rc.Update(context.Background(), conn); err != nil {
		t.Fatal(err)
	}
	r := rc.runWithTime(t, "renew", "crm", "--wait")
	if r.err == nil || !strings.Contains(r.err.Error(), "is suspended") || !strings.Contains(r.err.Error(), `"suspend":false`) {
		t.Errorf("error = %v, want it to say the connection is suspended and how to resume it", r.err)
	}
	if len(rc.patches) != 0 {
		t.Errorf("requested a renewal of a suspended connection")
	}
}

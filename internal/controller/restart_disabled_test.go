package controller

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/loginhost"
	"github.com/sfconn/sfconn-operator/internal/salesforce"
	"github.com/sfconn/sfconn-operator/internal/salesforce/emulator"
)

// With rollout restarts off (--enable-rollout-restarts=false, the default), a new token
// patches no workload: a Warning event RolloutRestartDisabled says so once per token, and
// status.rolloutRestart keeps the token the targets run with, so that turning restarts on
// restarts them for the current token.
func TestRolloutRestartsDisabled(t *testing.T) {
	ctx := context.Background()
	clk := clocktesting.NewFakeClock(t0)
	emu := emulator.New(emulator.WithClock(clk))
	srv := httptest.NewServer(emu.Handler())
	defer srv.Close()
	if err := emu.Apply(emulator.State{
		Orgs:  []emulator.Org{{ID: "00D000000000001AAA"}},
		Apps:  []emulator.ConnectedApp{{ClientID: "cid", ClientSecret: "cs", ClientCredentialsUser: "run-as@x"}},
		Users: []emulator.User{{Username: "run-as@x"}},
	}); err != nil {
		t.Fatal(err)
	}

	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = sfv1.AddToScheme(scheme)
	conn := &sfv1.SalesforceConnection{
		ObjectMeta: metav1.ObjectMeta{Name: "crm", Namespace: "ns", UID: "uid-1", Generation: 1},
		Spec: sfv1.SalesforceConnectionSpec{LoginURL: srv.URL, Auth: sfv1.AuthSpec{
			ClientCredentials: &sfv1.ClientCredentialsAuth{CredentialsSecretRef: sfv1.SecretReference{Name: "creds"}}},
			RolloutRestartTargets: []sfv1.RolloutRestartTarget{{Kind: "Deployment", Name: "web"}, {Kind: "StatefulSet", Name: "db"}}},
	}
	creds := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: "ns"},
		Data: map[string][]byte{"client_id": []byte("cid"), "client_secret": []byte("cs")}}
	web := deployment("ns", "web")
	var workloadPatches int
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(conn, creds, web).WithStatusSubresource(conn).
		WithInterceptorFuncs(interceptor.Funcs{
			Patch: func(ctx context.Context, cl client.WithWatch, obj client.Object, p client.Patch, opts ...client.PatchOption) error {
				switch obj.(type) {
				case *appsv1.Deployment, *appsv1.StatefulSet, *appsv1.DaemonSet, *metav1.PartialObjectMetadata:
					workloadPatches++
				}
				return cl.Patch(ctx, obj, p, opts...)
			},
		}).Build()
	hosts, _ := loginhost.Parse([]string{"127.0.0.1"})
	recorder := events.NewFakeRecorder(100)
	r := &Reconciler{Client: c, APIReader: c, Salesforce: salesforce.NewClient(salesforce.WithClock(clk)),
		LoginHosts: hosts, Clock: clk, Recorder: recorder, ApprovalKey: []byte("k")}
	req := ctrl.Request{NamespacedName: types.NamespacedName{Namespace: "ns", Name: "crm"}}

	pass := func(what string) *sfv1.SalesforceConnection {
		t.Helper()
		if _, err := r.Reconcile(ctx, req); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		var got sfv1.SalesforceConnection
		if err := c.Get(ctx, req.NamespacedName, &got); err != nil {
			t.Fatal(err)
		}
		return &got
	}
	disabledEvents := func() []string {
		var out []string
		for {
			select {
			case e := <-recorder.Events:
				if strings.Contains(e, "RolloutRestartDisabled") {
					out = append(out, e)
				}
			default:
				return out
			}
		}
	}
	restartedAt := func() string {
		var d appsv1.Deployment
		if err := c.Get(ctx, client.ObjectKeyFromObject(web), &d); err != nil {
			t.Fatal(err)
		}
		return d.Spec.Template.Annotations[AnnotationRestartedAt]
	}

	first := pass("first token")
	if first.Status.IssuedAt == nil || first.Status.RolloutRestart == nil ||
		!first.Status.RolloutRestart.TokenIssuedAt.Equal(first.Status.IssuedAt) {
		t.Fatalf("after the first token, status = %+v; want rolloutRestart to record the token the targets start with", first.Status)
	}
	if e := disabledEvents(); len(e) != 0 {
		t.Errorf("the first token restarts nothing, and says nothing about restarts: %q", e)
	}

	// Past the token's expiry: the pass logs in again, and the targets would restart.
	clk.Step(3 * time.Hour)
	renewed := pass("renewal")
	if renewed.Status.IssuedAt.Equal(first.Status.IssuedAt) {
		t.Fatalf("the pass did not renew the token: issuedAt %v", renewed.Status.IssuedAt)
	}
	if workloadPatches != 0 || restartedAt() != "" {
		t.Errorf("a workload was patched (%d patches) with rollout restarts disabled", workloadPatches)
	}
	if got := renewed.Status.RolloutRestart; got == nil || !got.TokenIssuedAt.Equal(first.Status.IssuedAt) || got.LastRestartTime != nil {
		t.Errorf("status.rolloutRestart = %+v; want it unchanged, on the first token", got)
	}
	e := disabledEvents()
	if len(e) != 1 {
		t.Fatalf("want one RolloutRestartDisabled event for the new token, got %q", e)
	}
	for _, want := range []string{"Warning RolloutRestartDisabled", "Deployment/web, StatefulSet/db", stamp(renewed.Status.IssuedAt.Time),
		"Argo Rollouts",
		"--enable-rollout-restarts", "rolloutRestarts.enabled=true"} {
		if !strings.Contains(e[0], want) {
			t.Errorf("event %q does not say %q", e[0], want)
		}
	}

	// More passes over the same token: no new event, still nothing patched.
	clk.Step(time.Minute)
	pass("same token")
	pass("same token again")
	if e := disabledEvents(); len(e) != 0 {
		t.Errorf("the event repeats for the same token: %q", e)
	}
	if workloadPatches != 0 {
		t.Errorf("a workload was patched (%d patches) with rollout restarts disabled", workloadPatches)
	}

	// Turning restarts on restarts the targets for the current token.
	r.RolloutRestarts = true
	enabled := pass("restarts enabled")
	if restartedAt() == "" {
		t.Error("turning restarts on did not restart the target for the current token")
	}
	if got := enabled.Status.RolloutRestart; got == nil || !got.TokenIssuedAt.Equal(renewed.Status.IssuedAt) || got.LastRestartTime == nil {
		t.Errorf("status.rolloutRestart = %+v; want the current token and a restart time", got)
	}
}

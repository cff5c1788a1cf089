package controller

import (
	"context"
	"net/http/httptest"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
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

// A write that loses a race (409 Conflict) fails the pass, and the next pass picks up
// what the failed one already did: the token it wrote is kept, not fetched again.
func TestStatusConflictCostsNoSecondLogin(t *testing.T) {
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
			ClientCredentials: &sfv1.ClientCredentialsAuth{CredentialsSecretRef: sfv1.SecretReference{Name: "creds"}}}},
	}
	creds := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: "ns"},
		Data: map[string][]byte{"client_id": []byte("cid"), "client_secret": []byte("cs")}}
	conflicts := 1
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(conn, creds).WithStatusSubresource(conn).
		WithInterceptorFuncs(interceptor.Funcs{
			SubResourcePatch: func(ctx context.Context, cl client.Client, sub string, obj client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
				if conflicts > 0 {
					conflicts--
					return apierrors.NewConflict(schema.GroupResource{Resource: "salesforceconnections"}, obj.GetName(), nil)
				}
				return cl.SubResource(sub).Patch(ctx, obj, p, opts...)
			},
		}).Build()
	hosts, _ := loginhost.Parse([]string{"127.0.0.1"})
	r := &Reconciler{Client: c, APIReader: c, Salesforce: salesforce.NewClient(salesforce.WithClock(clk)),
		LoginHosts: hosts, Clock: clk, Recorder: events.NewFakeRecorder(10), ApprovalKey: []byte("k")}
	req := ctrl.Request{NamespacedName: types.NamespacedName{Namespace: "ns", Name: "crm"}}

	if _, err := r.Reconcile(context.Background(), req); !apierrors.IsConflict(err) {
		t.Fatalf("first pass: err = %v, want the conflict", err)
	}
	if _, err := r.Reconcile(context.Background(), req); err != nil {
		t.Fatalf("second pass: %v", err)
	}
	if n := emu.Stats().SuccessfulLogins; n != 1 {
		t.Errorf("logins = %d, want 1: the retry must reuse the token the first pass wrote", n)
	}
	var got sfv1.SalesforceConnection
	if err := c.Get(context.Background(), req.NamespacedName, &got); err != nil {
		t.Fatal(err)
	}
	if got.Status.TokenSecretName != "crm-token" || got.Status.ObservedGeneration != 1 {
		t.Errorf("status after the retry = %+v", got.Status)
	}
}

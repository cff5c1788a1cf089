package kubectlplugin

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

func TestAdminInstructions(t *testing.T) {
	const cert = "-----BEGIN CERTIFICATE-----\nMIIBcert\n-----END CERTIFICATE-----\n"
	generated := &sfv1.SalesforceConnection{
		ObjectMeta: metav1.ObjectMeta{Name: "crm", Namespace: "billing"},
		Spec: sfv1.SalesforceConnectionSpec{Auth: sfv1.AuthSpec{JWTBearer: &sfv1.JWTBearerAuth{GenerateKey: true,
			CredentialsSecretRef: sfv1.SecretReference{Name: "creds"}}}},
		Status: sfv1.SalesforceConnectionStatus{Conditions: []metav1.Condition{{Type: sfv1.ConditionReady, Status: metav1.ConditionFalse,
			Reason: sfv1.ReasonAwaitingAdmin, Message: "Waiting for a Salesforce admin: step 2"}}},
	}
	own := generated.DeepCopy()
	own.Name, own.Spec.Auth.JWTBearer.GenerateKey = "own-key", false
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "crm-jwt-certificate", Namespace: "billing"},
		Data: map[string]string{"tls.crt": cert, "instructions.txt": "A Salesforce admin:\n1. Create the app.\n", "next.crt": cert}}
	key := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "crm-jwt", Namespace: "billing"},
		Data: map[string][]byte{"tls.key": []byte("-----BEGIN PRIVATE KEY-----\nsecret\n-----END PRIVATE KEY-----\n")}}
	env := testEnv(fakeCluster(interceptor.Funcs{}, generated, own, cm, key), clock.RealClock{})

	r := run(t, env, "admin-instructions", "crm")
	if r.err != nil {
		t.Fatal(r.err)
	}
	for _, want := range []string{"1. Create the app.", "Now: Ready=False (AwaitingAdmin): Waiting for a Salesforce admin: step 2", "key tls.crt", "BEGIN CERTIFICATE", "next.crt"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.all(), "PRIVATE KEY") {
		t.Fatal("the private key was printed")
	}

	if r := run(t, env, "admin-instructions", "own-key"); r.err == nil || !strings.Contains(r.err.Error(), "does not generate its JWT key") {
		t.Fatalf("a connection with its own key: %v", r.err)
	}
	if r := run(t, env, "admin-instructions", "missing"); r.err == nil || !strings.Contains(r.err.Error(), "not found") {
		t.Fatalf("a missing connection: %v", r.err)
	}
	unpublished := generated.DeepCopy()
	unpublished.Name = "fresh"
	env = testEnv(fakeCluster(interceptor.Funcs{}, unpublished), clock.RealClock{})
	if r := run(t, env, "admin-instructions", "fresh"); r.err == nil || !strings.Contains(r.err.Error(), "not published yet") {
		t.Fatalf("no ConfigMap yet: %v", r.err)
	}
}

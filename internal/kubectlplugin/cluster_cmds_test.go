package kubectlplugin

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/tokensecret"
)

// clusterFixture is the emulated org of sfFixture with csfconn/crm instead of billing/crm:
// its record (the token) in the cluster resource namespace sfconn-system, and the Secret
// it delivered to billing.
type clusterFixture struct {
	*sfFixture
	cluster   *sfv1.ClusterSalesforceConnection
	record    *corev1.Secret
	delivered *corev1.Secret
}

func newClusterFixture(t *testing.T) *clusterFixture {
	t.Helper()
	f := &clusterFixture{sfFixture: newSFFixture(t)}
	f.cluster = &sfv1.ClusterSalesforceConnection{ObjectMeta: metav1.ObjectMeta{Name: "crm", UID: "uid-crm", Generation: 1}}
	f.cluster.Status.SalesforceConnectionStatus = f.conn.Status
	f.cluster.Status.TokenSecretNamespaces = 2
	f.record = f.secret.DeepCopy()
	f.record.Namespace, f.record.Name = "sfconn-system", "csfconn.crm-token"
	f.delivered = f.secret.DeepCopy()
	f.delivered.OwnerReferences = []metav1.OwnerReference{{APIVersion: sfv1.GroupVersion.String(), Kind: sfv1.ClusterSalesforceConnectionKind,
		Name: "crm", UID: f.cluster.UID, Controller: ptr.To(true)}}
	return f
}

// run runs the command against the fixture's objects, with funcs intercepting the calls,
// and fails the test if the token shows anywhere.
func (f *clusterFixture) run(t *testing.T, funcs interceptor.Funcs, args ...string) result {
	t.Helper()
	env := testEnv(fakeCluster(funcs, f.cluster, f.record, f.delivered), f.clk)
	r := run(t, env, args...)
	if strings.Contains(r.all(), f.token) {
		t.Fatal("the output holds the access token")
	}
	return r
}

// tenantOfBilling may read its own namespace's Secrets and the cluster connections (view
// bound cluster-wide), and nothing in the cluster resource namespace.
var tenantOfBilling = forbid(func(obj client.Object, ns string) bool { return ns == "sfconn-system" })

func TestTestClusterConnection(t *testing.T) {
	f := newClusterFixture(t)
	// The record in the cluster resource namespace, by default.
	r := f.run(t, interceptor.Funcs{}, "test", "csfconn/crm")
	if r.err != nil {
		t.Fatal(r.err)
	}
	for _, want := range []string{
		"Connection:    csfconn/crm (record Secret sfconn-system/csfconn.crm-token)\n",
		"User:          " + ccUser + " (005",
		"Salesforce accepted the token.\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}

	// A tenant names its namespace, and reads the Secret delivered there.
	r = f.run(t, tenantOfBilling, "test", "csfconn/crm", "--target-namespace", "billing")
	if r.err != nil || !strings.Contains(r.stdout, "Connection:    csfconn/crm (token Secret billing/crm-token)\n") {
		t.Errorf("--target-namespace: %v\n%s", r.err, r.stdout)
	}

	// Another cluster resource namespace: by flag, and by environment.
	f.record.Namespace = "platform"
	if r := f.run(t, interceptor.Funcs{}, "test", "csfconn/crm", "--cluster-resource-namespace", "platform"); r.err != nil {
		t.Errorf("--cluster-resource-namespace: %v", r.err)
	}
	t.Setenv(clusterResourceNamespaceEnv, "platform")
	if r := f.run(t, interceptor.Funcs{}, "test", "csfconn/crm"); r.err != nil {
		t.Errorf("$%s: %v", clusterResourceNamespaceEnv, r.err)
	}
}

func TestTestClusterConnectionRefusals(t *testing.T) {
	f := newClusterFixture(t)
	check := func(name string, r result, want ...string) {
		t.Helper()
		for _, w := range want {
			if r.err == nil || !strings.Contains(r.err.Error(), w) {
				t.Errorf("%s: error %v, want it to say %q", name, r.err, w)
			}
		}
	}

	check("a tenant without --target-namespace", f.run(t, tenantOfBilling, "test", "csfconn/crm"),
		"you may not read the record Secret of csfconn/crm sfconn-system/csfconn.crm-token",
		"the cluster resource namespace sfconn-system holds the credentials of every cluster connection",
		"add --target-namespace NAMESPACE")
	check("another cluster resource namespace", f.run(t, interceptor.Funcs{}, "test", "csfconn/crm", "--cluster-resource-namespace", "elsewhere"),
		"the record Secret of csfconn/crm elsewhere/csfconn.crm-token does not exist",
		"set --cluster-resource-namespace (or $"+clusterResourceNamespaceEnv+")")
	check("a namespace not delivered to", f.run(t, tenantOfBilling, "test", "csfconn/crm", "--target-namespace", "shop"),
		"csfconn/crm has not delivered its token to namespace shop (no Secret crm-token there; 2 namespaces hold it)")
	check("a namespace the user may not read", f.run(t, tenantOfBilling, "test", "csfconn/crm", "--target-namespace", "sfconn-system"),
		"you may not read the token Secret sfconn-system/crm-token")
	check("--target-namespace of a namespaced connection", f.run(t, interceptor.Funcs{}, "test", "crm", "--target-namespace", "billing"),
		"--target-namespace is for a ClusterSalesforceConnection (csfconn/NAME): billing/crm has its token in its own namespace")

	// A Secret of the same name that somebody else wrote is not the connection's token.
	f.delivered.OwnerReferences = nil
	check("somebody else's Secret", f.run(t, tenantOfBilling, "test", "csfconn/crm", "--target-namespace", "billing"),
		"the Secret billing/crm-token was not written for csfconn/crm: it belongs to somebody else")
	// Unless the operator wrote it without an owner for this connection (deletionPolicy Orphan).
	f.delivered.Annotations = map[string]string{tokensecret.AnnotationWrittenFor: string(f.cluster.UID)}
	if r := f.run(t, tenantOfBilling, "test", "csfconn/crm", "--target-namespace", "billing"); r.err != nil {
		t.Errorf("an orphaned Secret written for it: %v", r.err)
	}

	// A rejected token suggests renewing the cluster connection.
	f.clk.Step(3 * 3600e9)
	check("rejected", f.run(t, interceptor.Funcs{}, "test", "csfconn/crm"),
		"Salesforce rejected the token of csfconn/crm (HTTP 401 INVALID_SESSION_ID", "kubectl sfconn renew csfconn/crm --wait")

	f.cluster.Status.TokenSecretName = ""
	check("no token yet", f.run(t, interceptor.Funcs{}, "test", "csfconn/crm"), "csfconn/crm has no token to test (Ready=True TokenIssued")
}

func TestAdminInstructionsClusterConnection(t *testing.T) {
	const cert = "-----BEGIN CERTIFICATE-----\nMIIBcert\n-----END CERTIFICATE-----\n"
	cl := &sfv1.ClusterSalesforceConnection{
		ObjectMeta: metav1.ObjectMeta{Name: "crm"},
		Spec: sfv1.SalesforceConnectionSpec{Auth: sfv1.AuthSpec{JWTBearer: &sfv1.JWTBearerAuth{GenerateKey: true,
			CredentialsSecretRef: sfv1.SecretReference{Name: "creds"}}}},
	}
	cl.Status.Conditions = []metav1.Condition{{Type: sfv1.ConditionReady, Status: metav1.ConditionFalse,
		Reason: sfv1.ReasonAwaitingAdmin, Message: "Waiting for a Salesforce admin"}}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "csfconn.crm-jwt-certificate", Namespace: "sfconn-system"},
		Data: map[string]string{"tls.crt": cert, "instructions.txt": "A Salesforce admin:\n1. Create the app.\n"}}
	// A namespaced connection of the same name, whose ConfigMap must not be taken for it.
	decoy := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "crm-jwt-certificate", Namespace: "billing"},
		Data: map[string]string{"tls.crt": "decoy", "instructions.txt": "decoy"}}
	key := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "csfconn.crm-jwt", Namespace: "sfconn-system"},
		Data: map[string][]byte{"tls.key": []byte("-----BEGIN PRIVATE KEY-----\nsecret\n-----END PRIVATE KEY-----\n")}}
	c := fakeCluster(interceptor.Funcs{}, cl, cm, decoy, key)

	r := run(t, testEnv(c, clock.RealClock{}), "admin-instructions", "csfconn/crm")
	if r.err != nil {
		t.Fatal(r.err)
	}
	for _, want := range []string{"1. Create the app.", "Now: Ready=False (AwaitingAdmin)", "(ConfigMap csfconn.crm-jwt-certificate, key tls.crt)", "MIIBcert"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.all(), "decoy") || strings.Contains(r.all(), "PRIVATE KEY") {
		t.Errorf("printed another connection's ConfigMap or a key:\n%s", r.stdout)
	}

	// The name status gives wins over the derived one.
	cl.Status.JWTCertificate = &sfv1.GeneratedCertificate{ConfigMapName: "published-elsewhere"}
	c = fakeCluster(interceptor.Funcs{}, cl, cm)
	if r := run(t, testEnv(c, clock.RealClock{}), "admin-instructions", "csfconn/crm"); r.err == nil ||
		!strings.Contains(r.err.Error(), "the certificate ConfigMap of csfconn/crm sfconn-system/published-elsewhere does not exist") {
		t.Errorf("status.jwtCertificate.configMapName: %v", r.err)
	}

	cl.Status.JWTCertificate = nil
	c = fakeCluster(tenantOfBilling, cl, cm)
	if r := run(t, testEnv(c, clock.RealClock{}), "admin-instructions", "csfconn/crm"); r.err == nil ||
		!strings.Contains(r.err.Error(), "you may not read ConfigMap sfconn-system/csfconn.crm-jwt-certificate") {
		t.Errorf("a tenant: %v", r.err)
	}
	cm.Namespace = "platform"
	c = fakeCluster(interceptor.Funcs{}, cl, cm)
	if r := run(t, testEnv(c, clock.RealClock{}), "admin-instructions", "csfconn/crm", "--cluster-resource-namespace", "platform"); r.err != nil {
		t.Errorf("--cluster-resource-namespace: %v", r.err)
	}
}

package controller

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/salesforce"
)

// certManagerSecret is a Secret as cert-manager writes it for a Certificate: type
// kubernetes.io/tls, keys tls.crt, tls.key and ca.crt, the key as PEM.
func certManagerSecret(ns, name, keyPEM string) *corev1.Secret {
	key, err := salesforce.ParseRSAPrivateKey([]byte(keyPEM))
	Expect(err).NotTo(HaveOccurred())
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sfconn-jwt"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	Expect(err).NotTo(HaveOccurred())
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: cert, corev1.TLSPrivateKeyKey: []byte(keyPEM), "ca.crt": cert}}
}

var _ = Describe("credentialsSecretRef.keys", func() {
	var (
		ctx context.Context
		ns  string
	)
	BeforeEach(func() {
		ctx = context.Background()
		ns = newNamespace(ctx)
	})

	It("logs in with the JWT key of a cert-manager Secret, and follows changes to tls.key", func() {
		f := newFixture(nil)
		secret := certManagerSecret(ns, "crm-cert", f.privateKeyPEM)
		Expect(k8s.Create(ctx, secret)).To(Succeed())
		Expect(k8s.Create(ctx, connection(ns, "crm", sfv1.AuthSpec{JWTBearer: &sfv1.JWTBearerAuth{
			ClientID: f.clientID, Username: f.username,
			CredentialsSecretRef: sfv1.SecretReference{Name: "crm-cert", Keys: map[string]sfv1.SecretKeyName{"private_key": "tls.key"}}}}))).To(Succeed())
		Eventually(readyReason(ctx, ns, "crm")).Should(Equal("True/TokenIssued"))
		Expect(f.tokenRequests()).To(Equal(1))
		token := accessToken(ctx, ns, "crm-token")()

		By("naming tls.key when it holds a key the flow cannot use")
		ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		Expect(err).NotTo(HaveOccurred())
		der, err := x509.MarshalPKCS8PrivateKey(ec)
		Expect(err).NotTo(HaveOccurred())
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(secret), secret)).To(Succeed())
		secret.Data[corev1.TLSPrivateKeyKey] = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
		Expect(k8s.Update(ctx, secret)).To(Succeed())
		Eventually(readyReason(ctx, ns, "crm")).Should(Equal("False/InvalidCredentials"))
		msg := meta.FindStatusCondition(getConn(ctx, ns, "crm").Status.Conditions, sfv1.ConditionReady).Message
		Expect(msg).To(ContainSubstring(`key "tls.key" (private_key) of credentials Secret "crm-cert"`))
		Expect(msg).NotTo(ContainSubstring("PRIVATE KEY"))
		Expect(accessToken(ctx, ns, "crm-token")()).To(Equal(token), "a bad key must not lose the token")

		By("logging in again once tls.key holds a key the connected app accepts")
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(secret), secret)).To(Succeed())
		secret.Data[corev1.TLSPrivateKeyKey] = []byte(f.privateKeyPEM)
		Expect(k8s.Update(ctx, secret)).To(Succeed())
		Eventually(readyReason(ctx, ns, "crm")).Should(Equal("True/TokenIssued"))
	})
})

var _ = Describe("Rollout restarts of Argo Rollouts and of selected workloads", func() {
	var (
		ctx context.Context
		ns  string
		f   fixture
	)
	BeforeEach(func() {
		ctx = context.Background()
		ns = newNamespace(ctx)
		f = newFixture(nil)
		Expect(k8s.Create(ctx, credentialsSecret(ns, "creds", "client_id", f.clientID, "client_secret", f.clientSecret))).To(Succeed())
	})

	rollout := func(name string, labels map[string]string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{"replicas": int64(2)}}}
		u.SetGroupVersionKind(restartGVKs[KindRollout])
		u.SetNamespace(ns)
		u.SetName(name)
		u.SetLabels(labels)
		return u
	}
	restartAt := func(u *unstructured.Unstructured) func() string {
		return func() string {
			Expect(k8s.Get(ctx, client.ObjectKeyFromObject(u), u)).To(Succeed())
			s, _, _ := unstructured.NestedString(u.Object, "spec", "restartAt")
			return s
		}
	}
	labelled := func(name string, labels map[string]string) *appsv1.Deployment {
		d := deployment(ns, name)
		d.Labels = labels
		return d
	}

	It("sets a Rollout's spec.restartAt and restarts the workloads a selector chooses, once each, on renewal", func() {
		uses := map[string]string{"salesforce.example/uses": "crm"}
		web := rollout("web", uses)
		Expect(k8s.Create(ctx, web)).To(Succeed())
		api := labelled("api", uses)
		other := labelled("other", map[string]string{"salesforce.example/uses": "erp"})
		Expect(k8s.Create(ctx, api)).To(Succeed())
		Expect(k8s.Create(ctx, other)).To(Succeed())

		c := connection(ns, "crm", sfv1.AuthSpec{ClientCredentials: &sfv1.ClientCredentialsAuth{
			CredentialsSecretRef: sfv1.SecretReference{Name: "creds"}}})
		c.Spec.RolloutRestartTargets = []sfv1.RolloutRestartTarget{
			{Kind: KindRollout, Name: "web"},
			{Kind: KindRollout, Selector: &metav1.LabelSelector{MatchLabels: uses}},
			{Kind: "Deployment", Selector: &metav1.LabelSelector{MatchLabels: uses}},
			{Kind: "StatefulSet", Selector: &metav1.LabelSelector{MatchLabels: uses}},
		}
		Expect(k8s.Create(ctx, c)).To(Succeed())
		Eventually(readyReason(ctx, ns, "crm")).Should(Equal("True/TokenIssued"))
		Eventually(func() *sfv1.RolloutRestartStatus { return getConn(ctx, ns, "crm").Status.RolloutRestart }).ShouldNot(BeNil())
		Expect(restartAt(web)()).To(BeEmpty(), "pods started with the first token need no restart")

		By("restarting on renewal")
		stepPastRenewal(ctx, ns, "crm")
		Eventually(restartAt(web)).ShouldNot(BeEmpty())
		Eventually(restartedAt(ctx, api)).ShouldNot(BeEmpty())
		// The status patch follows the restarts in the same pass.
		Eventually(func() string {
			if rr := getConn(ctx, ns, "crm").Status.RolloutRestart; rr != nil && rr.LastRestartTime != nil {
				return stamp(rr.LastRestartTime.Time)
			}
			return ""
		}).Should(Equal(restartAt(web)()))
		Expect(restartedAt(ctx, other)()).To(BeEmpty(), "a workload the selector does not choose is left alone")
		Expect(web.Object["spec"]).NotTo(HaveKey("template"), "a Rollout restarts through restartAt, not its template")
		Eventually(eventReasons(ctx, ns, "crm")).Should(ContainElement("RolloutRestarted"))
		Expect(eventReasons(ctx, ns, "crm")()).NotTo(ContainElement(BeElementOf("RolloutRestartFailed", "RolloutRestartTruncated")),
			"a selector choosing nothing is no failure")
	})
})

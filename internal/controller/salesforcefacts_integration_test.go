package controller

import (
	"context"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/authflow"
	"github.com/sfconn/sfconn-operator/internal/salesforce/emulator"
	"github.com/sfconn/sfconn-operator/internal/tokensecret"
)

// What Salesforce tells when asked: the real expiry (introspection), the real approval
// count (OauthToken), and whether a token still works (userinfo).
var _ = Describe("Asking Salesforce", func() {
	var (
		ctx context.Context
		ns  string
	)
	BeforeEach(func() {
		ctx = context.Background()
		ns = newNamespace(ctx)
	})

	It("honours the expiry introspection gives, shorter than sessionTimeout, and says so", func() {
		f := newFixture(func(a *emulator.ConnectedApp) { a.SessionTimeout = emulator.Duration(15 * time.Minute) })
		Expect(k8s.Create(ctx, credentialsSecret(ns, "creds", "client_id", f.clientID, "client_secret", f.clientSecret,
			"username", f.username, "password", f.password, "security_token", f.securityToken))).To(Succeed())
		Expect(k8s.Create(ctx, connection(ns, "cc", sfv1.AuthSpec{ClientCredentials: &sfv1.ClientCredentialsAuth{
			CredentialsSecretRef: sfv1.SecretReference{Name: "creds"}}}))).To(Succeed())
		Expect(k8s.Create(ctx, connection(ns, "pw", sfv1.AuthSpec{Password: &sfv1.PasswordAuth{
			CredentialsSecretRef: sfv1.SecretReference{Name: "creds"}}}))).To(Succeed())
		Eventually(readyReason(ctx, ns, "cc")).Should(Equal("True/TokenIssued"))
		Eventually(readyReason(ctx, ns, "pw")).Should(Equal("True/TokenIssued"))

		By("taking the client credentials token's expiry from introspection")
		cc := getConn(ctx, ns, "cc")
		Expect(cc.Status.ExpirySource).To(Equal(sfv1.ExpirySourceIntrospection))
		Expect(cc.Status.ExpiresAt.Sub(cc.Status.IssuedAt.Time)).To(Equal(15 * time.Minute))
		Expect(cc.Status.RenewAt.Time).To(BeTemporally("<", cc.Status.ExpiresAt.Time))
		Expect(cc.Status.RenewAt.Time).To(BeTemporally(">", cc.Status.IssuedAt.Time))
		secret := tokenSecret(ctx, ns, "cc-token")
		Expect(string(secret.Data[tokensecret.KeyExpiresAt])).To(Equal(cc.Status.ExpiresAt.UTC().Format(time.RFC3339)))
		Eventually(eventReasons(ctx, ns, "cc")).Should(ContainElement("SessionTimeoutMismatch"))

		By("keeping spec.sessionTimeout for the password flow, whose tokens cannot be introspected")
		pw := getConn(ctx, ns, "pw")
		Expect(pw.Status.ExpirySource).To(Equal(sfv1.ExpirySourceSessionTimeout))
		Expect(pw.Status.ExpiresAt.Sub(pw.Status.IssuedAt.Time)).To(Equal(2 * time.Hour))

		By("renewing before the introspected expiry, once")
		requests := f.tokenRequests()
		before := accessToken(ctx, ns, "cc-token")()
		stepPastRenewal(ctx, ns, "cc")
		Eventually(accessToken(ctx, ns, "cc-token")).ShouldNot(Equal(before))
		Eventually(readyReason(ctx, ns, "cc")).Should(Equal("True/TokenIssued"))
		Expect(f.tokenRequests()).To(Equal(requests + 1))
		Expect(getConn(ctx, ns, "cc").Status.ExpirySource).To(Equal(sfv1.ExpirySourceIntrospection))
	})

	It("counts the approvals Salesforce holds, made anywhere, once connectedAppName is set", func() {
		f := newFixture(nil)
		for range 4 { // a laptop, an integration platform: approvals the cluster cannot see
			_, err := emu.IssueRefreshToken(f.clientID, f.username)
			Expect(err).NotTo(HaveOccurred())
		}
		rt, err := emu.IssueRefreshToken(f.clientID, f.username)
		Expect(err).NotTo(HaveOccurred())
		Expect(k8s.Create(ctx, credentialsSecret(ns, "creds", "client_id", f.clientID, "client_secret", f.clientSecret, "refresh_token", rt))).To(Succeed())
		Expect(k8s.Create(ctx, connection(ns, "crm", sfv1.AuthSpec{RefreshToken: &sfv1.RefreshTokenAuth{
			CredentialsSecretRef: sfv1.SecretReference{Name: "creds"}}}))).To(Succeed())
		Eventually(readyReason(ctx, ns, "crm")).Should(Equal("True/TokenIssued"))
		Eventually(condition(ctx, ns, "crm", sfv1.ConditionApprovalLimit)).Should(Equal("False/WithinLimit"))
		Expect(getConn(ctx, ns, "crm").Status.Approvals.Salesforce).To(BeNil())

		By("asking Salesforce")
		updateConn(ctx, ns, "crm", func(c *sfv1.SalesforceConnection) { c.Spec.ConnectedAppName = "App " + f.clientID })
		Eventually(condition(ctx, ns, "crm", sfv1.ConditionApprovalLimit)).Should(Equal("True/AtLimit"))
		approvals := getConn(ctx, ns, "crm").Status.Approvals
		Expect(approvals.Count).To(BeEquivalentTo(1), "the cluster's own")
		Expect(approvals.Salesforce).NotTo(BeNil())
		Expect(approvals.Salesforce.Count).To(HaveValue(BeEquivalentTo(5)))
		Expect(approvals.Salesforce.Oldest).To(HaveLen(5))
		Expect(approvals.Salesforce.Oldest[0].ID).To(HavePrefix("0CJ"))
		Eventually(eventReasons(ctx, ns, "crm")).Should(ContainElement("ApprovalLimitAtLimit"))
		msg := meta.FindStatusCondition(getConn(ctx, ns, "crm").Status.Conditions, sfv1.ConditionApprovalLimit).Message
		Expect(msg).To(ContainSubstring("Salesforce holds 5 approvals"))
		Expect(msg).To(ContainSubstring("1 of them in the cluster"))

		By("degrading to the cluster's count when Salesforce refuses the query")
		Expect(emu.InjectFault(emulator.Fault{Endpoint: emulator.EndpointData, Status: http.StatusForbidden,
			ContentType: "application/json", Body: `[{"message":"The REST API is not enabled for this Organization.","errorCode":"API_DISABLED_FOR_ORG"}]`})).To(Succeed())
		DeferCleanup(emu.ClearFaults)
		updateConn(ctx, ns, "crm", func(c *sfv1.SalesforceConnection) { c.Spec.ConnectedAppName = "Another App" })
		Eventually(condition(ctx, ns, "crm", sfv1.ConditionApprovalLimit)).Should(Equal("False/WithinLimit"))
		sf := getConn(ctx, ns, "crm").Status.Approvals.Salesforce
		Expect(sf.Count).To(BeNil())
		Expect(sf.Message).To(ContainSubstring("API_DISABLED_FOR_ORG"))
		Expect(readyReason(ctx, ns, "crm")()).To(Equal("True/TokenIssued"))
	})

	It("replaces a token revoked mid-life within verifyInterval, and reports a revoked refresh token", func() {
		f := newFixture(nil)
		Expect(k8s.Create(ctx, credentialsSecret(ns, "jwt-creds", "client_id", f.clientID, "username", f.username,
			"private_key", f.privateKeyPEM))).To(Succeed())
		jwt := connection(ns, "jwt", sfv1.AuthSpec{JWTBearer: &sfv1.JWTBearerAuth{CredentialsSecretRef: sfv1.SecretReference{Name: "jwt-creds"}}})
		jwt.Spec.VerifyInterval = &metav1.Duration{Duration: 5 * time.Minute}
		Expect(k8s.Create(ctx, jwt)).To(Succeed())
		Eventually(readyReason(ctx, ns, "jwt")).Should(Equal("True/TokenIssued"))

		By("an admin revoking the JWT connection's access token")
		requests := f.tokenRequests()
		before := accessToken(ctx, ns, "jwt-token")()
		Expect(emu.RevokeToken(string(tokenSecret(ctx, ns, "jwt-token").Data[tokensecret.KeyAccessToken]))).To(BeTrue())
		fakeClock.Step(5*time.Minute + time.Second)
		Eventually(accessToken(ctx, ns, "jwt-token")).ShouldNot(Equal(before))
		Eventually(readyReason(ctx, ns, "jwt")).Should(Equal("True/TokenIssued"))
		Expect(f.tokenRequests()).To(Equal(requests + 1))
		Expect(eventReasons(ctx, ns, "jwt")()).To(ContainElement("TokenRejected"))

		By("a live token probed again costs no login")
		fakeClock.Step(5*time.Minute + time.Second)
		Consistently(f.tokenRequests, "1s").Should(Equal(requests + 1))

		By("a refresh token revoked with its access tokens")
		rt, err := emu.IssueRefreshToken(f.clientID, f.username)
		Expect(err).NotTo(HaveOccurred())
		Expect(k8s.Create(ctx, credentialsSecret(ns, "rt-creds", "client_id", f.clientID, "client_secret", f.clientSecret, "refresh_token", rt))).To(Succeed())
		crm := connection(ns, "crm", sfv1.AuthSpec{RefreshToken: &sfv1.RefreshTokenAuth{CredentialsSecretRef: sfv1.SecretReference{Name: "rt-creds"}}})
		crm.Spec.VerifyInterval = &metav1.Duration{Duration: 5 * time.Minute}
		Expect(k8s.Create(ctx, crm)).To(Succeed())
		Eventually(readyReason(ctx, ns, "crm")).Should(Equal("True/TokenIssued"))
		Expect(emu.RevokeToken(rt)).To(BeTrue())
		fakeClock.Step(5*time.Minute + time.Second)
		Eventually(readyReason(ctx, ns, "crm")).Should(Equal("False/Revoked"))
		Expect(condition(ctx, ns, "crm", sfv1.ConditionRevoked)()).To(Equal("True/RefreshTokenRevoked"))
		msg := meta.FindStatusCondition(getConn(ctx, ns, "crm").Status.Conditions, sfv1.ConditionReady).Message
		Expect(msg).To(ContainSubstring("refused the token in the Secret"))
		Expect(eventReasons(ctx, ns, "crm")()).To(ContainElement("TokenRejected"))
	})
})

var _ = Describe("A generated JWT key", func() {
	var (
		ctx context.Context
		ns  string
	)
	BeforeEach(func() {
		ctx = context.Background()
		ns = newNamespace(ctx)
	})

	It("waits as AwaitingAdmin until the published certificate is registered, and never publishes the key", func() {
		f := newFixture(func(a *emulator.ConnectedApp) { a.PublicKeyPEM = "" })
		Expect(k8s.Create(ctx, credentialsSecret(ns, "creds", "client_id", f.clientID, "username", f.username))).To(Succeed())
		conn := connection(ns, "crm", sfv1.AuthSpec{JWTBearer: &sfv1.JWTBearerAuth{GenerateKey: true,
			CredentialsSecretRef: sfv1.SecretReference{Name: "creds"}}})
		Expect(k8s.Create(ctx, conn)).To(Succeed())
		Eventually(readyReason(ctx, ns, "crm")).Should(Equal("False/AwaitingAdmin"))

		By("publishing the certificate, and keeping the key in the operator's Secret")
		c := getConn(ctx, ns, "crm")
		Expect(c.Status.JWTCertificate).NotTo(BeNil())
		Expect(c.Status.JWTCertificate.ConfigMapName).To(Equal("crm-jwt-certificate"))
		var cm corev1.ConfigMap
		Expect(k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: "crm-jwt-certificate"}, &cm)).To(Succeed())
		Expect(cm.Data["tls.crt"]).To(HavePrefix("-----BEGIN CERTIFICATE-----"))
		for k, v := range cm.Data {
			Expect(v).NotTo(ContainSubstring("PRIVATE KEY"), "ConfigMap key %s", k)
		}
		Expect(cm.Data["instructions.txt"]).To(ContainSubstring("Use digital signatures"))
		key := tokenSecret(ctx, ns, "crm-jwt")
		Expect(key).NotTo(BeNil())
		Expect(key.Type).To(Equal(corev1.SecretTypeTLS))
		Expect(string(key.Data["tls.key"])).To(HavePrefix("-----BEGIN PRIVATE KEY-----"))
		Expect(string(key.Data["tls.crt"])).To(Equal(cm.Data["tls.crt"]))
		ready := meta.FindStatusCondition(c.Status.Conditions, sfv1.ConditionReady)
		Expect(ready.Message).To(ContainSubstring("invalid assertion"))
		Expect(ready.Message).To(ContainSubstring("crm-jwt-certificate"))
		Expect(condition(ctx, ns, "crm", sfv1.ConditionStalled)()).To(BeEmpty(), "a person is at work: not stalled")
		Eventually(eventReasons(ctx, ns, "crm")).Should(ContainElement("AwaitingAdmin"))

		By("not retrying before the slow retry interval")
		requests := f.tokenRequests()
		Consistently(f.tokenRequests, "1s").Should(Equal(requests))

		By("the admin uploading the certificate")
		Expect(emu.SetAppCertificate(f.clientID, cm.Data["tls.crt"])).To(Succeed())
		fakeClock.Step(authflow.AwaitingAdminRetry + time.Second)
		Eventually(readyReason(ctx, ns, "crm")).Should(Equal("True/TokenIssued"))
		Expect(f.tokenRequests()).To(Equal(requests + 1))

		By("a deleted ConfigMap is published again, with the same certificate")
		Expect(k8s.Delete(ctx, &cm)).To(Succeed())
		Eventually(func() string {
			var again corev1.ConfigMap
			if err := k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: "crm-jwt-certificate"}, &again); err != nil {
				return ""
			}
			return again.Data["tls.crt"]
		}).Should(Equal(string(key.Data["tls.crt"])))
	})
})

var _ = Describe("A generated JWT key whose name is taken", func() {
	It("says InvalidSpec, writes nothing over the other Secret, and goes on once it is gone", func() {
		ctx := context.Background()
		ns := newNamespace(ctx)
		f := newFixture(func(a *emulator.ConnectedApp) { a.PublicKeyPEM = "" })
		Expect(k8s.Create(ctx, credentialsSecret(ns, "creds", "client_id", f.clientID, "username", f.username))).To(Succeed())
		Expect(k8s.Create(ctx, credentialsSecret(ns, "crm-jwt", "note", "somebody else's"))).To(Succeed())
		Expect(k8s.Create(ctx, connection(ns, "crm", sfv1.AuthSpec{JWTBearer: &sfv1.JWTBearerAuth{GenerateKey: true,
			CredentialsSecretRef: sfv1.SecretReference{Name: "creds"}}}))).To(Succeed())
		Eventually(readyReason(ctx, ns, "crm")).Should(Equal("False/InvalidSpec"))
		msg := meta.FindStatusCondition(getConn(ctx, ns, "crm").Status.Conditions, sfv1.ConditionReady).Message
		Expect(msg).To(ContainSubstring("Secret crm-jwt exists and is not controlled by this SalesforceConnection"))
		Expect(tokenSecret(ctx, ns, "crm-jwt").Data).NotTo(HaveKey("tls.key"))

		Expect(k8s.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "crm-jwt"}})).To(Succeed())
		Eventually(readyReason(ctx, ns, "crm")).Should(Equal("False/AwaitingAdmin"))
	})
})

var _ = Describe("A generated JWT key nearing its end", func() {
	It("publishes the next certificate, and switches to it once Salesforce accepts it", func() {
		ctx := context.Background()
		ns := newNamespace(ctx)
		f := newFixture(func(a *emulator.ConnectedApp) { a.PublicKeyPEM = "" })
		Expect(k8s.Create(ctx, credentialsSecret(ns, "creds", "client_id", f.clientID, "username", f.username))).To(Succeed())
		conn := connection(ns, "crm", sfv1.AuthSpec{JWTBearer: &sfv1.JWTBearerAuth{GenerateKey: true,
			CertificateValidity: &metav1.Duration{Duration: 24 * time.Hour}, CredentialsSecretRef: sfv1.SecretReference{Name: "creds"}}})
		Expect(k8s.Create(ctx, conn)).To(Succeed())
		certificate := func(key string) func() string {
			return func() string {
				var cm corev1.ConfigMap
				if err := k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: "crm-jwt-certificate"}, &cm); err != nil {
					return ""
				}
				return cm.Data[key]
			}
		}
		Eventually(certificate("tls.crt")).ShouldNot(BeEmpty())
		first := certificate("tls.crt")()
		Expect(emu.SetAppCertificate(f.clientID, first)).To(Succeed())
		Expect(k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: "crm"}, conn)).To(Succeed())
		updateConn(ctx, ns, "crm", func(c *sfv1.SalesforceConnection) {
			c.Annotations = map[string]string{sfv1.AnnotationRequestedAt: "now"}
		})
		Eventually(readyReason(ctx, ns, "crm")).Should(Equal("True/TokenIssued"))
		Expect(certificate("next.crt")()).To(BeEmpty())

		By("a third of the validity before the end: the next certificate, beside the current one")
		notAfter := getConn(ctx, ns, "crm").Status.JWTCertificate.NotAfter.Time
		fakeClock.SetTime(notAfter.Add(-8*time.Hour + time.Minute))
		Eventually(certificate("next.crt")).ShouldNot(BeEmpty())
		next := certificate("next.crt")()
		Expect(next).NotTo(Equal(first))
		Eventually(func() string { return getConn(ctx, ns, "crm").Status.JWTCertificate.NextFingerprint }).ShouldNot(BeEmpty())
		Eventually(readyReason(ctx, ns, "crm")).Should(Equal("True/TokenIssued"), "the current key still works")

		By("the admin uploading the next certificate: the next login switches to the next key")
		Expect(emu.SetAppCertificate(f.clientID, next)).To(Succeed())
		stepPastRenewal(ctx, ns, "crm")
		Eventually(certificate("tls.crt")).Should(Equal(next))
		Eventually(certificate("next.crt")).Should(BeEmpty())
		Eventually(readyReason(ctx, ns, "crm")).Should(Equal("True/TokenIssued"))
		// Ready was True throughout: the status of the switch may land a moment after the
		// key Secret's.
		Eventually(func() string { return getConn(ctx, ns, "crm").Status.JWTCertificate.NextFingerprint }).Should(BeEmpty())
		Expect(string(tokenSecret(ctx, ns, "crm-jwt").Data["tls.crt"])).To(Equal(next))
	})
})

package controller

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/tokensecret"
)

var _ = Describe("Lifecycle controls", func() {
	var (
		ctx context.Context
		ns  string
	)
	BeforeEach(func() {
		ctx = context.Background()
		ns = newNamespace(ctx)
	})

	clientCredentials := func(ns, name, secret string) *sfv1.SalesforceConnection {
		return connection(ns, name, sfv1.AuthSpec{ClientCredentials: &sfv1.ClientCredentialsAuth{
			CredentialsSecretRef: sfv1.SecretReference{Name: secret}}})
	}
	// settled says the status describes the current generation.
	settled := func(name string) func() bool {
		return func() bool { c := getConn(ctx, ns, name); return c.Status.ObservedGeneration == c.Generation }
	}

	It("suspend stops logins and writes, reads as Current to kstatus, and resumes from where it was", func() {
		f := newFixture(nil)
		Expect(k8s.Create(ctx, credentialsSecret(ns, "creds", "client_id", f.clientID, "client_secret", f.clientSecret))).To(Succeed())
		Expect(k8s.Create(ctx, clientCredentials(ns, "crm", "creds"))).To(Succeed())
		Eventually(readyReason(ctx, ns, "crm")).Should(Equal("True/TokenIssued"))
		Expect(f.tokenRequests()).To(Equal(1))

		By("suspending and resuming while the token is valid: no login")
		updateConn(ctx, ns, "crm", func(c *sfv1.SalesforceConnection) { c.Spec.Suspend = true })
		Eventually(condition(ctx, ns, "crm", sfv1.ConditionSuspended)).Should(Equal("True/Suspended"))
		Eventually(settled("crm")).Should(BeTrue())
		Expect(kstatusOf(ctx, ns, "crm")()).To(Equal(status.CurrentStatus))
		Expect(readyReason(ctx, ns, "crm")()).To(Equal("True/TokenIssued"))
		updateConn(ctx, ns, "crm", func(c *sfv1.SalesforceConnection) { c.Spec.Suspend = false })
		Eventually(condition(ctx, ns, "crm", sfv1.ConditionSuspended)).Should(BeEmpty())
		Eventually(readyReason(ctx, ns, "crm")).Should(Equal("True/TokenIssued"))
		Expect(f.tokenRequests()).To(Equal(1))

		By("suspending past renewal and expiry: no renewal, Ready says the token expired")
		updateConn(ctx, ns, "crm", func(c *sfv1.SalesforceConnection) { c.Spec.Suspend = true })
		Eventually(condition(ctx, ns, "crm", sfv1.ConditionSuspended)).Should(Equal("True/Suspended"))
		Eventually(settled("crm")).Should(BeTrue())
		first := accessToken(ctx, ns, "crm-token")()
		expires := getConn(ctx, ns, "crm").Status.ExpiresAt.Time
		fakeClock.SetTime(expires.Add(time.Second))
		// The pass woken at the expiry is the one that says so; it did not log in.
		Eventually(readyReason(ctx, ns, "crm")).Should(Equal("False/Suspended"))
		Expect(f.tokenRequests()).To(Equal(1))
		Expect(accessToken(ctx, ns, "crm-token")()).To(Equal(first))
		Expect(condition(ctx, ns, "crm", sfv1.ConditionReconciling)()).To(BeEmpty())
		// Not in progress forever: only a person resuming it brings a token.
		Expect(condition(ctx, ns, "crm", sfv1.ConditionStalled)()).To(Equal("True/Suspended"))
		Expect(kstatusOf(ctx, ns, "crm")()).To(Equal(status.FailedStatus))

		By("resuming with an expired token: one login")
		updateConn(ctx, ns, "crm", func(c *sfv1.SalesforceConnection) { c.Spec.Suspend = false })
		Eventually(readyReason(ctx, ns, "crm")).Should(Equal("True/TokenIssued"))
		Expect(f.tokenRequests()).To(Equal(2))
		Expect(accessToken(ctx, ns, "crm-token")()).NotTo(Equal(first))
		Expect(condition(ctx, ns, "crm", sfv1.ConditionStalled)()).To(BeEmpty())
		Expect(kstatusOf(ctx, ns, "crm")()).To(Equal(status.CurrentStatus))
	})

	It("deletionPolicy Orphan leaves the token Secret ownerless, and a re-created connection adopts it without a login", func() {
		f := newFixture(nil)
		Expect(k8s.Create(ctx, credentialsSecret(ns, "creds", "client_id", f.clientID, "client_secret", f.clientSecret))).To(Succeed())
		conn := clientCredentials(ns, "crm", "creds")
		conn.Spec.TokenSecret.DeletionPolicy = sfv1.DeletionPolicyOrphan
		Expect(k8s.Create(ctx, conn.DeepCopy())).To(Succeed())
		Eventually(readyReason(ctx, ns, "crm")).Should(Equal("True/TokenIssued"))
		firstUID := getConn(ctx, ns, "crm").UID
		s := tokenSecret(ctx, ns, "crm-token")
		// envtest runs no garbage collector: no owner reference is what keeps the Secret.
		Expect(s.OwnerReferences).To(BeEmpty())
		Expect(tokensecret.WrittenFor(s)).To(Equal(string(firstUID)))
		token := accessToken(ctx, ns, "crm-token")()

		By("deleting the connection")
		Expect(k8s.Delete(ctx, getConn(ctx, ns, "crm"))).To(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: "crm"}, &sfv1.SalesforceConnection{}))
		}).Should(BeTrue())
		Expect(tokenSecret(ctx, ns, "crm-token")).NotTo(BeNil())

		By("creating it again: adopted, no login")
		Expect(k8s.Create(ctx, conn.DeepCopy())).To(Succeed())
		Eventually(readyReason(ctx, ns, "crm")).Should(Equal("True/TokenIssued"))
		Eventually(eventReasons(ctx, ns, "crm")).Should(ContainElement("TokenSecretAdopted"))
		newUID := getConn(ctx, ns, "crm").UID
		Expect(newUID).NotTo(Equal(firstUID))
		Eventually(func() string { return tokensecret.WrittenFor(tokenSecret(ctx, ns, "crm-token")) }).Should(Equal(string(newUID)))
		Expect(accessToken(ctx, ns, "crm-token")()).To(Equal(token))
		Expect(f.tokenRequests()).To(Equal(1))

		By("switching to Delete: the owner reference comes back, still no login")
		updateConn(ctx, ns, "crm", func(c *sfv1.SalesforceConnection) { c.Spec.TokenSecret.DeletionPolicy = sfv1.DeletionPolicyDelete })
		Eventually(func() int { return len(tokenSecret(ctx, ns, "crm-token").OwnerReferences) }).Should(Equal(1))
		Eventually(readyReason(ctx, ns, "crm")).Should(Equal("True/TokenIssued"))
		Expect(f.tokenRequests()).To(Equal(1))
	})

	It("repairs an edited or deleted token Secret of deletionPolicy Orphan without a login", func() {
		f := newFixture(nil)
		Expect(k8s.Create(ctx, credentialsSecret(ns, "creds", "client_id", f.clientID, "client_secret", f.clientSecret))).To(Succeed())
		conn := clientCredentials(ns, "crm", "creds")
		conn.Spec.TokenSecret.DeletionPolicy = sfv1.DeletionPolicyOrphan
		Expect(k8s.Create(ctx, conn)).To(Succeed())
		Eventually(readyReason(ctx, ns, "crm")).Should(Equal("True/TokenIssued"))
		original := accessToken(ctx, ns, "crm-token")()

		By("restoring an edited token")
		s := tokenSecret(ctx, ns, "crm-token")
		s.Data[tokensecret.KeyAccessToken] = []byte("tampered")
		Expect(k8s.Update(ctx, s)).To(Succeed())
		Eventually(accessToken(ctx, ns, "crm-token")).Should(Equal(original))

		By("restoring a deleted token Secret, ownerless again")
		Expect(k8s.Delete(ctx, tokenSecret(ctx, ns, "crm-token"))).To(Succeed())
		Eventually(accessToken(ctx, ns, "crm-token")).Should(Equal(original))
		s = tokenSecret(ctx, ns, "crm-token")
		Expect(s.OwnerReferences).To(BeEmpty())
		Expect(tokensecret.WrittenFor(s)).To(Equal(string(getConn(ctx, ns, "crm").UID)))
		Eventually(readyReason(ctx, ns, "crm")).Should(Equal("True/TokenIssued"))
		Expect(f.tokenRequests()).To(Equal(1))
	})

	It("never adopts a crafted Secret, nor a sealed one of other inputs", func() {
		f := newFixture(nil)
		other := newFixture(nil)
		Expect(k8s.Create(ctx, credentialsSecret(ns, "creds", "client_id", f.clientID, "client_secret", f.clientSecret))).To(Succeed())
		Expect(k8s.Create(ctx, credentialsSecret(ns, "other-creds", "client_id", other.clientID, "client_secret", other.clientSecret))).To(Succeed())
		conn := clientCredentials(ns, "crm", "creds")
		conn.Spec.TokenSecret.DeletionPolicy = sfv1.DeletionPolicyOrphan
		Expect(k8s.Create(ctx, conn)).To(Succeed())
		Eventually(readyReason(ctx, ns, "crm")).Should(Equal("True/TokenIssued"))
		sealed := tokenSecret(ctx, ns, "crm-token")

		// copyAs is the sealed Secret under another name, its data changed by edit.
		copyAs := func(name string, edit func(map[string][]byte)) *corev1.Secret {
			c := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name,
				Labels: sealed.Labels, Annotations: sealed.Annotations}, Data: map[string][]byte{}}
			for k, v := range sealed.Data {
				c.Data[k] = v
			}
			edit(c.Data)
			return c
		}
		crafted := copyAs("crafted-token", func(d map[string][]byte) { d[tokensecret.KeyAccessToken] = []byte("00D000000000001!crafted") })
		copied := copyAs("copied-token", func(map[string][]byte) {})
		// The connection label names crm, which is live: only the copies' own
		// connections' names may stand there for an adoption.
		delete(crafted.Labels, "salesforce.sfconn.io/connection")
		delete(copied.Labels, "salesforce.sfconn.io/connection")
		Expect(k8s.Create(ctx, crafted)).To(Succeed())
		Expect(k8s.Create(ctx, copied)).To(Succeed())

		Expect(k8s.Create(ctx, clientCredentials(ns, "crafted", "creds"))).To(Succeed())
		Expect(k8s.Create(ctx, clientCredentials(ns, "copied", "other-creds"))).To(Succeed())
		for _, name := range []string{"crafted", "copied"} {
			Eventually(readyReason(ctx, ns, name)).Should(Equal("False/InvalidSpec"), name)
			msg := meta.FindStatusCondition(getConn(ctx, ns, name).Status.Conditions, sfv1.ConditionReady).Message
			Expect(msg).To(ContainSubstring("adopts such a Secret only"))
			Expect(condition(ctx, ns, name, sfv1.ConditionStalled)()).To(Equal("True/InvalidSpec"))
		}
		Expect(f.tokenRequests()).To(Equal(1))
		Expect(other.tokenRequests()).To(Equal(0))
		Expect(accessToken(ctx, ns, "crafted-token")()).To(Equal(accessToken(ctx, ns, "crafted-token")()))
		Expect(tokenSecret(ctx, ns, "crafted-token").ResourceVersion).To(Equal(crafted.ResourceVersion))
		Expect(tokenSecret(ctx, ns, "copied-token").ResourceVersion).To(Equal(copied.ResourceVersion))
	})

	It("waits for credentials that arrive within the grace period, and stalls on ones that do not", func() {
		f := newFixture(nil)
		Expect(k8s.Create(ctx, clientCredentials(ns, "late", "late-creds"))).To(Succeed())
		Expect(k8s.Create(ctx, clientCredentials(ns, "never", "never-creds"))).To(Succeed())
		for _, name := range []string{"late", "never"} {
			Eventually(condition(ctx, ns, name, sfv1.ConditionReconciling)).Should(Equal("True/CredentialsNotFound"), name)
			Expect(condition(ctx, ns, name, sfv1.ConditionStalled)()).To(BeEmpty())
			Expect(kstatusOf(ctx, ns, name)()).To(Equal(status.InProgressStatus))
			Expect(getConn(ctx, ns, name).Status.CredentialsMissing).NotTo(BeNil())
		}

		By("the credentials of one arriving within the grace")
		fakeClock.Step(2 * time.Minute)
		Expect(k8s.Create(ctx, credentialsSecret(ns, "late-creds", "client_id", f.clientID, "client_secret", f.clientSecret))).To(Succeed())
		Eventually(readyReason(ctx, ns, "late")).Should(Equal("True/TokenIssued"))
		Expect(getConn(ctx, ns, "late").Status.CredentialsMissing).To(BeNil())
		Expect(eventReasons(ctx, ns, "late")()).NotTo(ContainElement("Stalled"))

		By("the grace running out for the other")
		since := getConn(ctx, ns, "never").Status.CredentialsMissing.Since.Time
		fakeClock.SetTime(since.Add(5*time.Minute + time.Second))
		Eventually(condition(ctx, ns, "never", sfv1.ConditionStalled)).Should(Equal("True/CredentialsNotFound"))
		Expect(condition(ctx, ns, "never", sfv1.ConditionReconciling)()).To(BeEmpty())
		Expect(kstatusOf(ctx, ns, "never")()).To(Equal(status.FailedStatus))
		Expect(condition(ctx, ns, "late", sfv1.ConditionStalled)()).To(BeEmpty())
	})
})

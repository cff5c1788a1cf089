package controller

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/owned"
)

var _ = Describe("A namespaced connection's token Secret", func() {
	It("stays out of the cache, and is rebuilt from memory unless someone else's metadata is on it", func() {
		ctx := context.Background()
		ns := newNamespace(ctx)
		f := newFixture(nil)
		Expect(k8s.Create(ctx, credentialsSecret(ns, "creds", "client_id", f.clientID, "client_secret", f.clientSecret))).To(Succeed())
		Expect(k8s.Create(ctx, connection(ns, "crm", sfv1.AuthSpec{ClientCredentials: &sfv1.ClientCredentialsAuth{
			CredentialsSecretRef: sfv1.SecretReference{Name: "creds"}}}))).To(Succeed())
		Eventually(readyReason(ctx, ns, "crm")).Should(Equal("True/TokenIssued"))
		By("forgetting the version its status patch replaced once the cache shows the patch")
		Eventually(func() bool {
			_, ok := suiteReconciler.mem.patchedFrom.load(client.ObjectKey{Namespace: ns, Name: "crm"})
			return ok
		}).Should(BeFalse())

		key := client.ObjectKey{Namespace: ns, Name: "crm-token"}
		Expect(tokenSecret(ctx, ns, "crm-token").Labels).To(HaveKeyWithValue(owned.LabelUncached, "true"))
		err := suiteCache.Get(ctx, key, &corev1.Secret{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the manager's cache holds the token Secret: %v", err)

		reads := readsOf(&uncachedReads, ns, "crm-token")
		versionChecks := readsOf(&metadataReads, ns, "crm-token")
		// touch wakes the connection without a login, and returns once its pass has asked
		// the Secret versions for the token Secret: a read of the Secret follows at once.
		touch := func(value string) {
			GinkgoHelper()
			checks := versionChecks()
			updateConn(ctx, ns, "crm", func(c *sfv1.SalesforceConnection) {
				c.Annotations = map[string]string{"example.com/touched": value}
			})
			Eventually(versionChecks).Should(BeNumerically(">", checks))
		}

		By("rebuilding the Secret from memory while it is as the operator wrote it")
		before := reads()
		touch("1")
		Consistently(reads, 500*time.Millisecond, 50*time.Millisecond).Should(Equal(before))

		By("reading it from the API server, and keeping the label, once someone else labelled it")
		s := tokenSecret(ctx, ns, "crm-token")
		s.Labels["team"] = "payments"
		Expect(k8s.Update(ctx, s)).To(Succeed())
		Eventually(reads).Should(Equal(before + 1))
		touch("2")
		Eventually(reads).Should(Equal(before + 2))
		Expect(tokenSecret(ctx, ns, "crm-token").Labels).To(HaveKeyWithValue("team", "payments"))

		By("renewing over it without losing the label")
		original := accessToken(ctx, ns, "crm-token")()
		updateConn(ctx, ns, "crm", func(c *sfv1.SalesforceConnection) {
			c.Annotations = map[string]string{sfv1.AnnotationRequestedAt: "renew-1"}
		})
		Eventually(accessToken(ctx, ns, "crm-token")).ShouldNot(Equal(original))
		Expect(f.tokenRequests()).To(Equal(2))
		s = tokenSecret(ctx, ns, "crm-token")
		Expect(s.Labels).To(HaveKeyWithValue("team", "payments"))
		Expect(s.Labels).To(HaveKeyWithValue(owned.LabelUncached, "true"))
		Eventually(readyReason(ctx, ns, "crm")).Should(Equal("True/TokenIssued"))
	})
})

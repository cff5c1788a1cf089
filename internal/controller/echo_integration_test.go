package controller

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

var _ = Describe("The operator's own writes", func() {
	It("wake nobody, while someone else's edit of the same Secret does", func() {
		ctx := context.Background()
		ns := newNamespace(ctx)
		f := newFixture(nil)
		Expect(k8s.Create(ctx, credentialsSecret(ns, "creds", "client_id", f.clientID, "client_secret", f.clientSecret))).To(Succeed())
		Expect(k8s.Create(ctx, connection(ns, "crm", sfv1.AuthSpec{ClientCredentials: &sfv1.ClientCredentialsAuth{
			CredentialsSecretRef: sfv1.SecretReference{Name: "creds"}}}))).To(Succeed())
		Eventually(readyReason(ctx, ns, "crm")).Should(Equal("True/TokenIssued"))

		// One pass logs in, writes the token Secret and patches status; the Secret's
		// creation comes back through the owned-Secret watch and the Secret versions, and
		// the status patch through the connection's watch: none of them is news.
		passes := readsOf(&reconciles, ns, "crm")
		Expect(passes()).To(Equal(int64(1)))
		Consistently(passes, 2*time.Second, 100*time.Millisecond).Should(Equal(int64(1)))

		By("someone else's edit of the token Secret wakes the connection")
		s := tokenSecret(ctx, ns, "crm-token")
		s.Labels["team"] = "payments"
		Expect(k8s.Update(ctx, s)).To(Succeed())
		Eventually(passes).Should(BeNumerically(">", 1))
		Expect(f.tokenRequests()).To(Equal(1))
	})
})

package controller

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

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

	It("wake no cluster connection either: the record and the delivered Secrets", func() {
		ctx := context.Background()
		home := ensureClusterResourceNamespace(ctx)
		f := newFixture(nil)
		name := fmt.Sprintf("crm-echo-%d", fixtureSeq.Load())
		Expect(k8s.Create(ctx, credentialsSecret(home, name+"-creds", "client_id", f.clientID, "client_secret", f.clientSecret))).To(Succeed())
		a, b := newLabelledNamespace(ctx, nil), newLabelledNamespace(ctx, nil)
		c := &sfv1.ClusterSalesforceConnection{ObjectMeta: metav1.ObjectMeta{Name: name}}
		c.Spec.LoginURL = emuServer.URL
		c.Spec.Auth.ClientCredentials = &sfv1.ClientCredentialsAuth{CredentialsSecretRef: sfv1.SecretReference{Name: name + "-creds"}}
		c.Spec.TokenSecret.Name = "crm-token"
		c.Spec.TokenSecret.Namespaces = []sfv1.NamespaceName{sfv1.NamespaceName(a), sfv1.NamespaceName(b)}
		Expect(k8s.Create(ctx, c)).To(Succeed())
		DeferCleanup(func() { Expect(client.IgnoreNotFound(k8s.Delete(ctx, c))).To(Succeed()) })
		Eventually(clusterReady(ctx, name)).Should(Equal("True/TokenIssued"))
		Eventually(deliveredCount(ctx, name)).Should(BeEquivalentTo(2))

		// One pass wrote the record and both delivered Secrets: their creations wake nobody.
		passes := readsOf(&reconciles, "", name)
		Consistently(passes, 2*time.Second, 100*time.Millisecond).Should(Equal(int64(1)))

		By("someone else's edit of a delivered Secret wakes the cluster connection")
		s := tokenSecret(ctx, a, "crm-token")
		s.Labels["team"] = "payments"
		Expect(k8s.Update(ctx, s)).To(Succeed())
		Eventually(passes).Should(BeNumerically(">", 1))
		Expect(f.tokenRequests()).To(Equal(1))
	})
})

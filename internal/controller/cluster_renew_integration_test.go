package controller

import (
	"context"
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

// The renewal request annotation, which kubectl sfconn renew and the Argo CD renew action
// set, works on the cluster kind as on the namespaced one: one login at once, echoed in
// status.lastHandledReconcileAt, and the new token in every target namespace.
var _ = Describe("ClusterSalesforceConnection renewal request", func() {
	It("logs in again at once, echoes the request, and delivers the new token to every target namespace", func() {
		ctx := context.Background()
		home := ensureClusterResourceNamespace(ctx)
		f := newFixture(nil)
		name := fmt.Sprintf("crm-renew-%d", fixtureSeq.Load())
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
		first := accessToken(ctx, a, "crm-token")()
		Expect(f.tokenRequests()).To(Equal(1))

		for i, value := range []string{"2026-03-02T09:30:00.123456789Z", "2026-03-02T09:31:00Z"} {
			By("request " + value)
			cur := getCluster(ctx, name)
			patch := client.MergeFrom(cur.DeepCopy())
			cur.Annotations = map[string]string{sfv1.AnnotationRequestedAt: value}
			Expect(k8s.Patch(ctx, cur, patch)).To(Succeed())

			Eventually(func() string { return getCluster(ctx, name).Status.LastHandledReconcileAt }).Should(Equal(value))
			Expect(f.tokenRequests()).To(Equal(2+i), "one login per request")
			Eventually(accessToken(ctx, a, "crm-token")).ShouldNot(Equal(first))
			Eventually(func() bool {
				t := accessToken(ctx, a, "crm-token")()
				return t == accessToken(ctx, b, "crm-token")() && t == accessToken(ctx, home, "csfconn."+name+"-token")()
			}).Should(BeTrue(), "both namespaces and the record hold the new token")
			first = accessToken(ctx, a, "crm-token")()
			Expect(clusterReady(ctx, name)()).To(Equal("True/TokenIssued"))
		}

		By("another annotation changing, the request staying, is no new request")
		cur := getCluster(ctx, name)
		cur.Annotations["team"] = "platform"
		Expect(k8s.Update(ctx, cur)).To(Succeed())
		Consistently(f.tokenRequests, "1s").Should(Equal(3))
	})
})

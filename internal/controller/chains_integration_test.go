package controller

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/salesforce/emulator"
)

var _ = Describe("A rotating refresh token held by several connections", func() {
	It("is one chain across namespaces: renewals never replay it, and a connection created again adopts it", func() {
		ctx := context.Background()
		f := newFixture(func(a *emulator.ConnectedApp) { a.RefreshTokenRotation = true })
		rt, err := emu.IssueRefreshToken(f.clientID, f.username)
		Expect(err).NotTo(HaveOccurred())
		holders := []struct{ ns, name string }{{newNamespace(ctx), "crm"}, {newNamespace(ctx), "crm"}, {"", "second"}}
		holders[2].ns = holders[0].ns
		for _, h := range holders {
			if h.name == "crm" {
				Expect(k8s.Create(ctx, credentialsSecret(h.ns, "creds", "client_id", f.clientID, "client_secret", f.clientSecret, "refresh_token", rt))).To(Succeed())
			}
			Expect(k8s.Create(ctx, connection(h.ns, h.name, sfv1.AuthSpec{RefreshToken: &sfv1.RefreshTokenAuth{
				CredentialsSecretRef: sfv1.SecretReference{Name: "creds"}}}))).To(Succeed())
		}
		for _, h := range holders {
			Eventually(readyReason(ctx, h.ns, h.name)).Should(Equal("True/TokenIssued"))
		}

		By("renewing each of them several times")
		for range 3 {
			for _, h := range holders {
				prev := accessToken(ctx, h.ns, h.name+"-token")()
				stepPastRenewal(ctx, h.ns, h.name)
				Eventually(accessToken(ctx, h.ns, h.name+"-token")).ShouldNot(Equal(prev))
			}
		}
		for _, h := range holders {
			Expect(readyReason(ctx, h.ns, h.name)()).To(Equal("True/TokenIssued"))
			Expect(condition(ctx, h.ns, h.name, sfv1.ConditionRevoked)()).To(BeEmpty())
		}
		// A replay would have made Salesforce delete the approval.
		approvals := emu.Approvals(f.clientID, f.username)
		Expect(approvals).To(HaveLen(1))

		By("deleting a connection and creating it again: it adopts the chain")
		first := holders[0]
		Expect(k8s.Delete(ctx, getConn(ctx, first.ns, first.name))).To(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKey{Namespace: first.ns, Name: first.name}, &sfv1.SalesforceConnection{}))
		}).Should(BeTrue())
		// envtest runs no garbage collector: the token Secret goes as it would with one,
		// once the manager's cache has seen its owner go. Before that, a pass of the owner
		// the cache still shows restores it, and a collector deletes it again.
		Eventually(func() bool {
			return apierrors.IsNotFound(suiteCache.Get(ctx, client.ObjectKey{Namespace: first.ns, Name: first.name}, &sfv1.SalesforceConnection{}))
		}).Should(BeTrue())
		Expect(k8s.Delete(ctx, tokenSecret(ctx, first.ns, first.name+"-token"))).To(Succeed())
		Expect(k8s.Create(ctx, connection(first.ns, first.name, sfv1.AuthSpec{RefreshToken: &sfv1.RefreshTokenAuth{
			CredentialsSecretRef: sfv1.SecretReference{Name: "creds"}}}))).To(Succeed())
		Eventually(readyReason(ctx, first.ns, first.name)).Should(Equal("True/TokenIssued"))
		Expect(emu.Approvals(f.clientID, f.username)).To(HaveLen(1))
		for _, h := range holders[1:] {
			prev := accessToken(ctx, h.ns, h.name+"-token")()
			stepPastRenewal(ctx, h.ns, h.name)
			Eventually(accessToken(ctx, h.ns, h.name+"-token")).ShouldNot(Equal(prev))
			Expect(readyReason(ctx, h.ns, h.name)()).To(Equal("True/TokenIssued"))
		}
		Expect(emu.Approvals(f.clientID, f.username)).To(HaveLen(1))
	})
})

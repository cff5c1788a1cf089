package controller

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

var _ = Describe("The approval ledger", func() {
	var (
		ctx context.Context
		ns  string
	)
	BeforeEach(func() {
		ctx = context.Background()
		ns = newNamespace(ctx)
	})

	refreshConnection := func(f fixture, name, secret, refreshToken string) {
		Expect(k8s.Create(ctx, credentialsSecret(ns, secret, "client_id", f.clientID, "client_secret", f.clientSecret, "refresh_token", refreshToken))).To(Succeed())
		Expect(k8s.Create(ctx, connection(ns, name, sfv1.AuthSpec{RefreshToken: &sfv1.RefreshTokenAuth{
			CredentialsSecretRef: sfv1.SecretReference{Name: secret}}}))).To(Succeed())
		Eventually(readyReason(ctx, ns, name)).Should(Equal("True/TokenIssued"))
	}
	approvals := func(name string) func() int32 {
		return func() int32 {
			if a := getConn(ctx, ns, name).Status.Approvals; a != nil {
				return a.Count
			}
			return -1
		}
	}

	It("says AtLimit on every connection holding five approvals, and clears when one is released", func() {
		f := newFixture(nil)
		names := []string{"c1", "c2", "c3", "c4", "c5"}
		for i, name := range names {
			fakeClock.Step(time.Second) // status times have second resolution: keep the order visible
			rt, err := emu.IssueRefreshToken(f.clientID, f.username)
			Expect(err).NotTo(HaveOccurred())
			refreshConnection(f, name, fmt.Sprintf("creds-%d", i), rt)
		}
		for _, name := range names {
			Eventually(approvals(name)).Should(Equal(int32(5)), name)
			Eventually(condition(ctx, ns, name, sfv1.ConditionApprovalLimit)).Should(Equal("True/AtLimit"), name)
		}
		c := getConn(ctx, ns, "c3")
		Expect(c.Status.Principal).NotTo(BeNil())
		Expect(c.Status.Principal.ClientID).To(Equal(f.clientID))
		Expect(c.Status.Approvals.Holders).To(Equal([]string{ns + "/c1", ns + "/c2", ns + "/c3", ns + "/c4", ns + "/c5"}))
		msg := meta.FindStatusCondition(c.Status.Conditions, sfv1.ConditionApprovalLimit).Message
		Expect(msg).To(ContainSubstring("revokes the oldest (" + ns + "/c1)"))

		By("deleting one")
		Expect(k8s.Delete(ctx, getConn(ctx, ns, "c5"))).To(Succeed())
		for _, name := range names[:4] {
			Eventually(approvals(name)).Should(Equal(int32(4)), name)
			Eventually(condition(ctx, ns, name, sfv1.ConditionApprovalLimit)).Should(Equal("False/WithinLimit"), name)
		}
	})

	It("counts connections sharing one refresh token once", func() {
		f := newFixture(nil)
		rt, err := emu.IssueRefreshToken(f.clientID, f.username)
		Expect(err).NotTo(HaveOccurred())
		refreshConnection(f, "one", "creds-one", rt)
		refreshConnection(f, "two", "creds-two", rt)
		Eventually(approvals("one")).Should(Equal(int32(1)))
		Eventually(approvals("two")).Should(Equal(int32(1)))
		Expect(getConn(ctx, ns, "one").Status.Approval.ID).To(Equal(getConn(ctx, ns, "two").Status.Approval.ID))
		Expect(getConn(ctx, ns, "one").Status.Approval.ID).NotTo(ContainSubstring(rt[:8]))

		other, err := emu.IssueRefreshToken(f.clientID, f.username)
		Expect(err).NotTo(HaveOccurred())
		refreshConnection(f, "three", "creds-three", other)
		Eventually(approvals("one")).Should(Equal(int32(2)))
		Eventually(approvals("three")).Should(Equal(int32(2)))
	})

	It("names the cluster's approvals in a revocation message and releases the dead one", func() {
		f := newFixture(nil)
		for i := range 2 {
			rt, err := emu.IssueRefreshToken(f.clientID, f.username)
			Expect(err).NotTo(HaveOccurred())
			refreshConnection(f, fmt.Sprintf("keep-%d", i), fmt.Sprintf("keep-%d", i), rt)
		}
		victim, err := emu.IssueRefreshToken(f.clientID, f.username)
		Expect(err).NotTo(HaveOccurred())
		refreshConnection(f, "victim", "victim", victim)
		Eventually(approvals("keep-0")).Should(Equal(int32(3)))

		Expect(emu.RevokeToken(victim)).To(BeTrue())
		stepPastRenewal(ctx, ns, "victim")
		Eventually(readyReason(ctx, ns, "victim")).Should(Equal("False/Revoked"))
		msg := meta.FindStatusCondition(getConn(ctx, ns, "victim").Status.Conditions, sfv1.ConditionRevoked).Message
		Expect(msg).To(ContainSubstring("holds 2 other approval(s)"))
		Expect(msg).To(ContainSubstring(ns + "/keep-0"))
		Expect(getConn(ctx, ns, "victim").Status.Approval).To(BeNil())
		Eventually(approvals("keep-0")).Should(Equal(int32(2)))
	})
})

package controller

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/rotation"
	"github.com/sfconn/sfconn-operator/internal/salesforce/emulator"
)

var _ = Describe("Device login", func() {
	var (
		ctx context.Context
		ns  string
	)
	BeforeEach(func() {
		ctx = context.Background()
		ns = newNamespace(ctx)
	})

	deviceConnection := func(f fixture, name string, policy sfv1.ApprovalPolicy) {
		// The connected app requires its secret on refresh (Salesforce's default).
		Expect(k8s.Create(ctx, credentialsSecret(ns, name+"-app", "client_secret", f.clientSecret))).To(Succeed())
		c := connection(ns, name, sfv1.AuthSpec{DeviceLogin: &sfv1.DeviceLoginAuth{ClientID: f.clientID, Username: f.username,
			CredentialsSecretRef: &sfv1.SecretReference{Name: name + "-app"}}})
		c.Spec.ApprovalPolicy = policy
		Expect(k8s.Create(ctx, c)).To(Succeed())
	}
	userCode := func(name string) func() string {
		return func() string {
			if d := getConn(ctx, ns, name).Status.DeviceLogin; d != nil {
				return d.UserCode
			}
			return ""
		}
	}
	gone := func(name string) func() bool {
		return func() bool {
			err := k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &sfv1.SalesforceConnection{})
			return apierrors.IsNotFound(err)
		}
	}

	It("shows the code, waits for approval, keeps the refresh token, and revokes it on deletion", func() {
		f := newFixture(nil)
		deviceConnection(f, "laptop", "")
		Eventually(userCode("laptop")).ShouldNot(BeEmpty())
		Expect(readyReason(ctx, ns, "laptop")()).To(Equal("False/AwaitingApproval"))
		Expect(condition(ctx, ns, "laptop", sfv1.ConditionReconciling)()).To(Equal("True/AwaitingApproval"))
		c := getConn(ctx, ns, "laptop")
		Expect(c.Status.DeviceLogin.VerificationURI).NotTo(BeEmpty())
		Expect(c.Finalizers).To(ContainElement(FinalizerRevoke))

		By("polling while nobody approves")
		polls := f.tokenRequests()
		fakeClock.Step(6 * time.Second)
		Eventually(f.tokenRequests).Should(BeNumerically(">", polls))
		Expect(readyReason(ctx, ns, "laptop")()).To(Equal("False/AwaitingApproval"))

		By("a person approving")
		Expect(emu.ApproveDevice(getConn(ctx, ns, "laptop").Status.DeviceLogin.UserCode, f.username)).To(Succeed())
		Eventually(func() string {
			fakeClock.Step(time.Second)
			return readyReason(ctx, ns, "laptop")()
		}).Should(Equal("True/TokenIssued"))
		c = getConn(ctx, ns, "laptop")
		Expect(c.Status.DeviceLogin).To(BeNil())
		Expect(c.Status.Approval).NotTo(BeNil())
		Expect(c.Status.Approval.MintedByOperator).To(BeTrue())
		Expect(c.Status.Principal.Username).To(Equal(f.username))
		Expect(tokenSecret(ctx, metav1.NamespaceDefault, rotation.ChainSecretName(c.Status.Approval.ID)).Data).To(HaveKey("refresh_token"))
		Expect(emu.Approvals(f.clientID, f.username)).To(HaveLen(1))

		By("renewing with the refresh token it keeps")
		before := accessToken(ctx, ns, "laptop-token")()
		stepPastRenewal(ctx, ns, "laptop")
		Eventually(accessToken(ctx, ns, "laptop-token")).ShouldNot(Equal(before))
		Expect(emu.Approvals(f.clientID, f.username)).To(HaveLen(1))

		By("starting a new device login when an admin revokes the token")
		Expect(emu.RevokeApprovals(f.clientID, f.username)).To(Equal(1))
		stepPastRenewal(ctx, ns, "laptop")
		Eventually(userCode("laptop")).ShouldNot(BeEmpty())
		// The access token in the Secret has not expired, so Ready stays True meanwhile.
		Expect(condition(ctx, ns, "laptop", sfv1.ConditionReconciling)()).To(Equal("True/AwaitingApproval"))
		Expect(emu.ApproveDevice(getConn(ctx, ns, "laptop").Status.DeviceLogin.UserCode, f.username)).To(Succeed())
		Eventually(func() string {
			fakeClock.Step(time.Second)
			return condition(ctx, ns, "laptop", sfv1.ConditionReconciling)()
		}).Should(BeEmpty())
		Expect(readyReason(ctx, ns, "laptop")()).To(Equal("True/TokenIssued"))
		Expect(emu.Approvals(f.clientID, f.username)).To(HaveLen(1))

		By("revoking it when the connection is deleted")
		Expect(k8s.Delete(ctx, getConn(ctx, ns, "laptop"))).To(Succeed())
		Eventually(gone("laptop")).Should(BeTrue())
		Expect(emu.Approvals(f.clientID, f.username)).To(BeEmpty())
	})

	It("refuses a sixth approval unless told to evict the oldest", func() {
		f := newFixture(nil)
		for i := range 5 {
			fakeClock.Step(time.Second)
			rt, err := emu.IssueRefreshToken(f.clientID, f.username)
			Expect(err).NotTo(HaveOccurred())
			name := fmt.Sprintf("held-%d", i)
			Expect(k8s.Create(ctx, credentialsSecret(ns, name, "client_id", f.clientID, "client_secret", f.clientSecret, "refresh_token", rt))).To(Succeed())
			Expect(k8s.Create(ctx, connection(ns, name, sfv1.AuthSpec{RefreshToken: &sfv1.RefreshTokenAuth{
				CredentialsSecretRef: sfv1.SecretReference{Name: name}}}))).To(Succeed())
			Eventually(readyReason(ctx, ns, name)).Should(Equal("True/TokenIssued"))
			Eventually(func() string { return getConn(ctx, ns, name).Status.Principal.Username }).Should(Equal(f.username))
		}
		deviceConnection(f, "sixth", "")
		Eventually(readyReason(ctx, ns, "sixth")).Should(Equal("False/ApprovalLimitReached"))
		Expect(condition(ctx, ns, "sixth", sfv1.ConditionApprovalLimit)()).To(Equal("True/Exceeded"))
		Expect(condition(ctx, ns, "sixth", sfv1.ConditionStalled)()).To(Equal("True/ApprovalLimitReached"))
		Expect(getConn(ctx, ns, "sixth").Status.DeviceLogin).To(BeNil())

		By("starting once an approval is released")
		Expect(k8s.Delete(ctx, getConn(ctx, ns, "held-0"))).To(Succeed())
		Eventually(userCode("sixth")).ShouldNot(BeEmpty())

		By("going ahead at once with EvictOldest")
		deviceConnection(f, "evict", sfv1.ApprovalPolicyEvictOldest)
		Eventually(userCode("evict")).ShouldNot(BeEmpty())
	})

	It("lets a deletion go after a minute when Salesforce cannot revoke, with a Warning event", func() {
		f := newFixture(nil)
		deviceConnection(f, "stuck", "")
		Eventually(userCode("stuck")).ShouldNot(BeEmpty())
		Expect(emu.ApproveDevice(getConn(ctx, ns, "stuck").Status.DeviceLogin.UserCode, f.username)).To(Succeed())
		Eventually(func() string {
			fakeClock.Step(time.Second)
			return readyReason(ctx, ns, "stuck")()
		}).Should(Equal("True/TokenIssued"))

		Expect(emu.InjectFault(emulator.Fault{Endpoint: emulator.EndpointRevoke, Status: 503})).To(Succeed())
		DeferCleanup(emu.ClearFaults)
		Expect(k8s.Delete(ctx, getConn(ctx, ns, "stuck"))).To(Succeed())
		Consistently(gone("stuck"), "1s").Should(BeFalse(), "the finalizer waits while the grace lasts")
		Eventually(func() bool {
			fakeClock.Step(15 * time.Second)
			return gone("stuck")()
		}).Should(BeTrue())
		Eventually(func() []string {
			var list eventsv1.EventList
			Expect(k8s.List(ctx, &list, client.InNamespace(ns))).To(Succeed())
			var reasons []string
			for _, e := range list.Items {
				reasons = append(reasons, e.Reason)
			}
			return reasons
		}).Should(ContainElement("RevocationFailed"))
		Expect(emu.Approvals(f.clientID, f.username)).To(HaveLen(1), "the approval was left behind, as the event says")
	})
})

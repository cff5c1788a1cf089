package controller

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/rotation"
	"github.com/sfconn/sfconn-operator/internal/salesforce/emulator"
)

// clusterEvents lists the events about a cluster connection.
// Events about a cluster-scoped object land in a namespace the recorder picks, so all are
// searched.
func clusterEvents(ctx context.Context, name string) func() []eventsv1.Event {
	return func() []eventsv1.Event {
		var list eventsv1.EventList
		Expect(k8s.List(ctx, &list)).To(Succeed())
		var about []eventsv1.Event
		for _, e := range list.Items {
			if e.Regarding.Kind == sfv1.ClusterSalesforceConnectionKind && e.Regarding.Name == name {
				about = append(about, e)
			}
		}
		return about
	}
}

func reasonsOf(events []eventsv1.Event) []string {
	var reasons []string
	for _, e := range events {
		reasons = append(reasons, e.Reason)
	}
	return reasons
}

// secretsHolding names, as namespace/name, the Secrets anywhere in the cluster with a
// value equal to token. It returns names only, so a failing assertion prints no token.
func secretsHolding(ctx context.Context, token string) []string {
	var all corev1.SecretList
	Expect(k8s.List(ctx, &all)).To(Succeed())
	var where []string
	for _, s := range all.Items {
		for _, v := range s.Data {
			if string(v) == token {
				where = append(where, s.Namespace+"/"+s.Name)
				break
			}
		}
	}
	return where
}

// secretExists looks for a Secret without handing a matcher its values, which a failing
// assertion would print; keysOf (step_key_test.go) gives the names of its keys alone.
func secretExists(ctx context.Context, ns, name string) bool {
	return tokenSecret(ctx, ns, name) != nil
}

// clusterDeviceSeq names each test's cluster connection, which is cluster-wide.
var clusterDeviceSeq atomic.Int32

var _ = Describe("Device login on a ClusterSalesforceConnection", func() {
	var (
		ctx   context.Context
		home  string
		name  string
		label string
	)
	BeforeEach(func() {
		ctx = context.Background()
		home = ensureClusterResourceNamespace(ctx)
		n := clusterDeviceSeq.Add(1)
		name = fmt.Sprintf("device-%d", n)
		label = fmt.Sprintf("salesforce.sfconn.io/device-%d", n)
	})

	// deviceCluster creates a device-login cluster connection that delivers to the
	// namespaces labelled with label. The connected app requires its secret on refresh
	// (Salesforce's default), which the credentials Secret in the cluster resource
	// namespace gives; the client ID is inline so the ledger can count before the first token.
	deviceCluster := func(f fixture) {
		Expect(k8s.Create(ctx, credentialsSecret(home, name+"-app", "client_secret", f.clientSecret))).To(Succeed())
		c := &sfv1.ClusterSalesforceConnection{ObjectMeta: metav1.ObjectMeta{Name: name}}
		c.Spec.LoginURL = emuServer.URL
		c.Spec.SessionTimeout = &metav1.Duration{Duration: 2 * time.Hour}
		c.Spec.Auth.DeviceLogin = &sfv1.DeviceLoginAuth{ClientID: f.clientID, Username: f.username,
			CredentialsSecretRef: &sfv1.SecretReference{Name: name + "-app"}}
		c.Spec.TokenSecret.Name = "crm-token"
		c.Spec.TokenSecret.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{label: "true"}}
		Expect(k8s.Create(ctx, c)).To(Succeed())
	}
	userCode := func() string {
		if d := getCluster(ctx, name).Status.DeviceLogin; d != nil {
			return d.UserCode
		}
		return ""
	}
	gone := func() bool {
		return apierrors.IsNotFound(k8s.Get(ctx, types.NamespacedName{Name: name}, &sfv1.ClusterSalesforceConnection{}))
	}
	// approve approves the code shown in status as the user, and polls until Ready.
	approve := func(f fixture) {
		Expect(emu.ApproveDevice(userCode(), f.username)).To(Succeed())
		Eventually(func() string {
			fakeClock.Step(time.Second)
			return clusterReady(ctx, name)()
		}).Should(Equal("True/TokenIssued"))
	}
	// expectAwaiting checks the state of a code waiting for a person: shown on the cluster
	// object, Reconciling rather than Stalled, and nothing delivered anywhere.
	expectAwaiting := func(targets ...string) {
		Eventually(clusterReady(ctx, name)).Should(Equal("False/AwaitingApproval"))
		c := getCluster(ctx, name)
		Expect(c.Status.DeviceLogin).NotTo(BeNil())
		Expect(c.Status.DeviceLogin.UserCode).NotTo(BeEmpty())
		Expect(c.Status.DeviceLogin.VerificationURI).To(HavePrefix(emuServer.URL))
		Expect(c.Status.DeviceLogin.ExpiresAt.Time).To(BeTemporally(">", fakeClock.Now()))
		Expect(clusterReadyMessage(ctx, name)()).To(ContainSubstring(c.Status.DeviceLogin.UserCode))
		Expect(condition2(c.Status.Conditions, sfv1.ConditionReconciling)).To(Equal("True/AwaitingApproval"))
		Expect(condition2(c.Status.Conditions, sfv1.ConditionStalled)).To(BeEmpty())
		Expect(c.Status.TokenSecretNamespaces).To(BeZero())
		Expect(c.Finalizers).To(ContainElement(FinalizerRevoke), "set before the code is shown: an approval may follow")
		for _, ns := range targets {
			Expect(secretExists(ctx, ns, "crm-token")).To(BeFalse(), "nothing is delivered to %s before approval", ns)
		}
		Expect(secretExists(ctx, home, "csfconn."+name+"-token")).To(BeFalse(), "no record without a token")
		state := tokenSecret(ctx, home, "csfconn."+name+"-rotated-refresh-token")
		Expect(state).NotTo(BeNil())
		Expect(keysOf(state.Data)).To(ContainElement(rotation.KeyDeviceCode))
		Expect(state.OwnerReferences).To(HaveLen(1))
		Expect(state.OwnerReferences[0].UID).To(Equal(c.UID))
	}

	It("delivers one token to every target namespace once approved, renews by its refresh token, and revokes it on deletion", func() {
		// Refresh token rotation on: the operator must keep each rotated token, since
		// replaying the one before revokes the live one (salesforce-oauth.md 5.3).
		f := newFixture(func(a *emulator.ConnectedApp) { a.RefreshTokenRotation = true })
		a := newLabelledNamespace(ctx, map[string]string{label: "true"})
		b := newLabelledNamespace(ctx, map[string]string{label: "true"})
		other := newLabelledNamespace(ctx, nil)
		deviceCluster(f)

		By("showing the code on the cluster object and delivering nothing")
		expectAwaiting(a, b, other)
		Eventually(func() []string { return reasonsOf(clusterEvents(ctx, name)()) }).Should(ContainElement(sfv1.ReasonAwaitingApproval))
		polls := f.tokenRequests()
		fakeClock.Step(6 * time.Second)
		Eventually(f.tokenRequests).Should(BeNumerically(">", polls), "it polls at Salesforce's interval")
		expectAwaiting(a, b, other)
		Expect(emu.Approvals(f.clientID, f.username)).To(BeEmpty())

		By("a person approving")
		approve(f)
		Eventually(deliveredCount(ctx, name)).Should(BeEquivalentTo(2))
		c := getCluster(ctx, name)
		Expect(c.Status.DeviceLogin).To(BeNil())
		Expect(c.Status.TokenSecretName).To(Equal("crm-token"))
		Expect(condition2(c.Status.Conditions, sfv1.ConditionReconciling)).To(BeEmpty())
		Expect(condition2(c.Status.Conditions, sfv1.ConditionStalled)).To(BeEmpty())
		token := accessToken(ctx, home, "csfconn."+name+"-token")()
		Expect(token).NotTo(BeEmpty())
		for _, ns := range []string{a, b} {
			Expect(accessToken(ctx, ns, "crm-token")()).To(Equal(token), "one token, in %s too", ns)
			s := tokenSecret(ctx, ns, "crm-token")
			Expect(keysOf(s.Data)).NotTo(ContainElement(rotation.KeyRefreshToken))
			// envtest runs no garbage collector: the controller reference is what deletes
			// these Secrets with the cluster connection (deletionPolicy Delete).
			Expect(s.OwnerReferences).To(ConsistOf(And(
				HaveField("Kind", sfv1.ClusterSalesforceConnectionKind),
				HaveField("APIVersion", sfv1.GroupVersion.String()),
				HaveField("Name", name),
				HaveField("UID", c.UID),
				HaveField("Controller", HaveValue(BeTrue())))))
		}
		Expect(secretExists(ctx, other, "crm-token")).To(BeFalse())

		By("keeping the refresh token in its chain alone, and counting one approval for the cluster holder")
		Expect(c.Status.Approval).NotTo(BeNil())
		Expect(c.Status.Approval.MintedByOperator).To(BeTrue())
		Expect(c.Status.Principal).NotTo(BeNil())
		Expect(c.Status.Principal.Username).To(Equal(f.username))
		holder := sfv1.ClusterSalesforceConnectionKind + "/" + name
		Expect(c.Status.Approvals).NotTo(BeNil())
		Expect(c.Status.Approvals.Count).To(BeEquivalentTo(1))
		Expect(c.Status.Approvals.Holders).To(Equal([]string{holder}))
		Expect(condition2(c.Status.Conditions, sfv1.ConditionApprovalLimit)).To(Equal("False/WithinLimit"))
		sfApprovals := emu.Approvals(f.clientID, f.username)
		Expect(sfApprovals).To(HaveLen(1))
		Expect(sfApprovals[0].Source).To(Equal(emulator.SourceDevice))
		approvalID := c.Status.Approval.ID
		chain := rotation.ChainSecretName(approvalID)
		refreshToken := func() string {
			if s := tokenSecret(ctx, metav1.NamespaceDefault, chain); s != nil {
				return string(s.Data[rotation.KeyRefreshToken])
			}
			return ""
		}
		first := refreshToken()
		Expect(first).NotTo(BeEmpty())
		Expect(secretsHolding(ctx, first)).To(Equal([]string{metav1.NamespaceDefault + "/" + chain}))
		state := tokenSecret(ctx, home, "csfconn."+name+"-rotated-refresh-token")
		Expect(state).NotTo(BeNil())
		Expect(keysOf(state.Data)).NotTo(ContainElement(rotation.KeyDeviceCode), "the code is spent")

		By("renewing on request with the refresh token, without a second approval")
		requestRenewal := func(at string) {
			cl := getCluster(ctx, name)
			patch := client.MergeFrom(cl.DeepCopy())
			cl.Annotations = map[string]string{sfv1.AnnotationRequestedAt: at}
			Expect(k8s.Patch(ctx, cl, patch)).To(Succeed())
			Eventually(func() string { return getCluster(ctx, name).Status.LastHandledReconcileAt }).Should(Equal(at))
		}
		requestRenewal("2026-11-25T10:00:00Z")
		Eventually(accessToken(ctx, home, "csfconn."+name+"-token")).ShouldNot(Equal(token))
		renewed := accessToken(ctx, home, "csfconn."+name+"-token")()
		for _, ns := range []string{a, b} {
			Eventually(accessToken(ctx, ns, "crm-token")).Should(Equal(renewed))
		}
		Expect(clusterReady(ctx, name)()).To(Equal("True/TokenIssued"))
		Expect(getCluster(ctx, name).Status.DeviceLogin).To(BeNil(), "no second device login")
		sfApprovals = emu.Approvals(f.clientID, f.username)
		Expect(sfApprovals).To(HaveLen(1))
		Expect(sfApprovals[0].Rotations).To(Equal(1))
		second := refreshToken()
		Expect(second).NotTo(BeEmpty())
		Expect(second != first).To(BeTrue(), "the rotated refresh token replaced the spent one")
		Expect(secretsHolding(ctx, second)).To(Equal([]string{metav1.NamespaceDefault + "/" + chain}))
		Expect(getCluster(ctx, name).Status.Approval.ID).To(Equal(approvalID))

		By("renewing again with the rotated token: a replay of the spent one would have revoked the approval")
		requestRenewal("2026-11-25T10:05:00Z")
		Eventually(accessToken(ctx, a, "crm-token")).ShouldNot(Equal(renewed))
		Expect(clusterReady(ctx, name)()).To(Equal("True/TokenIssued"))
		Expect(condition2(getCluster(ctx, name).Status.Conditions, sfv1.ConditionRevoked)).To(BeEmpty())
		sfApprovals = emu.Approvals(f.clientID, f.username)
		Expect(sfApprovals).To(HaveLen(1))
		Expect(sfApprovals[0].Rotations).To(Equal(2))

		By("revoking the refresh token when the cluster connection is deleted")
		Expect(k8s.Delete(ctx, getCluster(ctx, name))).To(Succeed())
		Eventually(gone).Should(BeTrue())
		Expect(emu.Approvals(f.clientID, f.username)).To(BeEmpty())
		Expect(secretExists(ctx, metav1.NamespaceDefault, chain)).To(BeFalse(), "the chain of a revoked token goes")
		Eventually(func() []string { return reasonsOf(clusterEvents(ctx, name)()) }).Should(ContainElement("ApprovalRevoked"))
	})

	It("starts a new device login when an admin revokes the approval, and the namespaces keep the token meanwhile", func() {
		f := newFixture(nil)
		a := newLabelledNamespace(ctx, map[string]string{label: "true"})
		deviceCluster(f)
		expectAwaiting(a)
		approve(f)
		Eventually(accessToken(ctx, a, "crm-token")).ShouldNot(BeEmpty())
		before := accessToken(ctx, a, "crm-token")()

		By("Salesforce refusing the refresh token at the next renewal")
		Expect(emu.RevokeApprovals(f.clientID, f.username)).To(Equal(1))
		var renewAt time.Time
		Eventually(func() bool {
			if r := getCluster(ctx, name).Status.RenewAt; r != nil {
				renewAt = r.Time
			}
			return renewAt.After(fakeClock.Now())
		}).Should(BeTrue())
		fakeClock.SetTime(renewAt.Add(time.Second))
		Eventually(userCode).ShouldNot(BeEmpty())
		Eventually(func() []string { return reasonsOf(clusterEvents(ctx, name)()) }).Should(ContainElement(sfv1.ReasonRevoked))
		Expect(condition2(getCluster(ctx, name).Status.Conditions, sfv1.ConditionReconciling)).To(Equal("True/AwaitingApproval"))
		Expect(condition2(getCluster(ctx, name).Status.Conditions, sfv1.ConditionStalled)).To(BeEmpty())
		// The access token already delivered is valid until it expires.
		Expect(clusterReady(ctx, name)()).To(Equal("True/TokenIssued"))
		Expect(accessToken(ctx, a, "crm-token")()).To(Equal(before))

		By("a person approving the new code")
		Expect(emu.ApproveDevice(userCode(), f.username)).To(Succeed())
		Eventually(func() string {
			fakeClock.Step(time.Second)
			return accessToken(ctx, a, "crm-token")()
		}).ShouldNot(Equal(before))
		// The Secrets are written before the pass patches the status.
		Eventually(func() *sfv1.DeviceLoginStatus { return getCluster(ctx, name).Status.DeviceLogin }).Should(BeNil())
		Expect(emu.Approvals(f.clientID, f.username)).To(HaveLen(1))
		Eventually(func() int32 {
			if ap := getCluster(ctx, name).Status.Approvals; ap != nil {
				return ap.Count
			}
			return 0
		}).Should(BeEquivalentTo(1))

		Expect(k8s.Delete(ctx, getCluster(ctx, name))).To(Succeed())
		Eventually(gone).Should(BeTrue())
		Expect(emu.Approvals(f.clientID, f.username)).To(BeEmpty())
	})

	It("asks for a new code when one expires unapproved, delivering nothing meanwhile", func() {
		f := newFixture(nil)
		a := newLabelledNamespace(ctx, map[string]string{label: "true"})
		deviceCluster(f)
		expectAwaiting(a)
		expired := userCode()

		By("letting the code expire")
		fakeClock.Step(emulator.DeviceCodeLifetime)
		Eventually(func() string {
			fakeClock.Step(time.Second)
			return userCode()
		}).ShouldNot(Or(Equal(expired), BeEmpty()))
		expectAwaiting(a)
		fresh := userCode()
		Expect(emu.ApproveDevice(expired, f.username)).NotTo(Succeed(), "Salesforce no longer knows the old code")
		Eventually(func() []string {
			var notes []string
			for _, e := range clusterEvents(ctx, name)() {
				if e.Reason == sfv1.ReasonAwaitingApproval && e.Type == corev1.EventTypeNormal {
					notes = append(notes, e.Note)
				}
			}
			return notes
		}).Should(ContainElement(ContainSubstring(fresh)), "a new event shows the new code")
		Expect(emu.Approvals(f.clientID, f.username)).To(BeEmpty())

		By("Salesforce saying the code expired before the status does")
		// The answer the emulator gives a poll of an expired device code.
		Expect(emu.InjectFault(emulator.Fault{Endpoint: emulator.EndpointToken, ClientID: f.clientID, Count: 1, Status: 400,
			Body: `{"error":"invalid_grant","error_description":"expired authorization code"}`})).To(Succeed())
		DeferCleanup(emu.ClearFaults)
		// Six seconds into a ten-minute code, only that answer to the poll can end it.
		fakeClock.Step(6 * time.Second)
		Eventually(userCode).ShouldNot(Or(Equal(fresh), BeEmpty()))
		expectAwaiting(a)
		Expect(emu.Approvals(f.clientID, f.username)).To(BeEmpty())

		By("deleting it unapproved: nothing to revoke, and the finalizer goes")
		Expect(k8s.Delete(ctx, getCluster(ctx, name))).To(Succeed())
		Eventually(gone).Should(BeTrue())
		Expect(reasonsOf(clusterEvents(ctx, name)())).NotTo(ContainElement("ApprovalRevoked"))
		Expect(secretExists(ctx, a, "crm-token")).To(BeFalse())
	})
})

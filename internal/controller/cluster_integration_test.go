package controller

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/owned"
	"github.com/sfconn/sfconn-operator/internal/tokensecret"
)

// ensureClusterResourceNamespace creates the suite's cluster resource namespace once.
func ensureClusterResourceNamespace(ctx context.Context) string {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: DefaultClusterResourceNamespace}}
	if err := k8s.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		Expect(err).NotTo(HaveOccurred())
	}
	return ns.Name
}

// newLabelledNamespace gives a test a namespace of its own with these labels.
func newLabelledNamespace(ctx context.Context, labels map[string]string) string {
	ns := &corev1.Namespace{}
	ns.GenerateName = "sfconn-target-"
	ns.Labels = labels
	Expect(k8s.Create(ctx, ns)).To(Succeed())
	return ns.Name
}

func setNamespaceLabels(ctx context.Context, name string, labels map[string]string) {
	var ns corev1.Namespace
	Expect(k8s.Get(ctx, types.NamespacedName{Name: name}, &ns)).To(Succeed())
	patch := client.MergeFrom(ns.DeepCopy())
	ns.Labels = labels
	Expect(k8s.Patch(ctx, &ns, patch)).To(Succeed())
}

func getCluster(ctx context.Context, name string) *sfv1.ClusterSalesforceConnection {
	var c sfv1.ClusterSalesforceConnection
	Expect(k8s.Get(ctx, types.NamespacedName{Name: name}, &c)).To(Succeed())
	return &c
}

// clusterReady returns "True/TokenIssued"-style text for the Ready condition of a cluster
// connection, once its status describes the current generation.
func clusterReady(ctx context.Context, name string) func() string {
	return func() string {
		c := getCluster(ctx, name)
		r := meta.FindStatusCondition(c.Status.Conditions, sfv1.ConditionReady)
		if r == nil || c.Status.ObservedGeneration != c.Generation {
			return ""
		}
		return string(r.Status) + "/" + r.Reason
	}
}

func clusterReadyMessage(ctx context.Context, name string) func() string {
	return func() string {
		if r := meta.FindStatusCondition(getCluster(ctx, name).Status.Conditions, sfv1.ConditionReady); r != nil {
			return r.Message
		}
		return ""
	}
}

// condition2 is "Status/Reason" of a condition, empty when absent.
func condition2(conditions []metav1.Condition, typ string) string {
	if c := meta.FindStatusCondition(conditions, typ); c != nil {
		return string(c.Status) + "/" + c.Reason
	}
	return ""
}

func deliveredCount(ctx context.Context, name string) func() int32 {
	return func() int32 { return getCluster(ctx, name).Status.TokenSecretNamespaces }
}

var _ = Describe("ClusterSalesforceConnection", func() {
	var (
		ctx   context.Context
		home  string
		f     fixture
		name  string
		label string
	)
	BeforeEach(func() {
		ctx = context.Background()
		home = ensureClusterResourceNamespace(ctx)
		f = newFixture(nil)
		n := fixtureSeq.Load()
		name = fmt.Sprintf("crm-%d", n)
		label = fmt.Sprintf("salesforce.sfconn.io/crm-%d", n)
		Expect(k8s.Create(ctx, credentialsSecret(home, name+"-creds", "client_id", f.clientID, "client_secret", f.clientSecret))).To(Succeed())
	})

	clusterConnection := func(names ...string) *sfv1.ClusterSalesforceConnection {
		c := &sfv1.ClusterSalesforceConnection{ObjectMeta: metav1.ObjectMeta{Name: name}}
		c.Spec.LoginURL = emuServer.URL
		c.Spec.Auth.ClientCredentials = &sfv1.ClientCredentialsAuth{CredentialsSecretRef: sfv1.SecretReference{Name: name + "-creds"}}
		c.Spec.TokenSecret.Name = "crm-token"
		c.Spec.TokenSecret.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{label: "true"}}
		for _, n := range names {
			c.Spec.TokenSecret.Namespaces = append(c.Spec.TokenSecret.Namespaces, sfv1.NamespaceName(n))
		}
		return c
	}

	It("logs in once and delivers the token to the namespaces chosen by label and by name, following them as they join and leave", func() {
		byLabel := newLabelledNamespace(ctx, map[string]string{label: "true"})
		byName := newLabelledNamespace(ctx, nil)
		other := newLabelledNamespace(ctx, nil)
		Expect(k8s.Create(ctx, clusterConnection(byName))).To(Succeed())

		Eventually(clusterReady(ctx, name)).Should(Equal("True/TokenIssued"))
		Eventually(deliveredCount(ctx, name)).Should(BeEquivalentTo(2))
		token := accessToken(ctx, byLabel, "crm-token")()
		Expect(token).NotTo(BeEmpty())
		Expect(accessToken(ctx, byName, "crm-token")()).To(Equal(token))
		Expect(tokenSecret(ctx, other, "crm-token")).To(BeNil())
		Expect(f.tokenRequests()).To(Equal(1))

		s := tokenSecret(ctx, byLabel, "crm-token")
		for _, k := range []string{tokensecret.KeyAccessToken, tokensecret.KeyInstanceURL, tokensecret.KeyTokenType, tokensecret.KeyIssuedAt,
			tokensecret.KeyExpiresAt, tokensecret.KeyID, tokensecret.KeyOrgID, tokensecret.KeyUserID} {
			Expect(s.Data).To(HaveKey(k))
		}
		Expect(s.Labels).To(HaveKeyWithValue(owned.LabelManagedBy, owned.ManagedByValue))
		Expect(s.Annotations).To(HaveKey(tokensecret.AnnotationSeal))
		Expect(s.OwnerReferences).To(HaveLen(1))
		Expect(s.OwnerReferences[0].Kind).To(Equal(sfv1.ClusterSalesforceConnectionKind))
		Expect(s.OwnerReferences[0].UID).To(Equal(getCluster(ctx, name).UID))
		Expect(tokenSecret(ctx, home, "csfconn."+name+"-token")).NotTo(BeNil(), "the record of the token")
		Expect(getCluster(ctx, name).Status.TokenSecretName).To(Equal("crm-token"))

		By("a namespace labelled later receives the token without a login")
		setNamespaceLabels(ctx, other, map[string]string{label: "true"})
		Eventually(accessToken(ctx, other, "crm-token")).Should(Equal(token))
		Eventually(deliveredCount(ctx, name)).Should(BeEquivalentTo(3))

		By("a namespace created with the label receives it too")
		created := newLabelledNamespace(ctx, map[string]string{label: "true"})
		Eventually(accessToken(ctx, created, "crm-token")).Should(Equal(token))
		Eventually(deliveredCount(ctx, name)).Should(BeEquivalentTo(4))

		By("a namespace whose label is removed loses its Secret")
		setNamespaceLabels(ctx, byLabel, nil)
		Eventually(func() *corev1.Secret { return tokenSecret(ctx, byLabel, "crm-token") }).Should(BeNil())
		Eventually(deliveredCount(ctx, name)).Should(BeEquivalentTo(3))

		By("a namespace removed from the names loses its Secret")
		c := getCluster(ctx, name)
		c.Spec.TokenSecret.Namespaces = nil
		Expect(k8s.Update(ctx, c)).To(Succeed())
		Eventually(func() *corev1.Secret { return tokenSecret(ctx, byName, "crm-token") }).Should(BeNil())
		Eventually(deliveredCount(ctx, name)).Should(BeEquivalentTo(2))
		Expect(f.tokenRequests()).To(Equal(1), "joining and leaving took no login")
	})

	It("repairs an edited or deleted token Secret in a target namespace without a login", func() {
		a := newLabelledNamespace(ctx, map[string]string{label: "true"})
		b := newLabelledNamespace(ctx, map[string]string{label: "true"})
		Expect(k8s.Create(ctx, clusterConnection())).To(Succeed())
		Eventually(deliveredCount(ctx, name)).Should(BeEquivalentTo(2))
		token := accessToken(ctx, a, "crm-token")()

		s := tokenSecret(ctx, a, "crm-token")
		s.Data[tokensecret.KeyAccessToken] = []byte("edited")
		Expect(k8s.Update(ctx, s)).To(Succeed())
		Expect(k8s.Delete(ctx, tokenSecret(ctx, b, "crm-token"))).To(Succeed())

		Eventually(accessToken(ctx, a, "crm-token")).Should(Equal(token))
		Eventually(accessToken(ctx, b, "crm-token")).Should(Equal(token))
		Eventually(deliveredCount(ctx, name)).Should(BeEquivalentTo(2))
		Expect(f.tokenRequests()).To(Equal(1))
	})

	It("never writes over somebody else's Secret in a target namespace, and names that namespace", func() {
		ours := newLabelledNamespace(ctx, map[string]string{label: "true"})
		theirs := newLabelledNamespace(ctx, map[string]string{label: "true"})
		foreign := credentialsSecret(theirs, "crm-token", "access_token", "someone else's")
		Expect(k8s.Create(ctx, foreign)).To(Succeed())
		Expect(k8s.Create(ctx, clusterConnection())).To(Succeed())

		Eventually(clusterReady(ctx, name)).Should(Equal("True/TokenIssued"))
		Eventually(deliveredCount(ctx, name)).Should(BeEquivalentTo(1))
		Expect(accessToken(ctx, ours, "crm-token")()).NotTo(BeEmpty())
		Eventually(clusterReadyMessage(ctx, name)).Should(And(ContainSubstring("belongs to somebody else"), ContainSubstring(theirs)))
		s := tokenSecret(ctx, theirs, "crm-token")
		Expect(string(s.Data["access_token"])).To(Equal("someone else's"))
		Expect(s.OwnerReferences).To(BeEmpty())

		By("the namespace receives the token once the other Secret is gone")
		Expect(k8s.Delete(ctx, s)).To(Succeed())
		Eventually(accessToken(ctx, theirs, "crm-token")).Should(Equal(accessToken(ctx, ours, "crm-token")()))
		Eventually(deliveredCount(ctx, name)).Should(BeEquivalentTo(2))
		Eventually(clusterReadyMessage(ctx, name)).ShouldNot(ContainSubstring(theirs))
	})

	It("honours deletionPolicy Orphan in the target namespaces, and delivers nothing while suspended", func() {
		a := newLabelledNamespace(ctx, map[string]string{label: "true"})
		c := clusterConnection()
		c.Spec.TokenSecret.DeletionPolicy = sfv1.DeletionPolicyOrphan
		Expect(k8s.Create(ctx, c)).To(Succeed())
		Eventually(deliveredCount(ctx, name)).Should(BeEquivalentTo(1))
		uid := getCluster(ctx, name).UID
		s := tokenSecret(ctx, a, "crm-token")
		Expect(s.OwnerReferences).To(BeEmpty())
		Expect(s.Annotations).To(HaveKeyWithValue(tokensecret.AnnotationWrittenFor, string(uid)))
		Expect(tokenSecret(ctx, home, "csfconn."+name+"-token").OwnerReferences).To(HaveLen(1), "the record goes with the cluster connection")
		token := accessToken(ctx, a, "crm-token")()

		By("an ownerless Secret it wrote is still its own to repair")
		s.Data[tokensecret.KeyAccessToken] = []byte("edited")
		Expect(k8s.Update(ctx, s)).To(Succeed())
		Eventually(accessToken(ctx, a, "crm-token")).Should(Equal(token), func() string { return clusterReadyMessage(ctx, name)() })

		By("suspended, a namespace that joins gets nothing")
		c = getCluster(ctx, name)
		c.Spec.Suspend = true
		Expect(k8s.Update(ctx, c)).To(Succeed())
		Eventually(func() string {
			cl := getCluster(ctx, name)
			if cl.Status.ObservedGeneration != cl.Generation {
				return ""
			}
			return condition2(cl.Status.Conditions, sfv1.ConditionSuspended)
		}).Should(Equal("True/Suspended"))
		b := newLabelledNamespace(ctx, map[string]string{label: "true"})
		Consistently(func() *corev1.Secret { return tokenSecret(ctx, b, "crm-token") }, "1s").Should(BeNil())

		By("resumed, it does, without a login")
		c = getCluster(ctx, name)
		c.Spec.Suspend = false
		Expect(k8s.Update(ctx, c)).To(Succeed())
		Eventually(accessToken(ctx, b, "crm-token")).Should(Equal(token))
		Eventually(deliveredCount(ctx, name)).Should(BeEquivalentTo(2))
		Expect(f.tokenRequests()).To(Equal(1))
	})

	It("reads its credentials in the cluster resource namespace under the keys credentialsSecretRef.keys names", func() {
		a := newLabelledNamespace(ctx, map[string]string{label: "true"})
		Expect(k8s.Create(ctx, credentialsSecret(home, name+"-other-tool", "id", f.clientID, "secret", f.clientSecret))).To(Succeed())
		c := clusterConnection()
		c.Spec.Auth.ClientCredentials.CredentialsSecretRef = sfv1.SecretReference{Name: name + "-other-tool",
			Keys: map[string]sfv1.SecretKeyName{"client_id": "id", "client_secret": "secret"}}
		Expect(k8s.Create(ctx, c)).To(Succeed())
		Eventually(clusterReady(ctx, name)).Should(Equal("True/TokenIssued"))
		Eventually(accessToken(ctx, a, "crm-token")).ShouldNot(BeEmpty())
	})

	It("keeps a namespaced connection's Secrets in its own namespace", func() {
		ns := newNamespace(ctx)
		Expect(k8s.Create(ctx, credentialsSecret(ns, "creds", "client_id", f.clientID, "client_secret", f.clientSecret))).To(Succeed())
		conn := connection(ns, name, sfv1.AuthSpec{ClientCredentials: &sfv1.ClientCredentialsAuth{
			CredentialsSecretRef: sfv1.SecretReference{Name: "creds"}}})
		Expect(k8s.Create(ctx, conn)).To(Succeed())
		Eventually(readyReason(ctx, ns, name)).Should(Equal("True/TokenIssued"))
		uid := getConn(ctx, ns, name).UID
		var all corev1.SecretList
		Expect(k8s.List(ctx, &all, client.MatchingLabels{owned.LabelManagedBy: owned.ManagedByValue})).To(Succeed())
		var where []string
		for _, s := range all.Items {
			if owned.IsControlledBy(&s, uid) {
				where = append(where, s.Namespace)
			}
		}
		Expect(where).To(ConsistOf(ns))
	})
})

var _ = Describe("Admission of where a token goes", func() {
	ctx := context.Background()

	It("refuses target namespaces on a SalesforceConnection", func() {
		c := connection(newNamespace(ctx), "crm", sfv1.AuthSpec{ClientCredentials: &sfv1.ClientCredentialsAuth{
			CredentialsSecretRef: sfv1.SecretReference{Name: "creds"}}})
		c.Spec.TokenSecret.Namespaces = []sfv1.NamespaceName{"elsewhere"}
		err := k8s.Create(ctx, c)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
		Expect(err.Error()).To(ContainSubstring("are for a ClusterSalesforceConnection"))
	})

	It("refuses rollout restart targets and bad namespace names on a ClusterSalesforceConnection", func() {
		c := &sfv1.ClusterSalesforceConnection{ObjectMeta: metav1.ObjectMeta{Name: "refused"}}
		c.Spec.Auth.ClientCredentials = &sfv1.ClientCredentialsAuth{CredentialsSecretRef: sfv1.SecretReference{Name: "creds"}}
		c.Spec.RolloutRestartTargets = []sfv1.RolloutRestartTarget{{Kind: "Deployment", Name: "web"}}
		err := k8s.Create(ctx, c)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
		Expect(err.Error()).To(ContainSubstring("rolloutRestartTargets is not supported"))

		c.Spec.RolloutRestartTargets = nil
		c.Spec.TokenSecret.Namespaces = []sfv1.NamespaceName{"Not_A_Namespace"}
		err = k8s.Create(ctx, c)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
		Expect(err.Error()).To(ContainSubstring("spec.tokenSecret.namespaces"))
	})
})

var _ = Describe("A ClusterSalesforceConnection in the approval ledger", func() {
	It("is one holder, named by its kind, and its namespaced peers count it as it comes and goes", func() {
		ctx := context.Background()
		home := ensureClusterResourceNamespace(ctx)
		ns := newNamespace(ctx)
		f := newFixture(nil)
		name := fmt.Sprintf("ledger-%d", fixtureSeq.Load())
		holdersOf := func() []string {
			if a := getConn(ctx, ns, "crm").Status.Approvals; a != nil {
				return a.Holders
			}
			return nil
		}

		rt, err := emu.IssueRefreshToken(f.clientID, f.username)
		Expect(err).NotTo(HaveOccurred())
		Expect(k8s.Create(ctx, credentialsSecret(ns, "creds", "client_id", f.clientID, "client_secret", f.clientSecret, "refresh_token", rt))).To(Succeed())
		Expect(k8s.Create(ctx, connection(ns, "crm", sfv1.AuthSpec{RefreshToken: &sfv1.RefreshTokenAuth{
			CredentialsSecretRef: sfv1.SecretReference{Name: "creds"}}}))).To(Succeed())
		Eventually(holdersOf).Should(Equal([]string{ns + "/crm"}))

		fakeClock.Step(time.Second) // status times have second resolution: keep the order visible
		clusterRT, err := emu.IssueRefreshToken(f.clientID, f.username)
		Expect(err).NotTo(HaveOccurred())
		Expect(k8s.Create(ctx, credentialsSecret(home, name+"-creds", "client_id", f.clientID, "client_secret", f.clientSecret, "refresh_token", clusterRT))).To(Succeed())
		c := &sfv1.ClusterSalesforceConnection{ObjectMeta: metav1.ObjectMeta{Name: name}}
		c.Spec.LoginURL = emuServer.URL
		c.Spec.Auth.RefreshToken = &sfv1.RefreshTokenAuth{CredentialsSecretRef: sfv1.SecretReference{Name: name + "-creds"}}
		c.Spec.TokenSecret.Namespaces = []sfv1.NamespaceName{sfv1.NamespaceName(ns), sfv1.NamespaceName(newNamespace(ctx))}
		Expect(k8s.Create(ctx, c)).To(Succeed())

		Eventually(clusterReady(ctx, name)).Should(Equal("True/TokenIssued"))
		Eventually(deliveredCount(ctx, name)).Should(BeEquivalentTo(2))
		Eventually(holdersOf).Should(Equal([]string{ns + "/crm", sfv1.ClusterSalesforceConnectionKind + "/" + name}),
			"the namespaced peer is woken when the cluster connection takes its approval")
		Eventually(func() []string {
			if a := getCluster(ctx, name).Status.Approvals; a != nil {
				return a.Holders
			}
			return nil
		}).Should(Equal([]string{ns + "/crm", sfv1.ClusterSalesforceConnectionKind + "/" + name}))
		Expect(getCluster(ctx, name).Status.Approvals.Count).To(BeEquivalentTo(2), "one approval for two namespaces")

		By("deleting the cluster connection releases its place in the peers' count")
		Expect(k8s.Delete(ctx, getCluster(ctx, name))).To(Succeed())
		Eventually(holdersOf).Should(Equal([]string{ns + "/crm"}))
	})
})

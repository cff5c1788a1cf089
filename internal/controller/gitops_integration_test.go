package controller

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/owned"
	"github.com/sfconn/sfconn-operator/internal/salesforce/emulator"
	"github.com/sfconn/sfconn-operator/internal/tokensecret"
)

// kstatusOf computes kstatus, as Flux's health checks do, on the live object read as
// unstructured JSON (a Go type would drop fields at their zero value).
func kstatusOf(ctx context.Context, ns, name string) func() status.Status {
	return func() status.Status {
		u := newUnstructuredConnection(ns, name)
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(u), u)).To(Succeed())
		return kstatusOfObject(u)
	}
}

func kstatusOfObject(u *unstructured.Unstructured) status.Status {
	res, err := status.Compute(u)
	Expect(err).NotTo(HaveOccurred())
	return res.Status
}

func newUnstructuredConnection(ns, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(sfv1.GroupVersion.WithKind("SalesforceConnection"))
	u.SetNamespace(ns)
	u.SetName(name)
	return u
}

// eventReasons lists the reasons of the events recorded about a connection.
func eventReasons(ctx context.Context, ns, name string) func() []string {
	return func() []string {
		var list eventsv1.EventList
		Expect(k8s.List(ctx, &list, client.InNamespace(ns))).To(Succeed())
		var reasons []string
		for _, e := range list.Items {
			if e.Regarding.Kind == "SalesforceConnection" && e.Regarding.Name == name {
				reasons = append(reasons, e.Reason)
			}
		}
		return reasons
	}
}

// updateConn changes a connection, reading it again when the operator's status patch got
// there first.
func updateConn(ctx context.Context, ns, name string, change func(*sfv1.SalesforceConnection)) {
	Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
		c := getConn(ctx, ns, name)
		change(c)
		return k8s.Update(ctx, c)
	})).To(Succeed())
}

func deployment(ns, name string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "app", Image: "registry.example/app:1",
					EnvFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "crm-token"}}}},
				}}},
			},
		},
	}
}

func restartedAt(ctx context.Context, obj client.Object) func() string {
	return func() string {
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
		switch o := obj.(type) {
		case *appsv1.Deployment:
			return o.Spec.Template.Annotations[AnnotationRestartedAt]
		case *appsv1.StatefulSet:
			return o.Spec.Template.Annotations[AnnotationRestartedAt]
		}
		return ""
	}
}

var _ = Describe("GitOps and consumers", func() {
	var (
		ctx context.Context
		ns  string
		f   fixture
	)
	BeforeEach(func() {
		ctx = context.Background()
		ns = newNamespace(ctx)
		f = newFixture(nil)
		Expect(k8s.Create(ctx, credentialsSecret(ns, "creds", "client_id", f.clientID, "client_secret", f.clientSecret))).To(Succeed())
	})
	ccConnection := func(name string) *sfv1.SalesforceConnection {
		return connection(ns, name, sfv1.AuthSpec{ClientCredentials: &sfv1.ClientCredentialsAuth{
			CredentialsSecretRef: sfv1.SecretReference{Name: "creds"}}})
	}

	Describe("kstatus, as Flux computes it on live objects", func() {
		It("is InProgress before the operator has seen a connection", func() {
			m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(ccConnection("new"))
			Expect(err).NotTo(HaveOccurred())
			u := &unstructured.Unstructured{Object: m}
			u.SetGroupVersionKind(sfv1.GroupVersion.WithKind("SalesforceConnection"))
			// A dry run returns the object as stored, before any controller saw it.
			Expect(k8s.Create(ctx, u, client.DryRunAll)).To(Succeed())
			observed, found, err := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
			Expect(err).NotTo(HaveOccurred())
			Expect(found).To(BeTrue(), "the CRD defaults status.observedGeneration")
			Expect(observed).To(BeZero())
			Expect(kstatusOfObject(u)).To(Equal(status.InProgressStatus))
		})

		It("is InProgress while a token is being obtained, then Current", func() {
			Expect(emu.InjectFault(emulator.Fault{Endpoint: emulator.EndpointToken, Status: 503})).To(Succeed())
			DeferCleanup(emu.ClearFaults)
			Expect(k8s.Create(ctx, ccConnection("crm"))).To(Succeed())
			Eventually(readyReason(ctx, ns, "crm")).Should(Equal("False/" + sfv1.ReasonSalesforceUnavailable))
			Expect(kstatusOf(ctx, ns, "crm")()).To(Equal(status.InProgressStatus))

			emu.ClearFaults()
			Eventually(func() status.Status {
				fakeClock.Step(time.Minute)
				return kstatusOf(ctx, ns, "crm")()
			}).Should(Equal(status.CurrentStatus))
			Expect(readyReason(ctx, ns, "crm")()).To(Equal("True/TokenIssued"))
		})

		It("is Failed for a wrong secret and for a revoked refresh token", func() {
			Expect(k8s.Create(ctx, credentialsSecret(ns, "wrong", "client_id", f.clientID, "client_secret", "not-the-secret"))).To(Succeed())
			Expect(k8s.Create(ctx, connection(ns, "wrong", sfv1.AuthSpec{ClientCredentials: &sfv1.ClientCredentialsAuth{
				CredentialsSecretRef: sfv1.SecretReference{Name: "wrong"}}}))).To(Succeed())
			Eventually(kstatusOf(ctx, ns, "wrong")).Should(Equal(status.FailedStatus))
			Expect(readyReason(ctx, ns, "wrong")()).To(Equal("False/AuthenticationFailed"))

			rt, err := emu.IssueRefreshToken(f.clientID, f.username)
			Expect(err).NotTo(HaveOccurred())
			Expect(k8s.Create(ctx, credentialsSecret(ns, "rt", "client_id", f.clientID, "client_secret", f.clientSecret, "refresh_token", rt))).To(Succeed())
			Expect(k8s.Create(ctx, connection(ns, "rt", sfv1.AuthSpec{RefreshToken: &sfv1.RefreshTokenAuth{
				CredentialsSecretRef: sfv1.SecretReference{Name: "rt"}}}))).To(Succeed())
			Eventually(kstatusOf(ctx, ns, "rt")).Should(Equal(status.CurrentStatus))
			for range 5 {
				_, err := emu.IssueRefreshToken(f.clientID, f.username)
				Expect(err).NotTo(HaveOccurred())
			}
			stepPastRenewal(ctx, ns, "rt")
			Eventually(kstatusOf(ctx, ns, "rt")).Should(Equal(status.FailedStatus))
			Expect(condition(ctx, ns, "rt", sfv1.ConditionRevoked)()).To(Equal("True/RefreshTokenRevoked"))
		})
	})

	Describe("spec.tokenSecret.template", func() {
		It("renders extra keys, labels and annotations, follows template changes without a login, and reports a broken template", func() {
			c := ccConnection("crm")
			c.Spec.TokenSecret.Template = &sfv1.TokenSecretTemplate{
				Metadata: sfv1.TemplateMetadata{
					Labels:      map[string]string{"team": "billing"},
					Annotations: map[string]string{"reloader.stakater.com/match": "true"},
				},
				Data: map[string]sfv1.TemplateText{
					".env":                    "SALESFORCE_INSTANCE_URL={{ .InstanceURL }}\nSALESFORCE_ACCESS_TOKEN={{ .AccessToken }}\n",
					"SALESFORCE_INSTANCE_URL": "{{ .InstanceURL }}",
				},
			}
			Expect(k8s.Create(ctx, c)).To(Succeed())
			Eventually(readyReason(ctx, ns, "crm")).Should(Equal("True/TokenIssued"))
			s := tokenSecret(ctx, ns, "crm-token")
			Expect(s.Labels).To(HaveKeyWithValue("team", "billing"))
			Expect(s.Labels).To(HaveKeyWithValue(owned.LabelManagedBy, owned.ManagedByValue))
			Expect(s.Annotations).To(HaveKeyWithValue("reloader.stakater.com/match", "true"))
			Expect(string(s.Data["SALESFORCE_INSTANCE_URL"])).To(Equal(string(s.Data[tokensecret.KeyInstanceURL])))
			Expect(string(s.Data[".env"]) == "SALESFORCE_INSTANCE_URL="+string(s.Data[tokensecret.KeyInstanceURL])+
				"\nSALESFORCE_ACCESS_TOKEN="+string(s.Data[tokensecret.KeyAccessToken])+"\n").To(BeTrue(), ".env holds the instance URL and the token")
			requests := f.tokenRequests()
			token := accessToken(ctx, ns, "crm-token")()

			By("re-rendering a changed template with the same token")
			updateConn(ctx, ns, "crm", func(c *sfv1.SalesforceConnection) {
				c.Spec.TokenSecret.Template.Data = map[string]sfv1.TemplateText{"jsforce.json": `{"instanceUrl":{{ json .InstanceURL }},"accessToken":{{ json .AccessToken }}}`}
			})
			Eventually(func() []byte { return tokenSecret(ctx, ns, "crm-token").Data["jsforce.json"] }).ShouldNot(BeEmpty())
			s = tokenSecret(ctx, ns, "crm-token")
			Expect(s.Data).NotTo(HaveKey(".env"), "keys removed from the template leave the Secret")
			Expect(accessToken(ctx, ns, "crm-token")()).To(Equal(token))
			Expect(f.tokenRequests()).To(Equal(requests))

			By("reporting a template that cannot render, keeping the token")
			updateConn(ctx, ns, "crm", func(c *sfv1.SalesforceConnection) {
				c.Spec.TokenSecret.Template.Data = map[string]sfv1.TemplateText{"broken": "{{ .RefreshToken }}"}
			})
			Eventually(readyReason(ctx, ns, "crm")).Should(Equal("False/" + sfv1.ReasonInvalidSpec))
			Expect(condition(ctx, ns, "crm", sfv1.ConditionStalled)()).To(Equal("True/" + sfv1.ReasonInvalidSpec))
			msg := meta.FindStatusCondition(getConn(ctx, ns, "crm").Status.Conditions, sfv1.ConditionReady).Message
			Expect(msg).To(ContainSubstring(`spec.tokenSecret.template.data["broken"]`))
			Expect(msg).To(ContainSubstring("RefreshToken"))
			Expect(accessToken(ctx, ns, "crm-token")()).To(Equal(token))
			Eventually(eventReasons(ctx, ns, "crm")).Should(ContainElement(sfv1.ReasonInvalidSpec))

			By("reporting what admission lets through and the template grammar refuses")
			updateConn(ctx, ns, "crm", func(c *sfv1.SalesforceConnection) {
				c.Spec.TokenSecret.Template.Data = map[string]sfv1.TemplateText{"printf": `{{ printf "%01000000000d" 0 }}`}
			})
			Eventually(func() string {
				return meta.FindStatusCondition(getConn(ctx, ns, "crm").Status.Conditions, sfv1.ConditionReady).Message
			}).Should(ContainSubstring(`spec.tokenSecret.template.data["printf"]: line 1, column 4: function "printf" is not allowed`))
			Expect(readyReason(ctx, ns, "crm")()).To(Equal("False/" + sfv1.ReasonInvalidSpec))
			Expect(accessToken(ctx, ns, "crm-token")()).To(Equal(token))

			By("recovering when the template is fixed, still without a login")
			updateConn(ctx, ns, "crm", func(c *sfv1.SalesforceConnection) {
				c.Spec.TokenSecret.Template.Data = map[string]sfv1.TemplateText{"url": "{{ .InstanceURL }}"}
			})
			Eventually(readyReason(ctx, ns, "crm")).Should(Equal("True/TokenIssued"))
			Expect(tokenSecret(ctx, ns, "crm-token").Data).To(HaveKey("url"))
			Expect(f.tokenRequests()).To(Equal(requests))
			Eventually(eventReasons(ctx, ns, "crm")).Should(ContainElement("Ready"))
		})

		It("leaves the Secret alone while the token stays, so Reloader restarts nothing", func() {
			c := ccConnection("crm")
			c.Spec.TokenSecret.Template = &sfv1.TokenSecretTemplate{
				Metadata: sfv1.TemplateMetadata{Annotations: map[string]string{"reloader.stakater.com/match": "true"}},
			}
			Expect(k8s.Create(ctx, c)).To(Succeed())
			Eventually(readyReason(ctx, ns, "crm")).Should(Equal("True/TokenIssued"))
			before := tokenSecret(ctx, ns, "crm-token").ResourceVersion

			By("a pass caused by an unrelated change of the connection")
			updateConn(ctx, ns, "crm", func(c *sfv1.SalesforceConnection) {
				c.Labels = map[string]string{"touched": "yes"}
			})
			Eventually(func() string { return getConn(ctx, ns, "crm").Labels["touched"] }).Should(Equal("yes"))
			Consistently(func() string { return tokenSecret(ctx, ns, "crm-token").ResourceVersion }, "1s").Should(Equal(before))

			By("a foreign annotation on the Secret survives a renewal")
			s := tokenSecret(ctx, ns, "crm-token")
			s.Annotations["example.com/owner"] = "team-a"
			Expect(k8s.Update(ctx, s)).To(Succeed())
			token := accessToken(ctx, ns, "crm-token")()
			stepPastRenewal(ctx, ns, "crm")
			Eventually(accessToken(ctx, ns, "crm-token")).ShouldNot(Equal(token))
			Expect(tokenSecret(ctx, ns, "crm-token").Annotations).To(And(
				HaveKeyWithValue("example.com/owner", "team-a"),
				HaveKeyWithValue("reloader.stakater.com/match", "true")))
		})
	})

	Describe("spec.rolloutRestartTargets", func() {
		It("restarts the targets when the token changes, at most once per interval, and reports missing ones", func() {
			web := deployment(ns, "web")
			Expect(k8s.Create(ctx, web)).To(Succeed())
			c := ccConnection("crm")
			c.Spec.RolloutRestartTargets = []sfv1.RolloutRestartTarget{{Kind: "Deployment", Name: "web"}, {Kind: "StatefulSet", Name: "missing"}}
			Expect(k8s.Create(ctx, c)).To(Succeed())
			Eventually(readyReason(ctx, ns, "crm")).Should(Equal("True/TokenIssued"))
			Eventually(func() *sfv1.RolloutRestartStatus { return getConn(ctx, ns, "crm").Status.RolloutRestart }).ShouldNot(BeNil())
			Expect(getConn(ctx, ns, "crm").Status.RolloutRestart.TokenIssuedAt.Time).To(Equal(getConn(ctx, ns, "crm").Status.IssuedAt.Time))
			Expect(restartedAt(ctx, web)()).To(BeEmpty(), "pods started with the first token need no restart")

			By("restarting on renewal")
			stepPastRenewal(ctx, ns, "crm")
			Eventually(restartedAt(ctx, web)).ShouldNot(BeEmpty())
			first := restartedAt(ctx, web)()
			Eventually(eventReasons(ctx, ns, "crm")).Should(ContainElements("RolloutRestarted", "RolloutRestartFailed"))

			By("holding back a second restart within the interval")
			issued := getConn(ctx, ns, "crm").Status.IssuedAt.Time
			fakeClock.Step(time.Second) // a token issued in the same second counts as the same token
			updateConn(ctx, ns, "crm", func(c *sfv1.SalesforceConnection) {
				c.Annotations = map[string]string{sfv1.AnnotationRequestedAt: "renew-1"}
			})
			Eventually(func() string { return getConn(ctx, ns, "crm").Status.LastHandledReconcileAt }).Should(Equal("renew-1"))
			Expect(getConn(ctx, ns, "crm").Status.IssuedAt.Time).NotTo(Equal(issued), "the request renewed the token")
			Consistently(restartedAt(ctx, web), "1s").Should(Equal(first))

			By("restarting once the interval has passed")
			fakeClock.Step(defaultRestartMinInterval)
			Eventually(restartedAt(ctx, web)).ShouldNot(Equal(first))
			Eventually(func() bool {
				c := getConn(ctx, ns, "crm")
				return c.Status.RolloutRestart.TokenIssuedAt.Equal(c.Status.IssuedAt)
			}).Should(BeTrue())
		})
	})
})

package e2e

import (
	"encoding/json"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/test/argocd"
)

// liveObject reads a connection as kubectl shows it: JSON, every field the API server
// returns.
func liveObject(ns, name string) map[string]any {
	// Decoded as the API machinery does (integers stay int64), as Flux and Argo CD see it.
	u := &unstructured.Unstructured{}
	Expect(u.UnmarshalJSON([]byte(kubectl("get", "sfconn", name, "-n", ns, "-o", "json")))).To(Succeed())
	return u.Object
}

func kstatusLive(ns, name string) func() status.Status {
	return func() status.Status {
		res, err := status.Compute(&unstructured.Unstructured{Object: liveObject(ns, name)})
		Expect(err).NotTo(HaveOccurred())
		return res.Status
	}
}

func argoHealth(ns, name string) func() string {
	return func() string {
		h, err := argocd.Health(liveObject(ns, name))
		Expect(err).NotTo(HaveOccurred())
		return h.Status
	}
}

const webDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: app
        image: registry.example/web:1
        envFrom:
        - secretRef: {name: shaped-token}
`

var _ = Describe("GitOps health and consumers", Ordered, func() {
	var ns string
	BeforeAll(func() { ns = newNamespace() })

	It("reports health as Flux and Argo CD compute it, on live objects", func() {
		apply(ns, sample("salesforce_v1alpha1_salesforceconnection_clientcredentials.yaml", map[string]string{"username": "unused"}))
		Eventually(kstatusLive(ns, "crm-client-credentials")).Should(Equal(status.CurrentStatus))
		Expect(argoHealth(ns, "crm-client-credentials")()).To(Equal("Healthy"))

		wrong := strings.ReplaceAll(sample("salesforce_v1alpha1_salesforceconnection_clientcredentials.yaml", map[string]string{"username": "unused"}),
			"crm-client-credentials", "crm-wrong")
		wrong = strings.Replace(wrong, `client_secret: "`+creds.clientSecret+`"`, `client_secret: "not-the-secret"`, 1)
		apply(ns, wrong)
		Eventually(kstatusLive(ns, "crm-wrong")).Should(Equal(status.FailedStatus))
		Expect(argoHealth(ns, "crm-wrong")()).To(Equal("Degraded"))
		Expect(readyReason(ns, "crm-wrong")()).To(Equal("False/" + sfv1.ReasonAuthenticationFailed))
	})

	It("renders the token Secret template and restarts env-var consumers on renewal, through Argo CD's renew action", func() {
		apply(ns, webDeployment)
		shaped := strings.ReplaceAll(sample("salesforce_v1alpha1_salesforceconnection_clientcredentials.yaml", map[string]string{"username": "unused"}),
			"crm-client-credentials-token", "shaped-token")
		shaped = strings.ReplaceAll(shaped, "name: crm-client-credentials\n", "name: shaped\n")
		shaped += `  tokenSecret:
    name: shaped-token
    template:
      metadata:
        annotations:
          reloader.stakater.com/match: "true"
      data:
        SALESFORCE_INSTANCE_URL: "{{ .InstanceURL }}"
        jsforce.json: '{"instanceUrl": {{ json .InstanceURL }}, "accessToken": {{ json .AccessToken }}}'
  rolloutRestartTargets:
  - kind: Deployment
    name: web
`
		shaped = strings.Replace(shaped, "  tokenSecret:\n    # Default: <metadata.name>-token.\n    name: shaped-token\n", "", 1)
		apply(ns, shaped)
		kubectl("wait", "--for=condition=Ready", "sfconn/shaped", "-n", ns, "--timeout=60s")

		data := secretData(ns, "shaped-token")
		Expect(data["SALESFORCE_INSTANCE_URL"]).To(Equal(data["instance_url"]))
		var js map[string]string
		Expect(json.Unmarshal([]byte(data["jsforce.json"]), &js)).To(Succeed())
		Expect(js["accessToken"] == data["access_token"]).To(BeTrue(), "jsforce.json holds the token")
		remember(data["access_token"])
		Expect(kubectl("get", "secret", "shaped-token", "-n", ns, "-o", "jsonpath={.metadata.annotations.reloader\\.stakater\\.com/match}")).To(Equal("true"))
		restarted := func() string {
			return kubectl("get", "deployment", "web", "-n", ns, "-o", `jsonpath={.spec.template.metadata.annotations.salesforce\.sfconn\.io/restartedAt}`)
		}
		Expect(restarted()).To(BeEmpty(), "the first token restarts nothing")

		By("renewing through the Argo CD action")
		issued := getConnection(ns, "shaped").Status.IssuedAt.Time
		// Tokens are told apart by their issue time, in whole seconds.
		Eventually(func() bool { return time.Since(issued) > time.Second }).Should(BeTrue())
		renewed, err := argocd.Renew(liveObject(ns, "shaped"), time.Now())
		Expect(err).NotTo(HaveOccurred())
		body, err := json.Marshal(renewed)
		Expect(err).NotTo(HaveOccurred())
		out, err := kubectlWithInput(string(body), "replace", "-f", "-")
		Expect(err).NotTo(HaveOccurred(), out)
		requested := renewed["metadata"].(map[string]any)["annotations"].(map[string]any)[sfv1.AnnotationRequestedAt].(string)
		Eventually(func() string { return getConnection(ns, "shaped").Status.LastHandledReconcileAt }).Should(Equal(requested))
		Expect(getConnection(ns, "shaped").Status.IssuedAt.Time).To(BeTemporally(">", issued))
		remember(secretData(ns, "shaped-token")["access_token"])

		Eventually(restarted).ShouldNot(BeEmpty())
		Expect(kubectl("get", "events", "-n", ns, "--field-selector", "reason=RolloutRestarted", "-o", "name")).NotTo(BeEmpty())
	})
})

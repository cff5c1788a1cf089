package e2e

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("ClusterSalesforceConnection", func() {
	It("applies the sample with kubectl and sees its one token in two labelled namespaces", func() {
		// The manager runs outside a Pod: its cluster resource namespace is sfconn-system.
		_, _ = kubectlWithInput("", "create", "namespace", "sfconn-system")
		first, second := newNamespace(), newNamespace()
		for _, ns := range []string{first, second} {
			kubectl("label", "namespace", ns, "salesforce.sfconn.io/crm=true")
		}
		out, err := kubectlWithInput(sample("salesforce_v1alpha1_clustersalesforceconnection.yaml",
			map[string]string{"username": creds.jwtUser}), "apply", "-f", "-")
		Expect(err).NotTo(HaveOccurred(), out)

		kubectl("wait", "--for=condition=Ready", "csfconn/crm", "--timeout=60s")
		Eventually(func() string {
			return kubectl("get", "csfconn", "crm", "-o", "jsonpath={.status.tokenSecretNamespaces}")
		}).
			Should(Equal("2"))
		a, b := secretData(first, "crm-token"), secretData(second, "crm-token")
		for _, key := range []string{"access_token", "instance_url", "token_type", "issued_at", "expires_at", "id", "org_id", "user_id"} {
			Expect(a).To(HaveKeyWithValue(key, Not(BeEmpty())), "key %s", key)
		}
		Expect(b["access_token"]).To(Equal(a["access_token"]), "one login, one token")
		remember(a["access_token"])
		Expect(kubectl("get", "csfconn")).To(MatchRegexp(`crm\s+True\s+TokenIssued\s+2`))

		By("reporting it in the metrics under its kind, with no namespace")
		Eventually(func() string { return scrape(manager) }).Should(MatchRegexp(
			`(?m)^sfconn_token_expiration_timestamp_seconds\{kind="ClusterSalesforceConnection",name="crm",namespace=""\} [1-9]`))

		By("unlabelling a namespace takes its Secret away")
		kubectl("label", "namespace", second, "salesforce.sfconn.io/crm-")
		Eventually(func() map[string]string { return secretData(second, "crm-token") }).Should(BeNil())
		kubectl("delete", "csfconn", "crm", "--wait=true")
	})
})

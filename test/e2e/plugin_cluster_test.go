package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/salesforce/emulator"
)

// The kubectl plugin against a ClusterSalesforceConnection of its own (its own connected
// app and run-as user), delivered to two namespaces named in its spec. The manager runs
// outside a Pod: its cluster resource namespace is sfconn-system, the plugin's default.
var _ = Describe("kubectl plugin on a ClusterSalesforceConnection", Ordered, func() {
	const (
		name     = "plugin-cluster"
		clientID = "3MVG9-e2e-plugin-cluster-key"
		user     = "plugin-cluster@e2e.example"
		tenant   = "plugin-cluster-tenant"
	)
	var first, second string
	token := func(ns string) string {
		t := secretData(ns, name+"-token")["access_token"]
		Expect(t).NotTo(BeEmpty())
		remember(t)
		return t
	}
	noToken := func(out string, tokens ...string) {
		for _, t := range tokens {
			Expect(strings.Contains(out, t)).To(BeFalse(), "the plugin printed an access token")
		}
		GinkgoWriter.Printf("%s\n", out)
	}
	get := func() *sfv1.ClusterSalesforceConnection {
		var c sfv1.ClusterSalesforceConnection
		Expect(json.Unmarshal([]byte(kubectl("get", "csfconn", name, "-o", "json")), &c)).To(Succeed())
		return &c
	}

	BeforeAll(func() {
		secret := randomString("cs-")
		remember(secret)
		state, err := json.Marshal(emulator.State{
			Apps: []emulator.ConnectedApp{{ClientID: clientID, ClientSecret: secret, Name: "sfconn e2e plugin cluster", ClientCredentialsUser: user,
				SessionTimeout: emulator.Duration(time.Minute)}},
			Users: []emulator.User{{Username: user}},
		})
		Expect(err).NotTo(HaveOccurred())
		resp, err := http.Post(emulatorURL+"/_emulator/state", "application/json", bytes.NewReader(state))
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusOK))

		_, _ = kubectlWithInput("", "create", "namespace", "sfconn-system")
		first, second = newNamespace(), newNamespace()
		apply("sfconn-system", `
apiVersion: v1
kind: Secret
metadata: {name: plugin-cluster-credentials}
stringData: {client_id: "`+clientID+`", client_secret: "`+secret+`"}
`)
		out, err := kubectlWithInput(`
apiVersion: salesforce.sfconn.io/v1alpha1
kind: ClusterSalesforceConnection
metadata: {name: `+name+`}
spec:
  loginURL: `+emulatorURL+`
  auth: {clientCredentials: {credentialsSecretRef: {name: plugin-cluster-credentials}}}
  tokenSecret: {namespaces: [`+first+`, `+second+`]}
  sessionTimeout: 1m
  renewBefore: 10s
`, "apply", "-f", "-")
		Expect(err).NotTo(HaveOccurred(), out)
		kubectl("wait", "--for=condition=Ready", "csfconn/"+name, "--timeout=60s")
		Eventually(func() int32 { return get().Status.TokenSecretNamespaces }).Should(Equal(int32(2)))

		// A tenant of the first namespace: may read the cluster connections and the
		// Secrets of its namespace, nothing in the cluster resource namespace.
		out, err = kubectlWithInput(`
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: `+tenant+`}
rules:
- {apiGroups: [salesforce.sfconn.io], resources: [clustersalesforceconnections], verbs: [get, list]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: `+tenant+`}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: `+tenant+`}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: `+tenant+`}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: `+tenant+`, namespace: `+first+`}
rules:
- {apiGroups: [""], resources: [secrets], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: `+tenant+`, namespace: `+first+`}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: `+tenant+`}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: `+tenant+`}]
`, "apply", "-f", "-")
		Expect(err).NotTo(HaveOccurred(), out)
	})

	AfterAll(func() {
		_, _ = kubectlWithInput("", "delete", "csfconn", name, "--ignore-not-found", "--wait=true")
		_, _ = kubectlWithInput("", "delete", "clusterrole,clusterrolebinding", tenant, "--ignore-not-found")
	})

	It("status lists it apart from the namespace's connections, with the namespaces that hold its token", func() {
		out, code := runPlugin("status", "-n", first)
		noToken(out, token(first))
		Expect(code).To(Equal(0), out)
		Expect(out).To(ContainSubstring("No SalesforceConnections found in namespace " + first + ".\n"))
		Expect(out).To(MatchRegexp(`(?m)^NAME\s+READY\s+REASON\s+EXPIRES IN\s+RENEWS IN\s+NAMESPACES\s+PRINCIPAL\s+APPROVALS\s+MESSAGE$`))
		Expect(out).To(MatchRegexp(`(?m)^csfconn/` + name + `\s+True\s+TokenIssued\s+(1m|[0-9]+s)\s+\S+(\s\S+)?\s+2\s+\S+\s+\S+\s+Token valid until `))

		out, code = runPlugin("status", "csfconn/"+name, "-o", "wide")
		Expect(code).To(Equal(0), out)
		Expect(out).To(MatchRegexp(`(?m)^csfconn/` + name + `\s+True\s+.*\s+` + name + `-token\s+` + emulatorURL + `\s+Token valid until `))
	})

	It("renew --wait renews its one token, which both namespaces receive", func() {
		before := get()
		oldToken := token(first)
		// Status keeps whole seconds: let one pass so that a renewal shows in issuedAt.
		Eventually(func() bool { return time.Now().After(before.Status.IssuedAt.Add(time.Second)) }).Should(BeTrue())

		out, code := runPlugin("renew", "csfconn/"+name, "--wait", "--timeout", "60s")
		noToken(out, oldToken)
		Expect(code).To(Equal(0), out)
		Expect(out).To(ContainSubstring("Renewal of csfconn/" + name + " requested (" + sfv1.AnnotationRequestedAt + "="))
		Expect(out).To(ContainSubstring("Ready:      True (TokenIssued)\n"))
		Expect(out).To(ContainSubstring("Namespaces: 2 hold the token (Secret " + name + "-token)\n"))

		// The operator honoured the request on the cluster kind: it echoed it, logged in
		// again, and delivered the new token to both namespaces.
		after := get()
		requested := after.Annotations[sfv1.AnnotationRequestedAt]
		_, err := time.Parse(time.RFC3339Nano, requested)
		Expect(err).NotTo(HaveOccurred())
		Expect(after.Status.LastHandledReconcileAt).To(Equal(requested))
		Expect(after.Status.IssuedAt.After(before.Status.IssuedAt.Time)).To(BeTrue(), "issuedAt did not move")
		Eventually(func() bool { return token(first) != oldToken && token(second) == token(first) }).Should(BeTrue(),
			"the namespaces do not both hold the new token")
		noToken(out, token(first))
	})

	It("test reads the record, or a target namespace's copy for a tenant who may not read the record", func() {
		out, code := runPlugin("test", "csfconn/"+name)
		noToken(out, token(first))
		Expect(code).To(Equal(0), out)
		Expect(out).To(ContainSubstring("Connection:    csfconn/" + name + " (record Secret sfconn-system/csfconn." + name + "-token)\n"))
		Expect(out).To(ContainSubstring("Salesforce accepted the token."))

		out, code = runPlugin("test", "csfconn/"+name, "--as", tenant)
		noToken(out, token(first))
		Expect(code).To(Equal(1), out)
		Expect(out).To(ContainSubstring("you may not read the record Secret of csfconn/" + name + " sfconn-system/csfconn." + name + "-token"))
		Expect(out).To(ContainSubstring("add --target-namespace NAMESPACE"))

		out, code = runPlugin("test", "csfconn/"+name, "--as", tenant, "--target-namespace", first)
		noToken(out, token(first))
		Expect(code).To(Equal(0), out)
		Expect(out).To(ContainSubstring("Connection:    csfconn/" + name + " (token Secret " + first + "/" + name + "-token)\n"))
		Expect(out).To(ContainSubstring("Salesforce accepted the token."))

		out, code = runPlugin("test", "csfconn/"+name, "--as", tenant, "--target-namespace", second)
		Expect(code).To(Equal(1), out)
		Expect(out).To(ContainSubstring("you may not read the token Secret " + second + "/" + name + "-token"))

		out, code = runPlugin("renew", "csfconn/"+name, "--as", tenant)
		Expect(code).To(Equal(1), out)
		Expect(out).To(ContainSubstring("you may not renew csfconn/" + name))
	})
})

package install

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

func TestHelmLint(t *testing.T) {
	for name, extra := range map[string][]string{
		"default values":                nil,
		"every option":                  {"--values", valuesAll},
		"watchNamespaces":               {"--set", "watchNamespaces={a,b}"},
		"rollout restarts":              {"--set", "rolloutRestarts.enabled=true"},
		"both, without leader election": {"--set", "watchNamespaces={a},rolloutRestarts.enabled=true,leaderElection.enabled=false,replicaCount=1"},
		"verified metrics, no CRDs":     {"--set", "serviceMonitor.enabled=true,metrics.certSecret=c,serviceMonitor.tlsConfig.insecureSkipVerify=false,crds.enabled=false"},
	} {
		t.Run(name, func(t *testing.T) {
			out, err := helm(t, append([]string{"lint", "--strict", chartDir}, extra...)...)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if !strings.Contains(out, "0 chart(s) failed") {
				t.Fatalf("helm lint:\n%s", out)
			}
		})
	}
}

func TestChartDefaults(t *testing.T) {
	g := NewWithT(t)
	objs := render(t, "sfconn-operator", "sfconn-system")

	deploy := find(t, objs, "Deployment", "sfconn-operator-controller-manager")
	g.Expect(field(t, deploy, "spec", "replicas")).To(BeEquivalentTo(2))
	g.Expect(args(t, deploy)).To(Equal([]string{
		"--leader-elect",
		"--health-probe-bind-address=:8081",
		"--metrics-bind-address=:8443",
		"--metrics-secure=true",
		"--max-concurrent-reconciles=32",
	}))
	g.Expect(managerContainer(t, deploy)["image"]).To(Equal(defaultImage(t)))

	// The monitoring objects are off by default; the rest of config/default is there.
	for _, kind := range []string{"ServiceMonitor", "PrometheusRule", "ConfigMap", "Namespace"} {
		g.Expect(ofKind(objs, kind)).To(BeEmpty(), kind)
	}
	// The CRDs are part of the release, and outlive it.
	for _, name := range []string{"salesforceconnections.salesforce.sfconn.io", "clustersalesforceconnections.salesforce.sfconn.io"} {
		crd := find(t, objs, "CustomResourceDefinition", name)
		g.Expect(crd.GetAnnotations()).To(HaveKeyWithValue("helm.sh/resource-policy", "keep"), name)
		g.Expect(crd.GetLabels()).To(HaveKeyWithValue("app.kubernetes.io/managed-by", "Helm"), name)
	}
	g.Expect(ofKind(objs, "CustomResourceDefinition")).To(HaveLen(2))
	// Two replicas: a budget lets drains evict one at a time, and the scheduler spreads them.
	pdb := only(t, objs, "PodDisruptionBudget")
	g.Expect(field(t, pdb, "spec")).To(And(HaveKeyWithValue("maxUnavailable", int64(1)), Not(HaveKey("minAvailable"))))
	g.Expect(field(t, deploy, "spec", "template", "spec", "topologySpreadConstraints")).To(ConsistOf(map[string]any{
		"maxSkew": int64(1), "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway",
		"labelSelector": map[string]any{"matchLabels": field(t, deploy, "spec", "selector", "matchLabels")},
	}))
	g.Expect(field(t, deploy, "spec", "revisionHistoryLimit")).To(BeEquivalentTo(10))
	g.Expect(field(t, deploy, "spec")).NotTo(HaveKey("strategy"), "the Kubernetes default strategy")
	only(t, objs, "ServiceAccount")
	only(t, objs, "Service")
	only(t, objs, "NetworkPolicy")
	find(t, objs, "Role", "sfconn-operator-leader-election-role")
	find(t, objs, "ClusterRole", "sfconn-operator-metrics-auth-role")
	find(t, objs, "ClusterRole", "sfconn-operator-metrics-reader")
	checkWiring(t, objs)
}

func TestChartEveryOption(t *testing.T) {
	g := NewWithT(t)
	objs := render(t, "sfconn-all", "helm-all", "--values", valuesAll)

	deploy := find(t, objs, "Deployment", "sfconn-all-controller-manager")
	g.Expect(deploy.GetNamespace()).To(Equal("helm-all"))
	g.Expect(field(t, deploy, "spec", "replicas")).To(BeEquivalentTo(3))
	g.Expect(args(t, deploy)).To(Equal([]string{
		"--leader-elect",
		"--leader-election-namespace=sfconn-leases",
		"--health-probe-bind-address=:8081",
		"--metrics-bind-address=:9443",
		"--metrics-secure=true",
		"--metrics-cert-path=/var/run/sfconn/metrics-cert",
		"--allowed-login-hosts=login.salesforce.com,test.salesforce.com,*.my.salesforce.com,login.acme.com,127.0.0.1:18080",
		"--watch-namespaces=billing,crm",
		"--enable-rollout-restarts",
		"--approval-key-secret=sfconn-all-approval-key",
		"--max-concurrent-reconciles=8",
		"--salesforce-qps=2.5",
		"--salesforce-burst=5",
		"--user-logins-per-hour=1200",
		"--credentials-grace-period=10m",
		"--zap-log-level=debug",
	}))
	c := managerContainer(t, deploy)
	g.Expect(c["image"]).To(Equal("registry.example.com/sfconn-operator@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
		"image.digest wins over image.tag")
	g.Expect(c["imagePullPolicy"]).To(Equal("Always"))
	g.Expect(c["env"]).To(ContainElement(map[string]any{"name": "SSL_CERT_FILE", "value": "/etc/sfconn/ca/ca-bundle.crt"}))
	g.Expect(c["volumeMounts"]).To(ConsistOf(
		map[string]any{"name": "metrics-cert", "mountPath": "/var/run/sfconn/metrics-cert", "readOnly": true},
		map[string]any{"name": "corporate-ca", "mountPath": "/etc/sfconn/ca", "readOnly": true},
	))
	g.Expect(field(t, deploy, "spec", "template", "spec", "volumes")).To(ConsistOf(
		HaveKeyWithValue("secret", HaveKeyWithValue("secretName", "sfconn-all-metrics-cert")),
		map[string]any{"name": "corporate-ca", "configMap": map[string]any{"name": "sfconn-all-corporate-ca"}},
	))
	g.Expect(field(t, deploy, "spec", "strategy")).To(Equal(map[string]any{
		"type": "RollingUpdate", "rollingUpdate": map[string]any{"maxSurge": int64(1), "maxUnavailable": int64(0)}}))
	g.Expect(field(t, deploy, "spec", "revisionHistoryLimit")).To(BeEquivalentTo(3))
	g.Expect(field(t, deploy, "spec", "template", "spec", "topologySpreadConstraints")).To(ConsistOf(
		And(HaveKeyWithValue("topologyKey", "topology.kubernetes.io/zone"), HaveKeyWithValue("whenUnsatisfiable", "DoNotSchedule"),
			HaveKeyWithValue("labelSelector", map[string]any{"matchLabels": field(t, deploy, "spec", "selector", "matchLabels")})),
		And(HaveKeyWithValue("topologyKey", "kubernetes.io/hostname"),
			HaveKeyWithValue("labelSelector", map[string]any{"matchLabels": map[string]any{"app.kubernetes.io/instance": "sfconn-all"}})),
	), "the chart fills in the selector of a constraint without one, and keeps a constraint's own")
	g.Expect(field(t, only(t, objs, "PodDisruptionBudget"), "spec")).To(And(
		HaveKeyWithValue("minAvailable", int64(2)), Not(HaveKey("maxUnavailable"))))
	// commonLabels, on every object of the chart (extraObjects are the user's own).
	for _, o := range objs {
		if o.GetKind() == "ConfigMap" && strings.HasPrefix(o.GetName(), "sfconn-all-corporate-ca") {
			continue
		}
		g.Expect(o.GetLabels()).To(HaveKeyWithValue("example.com/cost-center", "platform"), "%s %s", o.GetKind(), o.GetName())
	}
	// crds.keep=false, and crds.annotations.
	for _, crd := range ofKind(objs, "CustomResourceDefinition") {
		g.Expect(crd.GetAnnotations()).To(And(Not(HaveKey("helm.sh/resource-policy")),
			HaveKeyWithValue("argocd.argoproj.io/sync-options", "Prune=false"),
			HaveKeyWithValue("controller-gen.kubebuilder.io/version", Not(BeEmpty()))))
	}
	// extraObjects, rendered as templates, map or string.
	findIn(t, objs, "ConfigMap", "helm-all", "sfconn-all-corporate-ca")
	g.Expect(findIn(t, objs, "ConfigMap", "helm-all", "sfconn-all-extra").GetLabels()).To(HaveKeyWithValue("app.kubernetes.io/instance", "sfconn-all"))
	g.Expect(field(t, deploy, "spec", "template", "spec", "serviceAccountName")).To(Equal("sfconn-all-manager"))
	g.Expect(field(t, deploy, "spec", "template", "spec", "priorityClassName")).To(Equal("sfconn-operators"))
	g.Expect(field(t, deploy, "spec", "template", "spec", "nodeSelector")).To(HaveKeyWithValue("kubernetes.io/os", "linux"))
	g.Expect(field(t, deploy, "spec", "template", "spec", "tolerations")).To(HaveLen(1))
	g.Expect(field(t, deploy, "spec", "template", "spec", "imagePullSecrets")).To(HaveLen(1))
	g.Expect(field(t, deploy, "spec", "template", "spec", "affinity", "podAntiAffinity")).To(HaveKey("requiredDuringSchedulingIgnoredDuringExecution"))
	g.Expect(field(t, deploy, "spec", "template", "metadata", "annotations")).To(HaveKeyWithValue("example.com/note", "all values"))
	g.Expect(field(t, deploy, "spec", "template", "metadata", "labels")).To(HaveKeyWithValue("team", "platform"))

	// The leader election Role lives with the Lease, and so do the approval key's and the
	// refresh token chains'.
	for _, kind := range []string{"Role", "RoleBinding"} {
		findIn(t, objs, kind, "sfconn-leases", "sfconn-all-leader-election-"+strings.ToLower(kind))
		findIn(t, objs, kind, "sfconn-leases", "sfconn-all-approval-key-"+strings.ToLower(kind))
		findIn(t, objs, kind, "sfconn-leases", "sfconn-all-rotation-state-"+strings.ToLower(kind))
	}
	// The manager's rules, and those of rollout restarts, in the watched namespaces only.
	for _, ns := range []string{"billing", "crm"} {
		for _, name := range []string{"manager", "rollout-restart"} {
			findIn(t, objs, "Role", ns, "sfconn-all-"+name+"-role")
			findIn(t, objs, "RoleBinding", ns, "sfconn-all-"+name+"-rolebinding")
		}
	}
	g.Expect(ofKind(objs, "Role")).To(HaveLen(7))

	np := only(t, objs, "NetworkPolicy")
	g.Expect(field(t, np, "spec", "ingress")).To(ContainElement(map[string]any{
		"ports": []any{map[string]any{"port": int64(9443), "protocol": "TCP"}},
		"from": []any{map[string]any{"namespaceSelector": map[string]any{
			"matchLabels": map[string]any{"kubernetes.io/metadata.name": "sfconn-monitoring"}}}},
	}), "scrapes on metrics.port from networkPolicy.metricsFrom")
	g.Expect(field(t, np, "spec", "egress")).To(ContainElements(
		map[string]any{
			"ports": []any{map[string]any{"port": int64(6443), "protocol": "TCP"}, map[string]any{"port": int64(8443), "protocol": "TCP"}},
			"to":    []any{map[string]any{"ipBlock": map[string]any{"cidr": "10.96.0.1/32"}}, map[string]any{"ipBlock": map[string]any{"cidr": "172.18.0.2/32"}}},
		},
		map[string]any{
			"ports": []any{map[string]any{"port": int64(3128), "protocol": "TCP"}},
			"to":    []any{map[string]any{"ipBlock": map[string]any{"cidr": "10.1.2.3/32"}}},
		},
	), "the API server's ports and addresses, and networkPolicy.extraEgress")

	sm := only(t, objs, "ServiceMonitor")
	g.Expect(sm.GetLabels()).To(HaveKeyWithValue("release", "prometheus"))
	endpoints, _ := field(t, sm, "spec", "endpoints").([]any)
	g.Expect(endpoints).To(HaveLen(1))
	g.Expect(endpoints[0]).To(And(
		HaveKeyWithValue("port", "https"),
		HaveKeyWithValue("scheme", "https"),
		HaveKeyWithValue("interval", "30s"),
		HaveKeyWithValue("scrapeTimeout", "10s"),
		HaveKeyWithValue("honorLabels", true),
		HaveKeyWithValue("authorization", map[string]any{"type": "Bearer", "credentials": map[string]any{"name": "prometheus-scrape-token", "key": "token"}}),
		HaveKeyWithValue("tlsConfig", map[string]any{
			"serverName": "sfconn-metrics.example.com",
			"ca":         map[string]any{"configMap": map[string]any{"name": "sfconn-metrics-ca", "key": "ca.crt"}},
		}),
		Not(HaveKey("bearerTokenFile")),
	))
	// The token is the user's: the chart makes no scraper account, and binds the reader role
	// to the accounts named.
	g.Expect(names(ofKind(objs, "ServiceAccount"))).To(ConsistOf("ServiceAccount/helm-all/sfconn-all-manager"))
	g.Expect(field(t, find(t, objs, "ClusterRoleBinding", "sfconn-all-metrics-reader-rolebinding"), "subjects")).To(ConsistOf(
		map[string]any{"kind": "ServiceAccount", "name": "prometheus-k8s", "namespace": "sfconn-monitoring"}))
	g.Expect(only(t, objs, "PrometheusRule").GetLabels()).To(HaveKeyWithValue("release", "prometheus"))
	dashboard := findIn(t, objs, "ConfigMap", "sfconn-monitoring", "sfconn-all-dashboard")
	g.Expect(dashboard.GetNamespace()).To(Equal("sfconn-monitoring"))
	g.Expect(dashboard.GetLabels()).To(And(HaveKeyWithValue("grafana_dashboard", "1"), HaveKeyWithValue("team", "platform")))
	g.Expect(dashboard.GetAnnotations()).To(HaveKeyWithValue("grafana_folder", "Salesforce"))
	checkWiring(t, objs)
}

// checkWiring checks that the chart's objects point at each other: the Service selects the
// manager's pods and targets a port they have, the ServiceMonitor selects the Service and
// names its port, and every binding binds an existing role to the manager's account.
func checkWiring(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	g := NewWithT(t)
	deploy := only(t, objs, "Deployment")
	podLabels, _ := field(t, deploy, "spec", "template", "metadata", "labels").(map[string]any)
	selector, _ := field(t, deploy, "spec", "selector", "matchLabels").(map[string]any)
	g.Expect(podLabels).To(includeAll(selector), "the Deployment's selector must match its pods")
	sa, _ := field(t, deploy, "spec", "template", "spec", "serviceAccountName").(string)
	g.Expect(find(t, objs, "ServiceAccount", sa).GetNamespace()).To(Equal(deploy.GetNamespace()))

	for _, svc := range ofKind(objs, "Service") {
		svcSelector, _ := field(t, svc, "spec", "selector").(map[string]any)
		g.Expect(podLabels).To(includeAll(svcSelector), "Service %s must select the manager's pods", svc.GetName())
		ports, _ := field(t, svc, "spec", "ports").([]any)
		var containerPorts []any // names and numbers
		for _, p := range managerContainer(t, deploy)["ports"].([]any) {
			containerPorts = append(containerPorts, p.(map[string]any)["name"], p.(map[string]any)["containerPort"])
		}
		for _, p := range ports {
			g.Expect(containerPorts).To(ContainElement(p.(map[string]any)["targetPort"]), "Service %s targets a port the manager has", svc.GetName())
		}
		for _, sm := range ofKind(objs, "ServiceMonitor") {
			smSelector, _ := field(t, sm, "spec", "selector", "matchLabels").(map[string]any)
			g.Expect(toAny(svc.GetLabels())).To(includeAll(smSelector), "ServiceMonitor %s must select Service %s", sm.GetName(), svc.GetName())
			var names []any
			for _, p := range ports {
				names = append(names, p.(map[string]any)["name"])
			}
			for _, e := range field(t, sm, "spec", "endpoints").([]any) {
				g.Expect(names).To(ContainElement(e.(map[string]any)["port"]))
			}
		}
	}

	for _, pdb := range ofKind(objs, "PodDisruptionBudget") {
		pdbSelector, _ := field(t, pdb, "spec", "selector", "matchLabels").(map[string]any)
		g.Expect(pdbSelector).To(Equal(selector), "PodDisruptionBudget %s must select the manager's pods", pdb.GetName())
	}

	for _, np := range ofKind(objs, "NetworkPolicy") {
		g.Expect(np.GetNamespace()).To(Equal(deploy.GetNamespace()))
		npSelector, _ := field(t, np, "spec", "podSelector", "matchLabels").(map[string]any)
		g.Expect(npSelector).NotTo(BeEmpty(), "NetworkPolicy %s must select the manager's pods only", np.GetName())
		g.Expect(podLabels).To(includeAll(npSelector), "NetworkPolicy %s must select the manager's pods", np.GetName())
		var containerPorts []any
		for _, p := range managerContainer(t, deploy)["ports"].([]any) {
			containerPorts = append(containerPorts, p.(map[string]any)["containerPort"])
		}
		for _, rule := range asSlice(field(t, np, "spec", "ingress")) {
			for _, p := range asSlice(rule.(map[string]any)["ports"]) {
				g.Expect(containerPorts).To(ContainElement(p.(map[string]any)["port"]), "NetworkPolicy %s admits a port the manager has", np.GetName())
			}
		}
	}

	for _, kind := range []string{"ClusterRoleBinding", "RoleBinding"} {
		for _, b := range ofKind(objs, kind) {
			ref, _ := field(t, b, "roleRef").(map[string]any)
			// A RoleBinding's Role is in its own namespace; a ClusterRole has none.
			ns := b.GetNamespace()
			if ref["kind"] == "ClusterRole" {
				ns = ""
			}
			findIn(t, objs, ref["kind"].(string), ns, ref["name"].(string))
			subjects, _ := field(t, b, "subjects").([]any)
			if strings.HasSuffix(ref["name"].(string), "-metrics-reader") {
				// Scrapers: not the manager, which only answers them. An account the
				// chart binds in its own namespace is one it creates.
				g.Expect(subjects).NotTo(ContainElement(HaveKeyWithValue("name", sa)), "the manager may not read its own metrics")
				for _, s := range subjects {
					if s.(map[string]any)["namespace"] == deploy.GetNamespace() {
						findIn(t, objs, "ServiceAccount", deploy.GetNamespace(), s.(map[string]any)["name"].(string))
					}
				}
				continue
			}
			g.Expect(subjects).To(ConsistOf(map[string]any{
				"kind": "ServiceAccount", "name": sa, "namespace": deploy.GetNamespace(),
			}), "%s %s binds the manager's account", kind, b.GetName())
		}
	}
}

func toAny(m map[string]string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// includeAll matches a map that holds every key and value of want.
func includeAll(want map[string]any) OmegaMatcher {
	var ms []OmegaMatcher
	for k, v := range want {
		ms = append(ms, HaveKeyWithValue(k, v))
	}
	if len(ms) == 0 {
		return Not(BeNil())
	}
	return And(ms...)
}

func TestChartOptions(t *testing.T) {
	t.Run("insecure metrics", func(t *testing.T) {
		g := NewWithT(t)
		objs := render(t, "sfconn-operator", "sfconn-system",
			"--set", "metrics.secure=false,metrics.port=8080,serviceMonitor.enabled=true")
		deploy := only(t, objs, "Deployment")
		g.Expect(args(t, deploy)).To(ContainElements("--metrics-bind-address=:8080", "--metrics-secure=false"))
		g.Expect(field(t, only(t, objs, "Service"), "spec", "ports")).To(ConsistOf(
			HaveKeyWithValue("name", "http")))
		endpoint := field(t, only(t, objs, "ServiceMonitor"), "spec", "endpoints").([]any)[0]
		g.Expect(endpoint).To(And(HaveKeyWithValue("scheme", "http"), Not(HaveKey("authorization")), Not(HaveKey("tlsConfig"))))
		g.Expect(ofKind(objs, "Secret")).To(BeEmpty(), "no token for plain HTTP")
		// No authn/authz of scrapes, so no RBAC for it.
		for _, cr := range ofKind(objs, "ClusterRole") {
			g.Expect(cr.GetName()).NotTo(ContainSubstring("metrics"))
		}
		checkWiring(t, objs)
	})
	t.Run("no metrics", func(t *testing.T) {
		g := NewWithT(t)
		objs := render(t, "sfconn-operator", "sfconn-system", "--set", "metrics.enabled=false")
		g.Expect(args(t, only(t, objs, "Deployment"))).To(ContainElement("--metrics-bind-address=0"))
		g.Expect(ofKind(objs, "Service")).To(BeEmpty())
		// Only the probes may come in.
		g.Expect(field(t, only(t, objs, "NetworkPolicy"), "spec", "ingress")).To(ConsistOf(
			map[string]any{"ports": []any{map[string]any{"port": int64(8081), "protocol": "TCP"}}}))
		checkWiring(t, objs)
	})
	t.Run("no NetworkPolicy", func(t *testing.T) {
		objs := render(t, "sfconn-operator", "sfconn-system", "--set", "networkPolicy.enabled=false")
		NewWithT(t).Expect(ofKind(objs, "NetworkPolicy")).To(BeEmpty())
	})
	t.Run("one replica without leader election", func(t *testing.T) {
		g := NewWithT(t)
		objs := render(t, "sfconn-operator", "sfconn-system", "--set", "replicaCount=1,leaderElection.enabled=false")
		g.Expect(args(t, only(t, objs, "Deployment"))).NotTo(ContainElement("--leader-elect"))
		// No leader election Role; the chains of rotating refresh tokens are kept all the same.
		g.Expect(only(t, objs, "Role").GetName()).To(Equal("sfconn-operator-rotation-state-role"))
		g.Expect(only(t, objs, "RoleBinding").GetName()).To(Equal("sfconn-operator-rotation-state-rolebinding"))
	})
	t.Run("no cluster connections", func(t *testing.T) {
		g := NewWithT(t)
		objs := render(t, "sfconn-operator", "sfconn-system", "--set", "clusterConnections.enabled=false")
		g.Expect(args(t, only(t, objs, "Deployment"))).To(ContainElement("--enable-cluster-connections=false"))
		for _, kind := range []string{"ClusterRole", "ClusterRoleBinding"} {
			for _, o := range ofKind(objs, kind) {
				g.Expect(o.GetName()).NotTo(ContainSubstring("cluster-connection"))
			}
		}
		checkWiring(t, objs)
	})
	t.Run("existing service account, no aggregated roles", func(t *testing.T) {
		g := NewWithT(t)
		objs := render(t, "sfconn-operator", "sfconn-system",
			"--set", "serviceAccount.create=false,serviceAccount.name=mine,rbac.aggregateToDefaultRoles=false")
		g.Expect(ofKind(objs, "ServiceAccount")).To(BeEmpty())
		g.Expect(field(t, only(t, objs, "Deployment"), "spec", "template", "spec", "serviceAccountName")).To(Equal("mine"))
		for _, cr := range ofKind(objs, "ClusterRole") {
			g.Expect(cr.GetName()).NotTo(ContainSubstring("salesforceconnection-"))
		}
	})
}

func TestChartRefusesUnsafeValues(t *testing.T) {
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"replicas without leader election":   {[]string{"--set", "replicaCount=2,leaderElection.enabled=false"}, "requires leaderElection.enabled"},
		"comma in a list entry":              {[]string{"--set-json", `allowedLoginHosts=["a,b"]`}, "allowedLoginHosts/0"},
		"comma in a list entry, unchecked":   {[]string{"--skip-schema-validation", "--set-json", `watchNamespaces=["a,b"]`}, "without commas"},
		"verified TLS without a certificate": {[]string{"--set", "serviceMonitor.enabled=true,serviceMonitor.tlsConfig.insecureSkipVerify=false"}, "needs a certificate scrapers can verify"},
		"a certificate for plain HTTP":       {[]string{"--set", "metrics.secure=false,metrics.certSecret=x"}, "requires metrics.secure"},
		"ServiceMonitor without metrics":     {[]string{"--set", "metrics.enabled=false,serviceMonitor.enabled=true"}, "requires metrics.enabled"},
		"no reconciles":                      {[]string{"--set", "maxConcurrentReconciles=0"}, "maxConcurrentReconciles': minimum"},
		"no service account name":            {[]string{"--set", "serviceAccount.create=false"}, "serviceAccount.name is required"},
		"a namespace watched twice":          {[]string{"--set", "watchNamespaces={a,b,a}"}, "names a namespace twice"},
	} {
		t.Run(name, func(t *testing.T) {
			out, err := helm(t, append([]string{"template", "x", chartDir}, tc.args...)...)
			if err == nil {
				t.Fatalf("helm template %v succeeded:\n%s", tc.args, out)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("helm template %v: want an error with %q, got %v", tc.args, tc.want, err)
			}
		})
	}
}

// TestChartMatchesConfigDefault renders the chart with names as config/default has them
// and compares the two: the same objects (bar the Namespace, which Helm users create), the
// same RBAC rules, bindings, container hardening, probes, resources and ports, so that the
// two ways to install cannot drift apart.
func TestChartMatchesConfigDefault(t *testing.T) {
	expectSameInstall(t, render(t, "sfconn", "sfconn-system", "--set", "fullnameOverride=sfconn"), kustomize(t, "config/default"))
}

// expectSameInstall compares a rendering of the chart with a kustomization's objects (see
// TestChartMatchesConfigDefault).
func expectSameInstall(t *testing.T, chart, kust []*unstructured.Unstructured) {
	t.Helper()
	g := NewWithT(t)
	for _, k := range kust {
		if k.GetKind() == "Namespace" {
			continue
		}
		c := findIn(t, chart, k.GetKind(), k.GetNamespace(), k.GetName())
		switch k.GetKind() {
		case "ClusterRole", "Role":
			g.Expect(normalizeRules(field(t, c, "rules"))).To(Equal(normalizeRules(field(t, k, "rules"))), "rules of %s %s", k.GetKind(), k.GetName())
			g.Expect(c.GetLabels()).To(includeAllStrings(aggregationLabels(k.GetLabels())), "aggregation labels of %s", k.GetName())
		case "ClusterRoleBinding", "RoleBinding":
			g.Expect(field(t, c, "roleRef")).To(Equal(field(t, k, "roleRef")), "roleRef of %s", k.GetName())
			g.Expect(field(t, c, "subjects")).To(Equal(field(t, k, "subjects")), "subjects of %s", k.GetName())
		case "CustomResourceDefinition":
			g.Expect(field(t, c, "spec")).To(Equal(field(t, k, "spec")), "the chart's CRD differs from config/crd")
		case "Service":
			g.Expect(field(t, c, "spec", "ports")).To(Equal(withNamedTargetPort(field(t, k, "spec", "ports"))))
		case "Deployment":
			compareDeployments(t, c, k)
		case "PodDisruptionBudget":
			g.Expect(field(t, c, "spec", "maxUnavailable")).To(Equal(field(t, k, "spec", "maxUnavailable")), "PodDisruptionBudget %s", k.GetName())
		case "NetworkPolicy":
			// The pod selectors differ (the chart's names the release), as the
			// Deployments' do; checkWiring checks that each selects the manager's pods.
			for _, f := range []string{"policyTypes", "ingress", "egress"} {
				g.Expect(field(t, c, "spec", f)).To(Equal(field(t, k, "spec", f)), "NetworkPolicy %s", f)
			}
		}
	}
	// And nothing more than config/default, bar the objects that are off by default.
	g.Expect(len(chart)).To(Equal(len(kust)-len(ofKind(kust, "Namespace"))), "chart %s\nconfig/default %s", describe(chart), describe(kust))
}

// compareDeployments compares what matters of the manager's Deployment: replicas, image,
// command, arguments, environment, security contexts, probes, resources, ports and the grace
// period.
func compareDeployments(t *testing.T, chart, kust *unstructured.Unstructured) {
	t.Helper()
	g := NewWithT(t)
	g.Expect(field(t, chart, "spec", "replicas")).To(Equal(field(t, kust, "spec", "replicas")))
	for _, f := range []string{"securityContext", "terminationGracePeriodSeconds", "serviceAccountName"} {
		g.Expect(field(t, chart, "spec", "template", "spec", f)).To(Equal(field(t, kust, "spec", "template", "spec", f)), f)
	}
	cc, kc := managerContainer(t, chart), managerContainer(t, kust)
	for _, f := range []string{"image", "command", "securityContext", "livenessProbe", "readinessProbe", "resources", "env"} {
		g.Expect(cc[f]).To(Equal(kc[f]), "container %s", f)
	}
	// The chart passes two of the manager's defaults explicitly; otherwise the same.
	explicitDefaults := []string{"--metrics-secure=true", "--max-concurrent-reconciles=32"}
	var chartArgs []string
	for _, a := range args(t, chart) {
		if !slices.Contains(explicitDefaults, a) {
			chartArgs = append(chartArgs, a)
		}
	}
	g.Expect(chartArgs).To(ConsistOf(args(t, kust)))
	g.Expect(cc["ports"]).To(Equal(kc["ports"]))
	// The label selectors differ as the Deployments' do; the rest of each constraint is the same.
	spread := func(d *unstructured.Unstructured) []any {
		var out []any
		for _, c := range field(t, d, "spec", "template", "spec", "topologySpreadConstraints").([]any) {
			m := map[string]any{}
			for k, v := range c.(map[string]any) {
				if k != "labelSelector" {
					m[k] = v
				}
			}
			out = append(out, m)
		}
		return out
	}
	g.Expect(spread(chart)).To(Equal(spread(kust)), "topologySpreadConstraints")
	anti := field(t, chart, "spec", "template", "spec", "affinity", "podAntiAffinity", "preferredDuringSchedulingIgnoredDuringExecution").([]any)
	g.Expect(anti).To(HaveLen(1))
	g.Expect(anti[0]).To(HaveKeyWithValue("podAffinityTerm", HaveKeyWithValue("topologyKey", "kubernetes.io/hostname")))
}

// withNamedTargetPort returns config/default's Service ports with the target port named
// as the chart names it (https), so the two can be compared.
func withNamedTargetPort(ports any) any {
	list, _ := ports.([]any)
	var out []any
	for _, p := range list {
		m := map[string]any{}
		for k, v := range p.(map[string]any) {
			m[k] = v
		}
		m["targetPort"] = m["name"]
		out = append(out, m)
	}
	return out
}

func aggregationLabels(labels map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range labels {
		if strings.HasPrefix(k, "rbac.authorization.k8s.io/aggregate-to-") {
			out[k] = v
		}
	}
	return out
}

func includeAllStrings(want map[string]string) OmegaMatcher { return includeAll(toAny(want)) }

// normalizeRules makes RBAC rules comparable: each list within a rule sorted, and the
// rules sorted.
func normalizeRules(rules any) []string {
	list, _ := rules.([]any)
	var out []string
	for _, r := range list {
		rule, _ := r.(map[string]any)
		norm := map[string][]string{}
		for k, v := range rule {
			var items []string
			for _, item := range v.([]any) {
				items = append(items, item.(string))
			}
			slices.Sort(items)
			norm[k] = items
		}
		b, err := yaml.Marshal(norm)
		if err != nil {
			panic(err)
		}
		out = append(out, string(b))
	}
	slices.Sort(out)
	return out
}

// TestChartImageMatchesRelease checks that the chart's default image is the one the
// Makefile's IMG builds dist/install.yaml with: IMG_REPO tagged with VERSION.
func TestChartImageMatchesRelease(t *testing.T) {
	g := NewWithT(t)
	img := defaultImage(t)

	var chart struct {
		AppVersion string `json:"appVersion"`
	}
	g.Expect(yaml.Unmarshal(readRepoFile(t, chartDir+"/Chart.yaml"), &chart)).To(Succeed())
	var values struct {
		Image struct{ Repository, Tag string } `json:"image"`
	}
	g.Expect(yaml.Unmarshal(readRepoFile(t, chartDir+"/values.yaml"), &values)).To(Succeed())
	g.Expect(values.Image.Tag).To(BeEmpty(), "image.tag defaults to the chart's appVersion")
	g.Expect(values.Image.Repository+":"+chart.AppVersion).To(Equal(img), "the chart's default image (values image.repository, Chart appVersion) must be the Makefile's IMG")

	dist, err := parseObjects(readRepoFile(t, "dist/install.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	for _, d := range ofKind(dist, "Deployment") {
		g.Expect(managerContainer(t, d)["image"]).To(Equal(img), "dist/install.yaml must be built with the default IMG: run make build-installer")
	}
}

// TestChartMetadata checks Chart.yaml's fixed fields.
func TestChartMetadata(t *testing.T) {
	g := NewWithT(t)
	var chart map[string]any
	g.Expect(yaml.Unmarshal(readRepoFile(t, chartDir+"/Chart.yaml"), &chart)).To(Succeed())
	g.Expect(chart).To(And(
		HaveKeyWithValue("apiVersion", "v2"),
		HaveKeyWithValue("name", "sfconn-operator"),
		HaveKeyWithValue("version", releaseVersion(t)),
	))
	g.Expect(reflect.TypeOf(chart["appVersion"]).Kind()).To(Equal(reflect.String), "quote appVersion")
}

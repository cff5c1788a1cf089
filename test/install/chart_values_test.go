package install

import (
	"regexp"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
)

// TestChartSchemaRefusesBadValues checks that values.schema.json stops values the chart does
// not know, or of the wrong type, before any template runs: a typo would otherwise be
// ignored and leave the default in place.
func TestChartSchemaRefusesBadValues(t *testing.T) {
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"an unknown key":                    {[]string{"--set", "replicas=3"}, "additional properties 'replicas' not allowed"},
		"an unknown nested key":             {[]string{"--set", "serviceMonitor.tlsConfig.insecure=true"}, "additional properties 'insecure' not allowed"},
		"a string for an integer":           {[]string{"--set", "replicaCount=two"}, "/replicaCount"},
		"a string for a boolean":            {[]string{"--set-string", "crds.enabled=yes"}, "/crds/enabled"},
		"a pull policy Kubernetes lacks":    {[]string{"--set", "image.pullPolicy=Sometimes"}, "/image/pullPolicy"},
		"a map for a list":                  {[]string{"--set", "watchNamespaces.a=b"}, "/watchNamespaces"},
		"a namespace that cannot exist":     {[]string{"--set-json", `watchNamespaces=["Billing"]`}, "/watchNamespaces/0"},
		"a reader without a namespace":      {[]string{"--set-json", `metrics.readerServiceAccounts=[{"name":"prometheus"}]`}, "/metrics/readerServiceAccounts/0"},
		"a CA from two places":              {[]string{"--set-json", `serviceMonitor.tlsConfig.ca={"secret":{"name":"a","key":"ca.crt"},"configMap":{"name":"b","key":"ca.crt"}}`}, "/serviceMonitor/tlsConfig/ca"},
		"a topology spread without its key": {[]string{"--set-json", `topologySpreadConstraints=[{"maxSkew":1,"whenUnsatisfiable":"ScheduleAnyway"}]`}, "/topologySpreadConstraints/0"},
		"a digest that is not one":          {[]string{"--set", "image.digest=latest"}, "/image/digest"},
	} {
		t.Run(name, func(t *testing.T) {
			out, err := helm(t, append([]string{"template", "x", chartDir}, tc.args...)...)
			if err == nil {
				t.Fatalf("helm template %v succeeded:\n%s", tc.args, out)
			}
			if !strings.Contains(err.Error(), "schema") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("helm template %v: want a schema error with %q, got %v", tc.args, tc.want, err)
			}
		})
	}
}

func TestChartCRDsDisabled(t *testing.T) {
	g := NewWithT(t)
	objs := render(t, "sfconn-operator", "sfconn-system", "--set", "crds.enabled=false")
	g.Expect(ofKind(objs, "CustomResourceDefinition")).To(BeEmpty())
	checkWiring(t, objs)
}

func TestChartPodDisruptionBudget(t *testing.T) {
	for name, tc := range map[string]struct {
		set  string
		want map[string]any // the budget's spec without its selector; nil: no budget
	}{
		"one replica: none, it would block drains": {"replicaCount=1", nil},
		"turned off":                    {"podDisruptionBudget.enabled=false", nil},
		"a percentage":                  {"podDisruptionBudget.maxUnavailable=50%", map[string]any{"maxUnavailable": "50%"}},
		"minAvailable replaces the max": {"replicaCount=3,podDisruptionBudget.minAvailable=2", map[string]any{"minAvailable": int64(2)}},
	} {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			objs := render(t, "sfconn-operator", "sfconn-system", "--set", tc.set)
			if tc.want == nil {
				g.Expect(ofKind(objs, "PodDisruptionBudget")).To(BeEmpty())
				return
			}
			spec := map[string]any{}
			for k, v := range field(t, only(t, objs, "PodDisruptionBudget"), "spec").(map[string]any) {
				if k != "selector" {
					spec[k] = v
				}
			}
			g.Expect(spec).To(Equal(tc.want))
			checkWiring(t, objs)
		})
	}
}

func TestChartServiceMonitorDefaults(t *testing.T) {
	g := NewWithT(t)
	objs := render(t, "sfconn-operator", "sfconn-system", "--set", "serviceMonitor.enabled=true")
	endpoint := field(t, only(t, objs, "ServiceMonitor"), "spec", "endpoints").([]any)[0]
	// Prometheus presents the token of an account the chart makes and binds to the reader
	// role; it verifies nothing, since the manager's certificate is self-signed at start, and
	// says so explicitly.
	g.Expect(endpoint).To(And(
		HaveKeyWithValue("scheme", "https"),
		HaveKeyWithValue("authorization", map[string]any{"type": "Bearer",
			"credentials": map[string]any{"name": "sfconn-operator-metrics-scraper-token", "key": "token"}}),
		HaveKeyWithValue("tlsConfig", map[string]any{
			"serverName":         "sfconn-operator-controller-manager-metrics-service.sfconn-system.svc",
			"insecureSkipVerify": true,
		}),
		Not(HaveKey("bearerTokenFile")),
	))
	scraper := findIn(t, objs, "ServiceAccount", "sfconn-system", "sfconn-operator-metrics-scraper")
	g.Expect(scraper.Object).To(HaveKeyWithValue("automountServiceAccountToken", false))
	token := findIn(t, objs, "Secret", "sfconn-system", "sfconn-operator-metrics-scraper-token")
	g.Expect(token.Object).To(HaveKeyWithValue("type", "kubernetes.io/service-account-token"))
	g.Expect(token.GetAnnotations()).To(HaveKeyWithValue("kubernetes.io/service-account.name", "sfconn-operator-metrics-scraper"))
	g.Expect(token.Object).NotTo(HaveKey("data"), "the API server fills the token in")
	binding := find(t, objs, "ClusterRoleBinding", "sfconn-operator-metrics-reader-rolebinding")
	g.Expect(field(t, binding, "roleRef", "name")).To(Equal("sfconn-operator-metrics-reader"))
	g.Expect(field(t, binding, "subjects")).To(ConsistOf(map[string]any{
		"kind": "ServiceAccount", "name": "sfconn-operator-metrics-scraper", "namespace": "sfconn-system"}))
	checkWiring(t, objs)
}

func TestChartServiceMonitorVerifiesCertificate(t *testing.T) {
	g := NewWithT(t)
	objs := render(t, "sfconn-operator", "sfconn-system", "--set",
		"serviceMonitor.enabled=true,metrics.certSecret=sfconn-metrics-cert,serviceMonitor.tlsConfig.insecureSkipVerify=false")
	deploy := only(t, objs, "Deployment")
	g.Expect(args(t, deploy)).To(ContainElement("--metrics-cert-path=/var/run/sfconn/metrics-cert"))
	g.Expect(field(t, deploy, "spec", "template", "spec", "volumes")).To(ConsistOf(map[string]any{
		"name": "metrics-cert",
		"secret": map[string]any{"secretName": "sfconn-metrics-cert", "items": []any{
			map[string]any{"key": "tls.crt", "path": "tls.crt"}, map[string]any{"key": "tls.key", "path": "tls.key"}}},
	}), "the private key and the certificate only, not the CA")
	endpoint := field(t, only(t, objs, "ServiceMonitor"), "spec", "endpoints").([]any)[0]
	g.Expect(endpoint).To(HaveKeyWithValue("tlsConfig", map[string]any{
		"serverName": "sfconn-operator-controller-manager-metrics-service.sfconn-system.svc",
		"ca":         map[string]any{"secret": map[string]any{"name": "sfconn-metrics-cert", "key": "ca.crt"}},
	}), "the CA of the certificate's own Secret, and no insecureSkipVerify")
	checkWiring(t, objs)
}

func TestChartMetricsReaders(t *testing.T) {
	g := NewWithT(t)
	objs := render(t, "sfconn-operator", "sfconn-system", "--set-json",
		`metrics.readerServiceAccounts=[{"name":"prometheus-k8s","namespace":"monitoring"},{"name":"vmagent","namespace":"vm"}]`)
	g.Expect(field(t, find(t, objs, "ClusterRoleBinding", "sfconn-operator-metrics-reader-rolebinding"), "subjects")).To(ConsistOf(
		map[string]any{"kind": "ServiceAccount", "name": "prometheus-k8s", "namespace": "monitoring"},
		map[string]any{"kind": "ServiceAccount", "name": "vmagent", "namespace": "vm"},
	))
	g.Expect(ofKind(objs, "Secret")).To(BeEmpty(), "no ServiceMonitor, no scraper token")
	checkWiring(t, objs)

	// Without the secure endpoint there is nothing to bind.
	plain := render(t, "sfconn-operator", "sfconn-system", "--set", "metrics.secure=false", "--set-json",
		`metrics.readerServiceAccounts=[{"name":"prometheus-k8s","namespace":"monitoring"}]`)
	for _, b := range ofKind(plain, "ClusterRoleBinding") {
		g.Expect(b.GetName()).NotTo(ContainSubstring("metrics-reader"))
	}
}

var regexpURLs = regexp.MustCompile(`https://[^\s)]+`)

// TestChartNotes checks that what NOTES.txt tells a user works from a chart repository: it
// names no path of a checkout.
func TestChartNotes(t *testing.T) {
	for name, set := range map[string]string{
		"defaults":         "",
		"without CRDs":     "crds.enabled=false",
		"ServiceMonitor":   "serviceMonitor.enabled=true",
		"unscraped, plain": "metrics.secure=false",
	} {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			a := []string{"install", "sfconn-operator", chartDir, "--dry-run=client", "-n", "sfconn-system"}
			if set != "" {
				a = append(a, "--set", set)
			}
			out, err := helm(t, a...)
			g.Expect(err).NotTo(HaveOccurred())
			_, notes, ok := strings.Cut(out, "NOTES:")
			g.Expect(ok).To(BeTrue(), "helm install printed no NOTES")
			g.Expect(notes).To(ContainSubstring("kubectl get sfconn -A"))
			g.Expect(regexpURLs.ReplaceAllString(notes, "")).NotTo(MatchRegexp(`(charts|config|docs)/[a-z]`), "a path into a checkout")
			for _, url := range regexpURLs.FindAllString(notes, -1) {
				g.Expect(url).To(HavePrefix("https://github.com/sfconn/sfconn-operator"))
				if anchor, ok := strings.CutPrefix(url, "https://github.com/sfconn/sfconn-operator/blob/main/docs/install.md#"); ok {
					g.Expect(markdownAnchors(string(readRepoFile(t, "docs/install.md")))).To(ContainElement(anchor), url)
				}
			}
		})
	}
}

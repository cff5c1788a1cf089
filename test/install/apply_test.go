package install

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The tests below apply every rendered object to a real kube-apiserver with server-side
// apply, as `kubectl apply --server-side` or `helm install` would: the API server
// validates each object against its schema (the CRD's own, with its CEL rules, included),
// and its Pod Security admission warns about a manager pod that would break the
// "restricted" standard of the namespace.

func TestApplyHelmDefaults(t *testing.T) {
	c := cluster(t)
	createNamespace(t, c, "helm-default")
	objs := render(t, "sfconn-operator", "helm-default")
	expectNoWarnings(t, applyAll(t, c, objs))
	expectStored(t, c, objs)
}

func TestApplyHelmEveryOption(t *testing.T) {
	c := cluster(t)
	for _, ns := range []string{"helm-all", "sfconn-leases", "sfconn-monitoring", "billing", "crm"} {
		createNamespace(t, c, ns)
	}
	objs := render(t, "sfconn-all", "helm-all", "--values", valuesAll)
	expectNoWarnings(t, applyAll(t, c, objs))
	expectStored(t, c, objs)
}

func TestApplyConfigDefault(t *testing.T) {
	c := cluster(t)
	objs := kustomize(t, "config/default")
	g := NewWithT(t)
	ns := only(t, objs, "Namespace")
	g.Expect(ns.GetLabels()).To(HaveKeyWithValue("pod-security.kubernetes.io/enforce", "restricted"))
	expectNoWarnings(t, applyAll(t, c, objs))
	expectStored(t, c, objs)
}

// TestApplyConfigDefaultWithPrometheus uncomments config/default's ../prometheus line, in
// a copy of config/, as its comment tells users to, and applies the result.
func TestApplyConfigDefaultWithPrometheus(t *testing.T) {
	g := NewWithT(t)
	c := cluster(t)
	dir := t.TempDir()
	g.Expect(os.CopyFS(filepath.Join(dir, "config"), os.DirFS(repoPath("config")))).To(Succeed())
	kfile := filepath.Join(dir, "config", "default", "kustomization.yaml")
	k, err := os.ReadFile(kfile)
	g.Expect(err).NotTo(HaveOccurred())
	enabled := strings.Replace(string(k), "#- ../prometheus", "- ../prometheus", 1)
	g.Expect(enabled).NotTo(Equal(string(k)), "config/default/kustomization.yaml has no #- ../prometheus line")
	g.Expect(os.WriteFile(kfile, []byte(enabled), 0o600)).To(Succeed())

	objs := kustomize(t, filepath.Join(dir, "config", "default"))
	sm := find(t, objs, "ServiceMonitor", "sfconn-controller-manager-metrics-monitor")
	pr := find(t, objs, "PrometheusRule", "sfconn-controller-manager-alerts")
	g.Expect(sm.GetNamespace()).To(Equal("sfconn-system"))
	g.Expect(pr.GetNamespace()).To(Equal("sfconn-system"))
	checkWiring(t, objs)
	expectNoWarnings(t, applyAll(t, c, objs))
	expectStored(t, c, objs)

	// The chart's ServiceMonitor scrapes the endpoint the same way.
	chart := render(t, "sfconn", "sfconn-system", "--set", "fullnameOverride=sfconn,serviceMonitor.enabled=true")
	g.Expect(field(t, only(t, chart, "ServiceMonitor"), "spec", "endpoints")).To(Equal(field(t, sm, "spec", "endpoints")))
}

func TestApplyDistInstall(t *testing.T) {
	c := cluster(t)
	objs, err := parseObjects(readRepoFile(t, "dist/install.yaml"))
	if err != nil {
		t.Fatalf("dist/install.yaml: %v", err)
	}
	g := NewWithT(t)
	// dist/install.yaml is config/default in one file, with the release image.
	kust := kustomize(t, "config/default")
	g.Expect(names(objs)).To(ConsistOf(names(kust)), "dist/install.yaml holds other objects than config/default: run make build-installer")
	expectNoWarnings(t, applyAll(t, c, objs))
	expectStored(t, c, objs)
}

// TestHelmInstallUpgradeUninstall installs the chart for real with helm, as
// docs/install.md says: the CRDs are part of the release, a helm upgrade changes the
// Deployment and the CRDs, and helm uninstall removes the chart's objects but keeps the
// CRDs. The CRDs exist already (the tests above applied them, as a chart with crds/ would
// have installed them), so the install takes them over, as docs/install.md tells users
// coming from such a chart to do.
func TestHelmInstallUpgradeUninstall(t *testing.T) {
	g := NewWithT(t)
	c := cluster(t)
	kc := kubeconfig(t)
	createNamespace(t, c, "helm-release")
	base := []string{"--kubeconfig", kc, "--namespace", "helm-release"}
	chartArgs := []string{"--set", "fullnameOverride=sfconn-rel,serviceAccount.name=sfconn-rel-manager"}

	out, err := helm(t, append(append([]string{"install", "sfconn-rel", chartDir, "--take-ownership"}, base...), chartArgs...)...)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out).To(ContainSubstring("kubectl get sfconn -A"), "NOTES.txt is shown")
	crd := &unstructured.Unstructured{}
	crd.SetAPIVersion("apiextensions.k8s.io/v1")
	crd.SetKind("CustomResourceDefinition")
	g.Expect(c.Get(t.Context(), client.ObjectKey{Name: "salesforceconnections.salesforce.sfconn.io"}, crd)).To(Succeed())
	g.Expect(crd.GetAnnotations()).To(And(
		HaveKeyWithValue("meta.helm.sh/release-name", "sfconn-rel"),
		HaveKeyWithValue("helm.sh/resource-policy", "keep")), "the release owns the CRD")

	deploy := &unstructured.Unstructured{}
	deploy.SetAPIVersion("apps/v1")
	deploy.SetKind("Deployment")
	key := client.ObjectKey{Namespace: "helm-release", Name: "sfconn-rel-controller-manager"}
	g.Expect(c.Get(t.Context(), key, deploy)).To(Succeed())
	g.Expect(args(t, deploy)).NotTo(ContainElement(HavePrefix("--watch-namespaces")))

	role := &unstructured.Unstructured{}
	role.SetAPIVersion("rbac.authorization.k8s.io/v1")
	role.SetKind("ClusterRole")
	g.Expect(c.Get(t.Context(), client.ObjectKey{Name: "sfconn-rel-manager-role"}, role)).To(Succeed())

	// Watching one namespace trades the ClusterRole for a Role there.
	createNamespace(t, c, "billing")
	_, err = helm(t, append(append([]string{"upgrade", "sfconn-rel", chartDir}, base...),
		append(chartArgs, "--set", "watchNamespaces={billing},commonLabels.example\\.com/upgraded=yes")...)...)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(c.Get(t.Context(), client.ObjectKey{Name: crd.GetName()}, crd)).To(Succeed())
	g.Expect(crd.GetLabels()).To(HaveKeyWithValue("example.com/upgraded", "yes"), "helm upgrade updates the CRDs")
	g.Expect(c.Get(t.Context(), key, deploy)).To(Succeed())
	g.Expect(args(t, deploy)).To(ContainElement("--watch-namespaces=billing"))
	g.Expect(apierrors.IsNotFound(c.Get(t.Context(), client.ObjectKey{Name: "sfconn-rel-manager-role"}, role))).To(BeTrue(),
		"helm upgrade to watchNamespaces removes the manager's ClusterRole")
	nsRole := &unstructured.Unstructured{}
	nsRole.SetAPIVersion("rbac.authorization.k8s.io/v1")
	nsRole.SetKind("Role")
	g.Expect(c.Get(t.Context(), client.ObjectKey{Namespace: "billing", Name: "sfconn-rel-manager-role"}, nsRole)).To(Succeed())

	_, err = helm(t, append([]string{"uninstall", "sfconn-rel"}, base...)...)
	g.Expect(err).NotTo(HaveOccurred())
	g.Eventually(func() bool {
		return apierrors.IsNotFound(c.Get(t.Context(), key, deploy))
	}).WithTimeout(30 * time.Second).WithPolling(100 * time.Millisecond).Should(BeTrue())
	g.Expect(apierrors.IsNotFound(c.Get(t.Context(), client.ObjectKey{Namespace: "billing", Name: "sfconn-rel-manager-role"}, nsRole))).To(BeTrue())
	g.Expect(c.Get(t.Context(), client.ObjectKey{Name: crd.GetName()}, crd)).To(Succeed(), "helm uninstall keeps the CRD (helm.sh/resource-policy: keep)")
	g.Expect(crd.GetDeletionTimestamp()).To(BeNil())
}

// TestPodSecurityWarningsAreSeen makes sure the checks above would see a Pod Security
// warning: a Deployment whose pod runs privileged, in a namespace that enforces
// "restricted", gets one.
func TestPodSecurityWarningsAreSeen(t *testing.T) {
	c := cluster(t)
	createNamespace(t, c, "psa-probe")
	objs, err := parseObjects([]byte(`
apiVersion: apps/v1
kind: Deployment
metadata:
  name: privileged
  namespace: psa-probe
spec:
  selector:
    matchLabels: {app: privileged}
  template:
    metadata:
      labels: {app: privileged}
    spec:
      containers:
      - name: c
        image: example.com/c:1
        securityContext:
          privileged: true
`))
	if err != nil {
		t.Fatal(err)
	}
	warns := applyAll(t, c, objs)
	NewWithT(t).Expect(strings.Join(warns, "\n")).To(ContainSubstring("restricted"))
}

// names lists objects as kind/namespace/name.
func names(objs []*unstructured.Unstructured) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.GetKind()+"/"+o.GetNamespace()+"/"+o.GetName())
	}
	return out
}

func expectNoWarnings(t *testing.T, warns []string) {
	t.Helper()
	if len(warns) > 0 {
		t.Errorf("the API server warned:\n%s", strings.Join(warns, "\n"))
	}
}

// expectStored reads every object back from the API server.
func expectStored(t *testing.T, c client.Client, objs []*unstructured.Unstructured) {
	t.Helper()
	for _, o := range objs {
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(o.GroupVersionKind())
		if err := c.Get(t.Context(), client.ObjectKeyFromObject(o), got); err != nil {
			t.Errorf("get %s %s/%s: %v", o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
	}
}

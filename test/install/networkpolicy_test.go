package install

import (
	"net/netip"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The manager's NetworkPolicy, read as a network plugin would: the traffic the manager
// needs passes, the rest does not. The API server checks its schema in the apply tests
// (TestApplyHelmDefaults, TestApplyHelmEveryOption, TestApplyConfigDefault).

// peer is the other end of a connection: a pod, in a namespace with these labels, or an
// address outside the cluster (a node, Salesforce, the API server).
type peer struct {
	namespaceLabels map[string]string // nil: not a pod
	ip              string
}

func podIn(namespace string) peer {
	return peer{namespaceLabels: map[string]string{"kubernetes.io/metadata.name": namespace}, ip: "10.244.1.7"}
}

func address(ip string) peer { return peer{ip: ip} }

// allows says whether the rules of one direction (ingress with "from", egress with "to")
// let a connection to or from p on port/protocol through. It knows the peers the
// operator's policies use (ipBlock without except, namespaceSelector alone) and fails the
// test on others.
func allows(t *testing.T, np *unstructured.Unstructured, direction string, p peer, port int64, protocol string) bool {
	t.Helper()
	peersKey := map[string]string{"ingress": "from", "egress": "to"}[direction]
	for _, r := range asSlice(field(t, np, "spec", direction)) {
		rule, _ := r.(map[string]any)
		portOK := len(asSlice(rule["ports"])) == 0
		for _, pp := range asSlice(rule["ports"]) {
			rp, _ := pp.(map[string]any)
			proto, _ := rp["protocol"].(string)
			if proto == "" {
				proto = "TCP"
			}
			portOK = portOK || (rp["port"] == port && proto == protocol)
		}
		peerOK := len(asSlice(rule[peersKey])) == 0
		for _, pe := range asSlice(rule[peersKey]) {
			rpeer, _ := pe.(map[string]any)
			switch {
			case len(rpeer) == 1 && rpeer["ipBlock"] != nil:
				block, _ := rpeer["ipBlock"].(map[string]any)
				g := NewWithT(t)
				g.Expect(block).NotTo(HaveKey("except"), "ipBlock.except is not evaluated here")
				prefix, err := netip.ParsePrefix(block["cidr"].(string))
				g.Expect(err).NotTo(HaveOccurred())
				peerOK = peerOK || (p.namespaceLabels == nil && prefix.Contains(netip.MustParseAddr(p.ip)))
			case len(rpeer) == 1 && rpeer["namespaceSelector"] != nil:
				sel, _ := rpeer["namespaceSelector"].(map[string]any)
				NewWithT(t).Expect(sel).NotTo(HaveKey("matchExpressions"), "matchExpressions are not evaluated here")
				match := p.namespaceLabels != nil
				for k, v := range asMap(sel["matchLabels"]) {
					match = match && p.namespaceLabels[k] == v
				}
				peerOK = peerOK || match
			default:
				t.Fatalf("NetworkPolicy %s: a peer this test does not evaluate: %v", np.GetName(), rpeer)
			}
		}
		if portOK && peerOK {
			return true
		}
	}
	return false
}

func asMap(v any) map[string]any { m, _ := v.(map[string]any); return m }

// flowCase is a connection and whether the policy lets it through.
type flowCase struct {
	what      string
	direction string
	peer      peer
	port      int64
	protocol  string
	allowed   bool
}

// defaultFlows are the connections the default policy must let through, and some it must
// not: the manager needs DNS, HTTPS to Salesforce and the API server on 443 or 6443, and
// serves metrics to the cluster and probes to its node.
var defaultFlows = []flowCase{
	{"DNS over UDP", "egress", podIn("kube-system"), 53, "UDP", true},
	{"DNS over TCP", "egress", address("169.254.20.10"), 53, "TCP", true},
	{"DNS pods on 5353 (OpenShift)", "egress", podIn("openshift-dns"), 5353, "UDP", true},
	{"Salesforce's login host", "egress", address("13.110.54.10"), 443, "TCP", true},
	{"an API server on 443 (EKS, GKE, AKS)", "egress", address("172.20.0.1"), 443, "TCP", true},
	{"an API server on 6443 (kubeadm, kind, k3s)", "egress", address("172.18.0.2"), 6443, "TCP", true},
	{"plain HTTP", "egress", address("13.110.54.10"), 80, "TCP", false},
	{"SSH", "egress", address("10.0.0.5"), 22, "TCP", false},
	{"another pod's port", "egress", podIn("billing"), 8080, "TCP", false},
	{"scrape from Prometheus' namespace", "ingress", podIn("monitoring"), 8443, "TCP", true},
	{"scrape from outside the cluster", "ingress", address("203.0.113.9"), 8443, "TCP", false},
	{"probe from the node", "ingress", address("10.0.0.5"), 8081, "TCP", true},
	{"another port", "ingress", podIn("billing"), 9090, "TCP", false},
	{"metrics over UDP", "ingress", podIn("monitoring"), 8443, "UDP", false},
}

func expectFlows(t *testing.T, np *unstructured.Unstructured, flows []flowCase) {
	t.Helper()
	g := NewWithT(t)
	for _, f := range flows {
		g.Expect(allows(t, np, f.direction, f.peer, f.port, f.protocol)).To(Equal(f.allowed),
			"%s (%s port %d/%s): allowed should be %t", f.what, f.direction, f.port, f.protocol, f.allowed)
	}
}

func TestNetworkPolicyDefaults(t *testing.T) {
	dist, err := parseObjects(readRepoFile(t, "dist/install.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for name, objs := range map[string][]*unstructured.Unstructured{
		"chart":             render(t, "sfconn-operator", "sfconn-system"),
		"config/default":    kustomize(t, "config/default"),
		"dist/install.yaml": dist,
	} {
		t.Run(name, func(t *testing.T) {
			np := only(t, objs, "NetworkPolicy")
			NewWithT(t).Expect(field(t, np, "spec", "policyTypes")).To(ConsistOf("Ingress", "Egress"))
			expectFlows(t, np, defaultFlows)
		})
	}
}

// TestNetworkPolicyEveryOption: values-all.yaml narrows scrapes to sfconn-monitoring, names
// the API server's addresses and ports, and adds a proxy.
func TestNetworkPolicyEveryOption(t *testing.T) {
	np := only(t, render(t, "sfconn-all", "helm-all", "--values", valuesAll), "NetworkPolicy")
	expectFlows(t, np, []flowCase{
		{"scrape from sfconn-monitoring", "ingress", podIn("sfconn-monitoring"), 9443, "TCP", true},
		{"scrape from another namespace", "ingress", podIn("monitoring"), 9443, "TCP", false},
		{"the old metrics port", "ingress", podIn("sfconn-monitoring"), 8443, "TCP", false},
		{"probe from the node", "ingress", address("10.0.0.5"), 8081, "TCP", true},
		{"the API server on 6443", "egress", address("172.18.0.2"), 6443, "TCP", true},
		{"the API server on 8443", "egress", address("10.96.0.1"), 8443, "TCP", true},
		{"another address on 6443", "egress", address("8.8.8.8"), 6443, "TCP", false},
		{"Salesforce", "egress", address("13.110.54.10"), 443, "TCP", true},
		{"the proxy", "egress", address("10.1.2.3"), 3128, "TCP", true},
		{"another proxy", "egress", address("10.1.2.4"), 3128, "TCP", false},
		{"DNS", "egress", podIn("kube-system"), 53, "UDP", true},
	})
}

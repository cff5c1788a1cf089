package argocd

import (
	"encoding/json"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

// The same scripts run for ClusterSalesforceConnection (config/argocd/argocd-cm.yaml gives
// them under its own keys): these tests give them cluster objects as the API server
// serves them, with the fields only the cluster kind has.

// clusterConnection is a ClusterSalesforceConnection with the spec and status of c, and
// the target set of the design's example: a label selector and a named namespace.
func clusterConnection(c *sfv1.SalesforceConnection) *sfv1.ClusterSalesforceConnection {
	cl := &sfv1.ClusterSalesforceConnection{
		TypeMeta:   metav1.TypeMeta{APIVersion: sfv1.GroupVersion.String(), Kind: sfv1.ClusterSalesforceConnectionKind},
		ObjectMeta: *c.ObjectMeta.DeepCopy(),
		Spec:       *c.Spec.DeepCopy(),
	}
	cl.Namespace = ""
	cl.Spec.TokenSecret.Namespaces = []sfv1.NamespaceName{"billing"}
	cl.Spec.TokenSecret.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"salesforce.sfconn.io/crm": "true"}}
	cl.Status.SalesforceConnectionStatus = *c.Status.DeepCopy()
	cl.Status.TokenSecretNamespaces = 3
	return cl
}

func readyClusterConnection() *sfv1.ClusterSalesforceConnection {
	return clusterConnection(readyConnection())
}

// clusterObject is what kubectl get -o json gives for c.
func clusterObject(t *testing.T, c *sfv1.ClusterSalesforceConnection) map[string]any {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := json.Unmarshal(b, &obj); err != nil {
		t.Fatal(err)
	}
	return obj
}

func TestHealthOfClusterConnections(t *testing.T) {
	stalled := observed(
		cond(sfv1.ConditionReady, metav1.ConditionFalse, sfv1.ReasonAuthenticationFailed, msgWrongPassword),
		cond(sfv1.ConditionStalled, metav1.ConditionTrue, sfv1.ReasonAuthenticationFailed, msgWrongPassword))
	suspended := observed(
		cond(sfv1.ConditionReady, metav1.ConditionTrue, sfv1.ReasonTokenIssued, msgSuspendedValid),
		cond(sfv1.ConditionSuspended, metav1.ConditionTrue, sfv1.ReasonSuspended, msgSuspended))
	suspended.Spec.Suspend = true
	tests := []struct {
		name    string
		conn    *sfv1.SalesforceConnection
		status  string
		message string
	}{
		{"ready", readyConnection(), Healthy, msgReady},
		{"new", connection(), Progressing, "Waiting for the operator to reconcile the ClusterSalesforceConnection"},
		{"wrong password", stalled, Degraded, "AuthenticationFailed: " + msgWrongPassword},
		{"suspended", suspended, Suspended, "Suspended: " + msgSuspended + ". Ready True, TokenIssued: " + msgSuspendedValid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			st, err := Health(clusterObject(t, clusterConnection(tt.conn)))
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(st).To(Equal(Status{Status: tt.status, Message: tt.message}))
		})
	}
}

func TestActionsOfClusterConnections(t *testing.T) {
	deleting := readyClusterConnection()
	deleting.DeletionTimestamp = &metav1.Time{Time: fixedNow.Truncate(time.Second)}
	suspended := readyClusterConnection()
	suspended.Spec.Suspend = true
	tests := []struct {
		name string
		obj  *sfv1.ClusterSalesforceConnection
		want []Action
	}{
		{"ready", readyClusterConnection(), []Action{{Name: ActionRenew}}},
		{"new", clusterConnection(connection()), []Action{{Name: ActionRenew}}},
		{"deleting", deleting, []Action{{Name: ActionRenew, Disabled: true}}},
		{"suspended", suspended, []Action{{Name: ActionRenew, Disabled: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			got, err := Actions(clusterObject(t, tt.obj))
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got).To(Equal(tt.want))
		})
	}
}

// TestRenewClusterConnection: renew sets the annotation and changes nothing else, in
// particular not the target set: an empty namespaceSelector ({}, every namespace) must
// stay an object, as Argo CD keeps it, and the status stays as it was.
func TestRenewClusterConnection(t *testing.T) {
	every := readyClusterConnection()
	every.Spec.TokenSecret.NamespaceSelector = &metav1.LabelSelector{}
	every.Annotations = map[string]string{sfv1.AnnotationRequestedAt: "2026-11-24T08:00:00Z", "team": "platform"}
	for name, c := range map[string]*sfv1.ClusterSalesforceConnection{"labelled namespaces": readyClusterConnection(), "every namespace": every} {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			obj := clusterObject(t, c)
			got, err := Renew(obj, fixedNow)
			g.Expect(err).NotTo(HaveOccurred())

			want, err := normalize(obj)
			g.Expect(err).NotTo(HaveOccurred())
			meta := want["metadata"].(map[string]any)
			annotations, _ := meta["annotations"].(map[string]any)
			if annotations == nil {
				annotations = map[string]any{}
				meta["annotations"] = annotations
			}
			annotations[sfv1.AnnotationRequestedAt] = "2026-11-25T09:00:00Z"
			g.Expect(got).To(Equal(want))
			g.Expect(got).To(HaveKeyWithValue("kind", sfv1.ClusterSalesforceConnectionKind))
			g.Expect(got).To(HaveKeyWithValue("status", HaveKeyWithValue("tokenSecretNamespaces", BeNumerically("==", 3))))

			// What the operator reads back: the same target set, and the request.
			b, err := json.Marshal(got)
			g.Expect(err).NotTo(HaveOccurred())
			var back sfv1.ClusterSalesforceConnection
			g.Expect(json.Unmarshal(b, &back)).To(Succeed())
			g.Expect(back.Spec.TokenSecret).To(Equal(c.Spec.TokenSecret))
			g.Expect(back.Annotations).To(HaveKeyWithValue(sfv1.AnnotationRequestedAt, "2026-11-25T09:00:00Z"))
		})
	}
}

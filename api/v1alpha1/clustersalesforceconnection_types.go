package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NamespaceName is the name of a namespace (a DNS label).
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=63
// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
type NamespaceName string

// ClusterSalesforceConnectionStatus is the status of a SalesforceConnection and how many
// target namespaces hold the token.
type ClusterSalesforceConnectionStatus struct {
	SalesforceConnectionStatus `json:",inline"`

	// tokenSecretNamespaces counts the target namespaces whose token Secret holds the
	// current token. The Ready condition's message names the target namespaces that could
	// not be written, and why.
	// +optional
	TokenSecretNamespaces int32 `json:"tokenSecretNamespaces,omitempty"`
}

// ClusterSalesforceConnection is a login to Salesforce kept alive by the operator, whose
// token is written to a Secret in each of many namespaces: one login, one session, one
// approval and one share of the user's login quota serve them all. Its credentials Secret
// is in the operator's cluster resource namespace (--cluster-resource-namespace).
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=csfconn,categories=salesforce
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Namespaces",type=integer,JSONPath=`.status.tokenSecretNamespaces`
// +kubebuilder:printcolumn:name="Expires",type=string,JSONPath=`.status.expiresAt`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Principal",type=string,JSONPath=`.status.principal.username`,priority=1
// +kubebuilder:printcolumn:name="Approvals",type=integer,JSONPath=`.status.approvals.count`,priority=1
type ClusterSalesforceConnection struct {
	metav1.TypeMeta `json:",inline"`

	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is a SalesforceConnection's, and says in tokenSecret.namespaceSelector and
	// tokenSecret.namespaces which namespaces receive the token Secret. Workloads live in
	// those namespaces, which belong to their teams: the operator restarts none of them for
	// a cluster connection (a reloader annotation in tokenSecret.template does it, by the
	// teams' own choice).
	// +kubebuilder:validation:XValidation:rule="!has(self.rolloutRestartTargets)",message="rolloutRestartTargets is not supported by a ClusterSalesforceConnection: the workloads are in the target namespaces, which restart them themselves (for example with a reloader annotation in tokenSecret.template.metadata)"
	// +required
	Spec SalesforceConnectionSpec `json:"spec"`

	// +kubebuilder:default={observedGeneration: 0}
	// +optional
	Status ClusterSalesforceConnectionStatus `json:"status,omitempty"`
}

// ClusterSalesforceConnectionList is a list of ClusterSalesforceConnection.
//
// +kubebuilder:object:root=true
type ClusterSalesforceConnectionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterSalesforceConnection `json:"items"`
}

// ClusterSalesforceConnectionKind is the kind of a ClusterSalesforceConnection.
const ClusterSalesforceConnectionKind = "ClusterSalesforceConnection"

// IsClusterView says whether conn is the view of a ClusterSalesforceConnection (see
// AsConnection) rather than a SalesforceConnection of the API: its kind says so, which
// the API server never gives a SalesforceConnection.
func (c *SalesforceConnection) IsClusterView() bool {
	return c.Kind == ClusterSalesforceConnectionKind
}

// AsConnection is the SalesforceConnection the operator logs in for: this connection's
// identity, spec and status, at home in namespace home (the cluster resource namespace,
// where its credentials are and the operator keeps its record of the token), and marked
// by its kind as a cluster connection's view. The view's own token Secret is that record:
// spec.tokenSecret.name and deletionPolicy are those of the target namespaces' Secrets, not
// the record's, which is the operator's own and goes with the cluster connection.
func (c *ClusterSalesforceConnection) AsConnection(home string) *SalesforceConnection {
	v := &SalesforceConnection{
		TypeMeta:   metav1.TypeMeta{APIVersion: GroupVersion.String(), Kind: ClusterSalesforceConnectionKind},
		ObjectMeta: *c.ObjectMeta.DeepCopy(),
		Spec:       *c.Spec.DeepCopy(),
		Status:     *c.Status.SalesforceConnectionStatus.DeepCopy(),
	}
	v.Namespace = home
	v.Spec.TokenSecret.Name = ""
	v.Spec.TokenSecret.DeletionPolicy = ""
	return v
}

// Package v1alpha1 contains the API of the salesforce.sfconn.io group: the
// SalesforceConnection kind.
// +kubebuilder:object:generate=true
// +groupName=salesforce.sfconn.io
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of the objects in this package.
	GroupVersion = schema.GroupVersion{Group: "salesforce.sfconn.io", Version: "v1alpha1"}

	// SchemeBuilder registers the types of this package with a scheme. It comes from
	// apimachinery so that importing the API pulls in no controller-runtime.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the types of this package to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &SalesforceConnection{}, &SalesforceConnectionList{},
		&ClusterSalesforceConnection{}, &ClusterSalesforceConnectionList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}

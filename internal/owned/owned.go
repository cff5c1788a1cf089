// Package owned marks, finds and writes the objects the operator keeps for a connection:
// the token Secret, the rotation state Secret, and the key Secret and certificate
// ConfigMap of a generated JWT key. Each carries the managed-by label, which puts it in
// the manager's cache (the cache holds no other Secret or ConfigMap), and a controller
// owner reference, which lets garbage collection remove it with its connection and tells
// the operator's own objects from somebody else's of the same name.
package owned

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

// Labels of every object the operator writes.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedByValue = "sfconn-operator"
	// LabelConnection names the connection, as a label value can (see LabelValue); when
	// the name does not fit, the annotation of the same key holds it whole.
	LabelConnection = "salesforce.sfconn.io/connection"
	// LabelUncached keeps an object the operator writes out of its cache (Selector): the
	// token Secret of a namespaced connection, which the operator follows by its
	// resourceVersion alone and rebuilds from the token it remembers. Only the token step
	// puts it on; any other write of the operator takes it off (Ensure).
	LabelUncached = "salesforce.sfconn.io/uncached"
)

// Kubernetes' limits on the names the operator derives from a connection's.
const (
	maxLabelValue = 63
	maxObjectName = 253
	// hashLength is the hex digits of SHA-256 that stand for the cut part of a name.
	hashLength = 10
)

// LabelValue is a connection's name as a label value: the name itself when it fits in
// 63 characters, else its first characters and a hash of the whole. A name is a DNS
// subdomain, so its first character is alphanumeric, and so is the hash's last.
func LabelValue(name string) string { return shorten(name, "", maxLabelValue) }

// DerivedName is the name of an object derived from a connection's, <name><suffix>,
// shortened with a hash of the name when it would pass the 253 characters of an object
// name: any valid connection name works.
func DerivedName(name, suffix string) string { return shorten(name, suffix, maxObjectName) }

func shorten(name, suffix string, limit int) string {
	if len(name)+len(suffix) <= limit {
		return name + suffix
	}
	sum := sha256.Sum256([]byte(name))
	keep := strings.TrimRight(name[:limit-len(suffix)-hashLength-1], "-.")
	return keep + "-" + hex.EncodeToString(sum[:])[:hashLength] + suffix
}

// Selector selects the objects the operator writes and keeps in its cache: all but those
// labelled LabelUncached.
func Selector() labels.Selector {
	managed, err := labels.NewRequirement(LabelManagedBy, selection.Equals, []string{ManagedByValue})
	if err != nil {
		panic(err)
	}
	cached, err := labels.NewRequirement(LabelUncached, selection.DoesNotExist, nil)
	if err != nil {
		panic(err)
	}
	return labels.NewSelector().Add(*managed, *cached)
}

// IsManaged says whether an object carries the operator's managed-by label.
func IsManaged(obj metav1.Object) bool { return obj.GetLabels()[LabelManagedBy] == ManagedByValue }

// clusterPrefix begins the names derived from a ClusterSalesforceConnection's in the
// cluster resource namespace: a SalesforceConnection of the same name there keeps its own.
const clusterPrefix = "csfconn."

// BaseName is what the names of the objects the connection controls are derived from: its
// name, or for the view of a ClusterSalesforceConnection "csfconn.<name>".
func BaseName(conn *sfv1.SalesforceConnection) string {
	if conn.IsClusterView() {
		return clusterPrefix + conn.Name
	}
	return conn.Name
}

// ownerKind is the kind the owner references of the connection's objects name: a cluster
// connection's view stands for the cluster-scoped object, which garbage collection finds.
func ownerKind(conn *sfv1.SalesforceConnection) string {
	if conn.IsClusterView() {
		return sfv1.ClusterSalesforceConnectionKind
	}
	return ConnectionKind
}

// ConnectionKind is the kind of a SalesforceConnection, as owner references name it.
const ConnectionKind = "SalesforceConnection"

// ControlledByConnection says whether a SalesforceConnection (not a cluster connection)
// controls obj.
func ControlledByConnection(obj metav1.Object) bool {
	ref := metav1.GetControllerOfNoCopy(obj)
	return ref != nil && ref.Kind == ConnectionKind && ref.APIVersion == sfv1.GroupVersion.String()
}

// Meta is the metadata of an object the connection controls.
func Meta(conn *sfv1.SalesforceConnection, name string) metav1.ObjectMeta {
	controller := true
	m := metav1.ObjectMeta{
		Name:      name,
		Namespace: conn.Namespace,
		Labels: map[string]string{
			LabelManagedBy:  ManagedByValue,
			LabelConnection: LabelValue(conn.Name),
		},
		OwnerReferences: []metav1.OwnerReference{{
			APIVersion:         sfv1.GroupVersion.String(),
			Kind:               ownerKind(conn),
			Name:               conn.Name,
			UID:                conn.UID,
			Controller:         &controller,
			BlockOwnerDeletion: &controller,
		}},
	}
	if m.Labels[LabelConnection] != conn.Name {
		m.Annotations = map[string]string{LabelConnection: conn.Name}
	}
	return m
}

// IsControlledBy says whether the connection with this UID controls the object.
func IsControlledBy(obj metav1.Object, uid types.UID) bool {
	for _, ref := range obj.GetOwnerReferences() {
		if ref.Controller != nil && *ref.Controller && ref.UID == uid {
			return true
		}
	}
	return false
}

// HasController says whether any object controls obj.
func HasController(obj metav1.Object) bool {
	for _, ref := range obj.GetOwnerReferences() {
		if ref.Controller != nil && *ref.Controller {
			return true
		}
	}
	return false
}

// ConnectionName is the name of the connection the operator wrote obj for, from its
// connection annotation (a name too long for a label) or label.
func ConnectionName(obj metav1.Object) string {
	if name := obj.GetAnnotations()[LabelConnection]; name != "" {
		return name
	}
	return obj.GetLabels()[LabelConnection]
}

// MergeMaps sets src's entries in dst, allocating dst when nil, and returns it.
func MergeMaps(dst, src map[string]string) map[string]string {
	if dst == nil {
		dst = make(map[string]string, len(src))
	}
	maps.Copy(dst, src)
	return dst
}

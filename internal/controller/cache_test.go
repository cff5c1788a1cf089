package controller

import (
	"strings"
	"testing"
	"unsafe"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

// fresh returns a copy of s in memory of its own, as a decoder makes it.
func fresh(s string) string { return strings.Clone(s) }

func TestSlimKeepsWhatTheOperatorReads(t *testing.T) {
	secret := func() *corev1.Secret {
		return &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{
				Namespace: fresh("billing"), Name: "crm-token",
				Labels:          map[string]string{fresh("app.kubernetes.io/managed-by"): fresh("sfconn-operator")},
				Annotations:     map[string]string{fresh("salesforce.sfconn.io/seal"): "abc", lastApplied: "{}"},
				OwnerReferences: []metav1.OwnerReference{{APIVersion: fresh("salesforce.sfconn.io/v1alpha1"), Kind: fresh("SalesforceConnection"), Name: "crm"}},
			},
			Type: corev1.SecretType(fresh("Opaque")),
			Data: map[string][]byte{fresh("access_token"): []byte("t")},
		}
	}
	conn := func() *sfv1.SalesforceConnection {
		c := &sfv1.SalesforceConnection{ObjectMeta: metav1.ObjectMeta{
			Namespace: fresh("billing"), Name: "crm",
			Annotations: map[string]string{lastApplied: `{"spec":{}}`, sfv1.AnnotationRequestedAt: "now"},
		}}
		c.Status.Conditions = []metav1.Condition{{Type: fresh("Ready"), Status: metav1.ConditionStatus(fresh("True")), Reason: fresh("TokenIssued"), Message: "m"}}
		c.Finalizers = []string{fresh(FinalizerRevoke)}
		c.Spec.LoginURL = fresh("https://acme.my.salesforce.com")
		c.Spec.Auth.JWTBearer = &sfv1.JWTBearerAuth{ClientID: fresh("3MVG9-app"), Username: fresh("svc@acme.com")}
		c.Status.InstanceURL, c.Status.OrgID = fresh("https://acme.my.salesforce.com"), fresh("00D000000000001")
		c.Status.UserID = fresh("005000000000001")
		c.Status.Principal = &sfv1.Principal{OrgID: fresh("00D000000000001"), ClientID: fresh("3MVG9-app"), UserID: fresh("005000000000001")}
		return c
	}

	a, b := secret(), secret()
	slim(a)
	slim(b)
	// A Secret no connection controls keeps everything (the owner reference is no
	// controller's).
	if want := secret(); !equality.Semantic.DeepEqual(a, want) {
		t.Fatalf("slim changed a Secret:\n%+v\nwant\n%+v", a, want)
	}
	same := func(what, x, y string) {
		t.Helper()
		if unsafe.StringData(x) != unsafe.StringData(y) {
			t.Errorf("%s: two cached objects hold two copies of %q", what, x)
		}
	}
	for k := range a.Labels {
		for k2, v2 := range b.Labels {
			same("label key", k, k2)
			same("label value", a.Labels[k], v2)
		}
	}
	for k := range a.Data {
		for k2 := range b.Data {
			same("data key", k, k2)
		}
	}
	same("namespace", a.Namespace, b.Namespace)
	same("owner kind", a.OwnerReferences[0].Kind, b.OwnerReferences[0].Kind)
	same("type", string(a.Type), string(b.Type))

	c, d := conn(), conn()
	slim(c)
	slim(d)
	want := conn()
	delete(want.Annotations, lastApplied)
	if !equality.Semantic.DeepEqual(c, want) {
		t.Fatalf("slim of a connection:\n%+v\nwant\n%+v", c, want)
	}
	same("condition reason", c.Status.Conditions[0].Reason, d.Status.Conditions[0].Reason)
	same("finalizer", c.Finalizers[0], d.Finalizers[0])
	same("login URL", c.Spec.LoginURL, d.Spec.LoginURL)
	same("client ID", c.Spec.Auth.JWTBearer.ClientID, d.Spec.Auth.JWTBearer.ClientID)
	same("instance URL", c.Status.InstanceURL, d.Status.InstanceURL)
	same("principal's client ID", c.Status.Principal.ClientID, d.Status.Principal.ClientID)
	same("principal's org ID", c.Status.Principal.OrgID, d.Status.Principal.OrgID)
	same("user ID", c.Status.UserID, d.Status.UserID)
	same("principal's user ID", c.Status.Principal.UserID, d.Status.UserID)

	// Anything else passes unchanged, and nothing panics on what is not an object.
	slim("not an object")
	slim(&corev1.ConfigMap{})
}

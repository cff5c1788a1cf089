package tokensecret

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/owned"
)

// The Secret the operator rebuilds from a remembered token has the digest of the Secret as
// the API server answered its write, and any other Secret has another.
func TestDigestTellsTheSecretTheOperatorWrote(t *testing.T) {
	tmpl := &sfv1.TokenSecretTemplate{
		Data:     map[string]sfv1.TemplateText{"config.json": `{"url":"{{ .InstanceURL }}"}`},
		Metadata: sfv1.TemplateMetadata{Labels: map[string]string{"team": "crm"}, Annotations: map[string]string{"reloader": "true"}},
	}
	desired := func(c *sfv1.SalesforceConnection, lifetime time.Duration) *corev1.Secret {
		t.Helper()
		s, err := Desired(c, FromAnswer(answer(), lifetime, "inputs-1"), key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	written := desired(connection(tmpl), 2*time.Hour)
	// What the API server adds to a write.
	written.UID, written.ResourceVersion, written.Generation = "secret-uid", "42", 1
	written.CreationTimestamp = metav1.NewTime(t0)
	written.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "sfconn-operator"}}
	if DigestOf(desired(connection(tmpl), 2*time.Hour)) != DigestOf(written) {
		t.Fatal("the Secret rebuilt from the same token and spec has another digest")
	}

	changes := map[string]func(s *corev1.Secret){
		"another writer's label":      func(s *corev1.Secret) { s.Labels["argocd.argoproj.io/instance"] = "crm" },
		"another writer's annotation": func(s *corev1.Secret) { s.Annotations["note"] = "x" },
		"a finalizer":                 func(s *corev1.Secret) { s.Finalizers = []string{"example.com/hold"} },
		"immutable":                   func(s *corev1.Secret) { yes := true; s.Immutable = &yes },
		"a data key":                  func(s *corev1.Secret) { s.Data["extra"] = nil },
		"the token":                   func(s *corev1.Secret) { s.Data[KeyAccessToken] = []byte("00D!other") },
		"the owner":                   func(s *corev1.Secret) { s.OwnerReferences[0].UID = "uid-2" },
		"no owner":                    func(s *corev1.Secret) { s.OwnerReferences = nil },
		"the owner's controller flag": func(s *corev1.Secret) { s.OwnerReferences[0].Controller = nil },
		"the type":                    func(s *corev1.Secret) { s.Type = corev1.SecretTypeBasicAuth },
		"the name":                    func(s *corev1.Secret) { s.Name = "crm-token-2" },
		"a label moved to annotations": func(s *corev1.Secret) {
			delete(s.Labels, "team")
			s.Annotations["team"] = "crm"
		},
	}
	for name, change := range changes {
		s := written.DeepCopy()
		change(s)
		if DigestOf(s) == DigestOf(written) {
			t.Errorf("%s: same digest", name)
		}
	}
	if DigestOf(desired(connection(tmpl), time.Hour)) == DigestOf(written) {
		t.Error("another token: same digest")
	}
	if DigestOf(desired(connection(nil), 2*time.Hour)) == DigestOf(written) {
		t.Error("another template: same digest")
	}
}

// A namespaced connection's token Secret stays out of the manager's cache; a cluster
// connection's copies do not, nor does its record.
func TestDesiredLabelsUncached(t *testing.T) {
	tok := FromAnswer(answer(), time.Hour, "inputs-1")
	for _, policy := range []sfv1.TokenSecretDeletionPolicy{"", sfv1.DeletionPolicyOrphan} {
		c := connection(nil)
		c.Spec.TokenSecret.DeletionPolicy = policy
		s, _ := Desired(c, tok, key)
		if s.Labels[owned.LabelUncached] != "true" || owned.Selector().Matches(labelsOf(s)) {
			t.Errorf("deletionPolicy %q: labels %v, want the Secret out of the cache", policy, s.Labels)
		}
	}
	view := connection(nil)
	view.Kind = sfv1.ClusterSalesforceConnectionKind
	s, _ := Desired(view, tok, key)
	if _, ok := s.Labels[owned.LabelUncached]; ok || !owned.Selector().Matches(labelsOf(s)) {
		t.Errorf("cluster connection: labels %v, want the Secret cached", s.Labels)
	}
}

func labelsOf(s *corev1.Secret) labels.Set { return labels.Set(s.Labels) }

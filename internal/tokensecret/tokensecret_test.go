package tokensecret

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/salesforce"
)

var key = SealKey([]byte("operator-key-of-32-bytes-or-more!"))

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func connection(template *sfv1.TokenSecretTemplate) *sfv1.SalesforceConnection {
	return &sfv1.SalesforceConnection{
		ObjectMeta: metav1.ObjectMeta{Name: "crm", Namespace: "ns", UID: "uid-1"},
		Spec:       sfv1.SalesforceConnectionSpec{TokenSecret: sfv1.TokenSecretSpec{Template: template}},
	}
}

func answer() *salesforce.Token {
	return &salesforce.Token{AccessToken: "00D!secret", InstanceURL: "https://acme.my.salesforce.com",
		ID:    "https://login.salesforce.com/id/00D000000000001AAA/005000000000001AAA",
		OrgID: "00D000000000001AAA", UserID: "005000000000001AAA", IssuedAt: t0.Add(1500 * time.Millisecond)}
}

func TestRoundTrip(t *testing.T) {
	tok := FromAnswer(answer(), 2*time.Hour, "inputs-1")
	if !tok.IssuedAt.Equal(t0.Add(time.Second)) || !tok.ExpiresAt.Equal(t0.Add(2*time.Hour+time.Second)) {
		t.Fatalf("times = %v, %v; want whole seconds, issued plus the session timeout", tok.IssuedAt, tok.ExpiresAt)
	}
	if got := string(tok.Data[KeyTokenType]); got != "Bearer" {
		t.Fatalf("token_type = %q, want the default Bearer", got)
	}
	secret, err := Desired(connection(nil), tok, key)
	if err != nil {
		t.Fatal(err)
	}
	if secret.Name != "crm-token" || secret.Labels["app.kubernetes.io/managed-by"] != "sfconn-operator" {
		t.Fatalf("secret = %s %v", secret.Name, secret.Labels)
	}
	back, integrity := Read(secret, key)
	if integrity != Sealed || back.AccessToken() != "00D!secret" || !back.ExpiresAt.Equal(tok.ExpiresAt) || back.InputsHash != "inputs-1" {
		t.Fatalf("read back %+v, integrity %v", back, integrity)
	}
	if back.ExpirySource() != sfv1.ExpirySourceSessionTimeout {
		t.Fatal("a spec lifetime is not reported as SessionTimeout")
	}

	secret.Data[KeyAccessToken] = []byte("edited")
	if _, integrity := Read(secret, key); integrity != Edited {
		t.Fatal("an edited access token was taken as the operator's")
	}
	delete(secret.Annotations, AnnotationIssuedAt)
	if tok, _ := Read(secret, key); tok != nil {
		t.Fatal("a Secret without its issue time was taken as a record of a token")
	}
}

func TestIntrospectedExpiry(t *testing.T) {
	tok := FromAnswer(answer(), 2*time.Hour, "inputs-1")
	tok.SetIntrospectedExpiry(t0.Add(15 * time.Minute))
	if !tok.LifetimeMatches(2 * time.Hour) {
		t.Fatal("an introspected expiry was found to need a rewrite")
	}
	tok.SetLifetime(2 * time.Hour)
	if !tok.ExpiresAt.Equal(t0.Add(15 * time.Minute)) {
		t.Fatalf("SetLifetime moved an introspected expiry to %v", tok.ExpiresAt)
	}
	secret, err := Desired(connection(nil), tok, key)
	if err != nil {
		t.Fatal(err)
	}
	back, integrity := Read(secret, key)
	if integrity != Sealed || !back.Introspected || !back.ExpiresAt.Equal(tok.ExpiresAt) || back.ExpirySource() != sfv1.ExpirySourceIntrospection {
		t.Fatalf("stored token lost its introspected expiry: %+v", back)
	}
}

func TestTemplate(t *testing.T) {
	tmpl := &sfv1.TokenSecretTemplate{
		Data:     map[string]sfv1.TemplateText{"config.json": `{"url":"{{ .InstanceURL }}"}`},
		Metadata: sfv1.TemplateMetadata{Labels: map[string]string{"team": "crm"}, Annotations: map[string]string{"reloader": "true"}},
	}
	tok := FromAnswer(answer(), 2*time.Hour, "inputs-1")
	secret, err := Desired(connection(tmpl), tok, key)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(secret.Data["config.json"]); got != `{"url":"https://acme.my.salesforce.com"}` {
		t.Fatalf("config.json = %s", got)
	}
	if secret.Labels["team"] != "crm" || secret.Annotations["reloader"] != "true" {
		t.Fatalf("template metadata missing: %v %v", secret.Labels, secret.Annotations)
	}
	if _, integrity := Read(secret, key); integrity != Sealed {
		t.Fatal("template keys broke the seal")
	}
	if MetadataDrifted(secret, secret) {
		t.Fatal("a Secret drifted from itself")
	}
	stripped := secret.DeepCopy()
	delete(stripped.Labels, "team")
	if !MetadataDrifted(stripped, secret) {
		t.Fatal("a lost template label was not noticed")
	}

	broken := &sfv1.TokenSecretTemplate{Data: map[string]sfv1.TemplateText{"x": "{{ .NoSuchField }}"}}
	secret, err = Desired(connection(broken), tok, key)
	if err == nil {
		t.Fatal("a broken template gave no error")
	}
	if string(secret.Data[KeyAccessToken]) != "00D!secret" {
		t.Fatal("a broken template held the token back")
	}
}

func TestSealCoversWhatTheOperatorReads(t *testing.T) {
	tok := FromAnswer(answer(), 2*time.Hour, "inputs-1")
	tok.InputsVersion = "3/100"
	fresh := func() *corev1.Secret {
		s, err := Desired(connection(nil), tok, key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, annotation := range []string{AnnotationIssuedAt, AnnotationExpiresAt, AnnotationInputsHash, AnnotationInputsVersion, AnnotationExpirySource} {
		s := fresh()
		s.Annotations[annotation] = "2099-01-01T00:00:00Z"
		if _, integrity := Read(s, key); integrity != Edited {
			t.Errorf("an edit of %s was not noticed", annotation)
		}
	}
	s := fresh()
	s.Data[KeyInstanceURL] = []byte("https://attacker.example")
	s.Annotations[AnnotationDataHash] = DataHash(s.Data)
	if _, integrity := Read(s, key); integrity != Edited {
		t.Error("a data edit with a recomputed unkeyed hash was taken as the operator's")
	}
	if _, integrity := Read(fresh(), SealKey([]byte("another operator's key"))); integrity != Edited {
		t.Error("a seal of another key was accepted")
	}
	s = fresh()
	s.Annotations["reloader.stakater.com/match"] = "true"
	s.Labels["team"] = "crm"
	if _, integrity := Read(s, key); integrity != Sealed {
		t.Error("metadata of others broke the seal")
	}

	legacy := fresh()
	delete(legacy.Annotations, AnnotationSeal)
	legacy.Annotations[AnnotationDataHash] = DataHash(legacy.Data)
	if _, integrity := Read(legacy, key); integrity != Unsealed {
		t.Error("a Secret of an operator before seals is not reported as Unsealed")
	}
	delete(legacy.Annotations, AnnotationDataHash)
	if _, integrity := Read(legacy, key); integrity != Edited {
		t.Error("a Secret without seal or hash is not reported as Edited")
	}
}

func TestTemplateMetadataIsPruned(t *testing.T) {
	tok := FromAnswer(answer(), 2*time.Hour, "inputs-1")
	withReplication := &sfv1.TokenSecretTemplate{Metadata: sfv1.TemplateMetadata{
		Labels:      map[string]string{"team": "crm", "tier": "gold"},
		Annotations: map[string]string{"replicator.v1.mittwald.de/replicate-to": "other-ns", "reloader.stakater.com/match": "true"}}}
	actual, err := Desired(connection(withReplication), tok, key)
	if err != nil {
		t.Fatal(err)
	}
	actual.Annotations["kept-by-someone-else"] = "yes"

	narrower := &sfv1.TokenSecretTemplate{Metadata: sfv1.TemplateMetadata{
		Labels: map[string]string{"team": "crm"}, Annotations: map[string]string{"reloader.stakater.com/match": "true"}}}
	desired, _ := Desired(connection(narrower), tok, key)
	if !MetadataDrifted(actual, desired) {
		t.Fatal("a narrower template is not noticed")
	}
	PruneTemplateMetadata(actual, desired)
	if _, ok := actual.Annotations["replicator.v1.mittwald.de/replicate-to"]; ok {
		t.Error("an annotation the template no longer has was kept")
	}
	if _, ok := actual.Labels["tier"]; ok {
		t.Error("a label the template no longer has was kept")
	}
	if actual.Labels["team"] != "crm" || actual.Annotations["kept-by-someone-else"] != "yes" || actual.Labels["app.kubernetes.io/managed-by"] == "" {
		t.Errorf("pruned too much: labels %v annotations %v", actual.Labels, actual.Annotations)
	}

	none, _ := Desired(connection(nil), tok, key)
	if !MetadataDrifted(actual, none) {
		t.Fatal("a template removed altogether is not noticed")
	}
	PruneTemplateMetadata(actual, none)
	if _, ok := actual.Labels["team"]; ok {
		t.Error("the labels of a removed template were kept")
	}
	if _, ok := actual.Annotations[AnnotationTemplateMetadata]; ok {
		t.Error("the list of template keys outlived the template")
	}
}

// An ownerless token Secret (deletionPolicy Orphan) says under its seal whom it was
// written for; the seals of Secrets written without it still hold.
func TestWrittenForIsSealed(t *testing.T) {
	tok := FromAnswer(answer(), 2*time.Hour, "inputs-1")
	owned, err := Desired(connection(nil), tok, key)
	if err != nil {
		t.Fatal(err)
	}
	if len(owned.OwnerReferences) != 1 || WrittenFor(owned) != "" {
		t.Fatalf("Delete: owners %v, written-for %q", owned.OwnerReferences, WrittenFor(owned))
	}
	conn := connection(nil)
	conn.Spec.TokenSecret.DeletionPolicy = sfv1.DeletionPolicyOrphan
	orphan, err := Desired(conn, tok, key)
	if err != nil {
		t.Fatal(err)
	}
	if len(orphan.OwnerReferences) != 0 || WrittenFor(orphan) != "uid-1" {
		t.Fatalf("Orphan: owners %v, written-for %q", orphan.OwnerReferences, WrittenFor(orphan))
	}
	if _, integrity := Read(orphan, key); integrity != Sealed {
		t.Fatal("an orphan Secret's seal does not hold")
	}
	for name, change := range map[string]func(s *corev1.Secret){
		"written-for changed": func(s *corev1.Secret) { s.Annotations[AnnotationWrittenFor] = "uid-2" },
		"written-for removed": func(s *corev1.Secret) { delete(s.Annotations, AnnotationWrittenFor) },
	} {
		s := orphan.DeepCopy()
		change(s)
		if _, integrity := Read(s, key); integrity != Edited {
			t.Errorf("%s: the seal still holds", name)
		}
	}
	s := owned.DeepCopy()
	s.Annotations[AnnotationWrittenFor] = "uid-1"
	if _, integrity := Read(s, key); integrity != Edited {
		t.Error("written-for added to a Secret sealed without it: the seal still holds")
	}
}

package tokensecret

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/owned"
)

func TestSlimAndComplete(t *testing.T) {
	tmpl := &sfv1.TokenSecretTemplate{
		Data:     map[string]sfv1.TemplateText{"config.json": `{"url":"{{ .InstanceURL }}"}`},
		Metadata: sfv1.TemplateMetadata{Labels: map[string]string{"team": "crm"}, Annotations: map[string]string{"reloader": "true"}},
	}
	conn := connection(tmpl)
	whole, err := Desired(conn, FromAnswer(answer(), 2*time.Hour, "inputs-1"), key)
	if err != nil {
		t.Fatal(err)
	}
	whole.Annotations["someone/else"] = "kept"
	if !Slimmable(whole) {
		t.Fatal("a sealed token Secret a connection controls is not kept slim")
	}

	slim := whole.DeepCopy()
	Slim(slim)
	if len(slim.Data) != 0 || slim.Annotations[AnnotationSeal] != "" || slim.Annotations[AnnotationIssuedAt] != "" ||
		slim.Labels[owned.LabelManagedBy] != "" {
		t.Fatalf("slim copy still holds the token, its record or the operator's labels: %v %v %v", slim.Data, slim.Annotations, slim.Labels)
	}
	if slim.Annotations["someone/else"] != "kept" || slim.Annotations["reloader"] != "true" || slim.Labels["team"] != "crm" ||
		!equality.Semantic.DeepEqual(slim.OwnerReferences, whole.OwnerReferences) {
		t.Fatal("slim copy lost what watches and drift checks read")
	}
	if !MaybeSlim(slim) || MaybeSlim(whole) {
		t.Fatal("MaybeSlim does not tell a slim copy from a whole Secret")
	}

	// Completed from what the operator makes of the token again: the Secret as it was.
	again, _ := Desired(conn, FromAnswer(answer(), 2*time.Hour, "inputs-1"), key)
	if DigestOf(again) != DigestOf(whole) {
		t.Fatal("the same token and spec give another digest")
	}
	Complete(slim, again)
	if !equality.Semantic.DeepEqual(slim, whole) {
		t.Fatalf("completed:\n%+v\nwant\n%+v", slim, whole)
	}
	if _, integrity := Read(slim, key); integrity != Sealed {
		t.Fatal("a completed Secret does not read as sealed")
	}

	// What a digest tells apart: another token, another rendering of the template.
	other, _ := Desired(conn, FromAnswer(answer(), time.Hour, "inputs-1"), key)
	changed, _ := Desired(connection(nil), FromAnswer(answer(), 2*time.Hour, "inputs-1"), key)
	if DigestOf(other) == DigestOf(whole) || DigestOf(changed) == DigestOf(whole) {
		t.Fatal("a digest does not tell another token or template from the one written")
	}

	// Only a connection's own sealed token Secrets are kept slim.
	cluster := whole.DeepCopy()
	cluster.OwnerReferences[0].Kind = sfv1.ClusterSalesforceConnectionKind
	ownerless := whole.DeepCopy()
	ownerless.OwnerReferences = nil
	unsealed := whole.DeepCopy()
	delete(unsealed.Annotations, AnnotationSeal)
	for name, s := range map[string]*corev1.Secret{"cluster connection's": cluster, "ownerless": ownerless, "unsealed": unsealed} {
		if Slimmable(s) {
			t.Errorf("%s token Secret is kept slim", name)
		}
	}
}

package argocd

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

func TestActions(t *testing.T) {
	deleting := readyConnection()
	deleting.DeletionTimestamp = &metav1.Time{Time: fixedNow.Truncate(time.Second)}
	suspended := readyConnection()
	suspended.Spec.Suspend = true
	tests := []struct {
		name string
		obj  map[string]any
		want []Action
	}{
		{"ready", toObject(t, readyConnection()), []Action{{Name: ActionRenew}}},
		{"new", toObject(t, connection()), []Action{{Name: ActionRenew}}},
		{"deleting", toObject(t, deleting), []Action{{Name: ActionRenew, Disabled: true}}},
		{"suspended", toObject(t, suspended), []Action{{Name: ActionRenew, Disabled: true}}},
		{"empty object", map[string]any{}, []Action{{Name: ActionRenew}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			got, err := Actions(tt.obj)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got).To(Equal(tt.want))
		})
	}
}

func TestRenew(t *testing.T) {
	withAnnotations := readyConnection()
	withAnnotations.Annotations = map[string]string{
		"team":                           "crm",
		sfv1.AnnotationRequestedAt:       "1764000000",
		"argocd.argoproj.io/tracking-id": "billing:salesforce.sfconn.io/SalesforceConnection:billing/crm",
	}
	withAnnotations.Labels = map[string]string{"app.kubernetes.io/part-of": "billing"}
	tests := []struct {
		name string
		obj  map[string]any
	}{
		{"no annotations", toObject(t, readyConnection())},
		{"other annotations and an earlier request", toObject(t, withAnnotations)},
		{"new connection", toObject(t, connection())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			in, err := normalize(tt.obj)
			g.Expect(err).NotTo(HaveOccurred())
			got, err := Renew(tt.obj, fixedNow)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(tt.obj).To(Equal(in), "the input object is not modified")

			// Only the annotation changes: other annotations, labels, the spec (with its
			// empty objects, such as tokenSecret) and the status stay as they were.
			want, err := normalize(in)
			g.Expect(err).NotTo(HaveOccurred())
			meta := want["metadata"].(map[string]any)
			annotations, _ := meta["annotations"].(map[string]any)
			if annotations == nil {
				annotations = map[string]any{}
				meta["annotations"] = annotations
			}
			annotations[sfv1.AnnotationRequestedAt] = "2026-11-25T09:00:00Z"
			g.Expect(got).To(Equal(want))
			g.Expect(got).To(HaveKeyWithValue("spec", HaveKeyWithValue("tokenSecret", map[string]any{})))
		})
	}
}

func TestRenewEmptyObject(t *testing.T) {
	g := NewWithT(t)
	got, err := Renew(map[string]any{}, fixedNow)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got).To(Equal(map[string]any{"metadata": map[string]any{"annotations": map[string]any{
		sfv1.AnnotationRequestedAt: "2026-11-25T09:00:00Z"}}}))
}

func TestRenewUsesTheCurrentTime(t *testing.T) {
	g := NewWithT(t)
	before := time.Now().UTC().Truncate(time.Second)
	got, err := Renew(toObject(t, readyConnection()), time.Time{})
	g.Expect(err).NotTo(HaveOccurred())
	after := time.Now().UTC()
	value := got["metadata"].(map[string]any)["annotations"].(map[string]any)[sfv1.AnnotationRequestedAt]
	g.Expect(value).To(BeAssignableToTypeOf(""))
	at, err := time.Parse(time.RFC3339, value.(string))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(at).To(BeTemporally(">=", before))
	g.Expect(at).To(BeTemporally("<=", after))
}

// TestScriptsOnEmptyObject: every script compiles and returns a table for an empty object.
func TestScriptsOnEmptyObject(t *testing.T) {
	for _, name := range []string{healthScript, discoveryScript, renewScript} {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			out, err := runScript(name, map[string]any{}, fixedNow)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(out).To(BeAssignableToTypeOf(map[string]any{}))
		})
	}
}

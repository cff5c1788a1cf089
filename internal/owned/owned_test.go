package owned

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
)

func TestNamesFitWhateverTheConnectionsName(t *testing.T) {
	longest := strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 61)
	if errs := validation.IsDNS1123Subdomain(longest); len(errs) > 0 || len(longest) != 253 {
		t.Fatalf("the test's name is not a valid 253-character name: %v", errs)
	}
	for _, name := range []string{"crm", strings.Repeat("x", 63), strings.Repeat("x", 64), "a-" + strings.Repeat("y", 61) + ".z", longest} {
		label := LabelValue(name)
		if errs := validation.IsValidLabelValue(label); len(errs) > 0 {
			t.Errorf("LabelValue(%d characters) = %q: %v", len(name), label, errs)
		}
		if len(name) <= 63 && label != name {
			t.Errorf("a name that fits was changed: %q", label)
		}
		for _, suffix := range []string{"-token", "-jwt", "-jwt-certificate", "-rotated-refresh-token"} {
			derived := DerivedName(name, suffix)
			if errs := validation.IsDNS1123Subdomain(derived); len(errs) > 0 {
				t.Errorf("DerivedName(%d characters, %s) = %q: %v", len(name), suffix, derived, errs)
			}
			if !strings.HasSuffix(derived, suffix) {
				t.Errorf("DerivedName lost the suffix %s: %q", suffix, derived)
			}
			if len(name)+len(suffix) <= 253 && derived != name+suffix {
				t.Errorf("a derived name that fits was changed: %q", derived)
			}
		}
	}
	if LabelValue(longest+"x") == LabelValue(longest) {
		t.Error("two long names share a label value")
	}
}

func TestMetaKeepsALongNameWhole(t *testing.T) {
	c := *conn
	c.Name = strings.Repeat("n", 100)
	m := Meta(&c, "x")
	if m.Labels[LabelConnection] == c.Name || m.Annotations[LabelConnection] != c.Name {
		t.Fatalf("labels %v annotations %v", m.Labels, m.Annotations)
	}
	if m := Meta(conn, "x"); len(m.Annotations) != 0 {
		t.Fatalf("a short name got annotations: %v", m.Annotations)
	}
}

func TestSelectorLeavesOutUncached(t *testing.T) {
	managed := labels.Set{LabelManagedBy: ManagedByValue}
	uncached := labels.Set{LabelManagedBy: ManagedByValue, LabelUncached: "true"}
	if !Selector().Matches(managed) || Selector().Matches(uncached) || Selector().Matches(labels.Set{}) {
		t.Fatalf("Selector %q: want the operator's objects but those labelled %s", Selector(), LabelUncached)
	}
}

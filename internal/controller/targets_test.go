package controller

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

func TestTargetNamespaces(t *testing.T) {
	ns := func(name string, labels map[string]string) corev1.Namespace {
		return corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	}
	now := metav1.Now()
	terminating := ns("leaving", map[string]string{"crm": "true"})
	terminating.DeletionTimestamp = &now
	all := []corev1.Namespace{
		ns("billing", map[string]string{"crm": "true"}),
		ns("shop", map[string]string{"crm": "true", "tier": "prod"}),
		ns("tools", nil),
		ns("kube-system", nil),
		terminating,
	}
	selector := func(s metav1.LabelSelector) *metav1.LabelSelector { return &s }
	tests := []struct {
		name    string
		spec    sfv1.TokenSecretSpec
		want    []string
		missing []string
		problem bool
	}{
		{name: "neither selector nor names: no target", spec: sfv1.TokenSecretSpec{}},
		{name: "by label, not a namespace being deleted",
			spec: sfv1.TokenSecretSpec{NamespaceSelector: selector(metav1.LabelSelector{MatchLabels: map[string]string{"crm": "true"}})},
			want: []string{"billing", "shop"}},
		{name: "by name, a missing one reported",
			spec: sfv1.TokenSecretSpec{Namespaces: []sfv1.NamespaceName{"tools", "later"}},
			want: []string{"tools"}, missing: []string{"later"}},
		{name: "the union of both, once each",
			spec: sfv1.TokenSecretSpec{Namespaces: []sfv1.NamespaceName{"tools", "billing"},
				NamespaceSelector: selector(metav1.LabelSelector{MatchLabels: map[string]string{"crm": "true"}})},
			want: []string{"billing", "shop", "tools"}},
		{name: "an empty selector selects every namespace",
			spec: sfv1.TokenSecretSpec{NamespaceSelector: selector(metav1.LabelSelector{})},
			want: []string{"billing", "kube-system", "shop", "tools"}},
		{name: "expressions",
			spec: sfv1.TokenSecretSpec{NamespaceSelector: selector(metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "tier", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"prod"}}, {Key: "crm", Operator: metav1.LabelSelectorOpExists}}})},
			want: []string{"billing"}},
		{name: "an invalid selector selects nothing, and says why; names still count",
			spec: sfv1.TokenSecretSpec{Namespaces: []sfv1.NamespaceName{"tools"},
				NamespaceSelector: selector(metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "crm", Operator: "Near"}}})},
			want: []string{"tools"}, problem: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := targetNamespaces(&tt.spec, all)
			if !slices.Equal(got.names, tt.want) {
				t.Errorf("targets = %v, want %v", got.names, tt.want)
			}
			if !slices.Equal(got.missing, tt.missing) {
				t.Errorf("missing = %v, want %v", got.missing, tt.missing)
			}
			if (got.selectorProblem != "") != tt.problem {
				t.Errorf("selector problem = %q, want one: %v", got.selectorProblem, tt.problem)
			}
		})
	}
}

func TestDeliveryProblem(t *testing.T) {
	many := make([]string, 12)
	for i := range many {
		many[i] = string(rune('a'+i)) + "-ns"
	}
	tests := []struct {
		name     string
		d        delivery
		contains []string
		absent   []string
	}{
		{name: "every target reached: nothing to say", d: delivery{delivered: 3}},
		{name: "a foreign Secret names its namespace and the way out", d: delivery{foreign: []string{"shop"}},
			contains: []string{"shop", "belongs to somebody else", "spec.tokenSecret.name"}},
		{name: "a long list names the first few and counts the rest", d: delivery{foreign: many},
			contains: []string{"a-ns, b-ns, c-ns, d-ns, e-ns and 7 more"}, absent: []string{"f-ns"}},
		{name: "each kind of problem is said", d: delivery{failed: []string{"x (forbidden)"},
			targets: targets{missing: []string{"z"}, selectorProblem: "spec.tokenSecret.namespaceSelector selects no namespace"}},
			contains: []string{"x (forbidden)", "not found (written when created): z", "selects no namespace"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.d.problem()
			if len(tt.contains) == 0 && got != "" {
				t.Fatalf("problem = %q, want none", got)
			}
			for _, s := range tt.contains {
				if !strings.Contains(got, s) {
					t.Errorf("problem = %q, want it to say %q", got, s)
				}
			}
			for _, s := range tt.absent {
				if strings.Contains(got, s) {
					t.Errorf("problem = %q, should not say %q", got, s)
				}
			}
		})
	}
}

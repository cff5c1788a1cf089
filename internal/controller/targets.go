package controller

// The target namespaces of a ClusterSalesforceConnection, and what its status says of the
// ones its token did not reach. Pure: table tests cover them.

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

// targets are the namespaces a cluster connection's token Secret is written to, and the
// ones the spec asks for that it cannot be written to.
type targets struct {
	// names are the namespaces to write to, sorted.
	names []string
	// missing are namespaces spec.tokenSecret.namespaces names that do not exist (yet).
	missing []string
	// selectorProblem says why spec.tokenSecret.namespaceSelector selects nothing.
	selectorProblem string
}

// targetNamespaces is the union of the namespaces the selector selects and those the spec
// names, among those that exist and are not being deleted (a namespace being deleted
// refuses new objects, and takes the Secret with it).
func targetNamespaces(spec *sfv1.TokenSecretSpec, namespaces []corev1.Namespace) targets {
	var t targets
	var selector labels.Selector
	if spec.NamespaceSelector != nil {
		s, err := metav1.LabelSelectorAsSelector(spec.NamespaceSelector)
		if err != nil {
			t.selectorProblem = fmt.Sprintf("spec.tokenSecret.namespaceSelector selects no namespace: %v", err)
		} else {
			selector = s
		}
	}
	named := map[string]bool{}
	for _, n := range spec.Namespaces {
		named[string(n)] = true
	}
	exists := map[string]bool{}
	chosen := map[string]bool{}
	for i := range namespaces {
		ns := &namespaces[i]
		exists[ns.Name] = true
		if !ns.DeletionTimestamp.IsZero() || ns.Status.Phase == corev1.NamespaceTerminating {
			continue
		}
		if named[ns.Name] || (selector != nil && selector.Matches(labels.Set(ns.Labels))) {
			chosen[ns.Name] = true
		}
	}
	for n := range named {
		if !exists[n] {
			t.missing = append(t.missing, n)
		}
	}
	for n := range chosen {
		t.names = append(t.names, n)
	}
	slices.Sort(t.names)
	slices.Sort(t.missing)
	return t
}

// delivery is what the delivery step did: how many target namespaces hold the current
// token, and those that do not, and why.
type delivery struct {
	targets
	delivered int
	// foreign are target namespaces where somebody else's Secret has the token Secret's
	// name: the operator never writes over it.
	foreign []string
	// failed are target namespaces the API server refused the write in, each with why.
	failed []string
}

// maxNamed bounds how many namespaces a message names of each kind: a selector may select
// thousands, and a condition's message must stay readable (and under its 32 KiB).
const maxNamed = 5

// problem is what Ready's message adds about the target namespaces the token did not
// reach; empty when it reached them all.
func (d *delivery) problem() string {
	var parts []string
	add := func(list []string, format string) {
		if len(list) > 0 {
			parts = append(parts, fmt.Sprintf(format, namedBounded(list, maxNamed)))
		}
	}
	add(d.foreign, "Not written where a Secret of that name belongs to somebody else (delete it, or choose another spec.tokenSecret.name): %s")
	add(d.failed, "Not written, the API server refused: %s")
	add(d.missing, "Named in spec.tokenSecret.namespaces, but not found (written when created): %s")
	if d.selectorProblem != "" {
		parts = append(parts, d.selectorProblem)
	}
	return strings.Join(parts, ". ")
}

// namedBounded joins the first n names and says how many more there are.
func namedBounded(list []string, n int) string {
	if len(list) <= n {
		return strings.Join(list, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(list[:n], ", "), len(list)-n)
}

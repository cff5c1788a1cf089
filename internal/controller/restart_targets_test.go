package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

func TestRestartPatch(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.FixedZone("CET", 3600))
	for _, tt := range []struct {
		kind string
		want string
	}{
		{"Deployment", `{"spec":{"template":{"metadata":{"annotations":{"salesforce.sfconn.io/restartedAt":"2026-11-25T11:00:00Z"}}}}}`},
		{"StatefulSet", `{"spec":{"template":{"metadata":{"annotations":{"salesforce.sfconn.io/restartedAt":"2026-11-25T11:00:00Z"}}}}}`},
		{"DaemonSet", `{"spec":{"template":{"metadata":{"annotations":{"salesforce.sfconn.io/restartedAt":"2026-11-25T11:00:00Z"}}}}}`},
		// A Rollout restarts through spec.restartAt alone: a template change would run
		// its canary or blue-green update.
		{"Rollout", `{"spec":{"restartAt":"2026-11-25T11:00:00Z"}}`},
	} {
		if got := string(restartPatch(tt.kind, now)); got != tt.want {
			t.Errorf("%s: patch %s, want %s", tt.kind, got, tt.want)
		}
	}
}

func TestClassifyRestartError(t *testing.T) {
	gr := schema.GroupResource{Group: "apps", Resource: "deployments"}
	for _, tt := range []struct {
		name string
		err  error
		want restartOutcome
	}{
		{"not found", apierrors.NewNotFound(gr, "web"), outcomeSkip},
		{"forbidden", apierrors.NewForbidden(gr, "web", errors.New("no")), outcomeSkip},
		{"invalid", apierrors.NewInvalid(schema.GroupKind{Group: "apps", Kind: "Deployment"}, "web", nil), outcomeSkip},
		{"bad request", apierrors.NewBadRequest("no"), outcomeSkip},
		{"invalid selector", fmt.Errorf("%w: bad", errInvalidSelector), outcomeSkip},
		{"no Rollout CRD", &meta.NoKindMatchError{GroupKind: schema.GroupKind{Group: "argoproj.io", Kind: "Rollout"}}, outcomeNoKind},
		{"timeout", apierrors.NewTimeoutError("slow", 1), outcomeRetry},
		{"conflict", apierrors.NewConflict(gr, "web", errors.New("x")), outcomeRetry},
		{"connection refused", errors.New("dial tcp: connection refused"), outcomeRetry},
	} {
		if got := classifyRestartError(tt.err); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestFirstNames(t *testing.T) {
	for _, tt := range []struct {
		names []string
		n     int
		want  string
		more  bool
	}{
		{nil, 2, "", false},
		{[]string{"b", "a"}, 2, "a,b", false},
		{[]string{"c", "a", "b"}, 2, "a,b", true},
	} {
		got, more := firstNames(tt.names, tt.n)
		if strings.Join(got, ",") != tt.want || more != tt.more {
			t.Errorf("firstNames(%v, %d) = %v, %v; want %s, %v", tt.names, tt.n, got, more, tt.want, tt.more)
		}
	}
}

func TestDescribeTarget(t *testing.T) {
	for _, tt := range []struct {
		target sfv1.RolloutRestartTarget
		want   string
	}{
		{sfv1.RolloutRestartTarget{Kind: "Rollout", Name: "web"}, "Rollout/web"},
		{sfv1.RolloutRestartTarget{Kind: "Deployment", Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
			`Deployment selected by "app=web"`},
	} {
		if got := describeTarget(tt.target); got != tt.want {
			t.Errorf("describeTarget = %q, want %q", got, tt.want)
		}
	}
}

// labelled is a Deployment of the harness's namespace with labels.
func labelled(name string, labels map[string]string) *appsv1.Deployment {
	d := deployment(hNamespace, name)
	d.Labels = labels
	return d
}

// rollout is an Argo Rollout as the API server would hold it, without Argo's types.
func rollout(name string, labels map[string]string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{"replicas": int64(2)}}}
	u.SetGroupVersionKind(restartGVKs[KindRollout])
	u.SetNamespace(hNamespace)
	u.SetName(name)
	u.SetLabels(labels)
	return u
}

// restartNow runs the restart step for a token newer than the one status records.
func (h *harness) restartNow(targets ...sfv1.RolloutRestartTarget) (*pass, time.Time) {
	h.t.Helper()
	h.add(credentials(), h.newConn(withRestartTargets(targets...), withStatus(func(st *sfv1.SalesforceConnectionStatus) {
		st.RolloutRestart = &sfv1.RolloutRestartStatus{TokenIssuedAt: metav1.NewTime(hStart.Add(-2 * time.Hour))}
	})))
	p, _ := h.tokenPass(hName)
	next, err := h.r.restarts(h.ctx, p)
	if err != nil {
		h.t.Fatal(err)
	}
	return p, next
}

func (h *harness) restartedAt(kind, name string) string {
	h.t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(restartGVKs[kind])
	if err := h.store.Get(h.ctx, types.NamespacedName{Namespace: hNamespace, Name: name}, u); err != nil {
		h.t.Fatal(err)
	}
	if kind == KindRollout {
		s, _, _ := unstructured.NestedString(u.Object, "spec", "restartAt")
		return s
	}
	s, _, _ := unstructured.NestedString(u.Object, "spec", "template", "metadata", "annotations", AnnotationRestartedAt)
	return s
}

// A selector restarts the workloads of its kind whose labels match, once each even when
// a named target is one of them, and nothing else.
func TestRestartsBySelector(t *testing.T) {
	h := newHarness(t)
	app := map[string]string{"uses": "crm"}
	h.add(labelled("api", app), labelled("worker", app), labelled("other", map[string]string{"uses": "erp"}))
	p, next := h.restartNow(
		sfv1.RolloutRestartTarget{Kind: "Deployment", Name: "api"},
		sfv1.RolloutRestartTarget{Kind: "Deployment", Selector: &metav1.LabelSelector{MatchLabels: app}},
		// A StatefulSet selector matching nothing is no failure.
		sfv1.RolloutRestartTarget{Kind: "StatefulSet", Selector: &metav1.LabelSelector{MatchLabels: app}},
	)
	if !next.IsZero() {
		t.Errorf("next = %v, want none", next)
	}
	for name, want := range map[string]bool{"api": true, "worker": true, "other": false} {
		if got := h.restartedAt("Deployment", name) != ""; got != want {
			t.Errorf("Deployment %s restarted = %v, want %v", name, got, want)
		}
		if n := h.countWrites("patch", "Deployment", name); want && n != 1 {
			t.Errorf("Deployment %s patched %d times, want once", name, n)
		}
	}
	evs := h.events()
	if e := eventWith(evs, corev1.EventTypeNormal, "RolloutRestarted"); !strings.Contains(e, "Deployment/api, Deployment/worker") {
		t.Errorf("RolloutRestarted event = %q", e)
	}
	if e := eventWith(evs, corev1.EventTypeWarning, "RolloutRestartFailed"); e != "" {
		t.Errorf("a selector matching nothing is reported: %q", e)
	}
	if rr := p.status.RolloutRestart; rr == nil || !rr.TokenIssuedAt.Time.Equal(p.token.IssuedAt) {
		t.Errorf("rolloutRestart = %+v, want the new token recorded", rr)
	}
}

// A selector restarts at most MaxRestartsPerSelector workloads, the first by name, and
// says so.
func TestRestartsBySelectorAreBounded(t *testing.T) {
	h := newHarness(t)
	app := map[string]string{"uses": "crm"}
	for i := range MaxRestartsPerSelector + 5 {
		h.add(labelled(fmt.Sprintf("w%02d", i), app))
	}
	h.restartNow(sfv1.RolloutRestartTarget{Kind: "Deployment", Selector: &metav1.LabelSelector{MatchLabels: app}})
	if n := h.countWrites("patch", "Deployment", ""); n != MaxRestartsPerSelector {
		t.Errorf("patched %d workloads, want %d", n, MaxRestartsPerSelector)
	}
	if h.restartedAt("Deployment", fmt.Sprintf("w%02d", MaxRestartsPerSelector-1)) == "" ||
		h.restartedAt("Deployment", fmt.Sprintf("w%02d", MaxRestartsPerSelector)) != "" {
		t.Error("the workloads restarted are not the first by name")
	}
	e := eventWith(h.events(), corev1.EventTypeWarning, "RolloutRestartTruncated")
	for _, want := range []string{fmt.Sprint("first ", MaxRestartsPerSelector), `Deployment selected by "uses=crm"`} {
		if !strings.Contains(e, want) {
			t.Errorf("RolloutRestartTruncated event %q does not say %q", e, want)
		}
	}
}

// A Rollout is restarted through spec.restartAt, its template left alone.
func TestRestartsRollout(t *testing.T) {
	h := newHarness(t)
	h.add(rollout("web", nil))
	p, next := h.restartNow(sfv1.RolloutRestartTarget{Kind: KindRollout, Name: "web"})
	if !next.IsZero() {
		t.Errorf("next = %v, want none", next)
	}
	if got := h.restartedAt(KindRollout, "web"); got != stamp(p.now) {
		t.Errorf("spec.restartAt = %q, want %s", got, stamp(p.now))
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(restartGVKs[KindRollout])
	if err := h.store.Get(h.ctx, types.NamespacedName{Namespace: hNamespace, Name: "web"}, u); err != nil {
		t.Fatal(err)
	}
	spec, _ := json.Marshal(u.Object["spec"])
	if strings.Contains(string(spec), "template") || !strings.Contains(string(spec), `"replicas":2`) {
		t.Errorf("spec = %s, want restartAt added and nothing else touched", spec)
	}
	if e := eventWith(h.events(), corev1.EventTypeNormal, "RolloutRestarted"); !strings.Contains(e, "Rollout/web") {
		t.Errorf("RolloutRestarted event = %q", e)
	}
}

// Without Argo Rollouts the Rollout targets are reported once with what to do, the other
// targets restarted, and nothing retried: installing the CRD is a person's work.
func TestRestartsRolloutWithoutTheCRD(t *testing.T) {
	h := newHarness(t)
	h.add(webDeployment())
	h.failWrites("patch", KindRollout, "", &meta.NoKindMatchError{GroupKind: schema.GroupKind{Group: "argoproj.io", Kind: "Rollout"}})
	_, next := h.restartNow(sfv1.RolloutRestartTarget{Kind: KindRollout, Name: "api"}, web)
	if !next.IsZero() {
		t.Errorf("next = %v, want none: a missing CRD is not retried", next)
	}
	if h.restartedAt("Deployment", "web") == "" {
		t.Error("the Deployment was not restarted")
	}
	e := eventWith(h.events(), corev1.EventTypeWarning, "RolloutRestartFailed")
	for _, want := range []string{"Rollout/api", "does not serve the kind Rollout", "install Argo Rollouts"} {
		if !strings.Contains(e, want) {
			t.Errorf("event %q does not say %q", e, want)
		}
	}
}

// A selector the operator may not list, or cannot parse, is skipped with the reason.
func TestRestartsSelectorFailures(t *testing.T) {
	h := newHarness(t)
	h.r.APIReader = forbidLists{h.c}
	_, next := h.restartNow(
		sfv1.RolloutRestartTarget{Kind: "Deployment", Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"uses": "crm"}}},
		sfv1.RolloutRestartTarget{Kind: "DaemonSet", Selector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "uses", Operator: "Near"}}}},
	)
	if !next.IsZero() {
		t.Errorf("next = %v, want none", next)
	}
	e := eventWith(h.events(), corev1.EventTypeWarning, "RolloutRestartFailed")
	for _, want := range []string{`Deployment selected by "uses=crm" (Forbidden)`, "DaemonSet selected by", "invalid selector"} {
		if !strings.Contains(e, want) {
			t.Errorf("event %q does not say %q", e, want)
		}
	}
}

// forbidLists refuses every list, as the API server does without the list rule.
type forbidLists struct{ client.Reader }

func (f forbidLists) List(_ context.Context, list client.ObjectList, _ ...client.ListOption) error {
	return apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "deployments"}, "", errors.New("no list"))
}

// A passing failure of a selector's list is retried soon, with the old record kept.
func TestRestartsSelectorListRetried(t *testing.T) {
	h := newHarness(t)
	h.r.APIReader = failLists{h.c}
	p, next := h.restartNow(sfv1.RolloutRestartTarget{Kind: "Deployment", Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"uses": "crm"}}})
	if want := p.now.Add(restartRetry); !next.Equal(want) {
		t.Errorf("next = %v, want %v", next, want)
	}
	if rr := p.status.RolloutRestart; rr == nil || rr.TokenIssuedAt.Time.Equal(p.token.IssuedAt) {
		t.Errorf("rolloutRestart = %+v, want the old token kept for the retry", rr)
	}
}

type failLists struct{ client.Reader }

func (f failLists) List(context.Context, client.ObjectList, ...client.ListOption) error {
	return apierrors.NewServiceUnavailable("etcd is slow")
}

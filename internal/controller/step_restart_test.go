package controller

import (
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

func webDeployment() *appsv1.Deployment {
	labels := map[string]string{"app": "web"}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: hNamespace, Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{"kept": "yes"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app"}}},
			},
		},
	}
}

var web = sfv1.RolloutRestartTarget{Kind: "Deployment", Name: "web"}

// restartedAtOf reads the restart annotation of the web Deployment's pod template.
func (h *harness) restartedAtOf() (string, map[string]string) {
	h.t.Helper()
	d := &appsv1.Deployment{}
	if err := h.store.Get(h.ctx, types.NamespacedName{Namespace: hNamespace, Name: "web"}, d); err != nil {
		h.t.Fatal(err)
	}
	return d.Spec.Template.Annotations[AnnotationRestartedAt], d.Spec.Template.Annotations
}

// Targets named with the first token run with it; a new token restarts them once, by an
// annotation of their pod template.
func TestRestartsNewTokenPatchesTemplateOnce(t *testing.T) {
	h := newHarness(t)
	h.add(h.newConn(withRestartTargets(web)), credentials(), webDeployment())

	h.mustReconcile(hName)
	if n := h.countWrites("patch", "Deployment", "web"); n != 0 {
		t.Fatalf("restarts for the first token = %d, want none", n)
	}
	st := h.getConn(hName).Status
	if rr := st.RolloutRestart; rr == nil || !rr.TokenIssuedAt.Time.Equal(st.IssuedAt.Time) || rr.LastRestartTime != nil {
		t.Fatalf("rolloutRestart = %+v, want the first token recorded without a restart", rr)
	}

	h.clk.SetTime(st.RenewAt.Time)
	h.events()
	h.mustReconcile(hName)
	if n := h.countWrites("patch", "Deployment", "web"); n != 1 {
		t.Fatalf("restarts for a new token = %d, want 1", n)
	}
	got, annotations := h.restartedAtOf()
	if got != stamp(h.clk.Now()) || annotations["kept"] != "yes" {
		t.Errorf("pod template annotations = %v, want %s = %s next to the others", annotations, AnnotationRestartedAt, stamp(h.clk.Now()))
	}
	st = h.getConn(hName).Status
	if rr := st.RolloutRestart; rr == nil || !rr.TokenIssuedAt.Time.Equal(st.IssuedAt.Time) || rr.LastRestartTime == nil ||
		!rr.LastRestartTime.Time.Equal(h.clk.Now()) {
		t.Errorf("rolloutRestart = %+v, want the new token and the restart time", rr)
	}
	if e := eventWith(h.events(), corev1.EventTypeNormal, "RolloutRestarted"); !strings.Contains(e, "Deployment/web") {
		t.Errorf("RolloutRestarted event = %q", e)
	}

	h.clk.Step(10 * time.Minute)
	h.mustReconcile(hName)
	if n := h.countWrites("patch", "Deployment", "web"); n != 1 {
		t.Errorf("restarts = %d after a pass at rest, want still 1", n)
	}
}

// A target that does not exist is reported with a Warning event and skipped; the others
// are restarted, and nothing is retried.
func TestRestartsSkipMissingTarget(t *testing.T) {
	h := newHarness(t)
	old := metav1.NewTime(hStart.Add(-2 * time.Hour))
	h.add(webDeployment(), credentials(), h.newConn(
		withRestartTargets(sfv1.RolloutRestartTarget{Kind: "Deployment", Name: "gone"}, web),
		withStatus(func(st *sfv1.SalesforceConnectionStatus) {
			st.RolloutRestart = &sfv1.RolloutRestartStatus{TokenIssuedAt: old}
		})))

	p, _ := h.tokenPass(hName)
	next, err := h.r.restarts(h.ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if !next.IsZero() {
		t.Errorf("next = %v, want none: a missing target is not retried", next)
	}
	if h.countWrites("patch", "Deployment", "gone") != 1 || h.countWrites("patch", "Deployment", "web") != 1 {
		t.Errorf("writes = %v, want one patch of each target", h.allWrites())
	}
	if got, _ := h.restartedAtOf(); got != stamp(p.now) {
		t.Errorf("web not restarted: %q", got)
	}
	evs := h.events()
	if e := eventWith(evs, corev1.EventTypeWarning, "RolloutRestartFailed"); !strings.Contains(e, "Deployment/gone (NotFound)") {
		t.Errorf("RolloutRestartFailed event = %q, events %v", e, evs)
	}
	if e := eventWith(evs, corev1.EventTypeNormal, "RolloutRestarted"); !strings.Contains(e, "Deployment/web") || strings.Contains(e, "gone") {
		t.Errorf("RolloutRestarted event = %q", e)
	}
	if rr := p.status.RolloutRestart; rr == nil || !rr.TokenIssuedAt.Time.Equal(p.token.IssuedAt) {
		t.Errorf("rolloutRestart = %+v, want the new token recorded", rr)
	}
}

// A new token within rolloutRestartMinInterval of the last restart waits: the step is due
// when the interval ends, and restarts then.
func TestRestartsWaitForTheMinimumInterval(t *testing.T) {
	h := newHarness(t)
	lastRestart := metav1.NewTime(hStart.Add(-time.Minute))
	h.add(webDeployment(), credentials(), h.newConn(withRestartTargets(web),
		withStatus(func(st *sfv1.SalesforceConnectionStatus) {
			st.RolloutRestart = &sfv1.RolloutRestartStatus{TokenIssuedAt: metav1.NewTime(hStart.Add(-2 * time.Hour)), LastRestartTime: &lastRestart}
		})))
	due := lastRestart.Add(defaultRestartMinInterval)

	p, _ := h.tokenPass(hName)
	next, err := h.r.restarts(h.ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if !next.Equal(due) {
		t.Errorf("next = %v, want the end of the interval %v", next, due)
	}
	if n := h.countWrites("patch", "Deployment", ""); n != 0 {
		t.Errorf("restarts = %d within the interval, want none", n)
	}
	if rr := p.status.RolloutRestart; rr == nil || !rr.LastRestartTime.Equal(&lastRestart) || !rr.TokenIssuedAt.Time.Equal(hStart.Add(-2*time.Hour)) {
		t.Errorf("rolloutRestart = %+v, want it unchanged", rr)
	}

	// The whole pass comes back when the interval ends, not at the renewal.
	res := h.mustReconcile(hName)
	if want := due.Sub(h.clk.Now()); res.RequeueAfter != want {
		t.Errorf("requeue after %v, want %v", res.RequeueAfter, want)
	}
	h.clk.SetTime(due)
	h.mustReconcile(hName)
	if n := h.countWrites("patch", "Deployment", "web"); n != 1 {
		t.Errorf("restarts = %d once the interval ended, want 1", n)
	}
}

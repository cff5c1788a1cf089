package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

// AnnotationRestartedAt is set on the pod template of a rollout restart target: changing
// the template is what makes the workload controller replace its pods, as kubectl
// rollout restart does with its own annotation.
const AnnotationRestartedAt = "salesforce.sfconn.io/restartedAt"

const (
	defaultRestartMinInterval = 5 * time.Minute
	// restartRetry is how soon restarts that failed for a passing reason are tried again.
	restartRetry = 30 * time.Second
)

// restartPlan is what to do about spec.rolloutRestartTargets in this pass.
type restartPlan struct {
	restart bool
	// wait is when a restart held back by the minimum interval becomes due.
	wait time.Time
	// record is status.rolloutRestart after the pass, if the restart succeeds.
	record *sfv1.RolloutRestartStatus
}

// planRestart decides whether the targets must be restarted: they run with the token
// recorded in status, and a different token in the Secret means their environment is
// stale. Targets named for the first time are taken to run with the current token: pods
// that could not start without the Secret start with it, and restarting the others
// would only churn. Pure.
func planRestart(spec *sfv1.SalesforceConnectionSpec, prev *sfv1.RolloutRestartStatus, tok *issuedToken, now time.Time) restartPlan {
	switch {
	case len(spec.RolloutRestartTargets) == 0:
		return restartPlan{}
	case tok == nil:
		return restartPlan{record: prev}
	case prev == nil:
		return restartPlan{record: &sfv1.RolloutRestartStatus{TokenIssuedAt: statusTime(tok.issuedAt)}}
	case prev.TokenIssuedAt.Time.Equal(tok.issuedAt):
		return restartPlan{record: prev}
	}
	if prev.LastRestartTime != nil {
		if due := prev.LastRestartTime.Add(restartMinInterval(spec)); now.Before(due) {
			return restartPlan{record: prev, wait: due}
		}
	}
	return restartPlan{restart: true, record: &sfv1.RolloutRestartStatus{
		TokenIssuedAt:   statusTime(tok.issuedAt),
		LastRestartTime: timePtr(now),
	}}
}

func restartMinInterval(spec *sfv1.SalesforceConnectionSpec) time.Duration {
	if d := spec.RolloutRestartMinInterval; d != nil && d.Duration >= 0 {
		return d.Duration
	}
	return defaultRestartMinInterval
}

// +kubebuilder:rbac:groups=apps,resources=deployments;statefulsets;daemonsets,verbs=patch

// rolloutRestart restarts the targets when the plan says so and records the outcome.
// A target that does not exist or may not be patched is reported and skipped: retrying
// would not help until someone changes something. Other failures are retried soon.
func (r *Reconciler) rolloutRestart(ctx context.Context, conn *sfv1.SalesforceConnection, f *facts, o *outcome) {
	plan := planRestart(&conn.Spec, conn.Status.RolloutRestart, o.token, f.now)
	o.rolloutRestart, o.restartWake = plan.record, plan.wait
	if !plan.restart {
		return
	}
	log := logf.FromContext(ctx)
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"template": map[string]any{
		"metadata": map[string]any{"annotations": map[string]string{AnnotationRestartedAt: stamp(f.now)}}}}})
	var restarted, skipped, failed []string
	for _, t := range conn.Spec.RolloutRestartTargets {
		obj := restartTarget(t.Kind)
		obj.SetNamespace(conn.Namespace)
		obj.SetName(t.Name)
		ref := t.Kind + "/" + t.Name
		err := r.Client.Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch))
		switch {
		case err == nil:
			restarted = append(restarted, ref)
		case apierrors.IsNotFound(err) || apierrors.IsForbidden(err) || apierrors.IsInvalid(err):
			skipped = append(skipped, fmt.Sprintf("%s (%s)", ref, apierrors.ReasonForError(err)))
		default:
			failed = append(failed, ref)
			log.Error(err, "Rollout restart failed", "connection", klog.KObj(conn), "target", ref)
		}
	}
	if len(restarted) > 0 {
		log.Info("Restarted workloads for the new token", "connection", klog.KObj(conn), "targets", restarted)
		r.Recorder.Eventf(conn, nil, corev1.EventTypeNormal, "RolloutRestarted", "RolloutRestart",
			"Restarted %s so their pods read the token issued at %s", strings.Join(restarted, ", "), stamp(o.token.issuedAt))
	}
	if len(skipped) > 0 {
		r.Recorder.Eventf(conn, nil, corev1.EventTypeWarning, "RolloutRestartFailed", "RolloutRestart",
			"Could not restart %s: check spec.rolloutRestartTargets and that the workloads exist in namespace %s", strings.Join(skipped, ", "), conn.Namespace)
	}
	if len(failed) > 0 {
		r.Recorder.Eventf(conn, nil, corev1.EventTypeWarning, "RolloutRestartFailed", "RolloutRestart",
			"Could not restart %s; trying again in %s", strings.Join(failed, ", "), restartRetry)
		o.rolloutRestart, o.restartWake = conn.Status.RolloutRestart, f.now.Add(restartRetry)
	}
}

func restartTarget(kind string) client.Object {
	switch kind {
	case "StatefulSet":
		return &appsv1.StatefulSet{}
	case "DaemonSet":
		return &appsv1.DaemonSet{}
	default:
		return &appsv1.Deployment{}
	}
}

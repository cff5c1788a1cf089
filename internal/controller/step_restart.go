package controller

import (
	"context"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/tokensecret"
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
func planRestart(spec *sfv1.SalesforceConnectionSpec, prev *sfv1.RolloutRestartStatus, tok *tokensecret.Token, now time.Time) restartPlan {
	switch {
	case len(spec.RolloutRestartTargets) == 0:
		return restartPlan{}
	case tok == nil:
		return restartPlan{record: prev}
	case prev == nil:
		return restartPlan{record: &sfv1.RolloutRestartStatus{TokenIssuedAt: statusTime(tok.IssuedAt)}}
	case prev.TokenIssuedAt.Time.Equal(tok.IssuedAt):
		return restartPlan{record: prev}
	}
	if prev.LastRestartTime != nil {
		if due := prev.LastRestartTime.Add(restartMinInterval(spec)); now.Before(due) {
			return restartPlan{record: prev, wait: due}
		}
	}
	return restartPlan{restart: true, record: &sfv1.RolloutRestartStatus{
		TokenIssuedAt:   statusTime(tok.IssuedAt),
		LastRestartTime: timePtr(now),
	}}
}

func restartMinInterval(spec *sfv1.SalesforceConnectionSpec) time.Duration {
	if d := spec.RolloutRestartMinInterval; d != nil && d.Duration >= 0 {
		return d.Duration
	}
	return defaultRestartMinInterval
}

// The rules are a role of their own, rollout-restart-role (config/rollout-restarts, the
// chart's rolloutRestarts.enabled): they are granted only where restarts are turned on.
// patch restarts a workload; list finds the workloads a target's selector chooses.
// +kubebuilder:rbac:groups=apps,resources=deployments;statefulsets;daemonsets,verbs=list;patch,roleName=rollout-restart-role
// +kubebuilder:rbac:groups=argoproj.io,resources=rollouts,verbs=list;patch,roleName=rollout-restart-role

// restarts restarts spec.rolloutRestartTargets when the token in the Secret is not the one
// they run with, and records the outcome in status.rolloutRestart, which it owns. A target
// that does not exist, may not be patched, or whose kind the cluster does not serve is
// reported and skipped: retrying would not help until someone changes something. A
// selector that chooses nothing is no failure. Other failures are retried soon. It is due
// when a restart held back by the minimum interval, or a failed one, is. With restarts
// turned off (Reconciler.RolloutRestarts), it only says so (restartsDisabled).
func (r *Reconciler) restarts(ctx context.Context, p *pass) (time.Time, error) {
	conn := p.conn
	plan := planRestart(&conn.Spec, conn.Status.RolloutRestart, p.token, p.now)
	p.status.RolloutRestart = plan.record
	if !r.RolloutRestarts {
		r.restartsDisabled(p, plan)
		return time.Time{}, nil
	}
	if !plan.restart {
		return plan.wait, nil
	}
	run := &restartRun{seen: map[workload]bool{}}
	for _, t := range conn.Spec.RolloutRestartTargets {
		r.restartTarget(ctx, p, t, run)
	}
	if len(run.restarted) > 0 {
		p.log.Info("Restarted workloads for the new token", "targets", run.restarted)
		r.event(p, corev1.EventTypeNormal, sfv1.EventRolloutRestarted, "RolloutRestart",
			"Restarted %s so their pods read the token issued at %s", strings.Join(run.restarted, ", "), stamp(p.token.IssuedAt))
	}
	if len(run.truncated) > 0 {
		r.event(p, corev1.EventTypeWarning, sfv1.EventRolloutRestartTruncated, "RolloutRestart",
			"Restarted only the first %d workloads by name of %s: a selector restarts at most %d; narrow the selector, or split the workloads among targets",
			MaxRestartsPerSelector, strings.Join(run.truncated, ", "), MaxRestartsPerSelector)
	}
	if len(run.noKind) > 0 {
		r.event(p, corev1.EventTypeWarning, sfv1.EventRolloutRestartFailed, "RolloutRestart",
			"Could not restart %s: this cluster does not serve the kind %s; install Argo Rollouts (the argoproj.io Rollout CRD) or remove these targets from spec.rolloutRestartTargets",
			strings.Join(run.noKind, ", "), strings.Join(run.missingKinds, ", "))
	}
	if len(run.skipped) > 0 {
		r.event(p, corev1.EventTypeWarning, sfv1.EventRolloutRestartFailed, "RolloutRestart",
			"Could not restart %s: check spec.rolloutRestartTargets and that the workloads exist in namespace %s", strings.Join(run.skipped, ", "), conn.Namespace)
	}
	if len(run.failed) > 0 {
		r.event(p, corev1.EventTypeWarning, sfv1.EventRolloutRestartFailed, "RolloutRestart",
			"Could not restart %s; trying again in %s", strings.Join(run.failed, ", "), restartRetry)
		p.status.RolloutRestart = conn.Status.RolloutRestart
		return p.now.Add(restartRetry), nil
	}
	return time.Time{}, nil
}

// restartsDisabled answers a restart that would be due, now or after the minimum interval,
// while restarts are turned off. status.rolloutRestart keeps the token the targets run
// with, so that turning restarts on restarts them for the current token. A Warning event
// says so once per token: in the pass that first sees it (it logged in, or status does not
// show the token yet), so that later passes over the same token stay quiet.
func (r *Reconciler) restartsDisabled(p *pass, plan restartPlan) {
	if !plan.restart && plan.wait.IsZero() {
		return
	}
	p.status.RolloutRestart = p.conn.Status.RolloutRestart
	if seen := p.conn.Status.IssuedAt; !p.renewed && seen != nil && seen.Time.Equal(p.token.IssuedAt) {
		return
	}
	targets := make([]string, 0, len(p.conn.Spec.RolloutRestartTargets))
	for _, t := range p.conn.Spec.RolloutRestartTargets {
		targets = append(targets, describeTarget(t))
	}
	r.event(p, corev1.EventTypeWarning, sfv1.EventRolloutRestartDisabled, "RolloutRestart",
		"Did not restart %s for the token issued at %s: rollout restarts are disabled in this operator. "+
			"An operator administrator enables them with the manager flag --enable-rollout-restarts "+
			"(Helm value rolloutRestarts.enabled=true), which also grants list and patch on Deployments, StatefulSets, DaemonSets and Argo Rollouts; "+
			"the targets are then restarted for the current token",
		strings.Join(targets, ", "), stamp(p.token.IssuedAt))
}

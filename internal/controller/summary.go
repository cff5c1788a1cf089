package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/failure"
)

// summarize ends every pass that read its connection: it turns the failure the pass ends
// with into conditions (failures.go), patches status once if it changed, records the
// events of the conditions that changed, and requeues when the earliest step or retry is
// due. err is the API server's failure of a step: status records it too, unless it was a
// lost race (a conflict), which the next pass simply repeats.
func (r *Reconciler) summarize(ctx context.Context, p *pass, err error) (ctrl.Result, error) {
	if err != nil && apierrors.IsConflict(err) {
		return ctrl.Result{}, err
	}
	if err != nil {
		p.failure = &failure.Failure{Class: failure.Cluster, Reason: sfv1.ReasonClusterError, Message: err.Error()}
	}
	switch {
	case p.suspended && err == nil:
		// Suspension is a settled state: the status describes this generation.
		p.status.ObservedGeneration = p.conn.Generation
		setSuspendedConditions(p)
	case p.tokenChecked && !p.deferred:
		p.status.ObservedGeneration = p.conn.Generation
		setTokenConditions(p)
	case p.failure != nil:
		// The pass failed before the token was checked: what the token conditions said
		// still stands, and the operator is at work.
		p.status.ObservedGeneration = p.conn.Generation
		setReconciling(p.status, p.conn.Generation, p.failure)
	}
	if p.cluster != nil {
		return r.summarizeCluster(ctx, p, err)
	}
	notices := transitionEvents(p.conn.Status.Conditions, p.status.Conditions, p.announced)
	if !equality.Semantic.DeepEqual(*p.status, p.conn.Status) {
		// The optimistic lock makes a patch computed from a stale read fail instead of
		// quietly mixing old and new fields.
		patch := client.MergeFromWithOptions(p.conn.DeepCopy(), client.MergeFromWithOptimisticLock{})
		p.conn.Status = *p.status
		if patchErr := r.patchStatus(ctx, p.key, p.conn, patch); patchErr != nil {
			return ctrl.Result{}, errors.Join(err, fmt.Errorf("patching status: %w", patchErr))
		}
	}
	// After the patch: a pass that fails to record a change is repeated, and announces it then.
	for _, n := range notices {
		r.record(p.conn, n.eventType, n.reason, n.action, n.note)
	}
	return r.requeue(p, err)
}

// requeue ends a pass whose status is recorded: the connection comes back when the
// earliest step or retry is due.
func (r *Reconciler) requeue(p *pass, err error) (ctrl.Result, error) {
	if err != nil {
		return ctrl.Result{}, err
	}
	if p.failure != nil {
		p.wakeAt(p.failure.RetryAt)
	}
	if p.next.IsZero() {
		return ctrl.Result{}, nil
	}
	p.log.V(1).Info("Next check", "at", p.next)
	// Measured from now, not from the start of the pass: the pass took time.
	return ctrl.Result{RequeueAfter: max(p.next.Sub(r.Clock.Now()), time.Second)}, nil
}

// patchStatus patches the status of obj, the connection of key or the cluster connection
// it is the view of, and has the process remember the version the patch replaces until
// the cache shows the patch (memory.behind).
func (r *Reconciler) patchStatus(ctx context.Context, key types.NamespacedName, obj client.Object, patch client.Patch) error {
	from := obj.GetResourceVersion()
	r.mem.patching(key, from)
	err := r.Client.Status().Patch(ctx, obj, patch)
	if err != nil || obj.GetResourceVersion() == from {
		r.mem.notPatched(key, from)
	}
	return err
}

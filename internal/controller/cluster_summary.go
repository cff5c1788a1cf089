package controller

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

// summarizeCluster is summarize's end for a ClusterSalesforceConnection: the status its
// view's steps set, with the delivery's count and problems, patched once onto the cluster
// object, and the events of the conditions that changed recorded about it.
func (r *Reconciler) summarizeCluster(ctx context.Context, p *pass, err error) (ctrl.Result, error) {
	c := p.cluster
	next := c.Status.DeepCopy()
	next.SalesforceConnectionStatus = *p.status
	if next.TokenSecretName != "" {
		// The Secret workloads mount, in each target namespace; the record is the operator's.
		next.TokenSecretName = clusterTokenSecretName(c)
	}
	// A pass that did not deliver (its login waits for its turn, or a step failed) leaves
	// the count as it was, and Ready's message, which only a delivery adds to.
	if d := p.delivery; d != nil {
		next.TokenSecretNamespaces = int32(d.delivered)
		if problem := d.problem(); problem != "" {
			// The namespaces that did receive the token keep working: the connection stays
			// Ready, and says which ones did not.
			if ready := meta.FindStatusCondition(next.Conditions, sfv1.ConditionReady); ready != nil {
				ready.Message += ". " + problem
			}
		}
	}
	notices := transitionEvents(c.Status.Conditions, next.Conditions, p.announced)
	if !equality.Semantic.DeepEqual(*next, c.Status) {
		patch := client.MergeFromWithOptions(c.DeepCopy(), client.MergeFromWithOptimisticLock{})
		c.Status = *next
		if patchErr := r.patchStatus(ctx, p.key, c, patch); patchErr != nil {
			return ctrl.Result{}, errors.Join(err, fmt.Errorf("patching status: %w", patchErr))
		}
	}
	for _, n := range notices {
		r.record(c, n.eventType, n.reason, n.action, n.note)
	}
	return r.requeue(p, err)
}

package controller

import (
	"context"
	"errors"
	"time"

	logf "sigs.k8s.io/controller-runtime/pkg/log"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/approvals"
	"github.com/sfconn/sfconn-operator/internal/authflow"
	"github.com/sfconn/sfconn-operator/internal/salesforce"
)

// sweepInterval is how often the leader looks for refresh token chains nobody holds.
const sweepInterval = 10 * time.Minute

// sweepChains runs the sweep of orphaned chains on the leader until ctx ends.
func (r *Reconciler) sweepChains(ctx context.Context) error {
	r.once.Do(r.init)
	log := logf.FromContext(ctx).WithName("chains")
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := r.sweepOnce(ctx); err != nil {
			log.Info("Sweeping the refresh token chains failed; trying again later", "error", err.Error())
		}
	}
}

// sweepOnce releases the chains that no connection holds: neither a connection's
// approval (the chain of the refresh token it used last) nor a device login's.
func (r *Reconciler) sweepOnce(ctx context.Context) error {
	var list sfv1.SalesforceConnectionList
	if err := r.Client.List(ctx, &list); err != nil {
		return err
	}
	// A cluster connection holds its chain as a namespaced one does.
	var clusterList sfv1.ClusterSalesforceConnectionList
	if r.ClusterConnections {
		if err := r.Client.List(ctx, &clusterList); err != nil {
			return err
		}
	}
	for i := range clusterList.Items {
		list.Items = append(list.Items, *clusterList.Items[i].AsConnection(r.clusterNamespace()))
	}
	live := map[string]bool{}
	for i := range list.Items {
		c := &list.Items[i]
		if a := c.Status.Approval; a != nil && a.ID != "" {
			live[a.ID] = true
		}
		if c.Spec.Auth.DeviceLogin != nil {
			live[approvals.ID(r.ApprovalKey, authflow.Marker(c))] = true
		}
	}
	return r.chains.Sweep(ctx, live, r.revokeOrphan)
}

// revokeOrphan revokes the token of a chain nobody holds, where it was obtained; a token
// Salesforce already forgot counts as revoked.
func (r *Reconciler) revokeOrphan(ctx context.Context, loginURL, token string) error {
	if err := r.LoginHosts.Check(loginURL); err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, authflow.LoginTimeout)
	defer cancel()
	err := r.Salesforce.Revoke(rctx, loginURL, token)
	if e := (*salesforce.Error)(nil); errors.As(err, &e) && e.Code == "invalid_token" {
		return nil
	}
	return err
}

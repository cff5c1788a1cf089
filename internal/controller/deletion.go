package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/authflow"
	"github.com/sfconn/sfconn-operator/internal/salesforce"
)

// revokeGrace bounds how long a deletion waits for Salesforce to revoke.
const revokeGrace = time.Minute

// finalize revokes the refresh token the operator obtained by device login, then lets the
// connection go: the approval was the operator's to make, and is its to release.
// Salesforce gets revokeGrace to answer; after that the finalizer goes anyway and a
// Warning event says what was left behind.
//
// obj is the object that carries the finalizer: conn, or the ClusterSalesforceConnection
// conn is the view of.
func (r *Reconciler) finalize(ctx context.Context, conn *sfv1.SalesforceConnection, obj client.Object) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(obj, FinalizerRevoke) {
		return ctrl.Result{}, nil
	}
	log := logf.FromContext(ctx).WithValues("connection", klog.KObj(obj))
	key := keyOf(conn)
	var leftBehind error
	loginURL := authflow.LoginURL(conn)
	ch := r.chains.Of(conn, authflow.Marker(conn), loginURL, true)
	token, err := r.chains.Current(ctx, ch)
	if err != nil {
		return ctrl.Result{}, err
	}
	if token == authflow.Marker(conn) {
		token = "" // no person approved: nothing was obtained
	}
	if err := r.LoginHosts.Check(loginURL); token != "" && err != nil {
		// Never send a token to a host the operator may not contact.
		leftBehind, token = err, ""
	}
	if token != "" {
		rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		err := r.Salesforce.Revoke(rctx, loginURL, token)
		cancel()
		var sfErr *salesforce.Error
		switch {
		case err == nil:
			r.record(obj, corev1.EventTypeNormal, sfv1.EventApprovalRevoked, "Delete", "Revoked the refresh token obtained by device login")
		case errors.As(err, &sfErr) && sfErr.Code == "invalid_token":
			// Already dead: nothing left behind.
		case r.Clock.Since(r.mem.revokeSince.loadOrStore(key, r.Clock.Now())) < revokeGrace:
			// The grace runs on the injected clock rather than from the deletion timestamp
			// (the API server's clock); a restart starts it again, which only lengthens it.
			log.Info("Revoking the refresh token failed; retrying", "error", err.Error())
			return ctrl.Result{RequeueAfter: 10 * time.Second}, nil
		default:
			leftBehind = err
		}
	}
	if leftBehind != nil {
		user := "the user"
		if p := conn.Status.Principal; p != nil && p.Username != "" {
			user = p.Username
		}
		r.record(obj, corev1.EventTypeWarning, sfv1.EventRevocationFailed, "Delete", fmt.Sprintf(
			"Could not revoke the refresh token obtained by device login within %s (%v): it is still an approval of %s for the connected app; revoke it in Salesforce Setup, Connected Apps OAuth Usage",
			revokeGrace, leftBehind, user))
	}
	if leftBehind == nil {
		if err := r.chains.Drop(ctx, ch); err != nil {
			return ctrl.Result{}, err
		}
	}
	r.forget(key)
	patch := client.MergeFrom(obj.DeepCopyObject().(client.Object))
	controllerutil.RemoveFinalizer(obj, FinalizerRevoke)
	return ctrl.Result{}, client.IgnoreNotFound(r.Client.Patch(ctx, obj, patch))
}

package kubectlplugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

type renewOptions struct {
	wait    bool
	timeout time.Duration
}

func newRenewCommand(env *Env) *cobra.Command {
	o := &renewOptions{}
	cmd := &cobra.Command{
		Use:   "renew NAME | csfconn/NAME",
		Short: "Ask the operator to renew a connection's token now",
		Long: "renew sets the annotation " + sfv1.AnnotationRequestedAt + " to the current time; the\n" +
			"operator then logs in again at once. With --wait it waits until the operator has\n" +
			"handled the request and shows the result. Name a ClusterSalesforceConnection\n" +
			"csfconn/NAME (-n does not apply to it).",
		Example: `  kubectl sfconn renew crm -n billing
  kubectl sfconn renew crm -n billing --wait --timeout 1m
  kubectl sfconn renew csfconn/crm --wait`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), env, args[0])
		},
	}
	cmd.Flags().BoolVar(&o.wait, "wait", false, "Wait until the operator has handled the request, and fail when the renewal failed.")
	cmd.Flags().DurationVar(&o.timeout, "timeout", 2*time.Minute, "How long --wait waits.")
	return cmd
}

func (o *renewOptions) run(ctx context.Context, env *Env, arg string) error {
	c, ns, err := env.clientAndNamespace()
	if err != nil {
		return err
	}
	ref, err := parseRef(arg, ns)
	if err != nil {
		return err
	}
	// The renewal needs nothing of the cluster resource namespace.
	t, err := getTarget(ctx, c, ref, "")
	if err != nil {
		return err
	}
	if t.conn.Spec.Suspend {
		// The operator does not log in for a suspended connection: the request would wait
		// unanswered, and be acted on by surprise once someone resumes it.
		return fmt.Errorf("%s is suspended (spec.suspend is true): the operator renews nothing until it is resumed, with "+
			`kubectl patch %s --type merge -p '{"spec":{"suspend":false}}'`, ref, patchArgs(ref))
	}
	requestedAt, err := requestRenewal(ctx, c, t, env.Clock.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Streams.Out, "Renewal of %s requested (%s=%s)\n", ref, sfv1.AnnotationRequestedAt, requestedAt)
	if !o.wait {
		return nil
	}
	t, err = waitHandled(ctx, env, c, ref, requestedAt, o.timeout)
	if err != nil {
		return err
	}
	report, err := renewalResult(t, env.Clock.Now())
	if report != "" {
		fmt.Fprintf(env.Streams.Out, "%s", report)
	}
	return err
}

// patchArgs names the connection to kubectl patch.
func patchArgs(ref connRef) string {
	if ref.cluster {
		return "csfconn " + ref.name
	}
	return "sfconn " + ref.name + " -n " + ref.namespace
}

// requestRenewal sets the requestedAt annotation to now (RFC 3339 with nanoseconds) with a
// merge patch, which touches no other field, and returns the value set.
func requestRenewal(ctx context.Context, c client.Client, t *target, now time.Time) (string, error) {
	value := now.Format(time.RFC3339Nano)
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"annotations": map[string]string{sfv1.AnnotationRequestedAt: value}},
	})
	if err != nil {
		return "", err
	}
	if err := c.Patch(ctx, t.obj, client.RawPatch(types.MergePatchType, patch)); err != nil {
		if apierrors.IsForbidden(err) && t.ref.cluster {
			return "", fmt.Errorf("you may not renew %s: patching a ClusterSalesforceConnection is the platform team's "+
				"(clustersalesforceconnection-admin-role): %w", t.ref, err)
		}
		return "", fmt.Errorf("setting %s on %s: %w", sfv1.AnnotationRequestedAt, t.ref, describeAPIError(err))
	}
	return value, nil
}

// waitHandled polls the connection until status.lastHandledReconcileAt says the operator
// acted on requestedAt, and returns the connection as it was then.
func waitHandled(ctx context.Context, env *Env, c client.Client, ref connRef, requestedAt string, timeout time.Duration) (*target, error) {
	deadline := env.Clock.Now().Add(timeout)
	var lastErr error
	handled := "(none)"
	for {
		t, err := getTarget(ctx, c, ref, "")
		switch {
		case err == nil && t.conn.Status.LastHandledReconcileAt == requestedAt:
			return t, nil
		case err == nil:
			lastErr = nil
			if t.conn.Status.LastHandledReconcileAt != "" {
				handled = t.conn.Status.LastHandledReconcileAt
			}
		case errors.Is(err, context.Canceled):
			return nil, err
		default:
			lastErr = err
		}
		if !env.Clock.Now().Before(deadline) {
			if lastErr != nil {
				return nil, fmt.Errorf("timed out after %s waiting for the renewal of %s: %w", timeout, ref, lastErr)
			}
			// An operator may serve no cluster connection at all: limited by
			// --watch-namespaces, turned off, or without the rights; it logs why at start.
			watches := "does it watch namespace " + ref.namespace + "?"
			if ref.cluster {
				watches = "does it serve ClusterSalesforceConnections? (not with --watch-namespaces or " +
					"--enable-cluster-connections=false, nor without cluster-connection-role: its log says so at start)"
			}
			return nil, fmt.Errorf("timed out after %s waiting for the operator to handle the renewal of %s "+
				"(status.lastHandledReconcileAt is %s): is the operator running, and %s",
				timeout, ref, handled, watches)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-env.Clock.After(env.PollInterval):
		}
	}
}

// renewalResult describes the connection once the operator handled a renewal request: a
// report for a token that was renewed, else an error with Ready's reason and message.
func renewalResult(t *target, now time.Time) (string, error) {
	conn, ref := t.conn, t.ref
	conds := conn.Status.Conditions
	ready := meta.FindStatusCondition(conds, sfv1.ConditionReady)
	if ready == nil {
		return "", fmt.Errorf("%s has no Ready condition after the renewal", ref)
	}
	if meta.IsStatusConditionTrue(conds, sfv1.ConditionStalled) {
		return "", fmt.Errorf("renewal of %s failed and needs a person: Ready=%s %s: %s",
			ref, ready.Status, ready.Reason, ready.Message)
	}
	if ready.Status != metav1.ConditionTrue {
		return "", fmt.Errorf("renewal of %s failed: Ready=%s %s: %s (the operator tries again)",
			ref, ready.Status, ready.Reason, ready.Message)
	}
	if reconciling := meta.FindStatusCondition(conds, sfv1.ConditionReconciling); reconciling != nil && reconciling.Status == metav1.ConditionTrue {
		// The old token still works, but the operator could not get a new one.
		return "", fmt.Errorf("renewal of %s failed: %s (the current token is still valid: %s)",
			ref, reconciling.Message, ready.Message)
	}
	report := fmt.Sprintf("Ready:      %s (%s)\n", ready.Status, ready.Reason)
	if st := conn.Status; st.IssuedAt != nil && st.ExpiresAt != nil {
		report += fmt.Sprintf("Issued at:  %s\nExpires at: %s (%s)\n", stamp(st.IssuedAt.Time), stamp(st.ExpiresAt.Time), relative(now, st.ExpiresAt.Time))
		if st.RenewAt != nil {
			report += fmt.Sprintf("Renews at:  %s (%s)\n", stamp(st.RenewAt.Time), relative(now, st.RenewAt.Time))
		}
	}
	if t.cluster != nil {
		report += fmt.Sprintf("Namespaces: %d hold the token (Secret %s)\n", t.cluster.Status.TokenSecretNamespaces, cell(conn.Status.TokenSecretName))
	}
	return report, nil
}

package kubectlplugin

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/authflow"
)

func newAdminInstructionsCommand(env *Env) *cobra.Command {
	var home string
	cmd := &cobra.Command{
		Use:   "admin-instructions NAME | csfconn/NAME",
		Short: "Print what a Salesforce admin must do for a connection with a generated JWT key",
		Long: "admin-instructions prints the steps a Salesforce admin takes so that a JWT bearer\n" +
			"connection with spec.auth.jwtBearer.generateKey can log in: the connected app, the\n" +
			"certificate to upload (printed at the end, from the ConfigMap the operator publishes),\n" +
			"and the user's pre-authorization, with what Salesforce answered last. Ready to paste\n" +
			"into an email or a ticket. It prints certificates only, never a key or a token.\n\n" +
			"The ConfigMap of a ClusterSalesforceConnection (csfconn/NAME) is in the cluster\n" +
			"resource namespace (--cluster-resource-namespace).",
		Example: `  kubectl sfconn admin-instructions crm -n billing
  kubectl sfconn admin-instructions crm -n billing > crm-admin-steps.txt
  kubectl sfconn admin-instructions csfconn/crm --cluster-resource-namespace sfconn-system`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return adminInstructions(cmd.Context(), env, args[0], home)
		},
	}
	addClusterResourceNamespaceFlag(cmd, &home)
	return cmd
}

// adminInstructions prints the instructions of the connection arg names; home is the
// cluster resource namespace, where a cluster connection's ConfigMap is.
func adminInstructions(ctx context.Context, env *Env, arg, home string) error {
	c, ns, err := env.clientAndNamespace()
	if err != nil {
		return err
	}
	ref, err := parseRef(arg, ns)
	if err != nil {
		return err
	}
	t, err := getTarget(ctx, c, ref, home)
	if err != nil {
		return err
	}
	conn := t.conn
	if conn.Spec.Auth.JWTBearer == nil || !conn.Spec.Auth.JWTBearer.GenerateKey {
		return fmt.Errorf("%s does not generate its JWT key (spec.auth.jwtBearer.generateKey): its private key and certificate are yours; see docs/onboarding.md", ref)
	}
	// The view of a cluster connection lives in the cluster resource namespace, and names
	// its objects as the operator does.
	cmName := authflow.CertificateConfigMapName(conn)
	if st := conn.Status.JWTCertificate; st != nil && st.ConfigMapName != "" {
		cmName = st.ConfigMapName
	}
	var cm corev1.ConfigMap
	err = c.Get(ctx, types.NamespacedName{Namespace: conn.Namespace, Name: cmName}, &cm)
	switch {
	case apierrors.IsNotFound(err) && ref.cluster:
		return notFoundInHome("the certificate ConfigMap of "+ref.String(), conn.Namespace, cmName)
	case apierrors.IsNotFound(err):
		return fmt.Errorf("ConfigMap %s/%s is not published yet: is the operator running? (kubectl sfconn status %s)", conn.Namespace, cmName, ref.kubectlArgs())
	case apierrors.IsForbidden(err) && ref.cluster:
		return forbiddenInHome("ConfigMap", conn.Namespace, cmName, err)
	case err != nil:
		return describeAPIError(err)
	}
	out := env.Streams.Out
	fmt.Fprintf(out, "%s\n", strings.TrimRight(cm.Data["instructions.txt"], "\n"))
	if ready := meta.FindStatusCondition(conn.Status.Conditions, sfv1.ConditionReady); ready != nil {
		fmt.Fprintf(out, "\nNow: Ready=%s (%s): %s\n", ready.Status, ready.Reason, ready.Message)
	}
	fmt.Fprintf(out, "\nCertificate to upload (ConfigMap %s, key tls.crt):\n\n%s", cmName, cm.Data[corev1.TLSCertKey])
	if next := cm.Data["next.crt"]; next != "" {
		fmt.Fprintf(out, "\nThe next certificate (key next.crt), which replaces it; upload it when you are ready to switch:\n\n%s", next)
	}
	return nil
}

// Package kubectlplugin is the kubectl plugin kubectl-sfconn: commands that show the state of
// SalesforceConnections and ClusterSalesforceConnections, ask the operator for a renewal,
// and check a token against Salesforce. It reads and patches through the Kubernetes API with kubectl's connection
// flags, and never prints a token.
package kubectlplugin

import (
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

// Scheme holds the types the plugin reads: both kinds of connection, Secrets and ConfigMaps.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(corev1.AddToScheme(s))
	utilruntime.Must(sfv1.AddToScheme(s))
	return s
}

// Env is what the commands take from outside: the terminal, the cluster, the clock and the
// network. NewCommand fills in what is left empty; tests set their own.
type Env struct {
	Streams genericiooptions.IOStreams

	// ConfigFlags are kubectl's connection flags (--kubeconfig, --context, -n, ...).
	// Default: genericclioptions.NewConfigFlags(true).
	ConfigFlags *genericclioptions.ConfigFlags

	// NewClient returns a client for the cluster. Default: one made from ConfigFlags.
	NewClient func() (client.Client, error)

	// Namespace returns the namespace to work in: -n, else the kubeconfig context's, else
	// "default". Default: from ConfigFlags.
	Namespace func() (string, error)

	// Clock gives the current time and the waits between polls. Default: the real clock.
	Clock clock.Clock

	// Transport carries the calls to Salesforce. Default: nil, the Salesforce client's own
	// (a clone of http.DefaultTransport, so it honours HTTPS_PROXY, that requires TLS 1.2).
	Transport http.RoundTripper

	// PollInterval is how often renew --wait reads the connection. Default: 1s.
	PollInterval time.Duration
}

// subcommands are the commands of kubectl sfconn; a new one is a constructor added here.
var subcommands = []func(*Env) *cobra.Command{
	newStatusCommand,
	newRenewCommand,
	newTestCommand,
	newAdminInstructionsCommand,
}

// NewCommand returns the root command, kubectl sfconn.
func NewCommand(env Env) *cobra.Command {
	e := env.complete()
	cmd := &cobra.Command{
		Use:   "sfconn",
		Short: "Inspect Salesforce connections, renew their tokens and test them against Salesforce",
		Long: "kubectl sfconn works with the SalesforceConnections of the sfconn operator, and its\n" +
			"ClusterSalesforceConnections, named csfconn/NAME:\n" +
			"  status  shows whether each token is good, when it expires and when it is renewed\n" +
			"  renew   asks the operator to renew a token now\n" +
			"  test    calls Salesforce with a connection's token and shows the org's API limits\n" +
			"  admin-instructions  prints a Salesforce admin's steps for a generated JWT key\n" +
			"No command prints a token.",
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl sfconn"},
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	cmd.SetIn(e.Streams.In)
	cmd.SetOut(e.Streams.Out)
	cmd.SetErr(e.Streams.ErrOut)
	e.ConfigFlags.AddFlags(cmd.PersistentFlags())
	for _, sub := range subcommands {
		cmd.AddCommand(sub(e))
	}
	return cmd
}

func (env Env) complete() *Env {
	e := env
	if e.ConfigFlags == nil {
		e.ConfigFlags = genericclioptions.NewConfigFlags(true)
	}
	flags := e.ConfigFlags
	if e.NewClient == nil {
		e.NewClient = func() (client.Client, error) {
			cfg, err := flags.ToRESTConfig()
			if err != nil {
				return nil, err
			}
			return client.New(cfg, client.Options{Scheme: Scheme()})
		}
	}
	if e.Namespace == nil {
		e.Namespace = func() (string, error) {
			ns, _, err := flags.ToRawKubeConfigLoader().Namespace()
			return ns, err
		}
	}
	if e.Clock == nil {
		e.Clock = clock.RealClock{}
	}
	if e.PollInterval <= 0 {
		e.PollInterval = time.Second
	}
	if e.Streams.Out != nil {
		e.Streams.Out = printableWriter{e.Streams.Out}
	}
	if e.Streams.ErrOut != nil {
		e.Streams.ErrOut = printableWriter{e.Streams.ErrOut}
	}
	return &e
}

// clientAndNamespace is what every command starts with.
func (e *Env) clientAndNamespace() (client.Client, string, error) {
	ns, err := e.Namespace()
	if err != nil {
		return nil, "", fmt.Errorf("finding the namespace: %w", err)
	}
	c, err := e.NewClient()
	if err != nil {
		return nil, "", fmt.Errorf("connecting to the cluster: %w", err)
	}
	return c, ns, nil
}

// Command kubectl-sfconn is the kubectl plugin of the sfconn operator: kubectl sfconn
// status, renew, test and admin-instructions, for SalesforceConnections and
// ClusterSalesforceConnections. Put it on PATH and kubectl finds it.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-logr/logr"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	_ "k8s.io/client-go/plugin/pkg/client/auth"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/sfconn/sfconn-operator/internal/kubectlplugin"
)

func main() {
	// controller-runtime's client logs nothing a user of the plugin needs; without a logger
	// it would complain after 30 seconds (a long renew --wait).
	ctrllog.SetLogger(logr.Discard())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	err := kubectlplugin.NewCommand(kubectlplugin.Env{Streams: streams}).ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "error: %s\n", kubectlplugin.Printable(err.Error()))
		os.Exit(1)
	}
}

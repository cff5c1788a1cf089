package kubectlplugin

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sfconn/sfconn-operator/internal/version"
)

// versionLine is what both kubectl sfconn version and kubectl sfconn --version print, so a
// bug report reads the same whichever a user typed.
func versionLine() string {
	return "kubectl-sfconn " + version.Get().String()
}

// newVersionCommand needs no cluster: it must work before a kubeconfig exists.
func newVersionCommand(_ *Env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the plugin's version, commit, Go version and platform",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), versionLine())
			return err
		},
	}
}

// setVersionFlag gives the root command --version, printing the same line as version.
func setVersionFlag(cmd *cobra.Command) {
	cmd.Version = versionLine()
	cmd.SetVersionTemplate("{{.Version}}\n")
}

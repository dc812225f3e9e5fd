// Package agnhostcmd is `portway agnhost`, the process the agent's runtime
// starts, inside a pod's namespaces, for a container whose image is agnhost.
package agnhostcmd

import (
	"github.com/spf13/cobra"

	"github.com/portway/portway/internal/agnhost"
)

// New returns the hidden agnhost command. Its flags belong to the agnhost
// subcommand, so cobra leaves them alone.
func New() *cobra.Command {
	return &cobra.Command{
		Use:                "agnhost SUBCOMMAND [flags]",
		Short:              "Run a subcommand of the e2e test image agnhost (serve-hostname, netexec, pause)",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return agnhost.Run(cmd.Context(), args, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
}

// Package shimcmd is `portway shim DIR`, the parent process of one
// container, started by the node agent (internal/agent/shim).
package shimcmd

import (
	"github.com/spf13/cobra"

	"github.com/portway/portway/internal/agent/shim"
)

// New returns the hidden shim command.
func New() *cobra.Command {
	return &cobra.Command{
		Use:    "shim DIR",
		Short:  "Run one container (started by the node agent)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE:   func(_ *cobra.Command, args []string) error { return shim.Run(args[0]) },
	}
}

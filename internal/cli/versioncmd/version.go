// Package versioncmd is `portway version`.
package versioncmd

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/portway/portway/internal/version"
)

// New returns the version command.
func New() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print portway's version and the Kubernetes API version it serves",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			info := version.Info()
			fmt.Fprintf(cmd.OutOrStdout(), "portway %s\nKubernetes API %s\n", version.Portway, info.GitVersion)
		},
	}
}

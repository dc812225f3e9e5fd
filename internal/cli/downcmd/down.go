// Package downcmd is `portway down`: stop a local cluster.
package downcmd

import (
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/portway/portway/internal/cli/server"
	"github.com/portway/portway/internal/cluster"
)

// New returns the down command.
func New() *cobra.Command {
	var name, dataDir string
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Stop the local cluster that 'portway up' runs, removing its nodes, pods and links",
		Long: `Stop the local cluster: the running 'portway up' of the data directory is
asked to tear down and waited for. With none running (it crashed), whatever
it left of the named cluster is removed: processes, network namespaces,
links. The cluster's objects stay in the data directory.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := filepath.Abs(dataDir)
			if err != nil {
				return err
			}
			return cluster.Down(cmd.Context(), name, dir)
		},
	}
	cmd.Flags().StringVar(&name, "name", cluster.DefaultName, "cluster name")
	cmd.Flags().StringVar(&dataDir, "data-dir", server.DefaultDataDir(), "the cluster's data directory")
	return cmd
}

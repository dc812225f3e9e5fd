// Package cli is portway's command tree: one sub-package per verb.
package cli

import (
	"flag"

	"github.com/spf13/cobra"
	"k8s.io/klog/v2"

	"github.com/portway/portway/internal/cli/agentcmd"
	"github.com/portway/portway/internal/cli/agnhostcmd"
	"github.com/portway/portway/internal/cli/downcmd"
	"github.com/portway/portway/internal/cli/server"
	"github.com/portway/portway/internal/cli/shimcmd"
	"github.com/portway/portway/internal/cli/upcmd"
	"github.com/portway/portway/internal/cli/versioncmd"
)

// New returns the root command.
func New() *cobra.Command {
	root := &cobra.Command{
		Use:           "portway",
		Short:         "Kubernetes Services, for real, on one machine",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// klog's -v sets how much the control plane logs.
	klogFlags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(klogFlags)
	root.PersistentFlags().AddGoFlag(klogFlags.Lookup("v"))
	root.AddCommand(upcmd.New(), downcmd.New(), server.New(), agentcmd.New(), versioncmd.New(),
		shimcmd.New(), agnhostcmd.New())
	return root
}

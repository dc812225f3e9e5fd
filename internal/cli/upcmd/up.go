// Package upcmd is `portway up`: a local cluster (internal/cluster).
package upcmd

import (
	"fmt"
	"net"
	"os"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/portway/portway/internal/cli/server"
	"github.com/portway/portway/internal/cluster"
)

type flagpole struct {
	server.ControlPlane
	name    string
	nodes   int
	network string
}

// New returns the up command.
func New() *cobra.Command {
	f := &flagpole{}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run a local cluster: the control plane and N nodes, until Ctrl-C",
		Long: `Run a whole cluster on this machine, in the foreground: the control plane,
a bridge (pw0, 172.18.0.1/16) and one network namespace per node with a
portway agent in it. Pods run as processes in namespaces of their own.
Ctrl-C (or 'portway down') removes every namespace, link and process it
made; the cluster's objects stay in the data directory for the next 'up'.
Needs root (it creates network namespaces and links).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return f.run(cmd) },
	}
	fl := cmd.Flags()
	f.AddFlags(fl)
	fl.StringVar(&f.name, "name", cluster.DefaultName, "cluster name: prefixes every namespace and link it makes, so clusters can run side by side")
	fl.IntVar(&f.nodes, "nodes", 2, "number of nodes")
	fl.StringVar(&f.network, "node-network", "172.18.0.0/16", "node network: the bridge gets its first address, nodes the following ones")
	return cmd
}

func (f *flagpole) run(cmd *cobra.Command) error {
	o, err := f.Options()
	if err != nil {
		return err
	}
	_, network, err := net.ParseCIDR(f.network)
	if err != nil || network.IP.To4() == nil {
		return fmt.Errorf("--node-network %q: not an IPv4 CIDR", f.network)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	verbosity := 0
	if v := cmd.Flag("v"); v != nil {
		verbosity, _ = strconv.Atoi(v.Value.String())
	}
	return cluster.Up(cmd.Context(), cluster.Config{
		Name: f.name, Nodes: f.nodes, Network: network, Server: o, Self: self, Verbosity: verbosity,
	}, cmd.OutOrStdout())
}

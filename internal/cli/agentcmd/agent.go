// Package agentcmd is `portway agent`: the node agent, on a node of a
// local cluster (started by `portway up`) or on a host of its own.
package agentcmd

import (
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/portway/portway/internal/agent"
	"github.com/portway/portway/internal/agent/proxy"
)

type flagpole struct {
	kubeconfig string
	server     string
	nodeName   string
	nodeIP     string
	port       int
	rootDir    string
	cniBinDirs []string
	proxyOnly  bool
	proxy      agent.ProxyConfig
}

// New returns the agent command.
func New() *cobra.Command {
	f := &flagpole{}
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run a node agent: register a Node and run the pods bound to it",
		Long: `Run a node agent, as a kubelet: register the Node, renew its Lease, run
the pods the scheduler binds to it (processes in their own network
namespaces, wired by the CNI plugins), route other nodes' pod CIDRs, and
serve container logs to the API server on --port, and proxy Services as
kube-proxy does (nftables table "portway"; --proxy-only runs just that).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return f.run(cmd) },
	}
	host, _ := os.Hostname()
	fl := cmd.Flags()
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig of the API server (required)")
	fl.StringVar(&f.server, "server", "", "API server URL, overriding the kubeconfig's")
	fl.StringVar(&f.nodeName, "node-name", host, "name of the Node")
	fl.StringVar(&f.nodeIP, "node-ip", "", "the node's InternalIP (default: the address of the default route)")
	fl.IntVar(&f.port, "port", 10250, "port of the agent's HTTPS endpoint (container logs)")
	fl.StringVar(&f.rootDir, "root-dir", "/var/lib/portway/agent", "directory for pod state and container logs")
	fl.StringSliceVar(&f.cniBinDirs, "cni-bin-dir", agent.DefaultCNIBinDirs, "directories holding the CNI plugins")
	fl.BoolVar(&f.proxyOnly, "proxy-only", false, "run only the service proxy, as kube-proxy (no Node, pods or routes; needs to list and watch services and endpointslices)")
	fl.StringVar(&f.proxy.ClusterCIDR, "cluster-cidr", proxy.DefaultClusterCIDR, "the pods' range: traffic to a ClusterIP from outside it is masqueraded")
	fl.StringVar(&f.proxy.MetricsAddr, "metrics-bind-address", proxy.DefaultMetricsBindAddress, "address of the proxy's Prometheus /metrics (plain HTTP; empty: off)")
	fl.StringVar(&f.proxy.HealthzAddr, "healthz-bind-address", proxy.DefaultHealthzBindAddress, "address of the proxy's /healthz (plain HTTP; empty: off)")
	_ = cmd.MarkFlagRequired("kubeconfig")
	return cmd
}

func (f *flagpole) run(cmd *cobra.Command) error {
	if f.proxyOnly {
		return agent.RunProxy(cmd.Context(), agent.Config{Kubeconfig: f.kubeconfig, Server: f.server,
			NodeName: f.nodeName, Proxy: f.proxy})
	}
	var ip net.IP
	if f.nodeIP != "" {
		if ip = net.ParseIP(f.nodeIP).To4(); ip == nil {
			return fmt.Errorf("--node-ip %q is not an IPv4 address", f.nodeIP)
		}
	}
	root, err := filepath.Abs(f.rootDir)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	return agent.Run(cmd.Context(), agent.Config{
		Kubeconfig: f.kubeconfig, Server: f.server, NodeName: f.nodeName, NodeIP: ip,
		Port: f.port, Root: root, CNIBinDirs: f.cniBinDirs, Self: self, Proxy: f.proxy,
	})
}

// Package server is `portway server`: the control plane alone.
package server

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/portway/portway/internal/allocator"
	"github.com/portway/portway/internal/apiserver"
)

// ControlPlane are the control plane's flags, shared by `server` and `up`.
type ControlPlane struct {
	dataDir        string
	etcdServers    []string
	etcdCA         string
	etcdCert       string
	etcdKey        string
	serviceIPRange string
	nodePortRange  string
	clusterCIDR    string
	nodeCIDRMask   int
	unsafeNoFsync  bool
	nodeGrace      time.Duration
}

type flagpole struct {
	ControlPlane
	listen    string
	advertise string
}

// DefaultDataDir is ~/.portway.
func DefaultDataDir() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ".portway"
	}
	return filepath.Join(home, ".portway")
}

// New returns the server command.
func New() *cobra.Command {
	f := &flagpole{}
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the control plane: a Kubernetes API server on etcd",
		Long: `Run the control plane: the Kubernetes API (core/v1, discovery.k8s.io/v1,
coordination.k8s.io/v1) over HTTPS, state in an embedded etcd in the data
directory or in an external etcd cluster (--etcd-servers). The admin
kubeconfig is written to DATA_DIR/kubeconfig.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return f.run(cmd) },
	}
	fl := cmd.Flags()
	f.AddFlags(fl)
	fl.StringVar(&f.listen, "listen", "127.0.0.1:6443", "address:port to serve the API on (HTTPS)")
	fl.StringVar(&f.advertise, "advertise-address", "", "address clients and the kubernetes Service use to reach the API (default: the --listen address)")
	return cmd
}

// AddFlags adds the control plane's flags to fl.
func (f *ControlPlane) AddFlags(fl *pflag.FlagSet) {
	fl.StringVar(&f.dataDir, "data-dir", DefaultDataDir(), "directory for certificates, kubeconfig, logs and the embedded etcd")
	fl.StringSliceVar(&f.etcdServers, "etcd-servers", nil, "client URLs of an external etcd cluster; the embedded etcd is used when empty")
	fl.StringVar(&f.etcdCA, "etcd-cafile", "", "CA bundle to verify the external etcd's serving certificates")
	fl.StringVar(&f.etcdCert, "etcd-certfile", "", "client certificate for the external etcd")
	fl.StringVar(&f.etcdKey, "etcd-keyfile", "", "client key for the external etcd")
	fl.StringVar(&f.serviceIPRange, "service-cluster-ip-range", "10.96.0.0/12", "CIDR that ClusterIPs are allocated from")
	fl.StringVar(&f.nodePortRange, "service-node-port-range", "30000-32767", "range nodePorts and healthCheckNodePorts are allocated from")
	fl.StringVar(&f.clusterCIDR, "cluster-cidr", "10.244.0.0/16", "CIDR that nodes' pod CIDRs are cut from")
	fl.IntVar(&f.nodeCIDRMask, "node-cidr-mask-size", 24, "prefix length of each node's pod CIDR")
	fl.DurationVar(&f.nodeGrace, "node-monitor-grace-period", 40*time.Second, "how long a node may go without renewing its Lease or posting status before it is marked not ready and tainted")
	fl.BoolVar(&f.unsafeNoFsync, "unsafe-no-fsync", false, "embedded etcd skips fsync: faster, but a machine crash can lose recent writes (tests and benchmarks only)")
}

// gcPercent is the server's GOGC unless the environment sets one. Its heap
// is mostly long-lived caches (watch caches, informers), so Go's default of
// growing to twice the live heap before collecting mostly buys RSS: with 10k
// ConfigMaps 50 gives ~140 instead of 161 MiB, with 10k Services ~360
// instead of 471 MiB, with no better create latency at 100
// (bench/controlplane -gogc 100).
const gcPercent = 50

func (f *flagpole) run(cmd *cobra.Command) error {
	o, err := f.Options()
	if err != nil {
		return err
	}
	o.Listen = f.listen
	if f.advertise != "" {
		if o.AdvertiseAddress = net.ParseIP(f.advertise); o.AdvertiseAddress == nil {
			return fmt.Errorf("--advertise-address %q is not an IP address", f.advertise)
		}
	}
	start := time.Now()
	out := cmd.OutOrStdout()
	return apiserver.Run(cmd.Context(), o, func() {
		fmt.Fprintf(out, "portway control plane ready in %s at https://%s\n", time.Since(start).Round(time.Millisecond), f.listen)
		fmt.Fprintf(out, "export KUBECONFIG=%s\n", o.KubeconfigPath())
	})
}

// Options checks the flags and returns the control plane's options, with
// the data directory made; the caller sets where to listen. It also sets
// the process's GC target (see gcPercent).
func (f *ControlPlane) Options() (apiserver.Options, error) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	_, ipRange, err := net.ParseCIDR(f.serviceIPRange)
	if err != nil {
		return apiserver.Options{}, fmt.Errorf("--service-cluster-ip-range: %w", err)
	}
	nodePorts, err := allocator.ParsePortRange(f.nodePortRange)
	if err != nil {
		return apiserver.Options{}, fmt.Errorf("--service-node-port-range: %w", err)
	}
	_, clusterCIDR, err := net.ParseCIDR(f.clusterCIDR)
	if err != nil {
		return apiserver.Options{}, fmt.Errorf("--cluster-cidr: %w", err)
	}
	podSubnets, err := allocator.NewSubnetRange(clusterCIDR, f.nodeCIDRMask)
	if err != nil {
		return apiserver.Options{}, fmt.Errorf("--cluster-cidr/--node-cidr-mask-size: %w", err)
	}
	if f.nodeGrace <= 0 {
		return apiserver.Options{}, fmt.Errorf("--node-monitor-grace-period must be positive, not %s", f.nodeGrace)
	}
	dataDir, err := filepath.Abs(f.dataDir)
	if err != nil {
		return apiserver.Options{}, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return apiserver.Options{}, err
	}
	return apiserver.Options{
		DataDir:                dataDir,
		EtcdServers:            f.etcdServers,
		EtcdCAFile:             f.etcdCA,
		EtcdCertFile:           f.etcdCert,
		EtcdKeyFile:            f.etcdKey,
		UnsafeNoFsync:          f.unsafeNoFsync,
		ServiceClusterIPRange:  ipRange,
		NodePortRange:          nodePorts,
		PodSubnets:             podSubnets,
		NodeMonitorGracePeriod: f.nodeGrace,
	}, nil
}

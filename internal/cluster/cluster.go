// Package cluster is `portway up` and `portway down`: a whole cluster on
// one machine. The control plane runs in the `up` process; the node
// network is a bridge (pw0, 172.18.0.1/16) with one network namespace per
// node joined to it by a veth (172.18.0.2, .3, ...); a `portway agent` runs
// in each node's namespace and the pods below it. The host routes every
// node's pod CIDR via the node, as the nodes route each other's (host-gw),
// so pods are reachable from the host and reach the API server.
//
// Everything made carries the cluster's name: the namespaces NAME-nodeN
// and their pods' NAME-nodeN_..., the bridge and its veths. Tearing down
// (Ctrl-C, `portway down`, or the next `up` after a crash) kills every
// process in those namespaces and removes them and the links. The
// cluster's state (etcd, certificates) stays in the data directory, so
// the next `up` brings back its objects and the agents restart its pods.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"github.com/portway/portway/internal/agent"
	"github.com/portway/portway/internal/agent/hostgw"
	"github.com/portway/portway/internal/apiserver"
	"github.com/portway/portway/internal/apiserver/authn"
	"github.com/portway/portway/internal/nodeinfo"
)

// Config describes a local cluster.
type Config struct {
	Name  string
	Nodes int
	// Network is the node network; its first address is the bridge's (and
	// the API server's), the nodes get the following ones.
	Network *net.IPNet
	// Server configures the control plane; DataDir, Listen and
	// AdvertiseAddress are set by Up.
	Server apiserver.Options
	// Self is the portway binary the agents run.
	Self string
	// Verbosity is passed on to the agents' -v.
	Verbosity int
}

// DefaultName is the cluster name unless --name says otherwise.
const DefaultName = "portway"

var validName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,9}$`)

// Validate checks the name and sizes.
func (c *Config) Validate() error {
	if !validName.MatchString(c.Name) {
		return fmt.Errorf("--name %q: must be 1-10 lowercase letters, digits or '-', starting with a letter (it prefixes link names, which are short)", c.Name)
	}
	if c.Nodes < 1 || c.Nodes > 99 {
		return fmt.Errorf("--nodes %d: must be between 1 and 99", c.Nodes)
	}
	if os.Geteuid() != 0 {
		return errors.New("portway up needs root: it creates network namespaces, links and routes")
	}
	for _, plugin := range []string{"bridge", "host-local", "loopback"} {
		if !hasCNIPlugin(plugin) {
			return fmt.Errorf("CNI plugin %q not found in %v: install the CNI plugins (Debian/Ubuntu: apt-get install containernetworking-plugins)", plugin, agent.DefaultCNIBinDirs)
		}
	}
	ones, bits := c.Network.Mask.Size()
	if bits != 32 || ones > 30 || 1<<(bits-ones) < c.Nodes+3 {
		return fmt.Errorf("--node-network %s: too small for %d nodes", c.Network, c.Nodes)
	}
	return nil
}

func hasCNIPlugin(name string) bool {
	for _, d := range agent.DefaultCNIBinDirs {
		if fi, err := os.Stat(filepath.Join(d, name)); err == nil && fi.Mode()&0o111 != 0 {
			return true
		}
	}
	return false
}

// names of what a cluster makes.
type names struct{ cluster string }

func (n names) bridge() string {
	if n.cluster == DefaultName {
		return "pw0"
	}
	return n.cluster + "0"
}

func (n names) node(i int) string { return fmt.Sprintf("%s-node%d", n.cluster, i) }
func (n names) veth(i int) string { return fmt.Sprintf("%s-n%d", n.bridge(), i) }

// nodeIP is the i-th node's address (1-based): the network's (i+1)-th.
func nodeIP(network *net.IPNet, i int) *net.IPNet {
	ip := make(net.IP, 4)
	copy(ip, network.IP.To4())
	v := uint32(ip[0])<<24 | uint32(ip[1])<<16 | uint32(ip[2])<<8 | uint32(ip[3])
	v += uint32(i + 1)
	return &net.IPNet{IP: net.IPv4(byte(v>>24), byte(v>>16), byte(v>>8), byte(v)).To4(), Mask: network.Mask}
}

// paths inside the data directory.
func pidFile(dataDir string) string        { return filepath.Join(dataDir, "up.pid") }
func nodeDir(dataDir, node string) string  { return filepath.Join(dataDir, "nodes", node) }
func agentLog(dataDir, node string) string { return filepath.Join(dataDir, "logs", node+".log") }
func nodeKubeconfig(dataDir, node string) string {
	return filepath.Join(nodeDir(dataDir, node), "kubeconfig")
}

// Up runs the cluster until ctx ends, then tears it down. ready is called
// with the nodes' names and addresses once every node is Ready.
func Up(ctx context.Context, c Config, out io.Writer) error {
	if err := c.Validate(); err != nil {
		return err
	}
	start := time.Now()
	log := klog.FromContext(ctx)
	n := names{c.Name}
	dataDir := c.Server.DataDir
	if err := os.MkdirAll(filepath.Join(dataDir, "logs"), 0o700); err != nil {
		return err
	}
	if err := claimPidFile(dataDir); err != nil {
		return err
	}
	defer os.Remove(pidFile(dataDir))
	if err := Clean(c.Name, dataDir); err != nil {
		return fmt.Errorf("removing what an earlier run left: %w", err)
	}
	defer func() {
		if err := Clean(c.Name, dataDir); err != nil {
			log.Error(err, "tearing down")
		}
	}()
	gw := nodeIP(c.Network, 0)
	if err := createBridge(n.bridge(), gw); err != nil {
		return err
	}

	// The control plane, on the bridge's address so that nodes reach it.
	srvCtx, stopServer := context.WithCancel(context.WithoutCancel(ctx))
	defer stopServer()
	o := c.Server
	o.Listen = net.JoinHostPort(gw.IP.String(), "6443")
	o.AdvertiseAddress = gw.IP
	ready := make(chan struct{})
	srvDone := make(chan error, 1)
	go func() { srvDone <- apiserver.Run(srvCtx, o, func() { close(ready) }) }()
	select {
	case <-ready:
	case err := <-srvDone:
		return fmt.Errorf("control plane: %w", err)
	case <-ctx.Done():
		return nil
	}
	defer func() {
		stopServer()
		<-srvDone
	}()
	restCfg, err := clientcmd.BuildConfigFromFlags("", o.KubeconfigPath())
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return err
	}
	// The host routes pod CIDRs too: it is a peer on the node network.
	factory := informers.NewSharedInformerFactory(client, 10*time.Minute)
	if err := hostgw.New("").Start(ctx, factory); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()

	pki := authn.PKI{Dir: filepath.Join(dataDir, "pki")}
	server := "https://" + o.Listen
	var agents []*exec.Cmd
	defer func() { stopAgents(agents) }()
	for i := 1; i <= c.Nodes; i++ {
		name := n.node(i)
		ip := nodeIP(c.Network, i)
		if err := createNode(name, n.veth(i), n.bridge(), ip, gw.IP); err != nil {
			return fmt.Errorf("node %s: %w", name, err)
		}
		if err := os.MkdirAll(nodeDir(dataDir, name), 0o700); err != nil {
			return err
		}
		if err := pki.WriteNodeKubeconfig(nodeKubeconfig(dataDir, name), name, server); err != nil {
			return err
		}
		cmd, err := c.startAgent(name, ip.IP)
		if err != nil {
			return fmt.Errorf("node %s: starting its agent: %w", name, err)
		}
		agents = append(agents, cmd)
	}
	nodes, err := waitReady(ctx, client, n, c.Nodes, dataDir)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	fmt.Fprintf(out, "portway cluster %q up in %s: control plane at %s\n", c.Name, time.Since(start).Round(time.Millisecond), server)
	for _, nd := range nodes {
		fmt.Fprintf(out, "  node %-16s %-15s pods %s\n", nd.Name, nodeinfo.InternalIP(nd), nd.Spec.PodCIDR)
	}
	fmt.Fprintf(out, "export KUBECONFIG=%s\n", o.KubeconfigPath())
	fmt.Fprintln(out, "Ctrl-C (or `portway down`) removes the nodes, pods and links.")
	select {
	case <-ctx.Done():
	case err := <-srvDone:
		srvDone <- err
		return fmt.Errorf("control plane stopped: %w", err)
	}
	fmt.Fprintln(out, "tearing down")
	return nil
}

// startAgent starts the node's agent in the node's network namespace.
func (c Config) startAgent(node string, ip net.IP) (*exec.Cmd, error) {
	dataDir := c.Server.DataDir
	return launchAgent(dataDir, node, []string{c.Self, "agent",
		"--kubeconfig", nodeKubeconfig(dataDir, node),
		"--node-name", node,
		"--node-ip", ip.String(),
		"--root-dir", filepath.Join(nodeDir(dataDir, node), "agent"),
		"--cluster-cidr", c.Server.PodSubnets.CIDR().String(),
		"-v", strconv.Itoa(c.Verbosity)})
}

// stopAgents asks the agents to stop and waits a little for them.
func stopAgents(agents []*exec.Cmd) {
	for _, a := range agents {
		_ = a.Process.Signal(syscall.SIGTERM)
	}
	for _, a := range agents {
		done := make(chan struct{})
		go func() { _ = a.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = a.Process.Kill()
			<-done
		}
	}
}

// waitReady waits until the cluster's nodes are all Ready.
func waitReady(ctx context.Context, client kubernetes.Interface, n names, count int, dataDir string) ([]*corev1.Node, error) {
	var nodes []*corev1.Node
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		nodes = nodes[:0]
		for i := 1; i <= count; i++ {
			nd, err := client.CoreV1().Nodes().Get(ctx, n.node(i), metav1.GetOptions{})
			if err != nil || !nodeinfo.Ready(nd) || nd.Spec.PodCIDR == "" {
				return false, nil
			}
			nodes = append(nodes, nd)
		}
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("waiting for the nodes to be Ready (their agents log to %s): %w", filepath.Join(dataDir, "logs"), err)
	}
	return nodes, nil
}

// claimPidFile records this process as the data directory's `up`, unless a
// live one already is.
func claimPidFile(dataDir string) error {
	if pid := runningUp(dataDir); pid > 0 {
		return fmt.Errorf("a portway up (pid %d) is already running with data directory %s", pid, dataDir)
	}
	return os.WriteFile(pidFile(dataDir), []byte(strconv.Itoa(os.Getpid())), 0o600)
}

// runningUp returns the pid of a live `up` of the data directory, or 0.
func runningUp(dataDir string) int {
	b, err := os.ReadFile(pidFile(dataDir))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(string(b))
	if pid <= 0 || pid == os.Getpid() {
		return 0
	}
	if err := syscall.Kill(pid, 0); err != nil {
		return 0
	}
	return pid
}

// Down stops the data directory's running `up` (which tears its cluster
// down) and waits for it; with none running it removes whatever a crashed
// one left of the named cluster.
func Down(ctx context.Context, name, dataDir string) error {
	pid := runningUp(dataDir)
	if pid == 0 {
		return Clean(name, dataDir)
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return err
	}
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		return syscall.Kill(pid, 0) != nil, nil
	})
	if err != nil {
		return errors.New("portway up did not stop within a minute")
	}
	return nil
}

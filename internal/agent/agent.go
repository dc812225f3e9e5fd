// Package agent wires the node agent together: a client of the API server
// (any Kubernetes API server), the Node and its Lease, the pod runtime,
// host-gw routes to other nodes' pods, and the HTTPS endpoint the API
// server proxies logs, exec, attach and port-forward through.
package agent

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	certutil "k8s.io/client-go/util/cert"
	"k8s.io/klog/v2"

	"github.com/portway/portway/internal/agent/hostgw"
	"github.com/portway/portway/internal/agent/node"
	"github.com/portway/portway/internal/agent/proxy"
	"github.com/portway/portway/internal/agent/runtime"
	"github.com/portway/portway/internal/agent/server"
	"github.com/portway/portway/internal/agent/shim"
	"github.com/portway/portway/internal/trim"
	"github.com/portway/portway/internal/version"
)

// DefaultCNIBinDirs are where the CNI plugins are looked for: Debian's
// containernetworking-plugins, then the upstream release's place.
var DefaultCNIBinDirs = []string{"/usr/lib/cni", "/opt/cni/bin"}

// Config configures an agent.
type Config struct {
	Kubeconfig string
	// Server, when set, overrides the kubeconfig's server URL.
	Server   string
	NodeName string
	// NodeIP is the node's InternalIP; found from the routes when nil.
	NodeIP     net.IP
	Port       int
	Root       string
	CNIBinDirs []string
	// Self is the portway binary (the shim and built-in images run it).
	Self string
	// Proxy configures the service proxy (kube-proxy's job).
	Proxy ProxyConfig
}

// ProxyConfig configures the agent's service proxy.
type ProxyConfig struct {
	// ClusterCIDR is the pods' range (default proxy.DefaultClusterCIDR).
	ClusterCIDR string
	// MetricsAddr and HealthzAddr serve /metrics and /healthz in plain
	// HTTP, as kube-proxy's --metrics-bind-address and
	// --healthz-bind-address; empty is not served.
	MetricsAddr, HealthzAddr string
}

// Run runs the agent until ctx ends. Pods keep running after it returns.
func Run(ctx context.Context, cfg Config) error {
	log := klog.FromContext(ctx).WithValues("node", cfg.NodeName)
	ctx = klog.NewContext(ctx, log)
	// The kubelet's kubeAPIQPS and kubeAPIBurst. Under client-go's own 5
	// and 10, a node starting 100 pods at once queued their statuses,
	// events and token requests.
	restCfg, client, err := newClient(cfg, "kubelet", 50, 100)
	if err != nil {
		return err
	}
	if cfg.NodeIP == nil {
		if cfg.NodeIP, err = defaultIP(); err != nil {
			return err
		}
	}
	n := node.New(client, node.Config{Name: cfg.NodeName, IP: cfg.NodeIP, Port: int32(cfg.Port),
		RecursiveReadOnlyMounts: shim.RecursiveReadOnlySupported()})
	if err := n.Register(ctx); err != nil {
		return err
	}
	podCIDR, err := waitForPodCIDR(ctx, client, cfg.NodeName)
	if err != nil {
		return err
	}
	log.Info("node registered", "ip", cfg.NodeIP, "podCIDR", podCIDR)

	rt, err := runtime.New(runtime.Config{NodeName: cfg.NodeName, NodeIP: cfg.NodeIP.String(), PodCIDR: podCIDR,
		Root: cfg.Root, CNIBinDirs: cfg.CNIBinDirs, Self: cfg.Self}, client)
	if err != nil {
		return err
	}
	podsFactory := runtime.PodsFactory(client, cfg.NodeName)
	factory := informers.NewSharedInformerFactoryWithOptions(client, 10*time.Minute, informers.WithTransform(trim.ManagedFields))
	if err := hostgw.New(cfg.NodeName).Start(ctx, factory); err != nil {
		return err
	}
	if err := rt.Start(ctx, podsFactory, factory); err != nil {
		return err
	}
	px, err := startProxy(ctx, cfg.NodeName, cfg.Proxy, factory)
	if err != nil {
		return err
	}
	podsFactory.Start(ctx.Done())
	factory.Start(ctx.Done())

	ca, err := clientCA(restCfg)
	if err != nil {
		return err
	}
	srv := &server.Server{Addr: net.JoinHostPort(cfg.NodeIP.String(), strconv.Itoa(cfg.Port)), ClientCA: ca, Logs: rt, Streams: rt}
	errc := make(chan error, 1)
	go func() { errc <- srv.Run(ctx) }()
	go n.Run(ctx)
	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	rt.Wait()
	px.Wait()
	podsFactory.Shutdown()
	factory.Shutdown()
	return err
}

// startProxy sets the node's sysctls for the service proxy, registers it
// on factory (before it starts) and runs it, with its metrics and health
// endpoints, until ctx ends; Wait then waits for it to remove its table.
func startProxy(ctx context.Context, nodeName string, cfg ProxyConfig, factory informers.SharedInformerFactory) (*proxy.Running, error) {
	if err := proxy.EnsureSysctls(klog.FromContext(ctx)); err != nil {
		return nil, err
	}
	p, err := proxy.New(proxy.Config{NodeName: nodeName, ClusterCIDR: cfg.ClusterCIDR})
	if err != nil {
		return nil, err
	}
	if err := p.Register(factory); err != nil {
		return nil, err
	}
	return p.Start(ctx, cfg.MetricsAddr, cfg.HealthzAddr), nil
}

// newClient is a client of the API server the kubeconfig (and --server)
// name, with the user agent of the Kubernetes component it stands for, so
// the objects it writes carry that field manager, and that component's
// default rate limits.
func newClient(cfg Config, component string, qps float32, burst int) (*rest.Config, kubernetes.Interface, error) {
	restCfg, err := clientcmd.BuildConfigFromFlags(cfg.Server, cfg.Kubeconfig)
	if err != nil {
		return nil, nil, err
	}
	restCfg.QPS, restCfg.Burst = qps, burst
	v := version.Info()
	restCfg.UserAgent = fmt.Sprintf("%s/%s (%s) kubernetes/%s", component, v.GitVersion, v.Platform, "portway")
	// Protobuf, as kubelet and kube-proxy speak by default.
	restCfg.ContentType = "application/vnd.kubernetes.protobuf"
	client, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return nil, nil, err
	}
	return restCfg, client, nil
}

// waitForPodCIDR waits for the control plane's node IPAM to give the node
// its pod CIDR.
func waitForPodCIDR(ctx context.Context, client kubernetes.Interface, name string) (string, error) {
	var cidr string
	err := wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		n, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		cidr = n.Spec.PodCIDR
		return cidr != "", nil
	})
	if err != nil {
		return "", fmt.Errorf("node %s got no pod CIDR (is node IPAM on, with --cluster-cidr?): %w", name, err)
	}
	return cidr, nil
}

// clientCA is the CA the API server's certificates come from: the cluster
// CA in the kubeconfig.
func clientCA(c *rest.Config) (*x509.CertPool, error) {
	if len(c.CAData) > 0 {
		return certutil.NewPoolFromBytes(c.CAData)
	}
	if c.CAFile != "" {
		return certutil.NewPool(c.CAFile)
	}
	return nil, errors.New("the kubeconfig names no certificate authority; the agent needs it to know the API server's client certificate")
}

// defaultIP is the node's address: the source address of its default
// route, else its first global IPv4 address.
func defaultIP() (net.IP, error) {
	if conn, err := net.Dial("udp4", "192.0.2.1:9"); err == nil {
		// No packet is sent: connecting a UDP socket only picks a route.
		defer conn.Close()
		return conn.LocalAddr().(*net.UDPAddr).IP, nil
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && ipn.IP.IsGlobalUnicast() {
			return ipn.IP, nil
		}
	}
	return nil, errors.New("no IPv4 address found for the node; give one with --node-ip")
}

package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/containernetworking/cni/libcni"
	cnitypes100 "github.com/containernetworking/cni/pkg/types/100"
	corev1 "k8s.io/api/core/v1"

	"github.com/portway/portway/internal/namespaces"
)

// sandbox is a pod's network namespace, wired by CNI, and the files its
// containers see as /etc/hosts and /etc/resolv.conf.
type sandbox struct {
	// Netns is the name of the namespace in /var/run/netns, so that
	// `ip netns exec NAME ...` enters a pod.
	Netns string `json:"netns"`
	IP    string `json:"ip"`
}

func (s *sandbox) path() string { return namespaces.Path(s.Netns) }

// cniNetwork is the pod network of one node: a bridge in the node's
// namespace with the node's pod CIDR, pods attached by veth, the bridge the
// pods' gateway. hairpinMode lets a pod reach itself through a Service.
func cniNetwork(podCIDR, dataDir string) ([]byte, error) {
	conf := map[string]any{
		"cniVersion": "1.0.0",
		"name":       "portway",
		"plugins": []any{map[string]any{
			"type":             "bridge",
			"bridge":           "cni0",
			"isDefaultGateway": true,
			"hairpinMode":      true,
			"ipam": map[string]any{
				"type":    "host-local",
				"ranges":  [][]map[string]string{{{"subnet": podCIDR}}},
				"dataDir": dataDir,
			},
		}},
	}
	return json.Marshal(conf)
}

var loopbackNetwork = []byte(`{"cniVersion":"1.0.0","name":"portway-lo","plugins":[{"type":"loopback"}]}`)

// network runs the CNI plugins for pods.
type network struct {
	cni      *libcni.CNIConfig
	pods, lo *libcni.NetworkConfigList
}

func newNetwork(binDirs []string, cacheDir, podCIDR, ipamDir string) (*network, error) {
	b, err := cniNetwork(podCIDR, ipamDir)
	if err != nil {
		return nil, err
	}
	pods, err := libcni.ConfListFromBytes(b)
	if err != nil {
		return nil, err
	}
	lo, err := libcni.ConfListFromBytes(loopbackNetwork)
	if err != nil {
		return nil, err
	}
	return &network{cni: libcni.NewCNIConfigWithCacheDir(binDirs, cacheDir, nil), pods: pods, lo: lo}, nil
}

func runtimeConf(pod *corev1.Pod, s *sandbox, ifName string) *libcni.RuntimeConf {
	return &libcni.RuntimeConf{
		ContainerID: string(pod.UID),
		NetNS:       s.path(),
		IfName:      ifName,
		// As containerd passes them: plugins that do not know the K8S_
		// arguments must not fail on them.
		Args: [][2]string{
			{"IgnoreUnknown", "1"},
			{"K8S_POD_NAMESPACE", pod.Namespace},
			{"K8S_POD_NAME", pod.Name},
			{"K8S_POD_UID", string(pod.UID)},
		},
	}
}

// add creates the pod's namespace and attaches it; on failure it undoes
// what it did.
func (n *network) add(ctx context.Context, pod *corev1.Pod, s *sandbox) (err error) {
	if err := namespaces.Create(s.Netns); err != nil {
		return fmt.Errorf("creating network namespace %s: %w", s.Netns, err)
	}
	defer func() {
		if err != nil {
			_ = n.del(context.WithoutCancel(ctx), pod, s)
		}
	}()
	if _, err := n.cni.AddNetworkList(ctx, n.lo, runtimeConf(pod, s, "lo")); err != nil {
		return fmt.Errorf("loopback: %w", err)
	}
	res, err := n.cni.AddNetworkList(ctx, n.pods, runtimeConf(pod, s, "eth0"))
	if err != nil {
		return err
	}
	r, err := cnitypes100.NewResultFromResult(res)
	if err != nil {
		return err
	}
	for _, ip := range r.IPs {
		if ip4 := ip.Address.IP.To4(); ip4 != nil {
			s.IP = ip4.String()
			return nil
		}
	}
	return errors.New("CNI gave the pod no IPv4 address")
}

// del releases the pod's address and removes its namespace. It is safe to
// repeat.
func (n *network) del(ctx context.Context, pod *corev1.Pod, s *sandbox) error {
	var errs []error
	if _, err := os.Stat(s.path()); err == nil {
		errs = append(errs, n.cni.DelNetworkList(ctx, n.pods, runtimeConf(pod, s, "eth0")))
		errs = append(errs, n.cni.DelNetworkList(ctx, n.lo, runtimeConf(pod, s, "lo")))
		if err := namespaces.Delete(s.Netns); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	} else {
		// No namespace: only the plugins' own records (the IP) are left.
		errs = append(errs, n.cni.DelNetworkList(ctx, n.pods, &libcni.RuntimeConf{ContainerID: string(pod.UID), IfName: "eth0"}))
	}
	return errors.Join(errs...)
}

// hostsFile is the kubelet's managed /etc/hosts for a pod.
func hostsFile(pod *corev1.Pod, ip string) []byte {
	var b strings.Builder
	b.WriteString("# Kubernetes-managed hosts file.\n")
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n")
	hostname := pod.Name
	if pod.Spec.Hostname != "" {
		hostname = pod.Spec.Hostname
	}
	if pod.Spec.Subdomain != "" {
		fmt.Fprintf(&b, "%s\t%s.%s.%s.svc.cluster.local\t%s\n", ip, hostname, pod.Spec.Subdomain, pod.Namespace, hostname)
	} else {
		fmt.Fprintf(&b, "%s\t%s\n", ip, hostname)
	}
	for _, ha := range pod.Spec.HostAliases {
		fmt.Fprintf(&b, "\n# Entries added by HostAliases.\n%s\t%s\n", ha.IP, strings.Join(ha.Hostnames, "\t"))
	}
	return []byte(b.String())
}

// resolvConf is the pod's /etc/resolv.conf. There is no cluster DNS yet, so
// every policy gets the node's resolver, as a kubelet without --cluster-dns
// does ("ClusterFirst" falls back to "Default"); a pod's dnsConfig is
// applied on top.
func resolvConf(pod *corev1.Pod) []byte {
	host, _ := os.ReadFile("/etc/resolv.conf")
	var servers, searches, options []string
	for line := range strings.SplitSeq(string(host), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "nameserver":
			servers = append(servers, f[1])
		case "search":
			searches = append(searches, f[1:]...)
		case "options":
			options = append(options, f[1:]...)
		}
	}
	if pod.Spec.DNSPolicy == corev1.DNSNone {
		servers, searches, options = nil, nil, nil
	}
	if c := pod.Spec.DNSConfig; c != nil {
		servers = append(servers, c.Nameservers...)
		searches = append(searches, c.Searches...)
		for _, o := range c.Options {
			if o.Value != nil {
				options = append(options, o.Name+":"+*o.Value)
			} else {
				options = append(options, o.Name)
			}
		}
	}
	var b strings.Builder
	if len(searches) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(searches, " "))
	}
	for _, s := range servers {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	if len(options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(options, " "))
	}
	return []byte(b.String())
}

// validIP reports whether s is an IPv4 address (a sandbox record is only
// trusted when it names one).
func validIP(s string) bool { return net.ParseIP(s).To4() != nil }

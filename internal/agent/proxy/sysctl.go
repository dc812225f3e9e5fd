package proxy

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"k8s.io/klog/v2"
)

// EnsureSysctls sets what the proxy needs in the network namespace of the
// calling thread (the node's): IPv4 forwarding, and bridged IPv4 packets
// through netfilter (br_netfilter), without which a pod's reply to another
// pod on the same bridge skips conntrack and is not translated back from
// the endpoint to the Service. The bridge setting exists only once the
// br_netfilter module is loaded, per namespace on Linux 5.3 and later; its
// absence is logged, not an error. Unlike kube-proxy's iptables mode,
// route_localnet is not set: NodePorts on 127.0.0.1 are not served, as in
// kube-proxy's nftables mode.
func EnsureSysctls(log klog.Logger) error {
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644); err != nil {
		return fmt.Errorf("enabling IPv4 forwarding: %w", err)
	}
	err := os.WriteFile("/proc/sys/net/bridge/bridge-nf-call-iptables", []byte("1"), 0o644)
	if errors.Is(err, fs.ErrNotExist) {
		log.Info("br_netfilter is not loaded (modprobe br_netfilter): a pod reaching a Service whose endpoint is on its own bridge gets no answer")
		return nil
	}
	if err != nil {
		return fmt.Errorf("enabling netfilter on bridges: %w", err)
	}
	return nil
}

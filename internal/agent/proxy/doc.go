// Package proxy is the node agent's service proxy: a kube-proxy in nftables
// mode. It watches Services and EndpointSlices (client-go informers) and
// programs one nftables table (family ip, IPv4 only; default name
// "portway") with one transaction per sync, so that packets to a
// ClusterIP, a nodePort on any local address, an external IP or a
// LoadBalancer ingress IP are DNATed to a ready endpoint picked at random.
// It is modeled on kube-proxy's nftables proxier (pkg/proxy/nftables), and
// does what it does:
//
//   - dispatch through verdict maps, so the cost per packet does not grow
//     with the number of Services: service-ips (ip . protocol . port) and
//     service-nodeports (protocol . port, for `fib daddr type local`);
//   - one chain per service port and traffic policy, which picks an
//     endpoint at random and DNATs to it, one rule per endpoint (ClientIP
//     affinity through a set with a timeout per endpoint, checked first).
//     Unlike kube-proxy, no chain per endpoint and no anonymous map per
//     service: the kernel's commit cost grows with the number of chains
//     and maps in the table (see policy in rules.go);
//   - hairpin traffic (an endpoint reaching itself through a Service)
//     masqueraded through one set of (ip . ip) elements;
//   - masquerade (mark, then masquerade in postrouting) for traffic that
//     could return another way: to a ClusterIP from outside ClusterCIDR,
//     to a nodePort or external IP with externalTrafficPolicy Cluster. It
//     keeps the client's source port when that is free (kube-proxy's is
//     fully random; see writeBase for why);
//   - terminating endpoints only when no endpoint is ready;
//   - externalTrafficPolicy Local (node-local endpoints only, client address
//     kept; external traffic dropped where the node has none, pods and the
//     node itself still served) with healthCheckNodePort servers, and
//     internalTrafficPolicy Local;
//   - a Service without endpoints rejects new connections (TCP reset, ICMP
//     port unreachable) from the filter chains, through no-endpoint sets;
//   - partial syncs that rewrite only the chains and elements of Services
//     that changed, a full sync at start, after a failure and every
//     SyncPeriod; stale UDP conntrack entries deleted; the table removed
//     on a clean exit.
//
// The contract with the rest of the system: the table's base chains hook
// filter input/forward/output at priority -110 and output at -90 (around
// DNAT), nat prerouting/output at -100 and postrouting at 100. Chain names,
// rules and the mark bit (0x4000) are not an interface.
//
// Not done: topology-aware routing (hints), loadBalancerSourceRanges,
// IPv6, NodePorts on 127.0.0.1 (as in kube-proxy's nftables mode), and a
// drop of traffic to unallocated ClusterIPs (kube-proxy learns the service
// CIDRs from ServiceCIDR objects, which portway does not serve).
package proxy

package proxy

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// servicePort is one port of a Service as the data plane sees it, with the
// endpoints of that port: everything a sync needs, converted once from the
// API objects (kube-proxy's BaseServicePortInfo and BaseEndpointInfo). Only
// IPv4 is handled; IPv6 ClusterIPs, external IPs and endpoints are ignored.
type servicePort struct {
	namespace, name, portName string
	// protocol is "tcp", "udp" or "sctp", as nft spells it.
	protocol  string
	clusterIP string
	port      int
	nodePort  int
	// externalIPs are spec.externalIPs and the VIP-mode IPs of
	// status.loadBalancer.ingress: both are captured like the clusterIP but
	// handled as external traffic.
	externalIPs []string
	// externalPolicyLocal is externalTrafficPolicy Local on a Service that
	// accepts external traffic at all.
	externalPolicyLocal bool
	internalPolicyLocal bool
	// affinitySeconds is the ClientIP session affinity timeout; 0 is none.
	affinitySeconds int
	// healthCheckNodePort is served for LoadBalancer Services with
	// externalTrafficPolicy Local.
	healthCheckNodePort int
	endpoints           []endpoint
}

type endpoint struct {
	ip   string
	port int
	// ready, serving and terminating are the EndpointSlice conditions (a
	// missing ready or serving condition counts as true, as in Kubernetes).
	ready, serving, terminating bool
	// local is an endpoint on this node.
	local bool
}

func (e endpoint) String() string { return net.JoinHostPort(e.ip, strconv.Itoa(e.port)) }

// String is the service port's name as kube-proxy writes it: ns/name:port,
// or ns/name for an unnamed port.
func (s *servicePort) String() string {
	if s.portName == "" {
		return s.namespace + "/" + s.name
	}
	return fmt.Sprintf("%s/%s:%s", s.namespace, s.name, s.portName)
}

func (s *servicePort) externallyAccessible() bool {
	return s.nodePort != 0 || len(s.externalIPs) > 0
}

// usesClusterEndpoints: the Cluster policy chain is needed for internal
// traffic with internalTrafficPolicy Cluster, and for any external traffic
// (with externalTrafficPolicy Local, pods and the node itself still reach
// every endpoint: kube-proxy's short circuit).
func (s *servicePort) usesClusterEndpoints() bool {
	return !s.internalPolicyLocal || s.externallyAccessible()
}

func (s *servicePort) usesLocalEndpoints() bool {
	return s.internalPolicyLocal || s.externalPolicyLocal
}

// categorize splits the endpoints as kube-proxy's CategorizeEndpoints does
// (without topology hints, which portway does not implement): the ready
// endpoints for Cluster policy (else the serving terminating ones), the
// node-local ready endpoints for Local policy (else the local serving
// terminating ones), all of those, and whether the service has any usable
// endpoint anywhere.
func (s *servicePort) categorize() (cluster, local, reachable []endpoint, hasAny bool) {
	usable := func(eps []endpoint, keep func(endpoint) bool) []endpoint {
		var out []endpoint
		for _, e := range eps {
			if keep(e) {
				out = append(out, e)
			}
		}
		return out
	}
	if s.usesClusterEndpoints() {
		cluster = usable(s.endpoints, func(e endpoint) bool { return e.ready })
		if len(cluster) == 0 {
			cluster = usable(s.endpoints, func(e endpoint) bool { return e.serving && e.terminating })
		}
		hasAny = len(cluster) > 0
	}
	if !s.usesLocalEndpoints() {
		return cluster, nil, cluster, hasAny
	}
	local = usable(s.endpoints, func(e endpoint) bool { return e.local && e.ready })
	fallback := false
	if len(local) == 0 {
		local = usable(s.endpoints, func(e endpoint) bool { return e.local && e.serving && e.terminating })
		fallback = len(local) > 0
	}
	for _, e := range s.endpoints {
		if e.ready || (e.serving && e.terminating) {
			hasAny = true
		}
	}
	if !s.usesClusterEndpoints() {
		return nil, local, local, hasAny
	}
	if !fallback {
		// local holds only ready endpoints, all of them in cluster too.
		return cluster, local, cluster, hasAny
	}
	seen := map[string]bool{}
	for _, e := range append(append([]endpoint{}, cluster...), local...) {
		if !seen[e.String()] {
			seen[e.String()] = true
			reachable = append(reachable, e)
		}
	}
	return cluster, local, reachable, hasAny
}

// servicePorts converts a Service and its EndpointSlices into its ports. A
// headless or ExternalName Service, or one without an IPv4 ClusterIP, has
// none: the data plane has nothing to do for it.
func servicePorts(svc *corev1.Service, slices []*discoveryv1.EndpointSlice, nodeName string) []*servicePort {
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	clusterIP := ""
	for _, ip := range append([]string{svc.Spec.ClusterIP}, svc.Spec.ClusterIPs...) {
		if p := net.ParseIP(ip); p != nil && p.To4() != nil {
			clusterIP = p.To4().String()
			break
		}
	}
	if clusterIP == "" {
		return nil
	}
	externallyAccessible := svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer ||
		len(svc.Spec.ExternalIPs) > 0
	var externalIPs []string
	for _, ip := range svc.Spec.ExternalIPs {
		if p := net.ParseIP(ip); p != nil && p.To4() != nil {
			externalIPs = append(externalIPs, p.To4().String())
		}
	}
	for _, ing := range svc.Status.LoadBalancer.Ingress {
		// A load balancer in Proxy mode sends packets to the nodes, not to
		// its IP: the IP must not be captured (kube-proxy's IsVIPMode).
		if ing.IPMode != nil && *ing.IPMode == corev1.LoadBalancerIPModeProxy {
			continue
		}
		if p := net.ParseIP(ing.IP); p != nil && p.To4() != nil {
			externalIPs = append(externalIPs, p.To4().String())
		}
	}
	etpLocal := externallyAccessible && svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
	itpLocal := svc.Spec.InternalTrafficPolicy != nil && *svc.Spec.InternalTrafficPolicy == corev1.ServiceInternalTrafficPolicyLocal
	affinity := 0
	if svc.Spec.SessionAffinity == corev1.ServiceAffinityClientIP {
		affinity = int(corev1.DefaultClientIPServiceAffinitySeconds)
		if c := svc.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil {
			affinity = int(*c.ClientIP.TimeoutSeconds)
		}
	}
	hc := 0
	if svc.Spec.Type == corev1.ServiceTypeLoadBalancer && etpLocal {
		hc = int(svc.Spec.HealthCheckNodePort)
	}
	var out []*servicePort
	for _, p := range svc.Spec.Ports {
		sp := &servicePort{
			namespace: svc.Namespace, name: svc.Name, portName: p.Name,
			protocol:  strings.ToLower(string(p.Protocol)),
			clusterIP: clusterIP, port: int(p.Port), nodePort: int(p.NodePort),
			externalIPs: externalIPs, externalPolicyLocal: etpLocal, internalPolicyLocal: itpLocal,
			affinitySeconds: affinity, healthCheckNodePort: hc,
		}
		if sp.protocol == "" {
			sp.protocol = "tcp"
		}
		sp.endpoints = endpointsFor(slices, p.Name, corev1.Protocol(strings.ToUpper(sp.protocol)), nodeName)
		out = append(out, sp)
	}
	return out
}

// endpointsFor collects the IPv4 endpoints of the slices' port named name,
// once each (an endpoint in two slices counts once, its ready copy first),
// in a stable order so that unchanged endpoints write unchanged rules.
func endpointsFor(slices []*discoveryv1.EndpointSlice, name string, proto corev1.Protocol, nodeName string) []endpoint {
	byAddr := map[string]endpoint{}
	for _, sl := range slices {
		if sl.AddressType != discoveryv1.AddressTypeIPv4 {
			continue
		}
		for _, sp := range sl.Ports {
			pname, pproto := "", corev1.ProtocolTCP
			if sp.Name != nil {
				pname = *sp.Name
			}
			if sp.Protocol != nil {
				pproto = *sp.Protocol
			}
			if pname != name || pproto != proto || sp.Port == nil || *sp.Port == 0 {
				continue
			}
			for _, e := range sl.Endpoints {
				if len(e.Addresses) == 0 {
					continue
				}
				ip := net.ParseIP(e.Addresses[0]).To4()
				if ip == nil {
					continue
				}
				ep := endpoint{ip: ip.String(), port: int(*sp.Port), ready: true, serving: true}
				if c := e.Conditions.Ready; c != nil {
					ep.ready = *c
				}
				ep.serving = ep.ready
				if c := e.Conditions.Serving; c != nil {
					ep.serving = *c
				}
				ep.terminating = e.Conditions.Terminating != nil && *e.Conditions.Terminating
				ep.local = e.NodeName != nil && *e.NodeName == nodeName
				if old, ok := byAddr[ep.String()]; ok && old.ready {
					continue
				}
				byAddr[ep.String()] = ep
			}
		}
	}
	out := make([]endpoint, 0, len(byAddr))
	for _, e := range byAddr {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

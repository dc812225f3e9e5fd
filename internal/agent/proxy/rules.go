package proxy

import (
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/knftables"

	"github.com/portway/portway/internal/agent/proxy/healthcheck"
)

// The table's layout. Everything lives in one table of family ip (IPv4), so
// names need no prefix; the chains a Service adds all hold a "/" (from
// "namespace/name"), which no fixed chain does. Which chains, hooks and
// priorities exist is described in the package comment; rule contents,
// marks and chain names are not an interface.
const (
	// base chains, one per netfilter hook and job. Priorities are numbers
	// because nft 1.0.6 refuses the names (dstnat, srcnat) on some hooks:
	// -110 filters before DNAT (-100) sees the Service address, -90 after.
	filterInputChain          = "filter-input"
	filterForwardChain        = "filter-forward"
	filterOutputChain         = "filter-output"
	filterOutputPostDNATChain = "filter-output-post-dnat"
	natPreroutingChain        = "nat-prerouting"
	natOutputChain            = "nat-output"
	natPostroutingChain       = "nat-postrouting"

	// dispatch: (ip . protocol . port) and (protocol . nodePort) to a chain
	servicesChain       = "services"
	serviceIPsMap       = "service-ips"
	serviceNodePortsMap = "service-nodeports"

	// services without endpoints: rejected in the filter chains, or
	// dropped when only a Local traffic policy leaves none. Plain sets, not
	// verdict maps with "goto reject-chain": an element that jumps makes
	// the kernel validate the whole table on commit, which at 10,000
	// Services costs tens of milliseconds.
	serviceEndpointsCheckChain  = "service-endpoints-check"
	nodePortEndpointsCheckChain = "nodeport-endpoints-check"
	noEndpointServicesSet       = "no-endpoint-services"
	noEndpointNodePortsSet      = "no-endpoint-nodeports"
	noLocalEndpointServicesSet  = "no-local-endpoint-services"
	noLocalEndpointNodePortsSet = "no-local-endpoint-nodeports"
	rejectChain                 = "reject-chain"

	// ports of a ClusterIP that no Service port uses are rejected too
	clusterIPsSet        = "cluster-ips"
	clusterIPsCheckChain = "cluster-ips-check"

	markMasqChain     = "mark-for-masquerade"
	masqueradingChain = "masquerading"
	// hairpinSet holds (ip . ip) for every endpoint: a connection from an
	// endpoint to itself through a Service is masqueraded.
	hairpinSet = "hairpin"
	// masqueradeMark is the packet mark bit that asks for masquerade (the
	// bit kube-proxy uses, 1<<14).
	masqueradeMark = "0x00004000"

	// prefixes of the per-service chains and sets
	clusterChainPrefix  = "service-"
	localChainPrefix    = "local-"
	externalChainPrefix = "external-"
	affinitySetPrefix   = "affinity-"
)

type baseChain struct {
	name     string
	typ      knftables.BaseChainType
	hook     knftables.BaseChainHook
	priority string
}

var baseChains = []baseChain{
	{filterInputChain, knftables.FilterType, knftables.InputHook, "-110"},
	{filterForwardChain, knftables.FilterType, knftables.ForwardHook, "-110"},
	{filterOutputChain, knftables.FilterType, knftables.OutputHook, "-110"},
	{filterOutputPostDNATChain, knftables.FilterType, knftables.OutputHook, "-90"},
	{natPreroutingChain, knftables.NATType, knftables.PreroutingHook, "-100"},
	{natOutputChain, knftables.NATType, knftables.OutputHook, "-100"},
	{natPostroutingChain, knftables.NATType, knftables.PostroutingHook, "100"},
}

// jumps from the base chains into the fixed regular chains. The endpoint
// checks only look at new connections: an established one keeps working
// until it ends.
var jumps = []struct{ from, to, match string }{
	{filterInputChain, nodePortEndpointsCheckChain, "ct state new"},
	{filterInputChain, serviceEndpointsCheckChain, "ct state new"},
	{filterForwardChain, serviceEndpointsCheckChain, "ct state new"},
	{filterOutputChain, serviceEndpointsCheckChain, "ct state new"},
	{filterForwardChain, clusterIPsCheckChain, "ct state new"},
	{filterOutputPostDNATChain, clusterIPsCheckChain, "ct state new"},
	{natPreroutingChain, servicesChain, ""},
	{natOutputChain, servicesChain, ""},
	{natPostroutingChain, masqueradingChain, ""},
}

// writeBase adds to tx the fixed part of the table, flushing what a full
// sync rewrites: every fixed chain and every map and set (a full sync adds
// all their elements again).
func writeBase(tx *knftables.Transaction) {
	tx.Add(&knftables.Table{Comment: knftables.PtrTo("portway service proxy")})
	for _, bc := range baseChains {
		c := &knftables.Chain{Name: bc.name, Type: knftables.PtrTo(bc.typ), Hook: knftables.PtrTo(bc.hook),
			Priority: knftables.PtrTo(knftables.BaseChainPriority(bc.priority))}
		tx.Add(c)
		tx.Flush(c)
	}
	for _, name := range []string{servicesChain, serviceEndpointsCheckChain, nodePortEndpointsCheckChain,
		rejectChain, clusterIPsCheckChain, markMasqChain, masqueradingChain} {
		tx.Add(&knftables.Chain{Name: name})
		tx.Flush(&knftables.Chain{Name: name})
	}
	for _, j := range jumps {
		tx.Add(&knftables.Rule{Chain: j.from, Rule: knftables.Concat(j.match, "jump", j.to)})
	}

	tx.Add(&knftables.Set{Name: hairpinSet, Type: "ipv4_addr . ipv4_addr", Comment: knftables.PtrTo("endpoints, to masquerade hairpin traffic")})
	tx.Flush(&knftables.Set{Name: hairpinSet})
	tx.Add(&knftables.Rule{Chain: markMasqChain, Rule: "meta mark set meta mark or " + masqueradeMark})
	tx.Add(&knftables.Rule{Chain: masqueradingChain, Rule: "ip saddr . ip daddr @" + hairpinSet + " jump " + markMasqChain})
	tx.Add(&knftables.Rule{Chain: masqueradingChain, Rule: "meta mark and " + masqueradeMark + " == 0 return"})
	tx.Add(&knftables.Rule{Chain: masqueradingChain, Rule: "meta mark set meta mark xor " + masqueradeMark})
	// Not "fully-random", unlike kube-proxy: recent Linux (seen on 6.18)
	// starts a client's TCP timestamps at an offset keyed by the 4-tuple,
	// no longer by the address pair, so a random port can hand a pod a
	// 4-tuple it still holds in TIME_WAIT, now with timestamps from another
	// client socket, and the pod's PAWS check drops that SYN (measured: 2.7%
	// of new connections through a clusterIP, 12% of their rate). Keeping
	// the client's port while it is free keeps the pod's 4-tuple the
	// client's; the kernel picks another only when it is taken.
	tx.Add(&knftables.Rule{Chain: masqueradingChain, Rule: "masquerade"})

	tx.Add(&knftables.Set{Name: clusterIPsSet, Type: "ipv4_addr", Comment: knftables.PtrTo("active ClusterIPs")})
	tx.Flush(&knftables.Set{Name: clusterIPsSet})
	tx.Add(&knftables.Rule{Chain: clusterIPsCheckChain, Rule: "ip daddr @" + clusterIPsSet + " reject",
		Comment: knftables.PtrTo("reject traffic to ports of ClusterIPs that no Service uses")})

	for _, m := range []struct{ name, typ, comment string }{
		{noEndpointServicesSet, "ipv4_addr . inet_proto . inet_service", "Service IPs without endpoints"},
		{noEndpointNodePortsSet, "inet_proto . inet_service", "nodePorts without endpoints"},
		{noLocalEndpointServicesSet, "ipv4_addr . inet_proto . inet_service", "Service IPs without endpoints on this node (traffic policy Local)"},
		{noLocalEndpointNodePortsSet, "inet_proto . inet_service", "nodePorts without endpoints on this node (externalTrafficPolicy Local)"},
	} {
		tx.Add(&knftables.Set{Name: m.name, Type: m.typ, Comment: knftables.PtrTo(m.comment)})
		tx.Flush(&knftables.Set{Name: m.name})
	}
	for _, m := range []struct{ name, typ, comment string }{
		{serviceIPsMap, "ipv4_addr . inet_proto . inet_service : verdict", "ClusterIP, external IP and LoadBalancer IP traffic"},
		{serviceNodePortsMap, "inet_proto . inet_service : verdict", "NodePort traffic"},
	} {
		tx.Add(&knftables.Map{Name: m.name, Type: m.typ, Comment: knftables.PtrTo(m.comment)})
		tx.Flush(&knftables.Map{Name: m.name})
	}
	// A TCP reset refuses a connection at once, and unlike ICMP it is not
	// rate-limited; everything else gets ICMP port unreachable.
	tx.Add(&knftables.Rule{Chain: rejectChain, Rule: "meta l4proto tcp reject with tcp reset"})
	tx.Add(&knftables.Rule{Chain: rejectChain, Rule: "reject"})
	tx.Add(&knftables.Rule{Chain: serviceEndpointsCheckChain,
		Rule: "ip daddr . meta l4proto . th dport @" + noEndpointServicesSet + " goto " + rejectChain})
	tx.Add(&knftables.Rule{Chain: serviceEndpointsCheckChain,
		Rule: "ip daddr . meta l4proto . th dport @" + noLocalEndpointServicesSet + " drop"})
	// NodePorts on 127.0.0.1 are not served, as in kube-proxy's nftables
	// mode: they would need route_localnet, which exposes localhost
	// services to the network (CVE-2020-8558).
	tx.Add(&knftables.Rule{Chain: nodePortEndpointsCheckChain,
		Rule: "ip daddr != 127.0.0.0/8 meta l4proto . th dport @" + noEndpointNodePortsSet + " goto " + rejectChain})
	tx.Add(&knftables.Rule{Chain: nodePortEndpointsCheckChain,
		Rule: "ip daddr != 127.0.0.0/8 meta l4proto . th dport @" + noLocalEndpointNodePortsSet + " drop"})
	tx.Add(&knftables.Rule{Chain: servicesChain,
		Rule: "ip daddr . meta l4proto . th dport vmap @" + serviceIPsMap})
	tx.Add(&knftables.Rule{Chain: servicesChain,
		Rule: "fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @" + serviceNodePortsMap})
}

// element is one element of one of the table's maps or sets.
type element struct {
	container string
	set       bool
	key       []string
	value     string
	comment   string
}

func (e element) id() string { return e.container + " " + strings.Join(e.key, " . ") }

func (e element) object() *knftables.Element {
	el := &knftables.Element{Key: e.key}
	if e.set {
		el.Set = e.container
	} else {
		el.Map = e.container
		el.Value = []string{e.value}
	}
	if e.comment != "" {
		el.Comment = knftables.PtrTo(e.comment)
	}
	return el
}

type chain struct {
	name  string
	rules []string
}

type affinitySet struct {
	name    string
	timeout int
}

// serviceRules is everything one Service puts into the table: its chains
// (rewritten whole when anything changes), its affinity sets, and its
// elements of the shared maps and sets.
type serviceRules struct {
	chains   []chain
	sets     []affinitySet
	elements []element
	// endpoints counts the endpoints DNATed to, noLocal* the ports left
	// without endpoints by a Local traffic policy (for the metrics).
	endpoints, noLocalInternal, noLocalExternal int
	// udp are the UDP ports, for conntrack clean-up.
	udp []udpPort
	// healthCheck is the healthCheckNodePort and the node's ready
	// endpoints (Port 0: none).
	healthCheck healthcheck.Service
}

func (r *serviceRules) numRules() int {
	n := 0
	for _, c := range r.chains {
		n += len(c.rules)
	}
	return n
}

// ruleWriter turns service ports into rules.
type ruleWriter struct {
	// clusterCIDR is the pods' range: traffic to a ClusterIP from outside
	// it is masqueraded, and ETP Local lets pods in it reach every endpoint.
	clusterCIDR string
}

// hashName prefixes name with a hash of itself, as kube-proxy does, so that
// chains of one service differing in a digit stand apart, and truncates it
// to what nft accepts.
func hashName(prefix, name string) string {
	sum := sha256.Sum256([]byte(name))
	s := prefix + base32.StdEncoding.EncodeToString(sum[:])[:8] + "-" + name
	if len(s) > knftables.NameLengthMax {
		s = s[:knftables.NameLengthMax-3] + "..."
	}
	return s
}

func (s *servicePort) chainBase() string {
	return fmt.Sprintf("%s/%s/%s/%s", s.namespace, s.name, s.protocol, s.portName)
}

func (s *servicePort) endpointBase(e endpoint) string {
	return fmt.Sprintf("%s__%s/%d", s.chainBase(), e.ip, e.port)
}

// write adds the rules of one service port to r, following kube-proxy's
// nftables proxier: a clusterIP goes to its policy chain, nodePorts and
// external IPs to the external chain (which decides masquerade and ETP
// Local), and each policy chain DNATs to one of its endpoints at random
// (after the ClientIP affinity sets; see policy below). A port without
// endpoints gets elements of the no-endpoint sets instead.
func (w *ruleWriter) write(r *serviceRules, s *servicePort) {
	base := s.chainBase()
	clusterChain := hashName(clusterChainPrefix, base)
	localChain := hashName(localChainPrefix, base)
	externalChain := hashName(externalChainPrefix, base)
	port := strconv.Itoa(s.port)
	comment := s.String()

	clusterEps, localEps, reachable, hasEndpoints := s.categorize()
	usesClusterChain := len(clusterEps) > 0 && s.usesClusterEndpoints()
	usesLocalChain := len(localEps) > 0 && s.usesLocalEndpoints()

	internalChain, hasInternal := clusterChain, hasEndpoints
	if s.internalPolicyLocal {
		internalChain, hasInternal = localChain, len(localEps) > 0
	}
	externalPolicyChain, hasExternal := clusterChain, hasEndpoints
	if s.externalPolicyLocal {
		externalPolicyChain, hasExternal = localChain, len(localEps) > 0
	}
	// The external chain exists whenever anything does: with ETP Local
	// and no local endpoint it still lets pods and the node through.
	usesExternalChain := hasEndpoints && s.externallyAccessible()

	// What the filter chains do with new connections that found no chain:
	// reject when the service has no endpoint at all, drop when only the
	// traffic policy leaves none (Kubernetes drops there, so that a load
	// balancer's health check, not a reset, steers clients away).
	noServices, noNodePorts := noEndpointServicesSet, noEndpointNodePortsSet
	if hasEndpoints {
		noServices, noNodePorts = noLocalEndpointServicesSet, noLocalEndpointNodePortsSet
		if !hasInternal {
			r.noLocalInternal++
		}
		if !hasExternal {
			r.noLocalExternal++
		}
	}
	if s.protocol == "udp" {
		r.udp = append(r.udp, udpPort{ips: append([]string{s.clusterIP}, s.externalIPs...),
			nodePort: s.nodePort, serving: servingIPs(s.endpoints)})
	}
	if s.healthCheckNodePort != 0 {
		n := 0
		for _, e := range s.endpoints {
			if e.local && e.ready {
				n++
			}
		}
		r.healthCheck.Port = s.healthCheckNodePort
		r.healthCheck.LocalEndpoints = max(r.healthCheck.LocalEndpoints, n)
	}

	r.elements = append(r.elements, element{container: clusterIPsSet, set: true, key: []string{s.clusterIP}})
	if hasInternal {
		r.elements = append(r.elements, element{container: serviceIPsMap,
			key: []string{s.clusterIP, s.protocol, port}, value: "goto " + internalChain})
	} else {
		r.elements = append(r.elements, element{container: noServices, set: true,
			key: []string{s.clusterIP, s.protocol, port}, comment: comment})
	}
	for _, ip := range s.externalIPs {
		if hasEndpoints {
			r.elements = append(r.elements, element{container: serviceIPsMap,
				key: []string{ip, s.protocol, port}, value: "goto " + externalChain})
		}
		if !hasExternal {
			r.elements = append(r.elements, element{container: noServices, set: true,
				key: []string{ip, s.protocol, port}, comment: comment})
		}
	}
	if s.nodePort != 0 {
		np := strconv.Itoa(s.nodePort)
		if hasEndpoints {
			r.elements = append(r.elements, element{container: serviceNodePortsMap,
				key: []string{s.protocol, np}, value: "goto " + externalChain})
		}
		if !hasExternal {
			r.elements = append(r.elements, element{container: noNodePorts, set: true,
				key: []string{s.protocol, np}, comment: comment})
		}
	}

	// Rules are collected per chain; a chain used twice (the internal and
	// the policy chain are the same chain) gets both rule lists in order.
	rules := map[string][]string{}
	var order []string
	add := func(chain string, rule ...any) {
		if _, ok := rules[chain]; !ok {
			order = append(order, chain)
			rules[chain] = nil
		}
		if len(rule) > 0 {
			rules[chain] = append(rules[chain], knftables.Concat(rule...))
		}
	}

	if hasInternal && w.clusterCIDR != "" {
		// Traffic to the clusterIP from outside the pod network (the node
		// itself, another host routing the Service range here) may be
		// answered from another node: masquerade it so replies come back.
		add(internalChain, "ip daddr", s.clusterIP, s.protocol, "dport", port,
			"ip saddr !=", w.clusterCIDR, "jump", markMasqChain)
	}
	if usesExternalChain {
		if !s.externalPolicyLocal {
			// Off-node clients may be sent to another node: masquerade.
			add(externalChain, "jump", markMasqChain)
		} else {
			// ETP Local keeps the client's address, so only local
			// endpoints will do; pods and the node itself, which reach the
			// service "from inside", use every endpoint (kube-proxy's
			// short circuit), and the node's own traffic is masqueraded
			// because its source is a node address.
			if w.clusterCIDR != "" {
				add(externalChain, "ip saddr", w.clusterCIDR, "goto", clusterChain)
			}
			add(externalChain, "fib saddr type local jump", markMasqChain)
			add(externalChain, "fib saddr type local goto", clusterChain)
		}
		if hasExternal {
			add(externalChain, "goto", externalPolicyChain)
		}
	}

	if s.affinitySeconds > 0 {
		for _, e := range reachable {
			r.sets = append(r.sets, affinitySet{name: w.affinitySetName(s, e), timeout: s.affinitySeconds})
		}
	}
	// A policy chain DNATs to one of its endpoints at random, with one rule
	// per endpoint: rule i of n matches with probability 1/(n-i), so every
	// endpoint gets 1/n, and the last one takes what is left. kube-proxy
	// jumps through an anonymous verdict map to a chain per endpoint
	// instead; the kernel walks every map (to name a new anonymous one) and
	// every chain (to validate the graph) on each commit, which made a
	// full sync of 10,000 Services take 45 s and each partial one 0.5 s.
	// This costs a new connection one rule per endpoint passed over; the
	// cost does not grow with the number of Services.
	policy := func(chain string, eps []endpoint) {
		add(chain)
		dnat := func(e endpoint) string {
			return knftables.Concat("meta l4proto", s.protocol, "dnat to", e.String())
		}
		if s.affinitySeconds > 0 {
			// a client seen within the timeout returns to its endpoint,
			// and each new connection restarts the timeout
			for _, e := range eps {
				set := "@" + w.affinitySetName(s, e)
				add(chain, "ip saddr", set, "update", set, "{ ip saddr }", dnat(e))
			}
		}
		for i, e := range eps {
			var rule []any
			if left := len(eps) - i; left > 1 {
				rule = append(rule, "numgen random mod", left, 0)
			}
			if s.affinitySeconds > 0 {
				rule = append(rule, "update @"+w.affinitySetName(s, e), "{ ip saddr }")
			}
			add(chain, append(rule, dnat(e))...)
		}
	}
	if usesClusterChain {
		policy(clusterChain, clusterEps)
	}
	if usesLocalChain {
		policy(localChain, localEps)
	}
	for _, e := range reachable {
		// A pod reaching itself through the service (hairpin) must see the
		// reply come from the service: the masquerading chain masquerades
		// connections from an endpoint to itself.
		r.elements = append(r.elements, element{container: hairpinSet, set: true, key: []string{e.ip, e.ip}})
	}
	r.endpoints += len(reachable)
	for _, name := range order {
		r.chains = append(r.chains, chain{name: name, rules: rules[name]})
	}
}

// affinitySetName names the set of clients stuck to endpoint e. The timeout
// is part of the name: a set's timeout cannot be changed in place, so a new
// timeout makes a new set (and the old one is deleted).
func (w *ruleWriter) affinitySetName(s *servicePort, e endpoint) string {
	return hashName(affinitySetPrefix, fmt.Sprintf("%s__%d", s.endpointBase(e), s.affinitySeconds))
}

// affinityObject is the nft set behind an affinitySet.
func (a affinitySet) object() *knftables.Set {
	return &knftables.Set{Name: a.name, Type: "ipv4_addr",
		// dynamic: the packet path adds to it; without it some kernels
		// add the flag themselves and a later identical add fails.
		Flags:   []knftables.SetFlag{knftables.DynamicFlag, knftables.TimeoutFlag},
		Timeout: knftables.PtrTo(time.Duration(a.timeout) * time.Second)}
}

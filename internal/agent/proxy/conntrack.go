package proxy

import (
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Conntrack deletes connection-tracking entries: *netlink.Handle, of the
// agent's network namespace by default.
type Conntrack interface {
	ConntrackDeleteFilters(table netlink.ConntrackTableType, family netlink.InetFamily, filters ...netlink.CustomConntrackFilter) (uint, error)
}

// udpPort is what conntrack clean-up needs to know of a UDP service port.
type udpPort struct {
	// ips are the clusterIP and external IPs.
	ips      []string
	nodePort int
	// serving are the IPs of its serving endpoints.
	serving []string
}

// udpChanged says whether conntrack must be cleaned after the UDP ports of
// a service went from old to new: UDP has no connection to end, so an
// entry keeps sending a client's datagrams to an endpoint that is gone (or,
// for a port that had no endpoint, nowhere) until it expires.
func udpChanged(old, new []udpPort) bool {
	now := map[string]bool{}
	for _, p := range new {
		for _, ip := range p.serving {
			now[ip] = true
		}
	}
	had := false
	for _, p := range old {
		for _, ip := range p.serving {
			had = true
			if !now[ip] {
				return true
			}
		}
	}
	return !had && len(now) > 0
}

// staleUDP matches the UDP conntrack entries to a service IP or nodePort
// whose replies do not come from a serving endpoint of it, as kube-proxy's
// CleanStaleEntries does: the entries of endpoints that went away, and
// those made while the service had no endpoint.
type staleUDP struct {
	byIP       map[string]map[string]bool
	byNodePort map[uint16]map[string]bool
}

func newStaleUDP(ports []udpPort) *staleUDP {
	f := &staleUDP{byIP: map[string]map[string]bool{}, byNodePort: map[uint16]map[string]bool{}}
	for _, p := range ports {
		serving := map[string]bool{}
		for _, ip := range p.serving {
			serving[ip] = true
		}
		for _, ip := range p.ips {
			f.byIP[ip] = serving
		}
		if p.nodePort != 0 {
			f.byNodePort[uint16(p.nodePort)] = serving
		}
	}
	return f
}

// MatchConntrackFlow implements netlink.CustomConntrackFilter.
func (f *staleUDP) MatchConntrackFlow(flow *netlink.ConntrackFlow) bool {
	if flow.Forward.Protocol != unix.IPPROTO_UDP {
		return false
	}
	reply := flow.Reverse.SrcIP.String()
	if serving, ok := f.byIP[flow.Forward.DstIP.String()]; ok && !serving[reply] {
		return true
	}
	if serving, ok := f.byNodePort[flow.Forward.DstPort]; ok && !serving[reply] {
		return true
	}
	return false
}

// cleanUDP deletes the stale UDP entries of the given ports.
func cleanUDP(ct Conntrack, ports []udpPort) (uint, error) {
	if len(ports) == 0 {
		return 0, nil
	}
	return ct.ConntrackDeleteFilters(netlink.ConntrackTable, unix.AF_INET, newStaleUDP(ports))
}

var _ netlink.CustomConntrackFilter = &staleUDP{}

// servingIPs are the endpoints' IPs that conntrack clean-up keeps.
func servingIPs(eps []endpoint) []string {
	var ips []string
	seen := map[string]bool{}
	for _, e := range eps {
		if e.serving && !seen[e.ip] {
			seen[e.ip] = true
			ips = append(ips, e.ip)
		}
	}
	return ips
}

package proxy

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/knftables"
)

func TestServiceKinds(t *testing.T) {
	tp := newTestProxier(t)
	representative(tp)
	tp.sync()
	for _, tc := range []struct {
		name      string
		have, not [][]string
	}{
		{name: "multi-port ClusterIP: one dispatch element and one chain per port",
			have: [][]string{
				{"service-ips", "10.96.0.10 . tcp . 80 : goto service-", "ns/multi/tcp/http"},
				{"service-ips", "10.96.0.10 . udp . 53 : goto service-", "ns/multi/udp/dns"},
				{"ns/multi/tcp/http numgen random mod 2 0 meta l4proto tcp dnat to 10.244.0.5:8080"},
				{"ns/multi/tcp/http meta l4proto tcp dnat to 10.244.1.5:8080"},
				{"ns/multi/udp/dns meta l4proto udp dnat to 10.244.0.5:5353"},
				{"hairpin { 10.244.0.5 . 10.244.0.5 }"},
			}},
		{name: "NodePort: external chain masquerades, not-ready endpoint left out",
			have: [][]string{
				{"service-nodeports", "tcp . 30003 : goto external-"},
				{"rule", "external-", "ns/np/tcp/ jump mark-for-masquerade"},
			},
			not: [][]string{{"10.244.0.6"}}},
		{name: "no endpoints: rejected, no chain",
			have: [][]string{
				{"no-endpoint-services { 10.96.0.12 . tcp . 80 comment \"ns/empty\" }"},
				{"no-endpoint-nodeports { tcp . 30004 comment \"ns/empty\" }"},
				{"service-endpoints-check ip daddr . meta l4proto . th dport @no-endpoint-services goto reject-chain"},
				{"reject-chain meta l4proto tcp reject with tcp reset"},
			},
			not: [][]string{{"add chain", "ns/empty"}, {"service-ips", "10.96.0.12"}}},
		{name: "ClientIP affinity: a timed set per endpoint, checked first, updated on use",
			have: [][]string{
				{"add set", "affinity-", "ns/sticky/tcp/__10.244.0.7/80__60", "flags dynamic,timeout ; timeout 60s"},
				{"ns/sticky/tcp/ ip saddr @affinity-", "__10.244.0.7/80__60 update @affinity-", "__10.244.0.7/80__60 { ip saddr } meta l4proto tcp dnat to 10.244.0.7:80"},
				{"ns/sticky/tcp/ numgen random mod 2 0 update @affinity-", "__10.244.0.7/80__60 { ip saddr } meta l4proto tcp dnat to 10.244.0.7:80"},
				{"ns/sticky/tcp/ update @affinity-", "__10.244.1.7/80__60 { ip saddr } meta l4proto tcp dnat to 10.244.1.7:80"},
			}},
		{name: "ETP Local: local endpoints only for outside traffic, pods and node short-circuited",
			have: [][]string{
				{"service-ips", "192.0.2.10 . tcp . 80 : goto external-"},
				{"ns/etp/tcp/ ip saddr 10.244.0.0/16 goto service-"},
				{"ns/etp/tcp/ fib saddr type local jump mark-for-masquerade"},
				{"external-", "ns/etp/tcp/ goto local-"},
				{"local-", "ns/etp/tcp/ meta l4proto tcp dnat to 10.244.0.8:80"},
				{"no-local-endpoint-nodeports { tcp . 30006 comment \"ns/etp-remote\" }"},
				{"nodeport-endpoints-check ip daddr != 127.0.0.0/8 meta l4proto . th dport @no-local-endpoint-nodeports drop"},
			},
			// no rule sends outside traffic to the masquerade chain
			not: [][]string{{"external-", "ns/etp/tcp/ jump mark-for-masquerade"}}},
		{name: "ITP Local: clusterIP to local endpoints only",
			have: [][]string{{"10.96.0.16 . tcp . 80 : goto local-"}},
			not:  [][]string{{"10.244.1.10"}}},
		{name: "terminating endpoints used when none is ready, if serving",
			have: [][]string{{"ns/term/tcp/ meta l4proto tcp dnat to 10.244.0.11:80"}},
			not:  [][]string{{"10.244.1.11"}}},
		{name: "headless and ExternalName: nothing",
			not: [][]string{{"headless"}, {"extname"}, {"10.244.0.12"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tp.t = t
			for _, h := range tc.have {
				tp.mustHave(h...)
			}
			for _, n := range tc.not {
				tp.mustNotHave(n...)
			}
		})
	}
}

func TestTerminatingFallbackEnds(t *testing.T) {
	tp := newTestProxier(t)
	tcp := corev1.ProtocolTCP
	tp.set(makeService("term", "10.96.0.17", port("", tcp, 80, 0)),
		makeSlice("term", "term-a", "", tcp, 80, terminatingEP("10.244.0.11", testNode)))
	tp.sync()
	tp.mustHave("dnat to 10.244.0.11:80")
	tp.set(makeSlice("term", "term-a", "", tcp, 80, terminatingEP("10.244.0.11", testNode), readyEP("10.244.0.12", testNode)))
	tp.sync()
	tp.mustHave("dnat to 10.244.0.12:80")
	tp.mustNotHave("rule", "10.244.0.11")
}

// TestPartialSync checks that a sync after a change writes only the
// chains and elements of the changed Service, and nothing when nothing
// changed.
func TestPartialSync(t *testing.T) {
	tp := newTestProxier(t)
	representative(tp)
	tp.sync()
	full := tp.dump()
	// a periodic full sync changes nothing
	tp.needFull = true
	tp.sync()
	if tp.dump() != full {
		t.Errorf("a periodic full sync changed the ruleset")
	}

	tp.set(makeService("np", "10.96.0.11", port("", corev1.ProtocolTCP, 8181, 30003)))
	tp.sync()
	if tp.nft.Dump() != full {
		t.Errorf("an unchanged Service changed the ruleset")
	}
	before := tp.nft.LastTransaction
	tp.sync()
	if tp.nft.LastTransaction != before {
		t.Errorf("a sync without changes ran a transaction:\n%s", tp.nft.LastTransaction)
	}

	// a second endpoint for multi's http port
	tcp := corev1.ProtocolTCP
	tp.set(makeSlice("multi", "multi-a", "http", tcp, 8080, readyEP("10.244.0.5", testNode),
		readyEP("10.244.1.5", "node2"), readyEP("10.244.1.99", "node2")))
	tp.sync()
	tx := tp.nft.LastTransaction.String()
	for _, l := range strings.Split(strings.TrimSpace(tx), "\n") {
		if !strings.Contains(l, "ns/multi/tcp/http") && !strings.Contains(l, "hairpin { 10.244.1.99 . 10.244.1.99 }") {
			t.Errorf("partial sync touched something else than ns/multi's http port: %s", l)
		}
	}
	tp.mustHave("ns/multi/tcp/http numgen random mod 3 0 meta l4proto tcp dnat to 10.244.0.5:8080")
	tp.mustHave("ns/multi/tcp/http numgen random mod 2 0 meta l4proto tcp dnat to 10.244.1.5:8080")
	tp.mustHave("ns/multi/tcp/http meta l4proto tcp dnat to 10.244.1.99:8080")

	// the service goes: its elements go at once, its chains are flushed,
	// and deleted by a sync a second later
	tp.remove(makeService("multi", "10.96.0.10"))
	tp.sync()
	tp.mustNotHave("element", "10.96.0.10")
	tp.mustNotHave("element", "10.244.0.5")
	tp.mustNotHave("rule", "ns/multi/")
	tp.mustHave("add chain", "ns/multi/tcp/http")
	for c := range tp.staleChains {
		tp.staleChains[c] = time.Now().Add(-2 * time.Second)
	}
	tp.sync()
	tp.mustNotHave("ns/multi/")
	if len(tp.staleChains) != 0 {
		t.Errorf("stale chains left: %v", tp.staleChains)
	}
}

// TestSharedHairpinElement checks that a pod behind two Services keeps its
// hairpin element until neither has it.
func TestSharedHairpinElement(t *testing.T) {
	tp := newTestProxier(t)
	tcp := corev1.ProtocolTCP
	tp.set(makeService("a", "10.96.0.20", port("", tcp, 80, 0)),
		makeSlice("a", "a-1", "", tcp, 80, readyEP("10.244.0.30", testNode)),
		makeService("b", "10.96.0.21", port("", tcp, 80, 0)),
		makeSlice("b", "b-1", "", tcp, 80, readyEP("10.244.0.30", testNode)))
	tp.sync()
	tp.mustHave("hairpin { 10.244.0.30 . 10.244.0.30 }")
	tp.remove(makeService("a", "10.96.0.20"))
	tp.sync()
	tp.mustHave("hairpin { 10.244.0.30 . 10.244.0.30 }")
	tp.set(makeSlice("b", "b-1", "", tcp, 80, readyEP("10.244.0.31", testNode)))
	tp.sync()
	tp.mustNotHave("hairpin { 10.244.0.30 . 10.244.0.30 }")
	tp.mustHave("hairpin { 10.244.0.31 . 10.244.0.31 }")
}

// TestRestart checks that a new proxier takes over a table left by an
// earlier one: same rules, and those of Services deleted meanwhile gone.
func TestRestart(t *testing.T) {
	tp := newTestProxier(t)
	representative(tp)
	tp.sync()
	want := tp.dump()
	tp.set(makeService("gone", "10.96.0.99", port("", corev1.ProtocolTCP, 80, 0)),
		makeSlice("gone", "gone-a", "", corev1.ProtocolTCP, 80, readyEP("10.244.0.99", testNode)))
	tp.sync()

	tp2 := newTestProxier(t)
	tp2.nft = tp.nft
	tp2.Proxier.nft = tp.nft
	representative(tp2)
	tp2.sync()
	if got := tp2.dump(); got != want {
		t.Errorf("after restart the ruleset differs:\n%s\nwant:\n%s", got, want)
	}
}

// TestUDPConntrack checks that UDP entries are cleaned when a UDP endpoint
// goes, and when a UDP port gets its first endpoint, but not for TCP.
func TestUDPConntrack(t *testing.T) {
	tp := newTestProxier(t)
	udp, tcp := corev1.ProtocolUDP, corev1.ProtocolTCP
	tp.set(makeService("dns", "10.96.0.10", port("dns", udp, 53, 30053)),
		makeService("web", "10.96.0.11", port("", tcp, 80, 0)),
		makeSlice("web", "web-a", "", tcp, 80, readyEP("10.244.0.5", testNode)))
	tp.sync() // a full sync cleans once
	tp.ct.filters = nil

	tp.set(makeSlice("web", "web-a", "", tcp, 80, readyEP("10.244.0.6", testNode)))
	tp.sync()
	if len(tp.ct.filters) != 0 {
		t.Errorf("a TCP endpoint change cleaned conntrack")
	}
	tp.set(makeSlice("dns", "dns-a", "dns", udp, 5353, readyEP("10.244.0.5", testNode), readyEP("10.244.0.6", testNode)))
	tp.sync()
	if len(tp.ct.filters) != 1 {
		t.Fatalf("first UDP endpoints: %d clean-ups, want 1", len(tp.ct.filters))
	}
	tp.ct.filters = nil
	tp.set(makeSlice("dns", "dns-a", "dns", udp, 5353, readyEP("10.244.0.6", testNode)))
	tp.sync()
	if len(tp.ct.filters) != 1 {
		t.Fatalf("UDP endpoint removed: %d clean-ups, want 1", len(tp.ct.filters))
	}
	f := tp.ct.filters[0]
	flow := func(proto uint8, dst string, dport uint16, replySrc string) *netlink.ConntrackFlow {
		return &netlink.ConntrackFlow{
			Forward: netlink.IPTuple{Protocol: proto, SrcIP: net.ParseIP("10.244.0.9"), DstIP: net.ParseIP(dst), DstPort: dport},
			Reverse: netlink.IPTuple{Protocol: proto, SrcIP: net.ParseIP(replySrc)},
		}
	}
	for _, c := range []struct {
		flow *netlink.ConntrackFlow
		want bool
	}{
		{flow(unix.IPPROTO_UDP, "10.96.0.10", 53, "10.244.0.5"), true},  // to the endpoint gone
		{flow(unix.IPPROTO_UDP, "10.96.0.10", 53, "10.96.0.10"), true},  // made without endpoints
		{flow(unix.IPPROTO_UDP, "10.96.0.10", 53, "10.244.0.6"), false}, // to the endpoint left
		{flow(unix.IPPROTO_UDP, "172.18.0.2", 30053, "10.244.0.5"), true},
		{flow(unix.IPPROTO_UDP, "172.18.0.2", 30053, "10.244.0.6"), false},
		{flow(unix.IPPROTO_TCP, "10.96.0.10", 53, "10.244.0.5"), false},
		{flow(unix.IPPROTO_UDP, "10.96.0.11", 80, "10.244.0.1"), false}, // a TCP service's IP
	} {
		if got := f.MatchConntrackFlow(c.flow); got != c.want {
			t.Errorf("flow to %s:%d replied by %s proto %d: match %v, want %v",
				c.flow.Forward.DstIP, c.flow.Forward.DstPort, c.flow.Reverse.SrcIP, c.flow.Forward.Protocol, got, c.want)
		}
	}

	// A pod being deleted first turns terminating but still serving: the
	// rules leave it out, its flows stay. When it is gone the rules do not
	// change, but its flows must go.
	tp.set(makeSlice("dns", "dns-a", "dns", udp, 5353, readyEP("10.244.0.6", testNode), readyEP("10.244.0.7", testNode)))
	tp.sync()
	tp.set(makeSlice("dns", "dns-a", "dns", udp, 5353, readyEP("10.244.0.6", testNode), terminatingEP("10.244.0.7", testNode)))
	tp.sync()
	tp.ct.filters = nil
	tp.set(makeSlice("dns", "dns-a", "dns", udp, 5353, readyEP("10.244.0.6", testNode)))
	tp.sync()
	if len(tp.ct.filters) != 1 {
		t.Fatalf("terminating UDP endpoint gone: %d clean-ups, want 1", len(tp.ct.filters))
	}
	if !tp.ct.filters[0].MatchConntrackFlow(flow(unix.IPPROTO_UDP, "10.96.0.10", 53, "10.244.0.7")) {
		t.Errorf("the flow to the terminating endpoint gone is kept")
	}
}

// TestHealthCheckNodePort checks that an ETP Local LoadBalancer's health
// check answers with the node's endpoint count.
func TestHealthCheckNodePort(t *testing.T) {
	tp := newTestProxier(t)
	tcp := corev1.ProtocolTCP
	tp.set(makeService("etp", "10.96.0.14", port("", tcp, 80, 30005), withType(corev1.ServiceTypeLoadBalancer), etpLocal(32000)),
		makeSlice("etp", "etp-a", "", tcp, 80, readyEP("10.244.0.8", testNode), readyEP("10.244.0.9", testNode), readyEP("10.244.1.8", "node2")))
	tp.sync()
	if got := tp.written[tpName("etp")].healthCheck; got.Port != 32000 || got.LocalEndpoints != 2 {
		t.Errorf("health check %+v, want port 32000 with 2 local endpoints", got)
	}
}

// TestSyncError checks that a failed transaction makes the next sync full.
func TestSyncError(t *testing.T) {
	tp := newTestProxier(t)
	representative(tp)
	tp.sync()
	// Someone deletes a chain under the proxy's feet: the next partial
	// sync, writing an element that points to it, fails.
	tx := tp.nft.NewTransaction()
	tx.Delete(&knftables.Map{Name: serviceIPsMap})
	tx.Delete(&knftables.Set{Name: noEndpointServicesSet})
	if err := tp.nft.Run(context.Background(), tx); err != nil {
		t.Fatal(err)
	}
	tp.set(makeSlice("empty", "empty-a", "", corev1.ProtocolTCP, 80, readyEP("10.244.0.20", testNode)))
	if err := tp.Sync(context.Background()); err == nil {
		t.Fatal("sync against a broken table succeeded")
	}
	tp.sync()
	tp.mustHave("service-ips", "10.96.0.12 . tcp . 80 : goto service-")
	tp.mustHave("service-ips", "10.96.0.10 . tcp . 80")
}

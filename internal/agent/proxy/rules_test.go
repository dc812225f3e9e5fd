package proxy

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the ruleset generated")

// representative fills tp with one Service of each kind the proxy handles.
func representative(tp *testProxier) {
	tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP
	tp.set(
		// ClusterIP with two ports, endpoints here and on another node
		makeService("multi", "10.96.0.10", port("http", tcp, 80, 0), port("dns", udp, 53, 0)),
		makeSlice("multi", "multi-a", "http", tcp, 8080, readyEP("10.244.0.5", testNode), readyEP("10.244.1.5", "node2")),
		makeSlice("multi", "multi-b", "dns", udp, 5353, readyEP("10.244.0.5", testNode)),
		// NodePort
		makeService("np", "10.96.0.11", port("", tcp, 8181, 30003)),
		makeSlice("np", "np-a", "", tcp, 80, readyEP("10.244.1.6", "node2"), ep{ip: "10.244.0.6", node: testNode}),
		// no endpoints: rejected
		makeService("empty", "10.96.0.12", port("", tcp, 80, 30004)),
		// ClientIP affinity
		makeService("sticky", "10.96.0.13", port("", tcp, 80, 0), affinity(60)),
		makeSlice("sticky", "sticky-a", "", tcp, 80, readyEP("10.244.0.7", testNode), readyEP("10.244.1.7", "node2")),
		// LoadBalancer with ETP Local: one local endpoint
		makeService("etp", "10.96.0.14", port("", tcp, 80, 30005), withType(corev1.ServiceTypeLoadBalancer),
			etpLocal(32000), lbIngress("192.0.2.10")),
		makeSlice("etp", "etp-a", "", tcp, 80, readyEP("10.244.0.8", testNode), readyEP("10.244.1.8", "node2")),
		// ETP Local without a local endpoint: external traffic dropped
		makeService("etp-remote", "10.96.0.15", port("", tcp, 80, 30006), etpLocal(0)),
		makeSlice("etp-remote", "etp-remote-a", "", tcp, 80, readyEP("10.244.1.9", "node2")),
		// ITP Local
		makeService("itp", "10.96.0.16", port("", tcp, 80, 0), itpLocal),
		makeSlice("itp", "itp-a", "", tcp, 80, readyEP("10.244.0.10", testNode), readyEP("10.244.1.10", "node2")),
		// only terminating endpoints: they are used
		makeService("term", "10.96.0.17", port("", tcp, 80, 0)),
		makeSlice("term", "term-a", "", tcp, 80, terminatingEP("10.244.0.11", testNode), ep{ip: "10.244.1.11", node: "node2", terminating: true}),
		// headless and ExternalName: nothing
		makeService("headless", corev1.ClusterIPNone, port("", tcp, 80, 0)),
		makeSlice("headless", "headless-a", "", tcp, 80, readyEP("10.244.0.12", testNode)),
		makeService("extname", "", withType(corev1.ServiceTypeExternalName)),
	)
}

// TestRuleset compares the whole ruleset of the representative Services
// with testdata/ruleset.golden (go test -update rewrites it).
func TestRuleset(t *testing.T) {
	tp := newTestProxier(t)
	representative(tp)
	tp.sync()
	got := tp.dump()
	golden := filepath.Join("testdata", "ruleset.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("ruleset differs from %s (rerun with -update after checking):\n%s", golden, got)
	}
}

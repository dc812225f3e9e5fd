package proxy

// Address plan of the tests:
//   pods            10.244.0.0/16; this node's pods 10.244.0.0/24, another's 10.244.1.0/24
//   ClusterIPs      10.96.0.0/12
//   node            172.18.0.2 (node name "node1")
//   off-cluster     203.0.113.0/24 (clients), 192.0.2.0/24 (LoadBalancer IPs)

import (
	"context"
	"net"
	"sort"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/knftables"

	"github.com/portway/portway/internal/agent/proxy/healthcheck"
)

const testNode = "node1"

type svcOpt func(*corev1.Service)

func makeService(name, ip string, opts ...svcOpt) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, ResourceVersion: "1"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: ip, ClusterIPs: []string{ip},
			SessionAffinity: corev1.ServiceAffinityNone},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func port(name string, proto corev1.Protocol, p, nodePort int32) svcOpt {
	return func(s *corev1.Service) {
		s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: name, Protocol: proto, Port: p,
			TargetPort: intstr.FromInt32(p), NodePort: nodePort})
		if nodePort != 0 && s.Spec.Type == corev1.ServiceTypeClusterIP {
			s.Spec.Type = corev1.ServiceTypeNodePort
		}
	}
}

func withType(t corev1.ServiceType) svcOpt { return func(s *corev1.Service) { s.Spec.Type = t } }

func etpLocal(hcPort int32) svcOpt {
	return func(s *corev1.Service) {
		s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
		s.Spec.HealthCheckNodePort = hcPort
	}
}

func itpLocal(s *corev1.Service) {
	l := corev1.ServiceInternalTrafficPolicyLocal
	s.Spec.InternalTrafficPolicy = &l
}

func affinity(seconds int32) svcOpt {
	return func(s *corev1.Service) {
		s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
		s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: &seconds}}
	}
}

func lbIngress(ip string) svcOpt {
	return func(s *corev1.Service) {
		s.Status.LoadBalancer.Ingress = append(s.Status.LoadBalancer.Ingress, corev1.LoadBalancerIngress{IP: ip})
	}
}

type ep struct {
	ip                          string
	node                        string
	ready, serving, terminating bool
}

func readyEP(ip, node string) ep { return ep{ip: ip, node: node, ready: true, serving: true} }

func terminatingEP(ip, node string) ep {
	return ep{ip: ip, node: node, serving: true, terminating: true}
}

// makeSlice is the EndpointSlice of service name with the given port
// (name, protocol, target port) and endpoints.
func makeSlice(svc, slice, portName string, proto corev1.Protocol, target int32, eps ...ep) *discoveryv1.EndpointSlice {
	sl := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: slice, ResourceVersion: "1",
			Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: &portName, Protocol: &proto, Port: &target}},
	}
	for _, e := range eps {
		e := e
		sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{Addresses: []string{e.ip}, NodeName: &e.node,
			Conditions: discoveryv1.EndpointConditions{Ready: &e.ready, Serving: &e.serving, Terminating: &e.terminating}})
	}
	return sl
}

// fakeConntrack records the clean-ups asked for.
type fakeConntrack struct {
	filters []netlink.CustomConntrackFilter
}

func (f *fakeConntrack) ConntrackDeleteFilters(_ netlink.ConntrackTableType, _ netlink.InetFamily, filters ...netlink.CustomConntrackFilter) (uint, error) {
	f.filters = append(f.filters, filters...)
	return 0, nil
}

// testProxier is a Proxier on knftables' fake, fed by informer stores the
// test fills itself (the informers are not started).
type testProxier struct {
	*Proxier
	t    *testing.T
	nft  *knftables.Fake
	ct   *fakeConntrack
	svcs cache.Indexer
	sls  cache.Indexer
}

func newTestProxier(t *testing.T) *testProxier {
	t.Helper()
	nft := knftables.NewFake(knftables.IPv4Family, DefaultTable)
	ct := &fakeConntrack{}
	hc := &healthcheck.Server{Listen: func(network, _ string) (net.Listener, error) {
		return net.Listen(network, "127.0.0.1:0")
	}}
	t.Cleanup(hc.Close)
	p, err := New(Config{NodeName: testNode, NFTables: nft, Conntrack: ct, HealthChecks: hc})
	if err != nil {
		t.Fatal(err)
	}
	factory := informers.NewSharedInformerFactory(fake.NewClientset(), 0)
	if err := p.Register(factory); err != nil {
		t.Fatal(err)
	}
	return &testProxier{Proxier: p, t: t, nft: nft, ct: ct,
		svcs: factory.Core().V1().Services().Informer().GetIndexer(),
		sls:  factory.Discovery().V1().EndpointSlices().Informer().GetIndexer()}
}

// set puts objects into the stores (as informers would) and marks their
// Services changed.
func (tp *testProxier) set(objs ...any) {
	tp.t.Helper()
	for _, o := range objs {
		var err error
		switch o := o.(type) {
		case *corev1.Service:
			err = tp.svcs.Update(o)
			tp.changed(types.NamespacedName{Namespace: o.Namespace, Name: o.Name}, true)
		case *discoveryv1.EndpointSlice:
			err = tp.sls.Update(o)
			tp.changed(types.NamespacedName{Namespace: o.Namespace, Name: o.Labels[discoveryv1.LabelServiceName]}, true)
		}
		if err != nil {
			tp.t.Fatal(err)
		}
	}
}

func (tp *testProxier) remove(objs ...any) {
	tp.t.Helper()
	for _, o := range objs {
		var err error
		switch o := o.(type) {
		case *corev1.Service:
			err = tp.svcs.Delete(o)
			tp.changed(types.NamespacedName{Namespace: o.Namespace, Name: o.Name}, true)
		case *discoveryv1.EndpointSlice:
			err = tp.sls.Delete(o)
			tp.changed(types.NamespacedName{Namespace: o.Namespace, Name: o.Labels[discoveryv1.LabelServiceName]}, true)
		}
		if err != nil {
			tp.t.Fatal(err)
		}
	}
}

func (tp *testProxier) sync() {
	tp.t.Helper()
	if err := tp.Sync(context.Background()); err != nil {
		tp.t.Fatalf("sync: %v", err)
	}
}

// dump is the fake's ruleset, one object a line.
func (tp *testProxier) dump() string { return tp.nft.Dump() }

// rulesMatching are the lines of the dump containing every one of parts.
func (tp *testProxier) lines(parts ...string) []string {
	var out []string
	for _, l := range strings.Split(tp.dump(), "\n") {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(l, p)
		}
		if ok && l != "" {
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out
}

// mustHave fails unless some line of the dump holds all of parts.
func (tp *testProxier) mustHave(parts ...string) {
	tp.t.Helper()
	if len(tp.lines(parts...)) == 0 {
		tp.t.Errorf("no line with %q in the ruleset:\n%s", parts, tp.dump())
	}
}

func (tp *testProxier) mustNotHave(parts ...string) {
	tp.t.Helper()
	if l := tp.lines(parts...); len(l) != 0 {
		tp.t.Errorf("unexpected lines with %q: %q", parts, l)
	}
}

func tpName(name string) types.NamespacedName {
	return types.NamespacedName{Namespace: "ns", Name: name}
}

package endpointslice

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	corelisters "k8s.io/client-go/listers/core/v1"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

const ns = "epdemo"

var created = metav1.NewTime(time.Date(2026, 11, 21, 7, 26, 25, 0, time.UTC))

type podOpt func(*corev1.Pod)

func ready(b bool) podOpt {
	return func(p *corev1.Pod) {
		s := corev1.ConditionFalse
		if b {
			s = corev1.ConditionTrue
		}
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: s}}
	}
}

func ip(addr string) podOpt {
	return func(p *corev1.Pod) {
		p.Status.PodIP = addr
		p.Status.PodIPs = []corev1.PodIP{{IP: addr}}
	}
}

func port(name string, num int32, proto corev1.Protocol) podOpt {
	return func(p *corev1.Pod) {
		p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports,
			corev1.ContainerPort{Name: name, ContainerPort: num, Protocol: proto})
	}
}

func phase(ph corev1.PodPhase) podOpt { return func(p *corev1.Pod) { p.Status.Phase = ph } }

func terminating(p *corev1.Pod) { p.DeletionTimestamp = &created }

func hostname(h, sub string) podOpt {
	return func(p *corev1.Pod) { p.Spec.Hostname, p.Spec.Subdomain = h, sub }
}

func pod(name, node string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: types.UID("uid-" + name), Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c"}}},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func service(name string, mod func(*corev1.Service), ports ...corev1.ServicePort) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: types.UID("uid-" + name), CreationTimestamp: created},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web"}, ClusterIP: "10.96.0.10",
			IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol}, Ports: ports,
		},
	}
	if mod != nil {
		mod(s)
	}
	return s
}

func svcPort(name string, p int32, target intstr.IntOrString, proto corev1.Protocol) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Port: p, TargetPort: target, Protocol: proto}
}

func nodeLister(t *testing.T) corelisters.NodeLister {
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	for _, n := range []string{"node-a", "node-b"} {
		err := idx.Add(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n,
			Labels: map[string]string{corev1.LabelTopologyZone: "zone-" + n[len(n)-1:]}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	return corelisters.NewNodeLister(idx)
}

// fakeClient is a fake clientset that implements generateName and stores
// EndpointSlices as they arrive over the controllers' protobuf wire.
func fakeClient(objs ...runtime.Object) *fake.Clientset {
	c := fake.NewClientset(objs...)
	for _, verb := range []string{"create", "update"} {
		c.PrependReactor(verb, "endpointslices", protobufRoundTrip(c))
	}
	n := 0
	c.PrependReactor("create", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		obj := a.(k8stesting.CreateAction).GetObject().(metav1.Object)
		if obj.GetName() == "" && obj.GetGenerateName() != "" {
			n++
			obj.SetName(fmt.Sprintf("%s%05d", obj.GetGenerateName(), n))
		}
		return false, nil, nil
	})
	return c
}

// protobufRoundTrip stores and returns, for a create or update of an
// EndpointSlice, what protobuf carries of it: an empty list arrives absent.
// Like a real client, it leaves the caller's object alone.
func protobufRoundTrip(c *fake.Clientset) k8stesting.ReactionFunc {
	return func(a k8stesting.Action) (bool, runtime.Object, error) {
		s := a.(interface{ GetObject() runtime.Object }).GetObject().(*discoveryv1.EndpointSlice)
		b, err := s.Marshal()
		if err != nil {
			return true, nil, err
		}
		sent := &discoveryv1.EndpointSlice{}
		if err := sent.Unmarshal(b); err != nil {
			return true, nil, err
		}
		if a.GetVerb() == "create" {
			err = c.Tracker().Create(a.GetResource(), sent, a.GetNamespace())
		} else {
			err = c.Tracker().Update(a.GetResource(), sent, a.GetNamespace())
		}
		if err != nil {
			return true, nil, err
		}
		return true, sent, nil
	}
}

// summary renders a slice compactly: ports, then endpoints sorted by pod.
func summary(s *discoveryv1.EndpointSlice) string {
	var ports []string
	for _, p := range s.Ports {
		ports = append(ports, fmt.Sprintf("%s:%d/%s", *p.Name, *p.Port, *p.Protocol))
	}
	var eps []string
	for _, e := range s.Endpoints {
		b := func(p *bool) string {
			if p == nil {
				return "-"
			}
			return fmt.Sprint(*p)[:1]
		}
		str := fmt.Sprintf("%s=%s r%s s%s t%s", e.TargetRef.Name, strings.Join(e.Addresses, "+"),
			b(e.Conditions.Ready), b(e.Conditions.Serving), b(e.Conditions.Terminating))
		if e.NodeName != nil {
			str += " " + *e.NodeName
		}
		if e.Zone != nil {
			str += " " + *e.Zone
		}
		if e.Hostname != nil {
			str += " host=" + *e.Hostname
		}
		eps = append(eps, str)
	}
	sort.Strings(eps)
	if s.Endpoints == nil {
		eps = []string{"null"}
	}
	if s.Ports == nil {
		ports = []string{"null"}
	}
	return "[" + strings.Join(ports, ",") + "] " + strings.Join(eps, "; ")
}

func listSlices(t *testing.T, c *fake.Clientset) []discoveryv1.EndpointSlice {
	l, err := c.DiscoveryV1().EndpointSlices(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return l.Items
}

func summaries(slices []discoveryv1.EndpointSlice) []string {
	var out []string
	for i := range slices {
		out = append(out, summary(&slices[i]))
	}
	sort.Strings(out)
	return out
}

var (
	http8080 = port("http", 8080, corev1.ProtocolTCP)
	webPods  = []*corev1.Pod{ // the pods of oracle case 080
		pod("web-1", "node-a", ip("10.244.1.5"), ready(true), http8080),
		pod("web-2", "node-b", ip("10.244.2.6"), ready(true), port("http", 9090, corev1.ProtocolTCP)),
		pod("web-3", "node-a", ip("10.244.1.7"), ready(true), port("metrics", 7070, corev1.ProtocolTCP)),
		pod("web-4", "node-b", ip("10.244.2.8"), ready(false), http8080),
		pod("web-5", "node-a", ip("10.244.1.9"), phase(corev1.PodPending), http8080),
	}
	named = svcPort("web", 80, intstr.FromString("http"), corev1.ProtocolTCP)
)

func TestReconcile(t *testing.T) {
	tests := []struct {
		name    string
		svc     *corev1.Service
		pods    []*corev1.Pod
		want    []string
		wantErr bool
	}{{
		name: "no pods: one empty slice",
		svc:  service("web-svc", nil, named),
		want: []string{"[null] null"},
	}, {
		name: "named targetPort resolves per pod; pods lacking the name get a port-less slice",
		svc:  service("web-svc", nil, named),
		pods: webPods,
		want: []string{
			"[null] web-3=10.244.1.7 rt st tf node-a zone-a",
			"[web:8080/TCP] web-1=10.244.1.5 rt st tf node-a zone-a; web-4=10.244.2.8 rf sf tf node-b zone-b; web-5=10.244.1.9 rf sf tf node-a zone-a",
			"[web:9090/TCP] web-2=10.244.2.6 rt st tf node-b zone-b",
		},
	}, {
		name: "two ports: ordered by hash as Kubernetes orders them (case 082)",
		svc:  service("web-multi", nil, named, svcPort("metrics", 7070, intstr.FromInt32(7070), corev1.ProtocolTCP)),
		pods: webPods,
		want: []string{
			"[metrics:7070/TCP,web:9090/TCP] web-2=10.244.2.6 rt st tf node-b zone-b",
			"[metrics:7070/TCP] web-3=10.244.1.7 rt st tf node-a zone-a",
			"[web:8080/TCP,metrics:7070/TCP] web-1=10.244.1.5 rt st tf node-a zone-a; web-4=10.244.2.8 rf sf tf node-b zone-b; web-5=10.244.1.9 rf sf tf node-a zone-a",
		},
	}, {
		name: "publishNotReadyAddresses: ready for all, serving as the pod is",
		svc:  service("web-pnr", func(s *corev1.Service) { s.Spec.PublishNotReadyAddresses = true }, named),
		pods: []*corev1.Pod{webPods[0], webPods[3]},
		want: []string{"[web:8080/TCP] web-1=10.244.1.5 rt st tf node-a zone-a; web-4=10.244.2.8 rt sf tf node-b zone-b"},
	}, {
		name: "terminating pod kept, not ready; terminal phases and pods without IP left out",
		svc:  service("web-svc", nil, named),
		pods: []*corev1.Pod{
			pod("web-7", "node-b", ip("10.244.2.20"), ready(true), http8080, terminating),
			pod("web-8", "node-a", ip("10.244.1.30"), ready(true), http8080, phase(corev1.PodSucceeded)),
			pod("web-9", "node-a", ip("10.244.1.31"), ready(true), http8080, phase(corev1.PodFailed)),
			pod("web-10", "node-a", ready(true), http8080),
		},
		want: []string{"[web:8080/TCP] web-7=10.244.2.20 rf st tt node-b zone-b"},
	}, {
		name:    "pod on a missing Node skipped, with an error to retry",
		svc:     service("web-svc", nil, named),
		pods:    []*corev1.Pod{webPods[0], pod("web-x", "node-gone", ip("10.244.9.9"), ready(true), http8080)},
		want:    []string{"[web:8080/TCP] web-1=10.244.1.5 rt st tf node-a zone-a"},
		wantErr: true,
	}, {
		name: "pod on a missing Node kept without zone when publishing not-ready addresses",
		svc:  service("web-pnr", func(s *corev1.Service) { s.Spec.PublishNotReadyAddresses = true }, named),
		pods: []*corev1.Pod{pod("web-x", "node-gone", ip("10.244.9.9"), ready(true), http8080)},
		want: []string{"[web:8080/TCP] web-x=10.244.9.9 rt st tf node-gone"},
	}, {
		name: "headless: hostname when the subdomain names the Service",
		svc: service("web-headless", func(s *corev1.Service) { s.Spec.ClusterIP = corev1.ClusterIPNone },
			svcPort("web", 80, intstr.FromInt32(8080), corev1.ProtocolTCP)),
		pods: []*corev1.Pod{
			pod("hl-0", "node-a", ip("10.244.1.40"), ready(true), hostname("hl-0", "web-headless")),
			pod("hl-1", "node-b", ip("10.244.2.41"), ready(true), hostname("hl-1", "other")),
		},
		want: []string{"[web:8080/TCP] hl-0=10.244.1.40 rt st tf node-a zone-a host=hl-0; hl-1=10.244.2.41 rt st tf node-b zone-b"},
	}, {
		name: "named targetPort matches name and protocol",
		svc: service("dns-svc", nil, svcPort("dns-tcp", 53, intstr.FromString("dns"), corev1.ProtocolTCP),
			svcPort("dns-udp", 53, intstr.FromString("dns"), corev1.ProtocolUDP)),
		pods: []*corev1.Pod{pod("dns-1", "node-a", ip("10.244.1.53"), ready(true), port("dns", 53, corev1.ProtocolUDP))},
		want: []string{"[dns-udp:53/UDP] dns-1=10.244.1.53 rt st tf node-a zone-a"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fakeClient()
			r := &reconciler{client: c, nodes: nodeLister(t), maxPerSlice: MaxEndpointsPerSlice, tracker: NewSliceTracker()}
			err := r.reconcile(context.Background(), tt.svc, tt.pods, nil, created.Time)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			slices := listSlices(t, c)
			if got := summaries(slices); strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("slices:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			for _, s := range slices {
				checkMeta(t, &s, tt.svc)
			}
		})
	}
}

func checkMeta(t *testing.T, s *discoveryv1.EndpointSlice, svc *corev1.Service) {
	t.Helper()
	if s.GenerateName != svc.Name+"-" || !strings.HasPrefix(s.Name, svc.Name+"-") {
		t.Errorf("name %q generateName %q", s.Name, s.GenerateName)
	}
	if s.AddressType != discoveryv1.AddressTypeIPv4 {
		t.Errorf("addressType %q", s.AddressType)
	}
	if s.Labels[discoveryv1.LabelServiceName] != svc.Name || s.Labels[discoveryv1.LabelManagedBy] != ControllerName {
		t.Errorf("labels %v", s.Labels)
	}
	if _, ok := s.Labels[corev1.IsHeadlessService]; ok != (svc.Spec.ClusterIP == corev1.ClusterIPNone) {
		t.Errorf("headless label: %v", s.Labels)
	}
	want := metav1.OwnerReference{APIVersion: "v1", Kind: "Service", Name: svc.Name, UID: svc.UID,
		Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}
	if len(s.OwnerReferences) != 1 || s.OwnerReferences[0].String() != want.String() {
		t.Errorf("ownerReferences %v", s.OwnerReferences)
	}
	if got := s.Annotations[corev1.EndpointsLastChangeTriggerTime]; got != "2026-11-21T07:26:25Z" {
		t.Errorf("trigger time %q", got)
	}
}

func TestReconcileServiceLabelsCopied(t *testing.T) {
	c := fakeClient()
	r := &reconciler{client: c, nodes: nodeLister(t), maxPerSlice: MaxEndpointsPerSlice, tracker: NewSliceTracker()}
	svc := service("fb", func(s *corev1.Service) {
		s.Labels = map[string]string{"app": "fb", discoveryv1.LabelManagedBy: "someone-else"}
	}, named)
	if err := r.reconcile(context.Background(), svc, nil, nil, time.Time{}); err != nil {
		t.Fatal(err)
	}
	s := listSlices(t, c)[0]
	want := map[string]string{"app": "fb", discoveryv1.LabelManagedBy: ControllerName, discoveryv1.LabelServiceName: "fb"}
	if fmt.Sprint(s.Labels) != fmt.Sprint(want) {
		t.Errorf("labels %v, want %v", s.Labels, want)
	}
	if _, ok := s.Annotations[corev1.EndpointsLastChangeTriggerTime]; ok {
		t.Errorf("a zero trigger time must leave the annotation out: %v", s.Annotations)
	}
}

func TestReconcileMaxPerSlice(t *testing.T) {
	var pods []*corev1.Pod
	for i := range 250 {
		pods = append(pods, pod(fmt.Sprintf("p-%d", i), "node-a", ip(fmt.Sprintf("10.244.%d.%d", i/200, i%200+1)), ready(true), http8080))
	}
	c := fakeClient()
	r := &reconciler{client: c, nodes: nodeLister(t), maxPerSlice: MaxEndpointsPerSlice, tracker: NewSliceTracker()}
	if err := r.reconcile(context.Background(), service("many", nil, named), pods, nil, time.Time{}); err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for _, s := range listSlices(t, c) {
		sizes = append(sizes, len(s.Endpoints))
	}
	sort.Ints(sizes)
	if fmt.Sprint(sizes) != "[50 100 100]" {
		t.Errorf("slice sizes %v", sizes)
	}
}

// TestReconcileUpdates runs successive syncs against the slices the
// previous ones wrote, as the controller does.
func TestReconcileUpdates(t *testing.T) {
	svc := service("web-svc", nil, named)
	steps := []struct {
		name      string
		pods      []*corev1.Pod
		want      []string
		wantNames string // which slices keep their name: "same", or "" to not check
		writes    int
	}{{
		name: "initial",
		pods: webPods,
		want: []string{
			"[null] web-3=10.244.1.7 rt st tf node-a zone-a",
			"[web:8080/TCP] web-1=10.244.1.5 rt st tf node-a zone-a; web-4=10.244.2.8 rf sf tf node-b zone-b; web-5=10.244.1.9 rf sf tf node-a zone-a",
			"[web:9090/TCP] web-2=10.244.2.6 rt st tf node-b zone-b",
		},
		writes: 3,
	}, {
		name: "readiness flips update in place",
		pods: []*corev1.Pod{
			pod("web-1", "node-a", ip("10.244.1.5"), ready(false), http8080), webPods[1], webPods[2],
			pod("web-4", "node-b", ip("10.244.2.8"), ready(true), http8080), webPods[4],
		},
		want: []string{
			"[null] web-3=10.244.1.7 rt st tf node-a zone-a",
			"[web:8080/TCP] web-1=10.244.1.5 rf sf tf node-a zone-a; web-4=10.244.2.8 rt st tf node-b zone-b; web-5=10.244.1.9 rf sf tf node-a zone-a",
			"[web:9090/TCP] web-2=10.244.2.6 rt st tf node-b zone-b",
		},
		wantNames: "same",
		// the 8080 slice, and the port-less one: Kubernetes rewrites it on
		// every sync (nil and empty port lists hash differently).
		writes: 2,
	}, {
		name:      "selector matches nothing: a slice becomes the empty placeholder",
		want:      []string{"[null] null"},
		writes:    3, // one update (a reused name), two deletes
		wantNames: "",
	}, {
		name:   "still nothing: the placeholder is left alone",
		want:   []string{"[null] null"},
		writes: 0,
	}}
	c := fakeClient()
	r := &reconciler{client: c, nodes: nodeLister(t), maxPerSlice: MaxEndpointsPerSlice, tracker: NewSliceTracker()}
	var prevNames []string
	for _, st := range steps {
		var existing []*discoveryv1.EndpointSlice
		items := listSlices(t, c)
		for i := range items {
			existing = append(existing, &items[i])
		}
		c.ClearActions()
		if err := r.reconcile(context.Background(), svc, st.pods, existing, time.Time{}); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		writes := 0
		for _, a := range c.Actions() {
			if a.GetVerb() != "list" {
				writes++
			}
		}
		if writes != st.writes {
			t.Errorf("%s: %d writes, want %d: %v", st.name, writes, st.writes, c.Actions())
		}
		slices := listSlices(t, c)
		if got := summaries(slices); strings.Join(got, "\n") != strings.Join(st.want, "\n") {
			t.Errorf("%s: slices:\n%s\nwant:\n%s", st.name, strings.Join(got, "\n"), strings.Join(st.want, "\n"))
		}
		var names []string
		for _, s := range slices {
			names = append(names, s.Name)
		}
		sort.Strings(names)
		if st.wantNames == "same" && fmt.Sprint(names) != fmt.Sprint(prevNames) {
			t.Errorf("%s: slice names %v, want %v", st.name, names, prevNames)
		}
		prevNames = names
	}
}

func TestNewPortMapKeyNilAndEmptyDiffer(t *testing.T) {
	if NewPortMapKey(nil) == NewPortMapKey([]discoveryv1.EndpointPort{}) {
		t.Error("Kubernetes hashes nil and empty port lists differently")
	}
}

func TestTriggerTimeTracker(t *testing.T) {
	tr := NewTriggerTimeTracker()
	svc := service("s", nil)
	p := pod("p", "node-a", ready(true))
	later := created.Add(time.Minute)
	p.Status.Conditions[0].LastTransitionTime = metav1.NewTime(later)
	if got := tr.Compute(svc, []*corev1.Pod{p}); !got.Equal(created.Time) {
		t.Errorf("first sync: %v, want the Service's creation", got)
	}
	if got := tr.Compute(svc, []*corev1.Pod{p}); !got.IsZero() {
		t.Errorf("nothing changed: %v, want zero", got)
	}
	p2 := p.DeepCopy()
	p2.Status.Conditions[0].LastTransitionTime = metav1.NewTime(later.Add(time.Minute))
	if got := tr.Compute(svc, []*corev1.Pod{p2}); !got.Equal(later.Add(time.Minute)) {
		t.Errorf("pod transition: %v", got)
	}
}

func TestSyncServiceGone(t *testing.T) {
	ctx := context.Background()
	owned := func(name, managedBy string) *discoveryv1.EndpointSlice {
		return &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns,
			Labels: map[string]string{discoveryv1.LabelServiceName: "web-svc", discoveryv1.LabelManagedBy: managedBy},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Service", Name: "web-svc",
				UID: "uid-web-svc", Controller: ptr.To(true)}}}}
	}
	slices := []*discoveryv1.EndpointSlice{owned("web-svc-a", ControllerName), owned("web-svc-b", ControllerName),
		owned("web-svc-user", "someone-else")}
	client := fakeClient()
	f := informers.NewSharedInformerFactory(client, 0)
	c := New(client, f)
	for _, s := range slices {
		if _, err := client.DiscoveryV1().EndpointSlices(ns).Create(ctx, s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := f.Discovery().V1().EndpointSlices().Informer().GetIndexer().Add(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.sync(ctx, ns+"/web-svc"); err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, s := range listSlices(t, client) {
		left = append(left, s.Name)
	}
	if fmt.Sprint(left) != "[web-svc-user]" {
		t.Errorf("slices left: %v", left)
	}

	// An ExternalName Service, or one without selector, is left alone.
	for _, svc := range []*corev1.Service{
		service("web-svc", func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeExternalName }),
		service("web-svc", func(s *corev1.Service) { s.Spec.Selector = nil }),
	} {
		if err := f.Core().V1().Services().Informer().GetIndexer().Add(svc); err != nil {
			t.Fatal(err)
		}
		client.ClearActions()
		if err := c.sync(ctx, ns+"/web-svc"); err != nil {
			t.Fatal(err)
		}
		if len(client.Actions()) != 0 {
			t.Errorf("%s: actions %v", svc.Spec.Type, client.Actions())
		}
	}
}

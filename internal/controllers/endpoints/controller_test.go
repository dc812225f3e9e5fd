package endpoints

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/klog/v2"
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

func port(name string, num int32) podOpt {
	return func(p *corev1.Pod) {
		p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports,
			corev1.ContainerPort{Name: name, ContainerPort: num, Protocol: corev1.ProtocolTCP})
	}
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
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, ClusterIP: "10.96.0.10",
			IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol}, Ports: ports},
	}
	if mod != nil {
		mod(s)
	}
	return s
}

func svcPort(name string, p int32, target intstr.IntOrString) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Port: p, TargetPort: target, Protocol: corev1.ProtocolTCP}
}

// render prints subsets in order: "ready|notready|ports" per subset.
func render(subsets []corev1.EndpointSubset) string {
	var out []string
	for _, ss := range subsets {
		addrs := func(as []corev1.EndpointAddress) string {
			var s []string
			for _, a := range as {
				x := a.IP + "(" + a.TargetRef.Name
				if a.Hostname != "" {
					x += ",host=" + a.Hostname
				}
				s = append(s, x+")")
			}
			return strings.Join(s, " ")
		}
		var ports []string
		for _, p := range ss.Ports {
			ports = append(ports, fmt.Sprintf("%s:%d", p.Name, p.Port))
		}
		out = append(out, addrs(ss.Addresses)+" | "+addrs(ss.NotReadyAddresses)+" | "+strings.Join(ports, ","))
	}
	return strings.Join(out, "\n")
}

var webPods = []*corev1.Pod{ // the pods of oracle case 080
	pod("web-1", "node-a", ip("10.244.1.5"), ready(true), port("http", 8080)),
	pod("web-2", "node-b", ip("10.244.2.6"), ready(true), port("http", 9090)),
	pod("web-3", "node-a", ip("10.244.1.7"), ready(true), port("metrics", 7070)),
	pod("web-4", "node-b", ip("10.244.2.8"), ready(false), port("http", 8080)),
	func() *corev1.Pod {
		p := pod("web-5", "node-a", ip("10.244.1.9"), port("http", 8080))
		p.Status.Phase = corev1.PodPending
		return p
	}(),
}

func TestDesiredSubsets(t *testing.T) {
	named := svcPort("web", 80, intstr.FromString("http"))
	term := pod("web-7", "node-b", ip("10.244.2.20"), ready(true), port("http", 8080))
	term.DeletionTimestamp = &created
	tests := []struct {
		name string
		svc  *corev1.Service
		pods []*corev1.Pod
		want string
	}{{
		name: "no pods",
		svc:  service("s", nil, named),
		want: "",
	}, {
		name: "named targetPort per pod; a pod lacking the name is left out (case 081)",
		svc:  service("web-svc", nil, named),
		pods: webPods,
		want: "10.244.2.6(web-2) |  | web:9090\n" +
			"10.244.1.5(web-1) | 10.244.1.9(web-5) 10.244.2.8(web-4) | web:8080",
	}, {
		// Subsets come in the order of their hashes, which include pod UIDs.
		name: "two ports (case 082)",
		svc:  service("web-multi", nil, named, svcPort("metrics", 7070, intstr.FromInt32(7070))),
		pods: webPods,
		want: "10.244.1.5(web-1) 10.244.1.7(web-3) 10.244.2.6(web-2) | 10.244.1.9(web-5) 10.244.2.8(web-4) | metrics:7070\n" +
			"10.244.2.6(web-2) |  | web:9090\n" +
			"10.244.1.5(web-1) | 10.244.1.9(web-5) 10.244.2.8(web-4) | web:8080",
	}, {
		name: "publishNotReadyAddresses, terminating pod included (cases 083, 088)",
		svc:  service("web-pnr", func(s *corev1.Service) { s.Spec.PublishNotReadyAddresses = true }, named),
		pods: append(append([]*corev1.Pod{}, webPods...), term),
		want: "10.244.1.5(web-1) 10.244.1.9(web-5) 10.244.2.20(web-7) 10.244.2.8(web-4) |  | web:8080\n" +
			"10.244.2.6(web-2) |  | web:9090",
	}, {
		name: "terminating pod left out",
		svc:  service("web-svc", nil, named),
		pods: []*corev1.Pod{webPods[0], term},
		want: "10.244.1.5(web-1) |  | web:8080",
	}, {
		name: "same address set behind two ports: one subset",
		svc:  service("s", nil, svcPort("a", 1, intstr.FromInt32(81)), svcPort("b", 2, intstr.FromInt32(82))),
		pods: []*corev1.Pod{webPods[0], webPods[1]},
		want: "10.244.1.5(web-1) 10.244.2.6(web-2) |  | a:81,b:82",
	}, {
		name: "headless without ports, hostname",
		svc:  service("web-headless", func(s *corev1.Service) { s.Spec.ClusterIP = corev1.ClusterIPNone }),
		pods: []*corev1.Pod{func() *corev1.Pod {
			p := pod("hl-0", "node-a", ip("10.244.1.40"), ready(true))
			p.Spec.Hostname, p.Spec.Subdomain = "hl-0", "web-headless"
			return p
		}()},
		want: "10.244.1.40(hl-0,host=hl-0) |  | ",
	}, {
		name: "ClusterIP service without ports gets nothing",
		svc:  service("s", nil),
		pods: []*corev1.Pod{webPods[0]},
		want: "",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := render(DesiredSubsets(klog.Background(), tt.svc, tt.pods))
			if got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestTruncate(t *testing.T) {
	ep := &corev1.Endpoints{Subsets: []corev1.EndpointSubset{
		{Addresses: make([]corev1.EndpointAddress, 600), NotReadyAddresses: make([]corev1.EndpointAddress, 300)},
		{Addresses: make([]corev1.EndpointAddress, 200), NotReadyAddresses: make([]corev1.EndpointAddress, 100)},
	}}
	if !Truncate(ep) {
		t.Fatal("not truncated")
	}
	got := fmt.Sprint(len(ep.Subsets[0].Addresses), len(ep.Subsets[0].NotReadyAddresses),
		len(ep.Subsets[1].Addresses), len(ep.Subsets[1].NotReadyAddresses))
	if got != "600 150 200 50" {
		t.Errorf("got %s", got)
	}
}

func newController(t *testing.T, objs ...any) (*Controller, *fake.Clientset, informers.SharedInformerFactory) {
	client := fake.NewClientset()
	f := informers.NewSharedInformerFactory(client, 0)
	c := New(client, f)
	for _, o := range objs {
		var err error
		switch o := o.(type) {
		case *corev1.Service:
			err = f.Core().V1().Services().Informer().GetIndexer().Add(o)
		case *corev1.Pod:
			err = f.Core().V1().Pods().Informer().GetIndexer().Add(o)
		case *corev1.Endpoints:
			err = f.Core().V1().Endpoints().Informer().GetIndexer().Add(o)
			if err == nil {
				_, err = client.CoreV1().Endpoints(o.Namespace).Create(context.Background(), o, metav1.CreateOptions{})
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return c, client, f
}

func TestSync(t *testing.T) {
	ctx := context.Background()
	named := svcPort("web", 80, intstr.FromString("http"))
	tests := []struct {
		name       string
		objs       []any
		key        string
		wantVerbs  string
		wantLabels map[string]string
		wantAnn    map[string]string
		wantGone   bool
	}{{
		name:       "new Service: created with its labels and the trigger time",
		objs:       []any{service("web-svc", func(s *corev1.Service) { s.Labels = map[string]string{"app": "x"} }, named), webPods[0]},
		key:        ns + "/web-svc",
		wantVerbs:  "create",
		wantLabels: map[string]string{"app": "x"},
		wantAnn:    map[string]string{corev1.EndpointsLastChangeTriggerTime: "2026-11-21T07:26:25Z"},
	}, {
		name:       "headless Service: the headless label",
		objs:       []any{service("hl", func(s *corev1.Service) { s.Spec.ClusterIP = corev1.ClusterIPNone }, named)},
		key:        ns + "/hl",
		wantVerbs:  "create",
		wantLabels: map[string]string{corev1.IsHeadlessService: ""},
		wantAnn:    map[string]string{corev1.EndpointsLastChangeTriggerTime: "2026-11-21T07:26:25Z"},
	}, {
		name: "Service without selector: user's Endpoints untouched",
		objs: []any{service("ext", func(s *corev1.Service) { s.Spec.Selector = nil }, named),
			&corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "ext", Namespace: ns, ResourceVersion: "5"}}},
		key: ns + "/ext",
	}, {
		name:     "Service gone: Endpoints deleted",
		objs:     []any{&corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "gone", Namespace: ns, ResourceVersion: "5"}}},
		key:      ns + "/gone",
		wantGone: true,
	}, {
		name: "up to date: no write",
		objs: []any{service("same", nil, named), webPods[0], &corev1.Endpoints{
			ObjectMeta: metav1.ObjectMeta{Name: "same", Namespace: ns, ResourceVersion: "5"},
			Subsets: []corev1.EndpointSubset{{
				Addresses: []corev1.EndpointAddress{{IP: "10.244.1.5", NodeName: ptr.To("node-a"),
					TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: "web-1", UID: "uid-web-1", ResourceVersion: "77"}}},
				Ports: []corev1.EndpointPort{{Name: "web", Port: 8080, Protocol: corev1.ProtocolTCP}},
			}}}},
		key: ns + "/same",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, client, _ := newController(t, tt.objs...)
			client.ClearActions()
			if err := c.sync(ctx, tt.key); err != nil {
				t.Fatal(err)
			}
			var verbs []string
			for _, a := range client.Actions() {
				verbs = append(verbs, a.GetVerb())
			}
			if tt.wantGone {
				if fmt.Sprint(verbs) != "[delete]" {
					t.Errorf("actions %v", verbs)
				}
				return
			}
			if strings.Join(verbs, ",") != tt.wantVerbs {
				t.Fatalf("actions %v, want %q", verbs, tt.wantVerbs)
			}
			if tt.wantVerbs == "" {
				return
			}
			_, name, _ := strings.Cut(tt.key, "/")
			ep, err := client.CoreV1().Endpoints(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(ep.Labels) != fmt.Sprint(tt.wantLabels) || fmt.Sprint(ep.Annotations) != fmt.Sprint(tt.wantAnn) {
				t.Errorf("labels %v annotations %v", ep.Labels, ep.Annotations)
			}
		})
	}
}

func TestSyncClearsTriggerTimeOnLaterWrites(t *testing.T) {
	ctx := context.Background()
	svc := service("web-svc", nil, svcPort("web", 80, intstr.FromString("http")))
	c, client, f := newController(t, svc, webPods[0], webPods[3])
	if err := c.sync(ctx, ns+"/web-svc"); err != nil {
		t.Fatal(err)
	}
	ep, _ := client.CoreV1().Endpoints(ns).Get(ctx, "web-svc", metav1.GetOptions{})
	if _, ok := ep.Annotations[corev1.EndpointsLastChangeTriggerTime]; !ok {
		t.Errorf("first write without trigger time: %v", ep.Annotations)
	}
	// The informer catches up, then web-4 becomes ready.
	ep.ResourceVersion = "1"
	p := webPods[3].DeepCopy()
	p.Status.Conditions[0].Status = corev1.ConditionTrue
	if err := f.Core().V1().Endpoints().Informer().GetIndexer().Add(ep); err != nil {
		t.Fatal(err)
	}
	if err := f.Core().V1().Pods().Informer().GetIndexer().Update(p); err != nil {
		t.Fatal(err)
	}
	if err := c.sync(ctx, ns+"/web-svc"); err != nil {
		t.Fatal(err)
	}
	ep, _ = client.CoreV1().Endpoints(ns).Get(ctx, "web-svc", metav1.GetOptions{})
	if _, ok := ep.Annotations[corev1.EndpointsLastChangeTriggerTime]; ok {
		t.Errorf("trigger time kept on a later write: %v", ep.Annotations)
	}
	if got := render(ep.Subsets); got != "10.244.1.5(web-1) 10.244.2.8(web-4) |  | web:8080" {
		t.Errorf("subsets %s", got)
	}
}

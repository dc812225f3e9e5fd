package endpointslicemirroring

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

const ns = "epdemo"

func extService(selector map[string]string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "ext-backend", Namespace: ns, UID: "uid-svc"},
		Spec:       corev1.ServiceSpec{Selector: selector, Ports: []corev1.ServicePort{{Name: "pg", Port: 5432}}},
	}
}

// extEndpoints is the Endpoints of oracle case 085.
func extEndpoints(portName string, mod func(*corev1.Endpoints)) *corev1.Endpoints {
	ep := &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: "ext-backend", Namespace: ns, UID: types.UID("uid-ep"),
			Labels: map[string]string{"team": "db"},
			Annotations: map[string]string{
				corev1.LastAppliedConfigAnnotation: "{}", "note": "kept",
				corev1.EndpointsLastChangeTriggerTime: "2026-11-21T07:26:25Z",
			}},
		Subsets: []corev1.EndpointSubset{{
			Addresses:         []corev1.EndpointAddress{{IP: "192.0.2.42"}, {IP: "192.0.2.43"}},
			NotReadyAddresses: []corev1.EndpointAddress{{IP: "192.0.2.44"}},
			Ports:             []corev1.EndpointPort{{Name: portName, Port: 15432, Protocol: corev1.ProtocolTCP}},
		}},
	}
	if mod != nil {
		mod(ep)
	}
	return ep
}

func summary(s *discoveryv1.EndpointSlice) string {
	var ports, eps []string
	for _, p := range s.Ports {
		ports = append(ports, fmt.Sprintf("%s:%d", *p.Name, *p.Port))
	}
	for _, e := range s.Endpoints {
		x := strings.Join(e.Addresses, "+") + fmt.Sprintf(" ready=%v", *e.Conditions.Ready)
		if e.Conditions.Serving != nil || e.Conditions.Terminating != nil {
			x += " (serving/terminating set)"
		}
		eps = append(eps, x)
	}
	sort.Strings(eps)
	return fmt.Sprintf("%s [%s] %s", s.AddressType, strings.Join(ports, ","), strings.Join(eps, "; "))
}

type fixture struct {
	c      *Controller
	client *fake.Clientset
	f      informers.SharedInformerFactory
}

func newFixture(t *testing.T, objs ...runtime.Object) *fixture {
	client := fake.NewClientset()
	n := 0
	client.PrependReactor("create", "endpointslices", func(a k8stesting.Action) (bool, runtime.Object, error) {
		s := a.(k8stesting.CreateAction).GetObject().(*discoveryv1.EndpointSlice)
		if s.Name == "" {
			n++
			s.Name = fmt.Sprintf("%s%05d", s.GenerateName, n)
			s.UID = types.UID(s.Name)
		}
		return false, nil, nil
	})
	fx := &fixture{client: client, f: informers.NewSharedInformerFactory(client, 0)}
	fx.c = New(client, fx.f)
	for _, o := range objs {
		fx.add(t, o)
	}
	return fx
}

func (fx *fixture) add(t *testing.T, o runtime.Object) {
	t.Helper()
	var err error
	switch o := o.(type) {
	case *corev1.Service:
		err = fx.f.Core().V1().Services().Informer().GetIndexer().Add(o)
	case *corev1.Endpoints:
		err = fx.f.Core().V1().Endpoints().Informer().GetIndexer().Add(o)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// sync runs one sync, then copies the API's slices into the informer.
func (fx *fixture) sync(t *testing.T) []discoveryv1.EndpointSlice {
	t.Helper()
	if err := fx.c.sync(context.Background(), ns+"/ext-backend"); err != nil {
		t.Fatal(err)
	}
	l, err := fx.client.DiscoveryV1().EndpointSlices(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	idx := fx.f.Discovery().V1().EndpointSlices().Informer().GetIndexer()
	for _, o := range idx.List() {
		_ = idx.Delete(o)
	}
	for i := range l.Items {
		_ = idx.Add(&l.Items[i])
	}
	return l.Items
}

func TestMirror(t *testing.T) {
	tests := []struct {
		name string
		objs []runtime.Object
		want []string
	}{{
		name: "selectorless Service: Endpoints mirrored, ready condition only",
		objs: []runtime.Object{extService(nil), extEndpoints("pg", nil)},
		want: []string{"IPv4 [pg:15432] 192.0.2.42 ready=true; 192.0.2.43 ready=true; 192.0.2.44 ready=false"},
	}, {
		name: "Service with a selector: not mirrored",
		objs: []runtime.Object{extService(map[string]string{"app": "x"}), extEndpoints("pg", nil)},
	}, {
		name: "no Service: not mirrored",
		objs: []runtime.Object{extEndpoints("pg", nil)},
	}, {
		name: "skip-mirror label",
		objs: []runtime.Object{extService(nil), extEndpoints("pg", func(ep *corev1.Endpoints) {
			ep.Labels[discoveryv1.LabelSkipMirror] = "true"
		})},
	}, {
		name: "IPv6 addresses go to their own slice, invalid ones are skipped",
		objs: []runtime.Object{extService(nil), extEndpoints("pg", func(ep *corev1.Endpoints) {
			ep.Subsets[0].Addresses = append(ep.Subsets[0].Addresses, corev1.EndpointAddress{IP: "2001:db8::1"},
				corev1.EndpointAddress{IP: "bogus"})
		})},
		want: []string{
			"IPv4 [pg:15432] 192.0.2.42 ready=true; 192.0.2.43 ready=true; 192.0.2.44 ready=false",
			"IPv6 [pg:15432] 2001:db8::1 ready=true",
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t, tt.objs...)
			var got []string
			for _, s := range fx.sync(t) {
				got = append(got, summary(&s))
			}
			sort.Strings(got)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestMirrorMetadataAndUpdates(t *testing.T) {
	fx := newFixture(t, extService(nil), extEndpoints("pg", nil))
	slices := fx.sync(t)
	if len(slices) != 1 {
		t.Fatalf("%d slices", len(slices))
	}
	s := slices[0]
	if s.GenerateName != "ext-backend-" {
		t.Errorf("generateName %q", s.GenerateName)
	}
	wantLabels := map[string]string{"team": "db", discoveryv1.LabelServiceName: "ext-backend", discoveryv1.LabelManagedBy: ControllerName}
	if fmt.Sprint(s.Labels) != fmt.Sprint(wantLabels) {
		t.Errorf("labels %v", s.Labels)
	}
	if fmt.Sprint(s.Annotations) != "map[note:kept]" {
		t.Errorf("annotations %v", s.Annotations)
	}
	if len(s.OwnerReferences) != 1 || s.OwnerReferences[0].Kind != "Endpoints" || s.OwnerReferences[0].UID != "uid-ep" ||
		!*s.OwnerReferences[0].Controller || !*s.OwnerReferences[0].BlockOwnerDeletion {
		t.Errorf("ownerReferences %v", s.OwnerReferences)
	}
	name := s.Name

	// Unchanged: no write.
	fx.client.ClearActions()
	fx.sync(t)
	for _, a := range fx.client.Actions() {
		if a.GetVerb() != "list" {
			t.Errorf("unexpected %s", a.GetVerb())
		}
	}

	// A renamed port: the same slice, rewritten (case 085).
	fx.add(t, extEndpoints("other", nil))
	slices = fx.sync(t)
	if len(slices) != 1 || slices[0].Name != name || *slices[0].Ports[0].Name != "other" {
		t.Errorf("after rename: %v", slices)
	}

	// The Service gets a selector: mirrored slices go.
	fx.add(t, extService(map[string]string{"app": "x"}))
	if slices = fx.sync(t); len(slices) != 0 {
		t.Errorf("after selector: %d slices", len(slices))
	}
}

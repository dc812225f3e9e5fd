package service

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
)

// getter serves objects by name, as the stores do.
type getter map[string]runtime.Object

func (g getter) Get(_ context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	if obj, ok := g[name]; ok {
		return obj.DeepCopyObject(), nil
	}
	return nil, apierrors.NewNotFound(corev1.Resource("things"), name)
}

func TestProxyLocation(t *testing.T) {
	svc := &corev1.Service{Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{
		{Name: "http", Port: 80}, {Name: "metrics", Port: 9090},
	}}}
	pod := func(ip string) *corev1.Pod {
		return &corev1.Pod{Status: corev1.PodStatus{PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}}}
	}
	ref := func(ns, name string) *corev1.ObjectReference {
		return &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: name}
	}
	eps := &corev1.Endpoints{Subsets: []corev1.EndpointSubset{{
		Addresses: []corev1.EndpointAddress{
			{IP: "10.244.0.5"}, // hand-written: no pod
			{IP: "10.244.0.6", TargetRef: ref("other", "web-1")},   // another namespace's pod
			{IP: "10.244.0.9", TargetRef: ref("default", "web-4")}, // not that pod's IP
			{IP: "10.244.0.7", TargetRef: ref("default", "web-2")},
		},
		NotReadyAddresses: []corev1.EndpointAddress{{IP: "10.244.0.8", TargetRef: ref("default", "web-3")}},
		Ports:             []corev1.EndpointPort{{Name: "http", Port: 8080}, {Name: "metrics", Port: 9100}},
	}}}
	r := proxyLocation{
		services: getter{"web": svc, "idle": svc, "starting": svc, "moved": svc},
		proxy: Proxy{
			Endpoints: getter{"web": eps, "idle": &corev1.Endpoints{}, "starting": &corev1.Endpoints{Subsets: []corev1.EndpointSubset{{
				NotReadyAddresses: eps.Subsets[0].NotReadyAddresses, Ports: eps.Subsets[0].Ports,
			}}}, "moved": &corev1.Endpoints{Subsets: []corev1.EndpointSubset{{
				Addresses: eps.Subsets[0].Addresses[2:3], Ports: eps.Subsets[0].Ports, // web-4, at an IP it no longer has
			}}}},
			Pods: getter{"web-1": pod("10.244.0.6"), "web-2": pod("10.244.0.7"), "web-3": pod("10.244.0.8"), "web-4": pod("10.244.0.4")},
		},
	}
	ctx := genericapirequest.WithNamespace(context.Background(), "default")
	for _, tc := range []struct {
		id, want, err string
	}{
		// Only web-2 is a ready pod of this namespace with its endpoint's IP;
		// the addresses are tried in a random order.
		{id: "web:http", want: "//10.244.0.7:8080"},
		{id: "web:80", want: "//10.244.0.7:8080"},
		{id: "https:web:metrics", want: "https://10.244.0.7:9100"},
		{id: "web:9090", want: "//10.244.0.7:9100"},
		{id: "web", err: `no endpoints available for service "web"`}, // no port named ""
		{id: "web:81", err: `no service port 81 found for service "web"`},
		{id: "idle:http", err: `no endpoints available for service "idle"`},
		{id: "starting:http", err: `no endpoints available for service "starting:http"`}, // none ready
		{id: "moved:http", err: `no endpoints available for service "moved:http"`},
		{id: "gone:http", err: `things "gone" not found`},
		{id: "a:b:c:d", err: `invalid service request "a:b:c:d"`},
	} {
		loc, err := r.location(ctx, tc.id)
		switch {
		case tc.err != "" && (err == nil || err.Error() != tc.err):
			t.Errorf("%s: got %v, %v; want error %q", tc.id, loc, err, tc.err)
		case tc.err == "" && (err != nil || loc.String() != tc.want):
			t.Errorf("%s: got %v, %v; want %s", tc.id, loc, err, tc.want)
		case strings.HasPrefix(tc.err, "no ") && !apierrors.IsServiceUnavailable(err):
			t.Errorf("%s: %v is not a 503", tc.id, err)
		}
	}
}

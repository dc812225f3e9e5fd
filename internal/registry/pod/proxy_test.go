package pod

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/endpoints/request"
)

func TestProxyLocation(t *testing.T) {
	_, b := newBindingStorage(t)
	r := proxyLocation{b.store}
	ctx := request.WithNamespace(context.Background(), "default")
	pod := func(name, ip string, ports ...int32) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "sidecar"}, {Name: "app"}}},
			Status: corev1.PodStatus{PodIP: ip}}
		for _, port := range ports {
			p.Spec.Containers[1].Ports = append(p.Spec.Containers[1].Ports, corev1.ContainerPort{ContainerPort: port})
		}
		if ip != "" {
			p.Status.PodIPs = []corev1.PodIP{{IP: ip}}
		}
		return p
	}
	for _, p := range []*corev1.Pod{pod("web", "10.244.1.5", 8080, 9090), pod("bare", "10.244.1.6"), pod("v6", "fd00::6", 80), pod("v6bare", "fd00::7"),
		pod("pending", ""), pod("host", "127.0.0.1", 80), pod("metadata", "169.254.169.254", 80)} {
		seed(t, ctx, b, p)
	}
	for _, tc := range []struct{ id, want, err string }{
		{id: "web", want: "//10.244.1.5:8080"},
		{id: "web:9090", want: "//10.244.1.5:9090"},
		{id: "https:web:8443", want: "https://10.244.1.5:8443"},
		{id: "bare", want: "//10.244.1.6"},
		{id: "v6", want: "//[fd00::6]:80"},
		{id: "v6bare", want: "//[fd00::7]"},
		{id: "pending", err: "address not allowed"},
		{id: "host", err: "address not allowed"},
		{id: "metadata", err: "address not allowed"},
		{id: "gone", err: `pods "gone" not found`},
		{id: "a:b:c:d", err: `invalid pod request "a:b:c:d"`},
	} {
		loc, err := r.location(ctx, tc.id)
		switch {
		case tc.err != "" && (err == nil || err.Error() != tc.err):
			t.Errorf("%s: got %v, %v; want error %q", tc.id, loc, err, tc.err)
		case tc.err == "" && (err != nil || loc.String() != tc.want):
			t.Errorf("%s: got %v, %v; want %s", tc.id, loc, err, tc.want)
		}
	}
}

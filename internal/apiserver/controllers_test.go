package apiserver

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
)

func TestStarted(t *testing.T) {
	factory := informers.NewSharedInformerFactory(fake.NewClientset(), time.Minute)
	endpoints := factory.Core().V1().Endpoints().Informer()
	epSlices := factory.Discovery().V1().EndpointSlices().Informer()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	factory.Start(ctx.Done())
	factory.Core().V1().ConfigMaps().Informer() // asked for after Start: not running

	got := started(factory)
	want := map[string]any{"Endpoints": endpoints, "EndpointSlice": epSlices}
	if len(got) != len(want) {
		t.Errorf("started = %v, want the Endpoints and EndpointSlice informers only", got)
	}
	for gvk, inf := range got {
		if want[gvk.Kind] != inf {
			t.Errorf("%s: not the factory's running informer", gvk)
		}
	}
	if got[corev1.SchemeGroupVersion.WithKind("Endpoints")] == nil || got[discoveryv1.SchemeGroupVersion.WithKind("EndpointSlice")] == nil {
		t.Errorf("started is keyed %v, want by group, version and kind", got)
	}
}

// Package endpointslice serves discovery.k8s.io/v1 EndpointSlices.
package endpointslice

import (
	"context"

	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/portway/portway/internal/printers"
	"github.com/portway/portway/internal/registry"
	"github.com/portway/portway/internal/validation"
)

// Resource is the endpointslices resource.
var Resource = &registry.Resource[*discoveryv1.EndpointSlice]{
	Resource:         discoveryv1.Resource("endpointslices"),
	Singular:         "endpointslice",
	Namespaced:       true,
	New:              func() *discoveryv1.EndpointSlice { return &discoveryv1.EndpointSlice{} },
	NewList:          func() runtime.Object { return &discoveryv1.EndpointSliceList{} },
	PrepareForCreate: func(_ context.Context, s *discoveryv1.EndpointSlice) { s.Generation = 1 },
	PrepareForUpdate: bumpGeneration,
	Validate:         validation.ValidateEndpointSlice,
	ValidateUpdate:   validation.ValidateEndpointSliceUpdate,
	Columns:          printers.EndpointSliceColumns,
	Row:              printers.EndpointSliceRow,
}

// bumpGeneration counts changes to what a slice says (not to its metadata),
// as Kubernetes does, so consumers can tell a new endpoint set.
func bumpGeneration(_ context.Context, s, old *discoveryv1.EndpointSlice) {
	if !equality.Semantic.DeepEqual(s.Endpoints, old.Endpoints) || !equality.Semantic.DeepEqual(s.Ports, old.Ports) ||
		s.AddressType != old.AddressType || !equality.Semantic.DeepEqual(s.Labels, old.Labels) {
		s.Generation = old.Generation + 1
	}
}

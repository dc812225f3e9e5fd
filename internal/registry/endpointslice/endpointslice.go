// Package endpointslice serves discovery.k8s.io/v1 EndpointSlices.
package endpointslice

import (
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/portway/portway/internal/printers"
	"github.com/portway/portway/internal/registry"
	"github.com/portway/portway/internal/validation"
)

// Resource is the endpointslices resource.
var Resource = &registry.Resource[*discoveryv1.EndpointSlice]{
	Resource:       discoveryv1.Resource("endpointslices"),
	Singular:       "endpointslice",
	Namespaced:     true,
	New:            func() *discoveryv1.EndpointSlice { return &discoveryv1.EndpointSlice{} },
	NewList:        func() runtime.Object { return &discoveryv1.EndpointSliceList{} },
	Validate:       validation.ValidateEndpointSlice,
	ValidateUpdate: validation.ValidateEndpointSliceUpdate,
	Columns:        printers.EndpointSliceColumns,
	Row:            printers.EndpointSliceRow,
}

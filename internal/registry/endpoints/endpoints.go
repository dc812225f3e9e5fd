// Package endpoints serves core/v1 Endpoints.
package endpoints

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/portway/portway/internal/printers"
	"github.com/portway/portway/internal/registry"
	"github.com/portway/portway/internal/validation"
)

// Resource is the endpoints resource.
var Resource = &registry.Resource[*corev1.Endpoints]{
	Resource:            corev1.Resource("endpoints"),
	Singular:            "endpoints",
	ShortNames:          []string{"ep"},
	AllowCreateOnUpdate: true,
	Namespaced:          true,
	New:                 func() *corev1.Endpoints { return &corev1.Endpoints{} },
	NewList:             func() runtime.Object { return &corev1.EndpointsList{} },
	Validate:            validation.ValidateEndpoints,
	ValidateUpdate:      validation.ValidateEndpointsUpdate,
	Columns:             printers.EndpointsColumns,
	Row:                 printers.EndpointsRow,
}

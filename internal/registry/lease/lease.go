// Package lease serves coordination.k8s.io/v1 Leases (node heartbeats).
package lease

import (
	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/portway/portway/internal/printers"
	"github.com/portway/portway/internal/registry"
	"github.com/portway/portway/internal/validation"
)

// Resource is the leases resource.
var Resource = &registry.Resource[*coordinationv1.Lease]{
	Resource:            coordinationv1.Resource("leases"),
	Singular:            "lease",
	AllowCreateOnUpdate: true,
	Namespaced:          true,
	New:                 func() *coordinationv1.Lease { return &coordinationv1.Lease{} },
	NewList:             func() runtime.Object { return &coordinationv1.LeaseList{} },
	Validate:            validation.ValidateLease,
	ValidateUpdate:      validation.ValidateLeaseUpdate,
	Columns:             printers.LeaseColumns,
	Row:                 printers.LeaseRow,
}

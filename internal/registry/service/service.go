// Package service serves core/v1 Services with Kubernetes' semantics:
// defaulting, validation, type changes, and ClusterIP, nodePort and
// healthCheckNodePort allocation whose claims are stored in the same etcd
// transaction as the Service (see storage.go).
package service

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/portway/portway/internal/printers"
	"github.com/portway/portway/internal/registry"
)

// Resource is the services resource.
var Resource = &registry.Resource[*corev1.Service]{
	Resource:             corev1.Resource("services"),
	Singular:             "service",
	ShortNames:           []string{"svc"},
	Categories:           []string{"all"},
	Namespaced:           true,
	New:                  func() *corev1.Service { return &corev1.Service{} },
	NewList:              func() runtime.Object { return &corev1.ServiceList{} },
	HasStatus:            true,
	ReturnDeletedObject:  true,
	NameValidation:       apivalidation.NameIsDNS1035Label,
	PrepareForCreate:     func(_ context.Context, s *corev1.Service) { s.Status = corev1.ServiceStatus{} },
	PrepareForUpdate:     func(_ context.Context, s, old *corev1.Service) { dropTypeDependentFields(s, old) },
	AllowCreateOnUpdate:  true,
	Validate:             ValidateService,
	ValidateUpdate:       ValidateServiceUpdate,
	ValidateStatusUpdate: ValidateServiceStatusUpdate,
	ValidateUpdateFirst:  true,
	Warnings:             warnings,
	Fields: func(s *corev1.Service) fields.Set {
		return fields.Set{"spec.clusterIP": s.Spec.ClusterIP, "spec.type": string(s.Spec.Type)}
	},
	Columns: printers.ServiceColumns,
	Row:     printers.ServiceRow,
}

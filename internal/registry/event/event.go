// Package event serves core/v1 Events.
package event

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/portway/portway/internal/printers"
	"github.com/portway/portway/internal/registry"
	"github.com/portway/portway/internal/validation"
)

// TTL is how long an event lives after its last update (kube-apiserver's
// --event-ttl default).
const TTL = time.Hour

// Resource is the events resource.
var Resource = &registry.Resource[*corev1.Event]{
	Resource:            corev1.Resource("events"),
	Singular:            "event",
	ShortNames:          []string{"ev"},
	AllowCreateOnUpdate: true,
	Namespaced:          true,
	New:                 func() *corev1.Event { return &corev1.Event{} },
	NewList:             func() runtime.Object { return &corev1.EventList{} },
	TTL:                 TTL,
	Validate:            validation.ValidateEvent,
	ValidateUpdate:      validation.ValidateEventUpdate,
	Fields:              selectableFields,
	Columns:             printers.EventColumns,
	Row:                 printers.EventRow,
}

func selectableFields(e *corev1.Event) fields.Set {
	source := e.Source.Component
	if source == "" {
		source = e.ReportingController
	}
	return fields.Set{
		"involvedObject.kind":            e.InvolvedObject.Kind,
		"involvedObject.namespace":       e.InvolvedObject.Namespace,
		"involvedObject.name":            e.InvolvedObject.Name,
		"involvedObject.uid":             string(e.InvolvedObject.UID),
		"involvedObject.apiVersion":      e.InvolvedObject.APIVersion,
		"involvedObject.resourceVersion": e.InvolvedObject.ResourceVersion,
		"involvedObject.fieldPath":       e.InvolvedObject.FieldPath,
		"reason":                         e.Reason,
		"reportingComponent":             e.ReportingController,
		"source":                         source,
		"type":                           e.Type,
	}
}

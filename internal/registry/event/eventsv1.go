package event

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/conversion"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/portway/portway/internal/registry"
	"github.com/portway/portway/internal/validation"
)

// EventsV1Resource serves events.k8s.io/v1 Events. They are the same objects
// as core/v1 Events (same etcd keys, stored as core/v1), converted field by
// field, so an event written through one API is read through the other.
var EventsV1Resource = func() *registry.Resource[*corev1.Event] {
	r := *Resource
	r.Resource = eventsv1.Resource("events")
	r.Validate = validateEventsV1
	return &r
}()

// validateEventsV1 adds what the events.k8s.io API requires on top of the
// core rules: a new-style event names who reported it and when.
func validateEventsV1(e *corev1.Event) field.ErrorList {
	errs := validation.ValidateEvent(e)
	required := func(value, path string) {
		if value == "" {
			errs = append(errs, field.Required(field.NewPath(path), ""))
		}
	}
	if e.EventTime.IsZero() {
		errs = append(errs, field.Required(field.NewPath("eventTime"), ""))
	}
	required(e.ReportingController, "reportingController")
	required(e.ReportingInstance, "reportingInstance")
	required(e.Action, "action")
	required(e.Reason, "reason")
	return errs
}

func init() {
	s := registry.Scheme
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	must(s.AddConversionFunc((*eventsv1.Event)(nil), (*corev1.Event)(nil), func(a, b any, _ conversion.Scope) error {
		fromEventsV1(a.(*eventsv1.Event), b.(*corev1.Event))
		return nil
	}))
	must(s.AddConversionFunc((*corev1.Event)(nil), (*eventsv1.Event)(nil), func(a, b any, _ conversion.Scope) error {
		toEventsV1(a.(*corev1.Event), b.(*eventsv1.Event))
		return nil
	}))
	must(s.AddConversionFunc((*eventsv1.EventList)(nil), (*corev1.EventList)(nil), func(a, b any, _ conversion.Scope) error {
		in, out := a.(*eventsv1.EventList), b.(*corev1.EventList)
		out.ListMeta = in.ListMeta
		out.Items = make([]corev1.Event, len(in.Items))
		for i := range in.Items {
			fromEventsV1(&in.Items[i], &out.Items[i])
		}
		return nil
	}))
	must(s.AddConversionFunc((*corev1.EventList)(nil), (*eventsv1.EventList)(nil), func(a, b any, _ conversion.Scope) error {
		in, out := a.(*corev1.EventList), b.(*eventsv1.EventList)
		out.ListMeta = in.ListMeta
		out.Items = make([]eventsv1.Event, len(in.Items))
		for i := range in.Items {
			toEventsV1(&in.Items[i], &out.Items[i])
		}
		return nil
	}))
	// Field selectors name the events.k8s.io fields; they select on the
	// stored core fields.
	renamed := map[string]string{
		"regarding.kind": "involvedObject.kind", "regarding.namespace": "involvedObject.namespace",
		"regarding.name": "involvedObject.name", "regarding.uid": "involvedObject.uid",
		"regarding.apiVersion": "involvedObject.apiVersion", "regarding.resourceVersion": "involvedObject.resourceVersion",
		"regarding.fieldPath": "involvedObject.fieldPath", "reportingController": "reportingComponent",
		"deprecatedSource": "source", "reason": "reason", "type": "type",
		"metadata.name": "metadata.name", "metadata.namespace": "metadata.namespace",
	}
	must(s.AddFieldLabelConversionFunc(eventsv1.SchemeGroupVersion.WithKind("Event"), func(label, value string) (string, string, error) {
		if core, ok := renamed[label]; ok {
			return core, value, nil
		}
		return "", "", fmt.Errorf("field label not supported: %s", label)
	}))
}

func fromEventsV1(in *eventsv1.Event, out *corev1.Event) {
	*out = corev1.Event{
		ObjectMeta:          in.ObjectMeta,
		InvolvedObject:      in.Regarding,
		Reason:              in.Reason,
		Message:             in.Note,
		Source:              in.DeprecatedSource,
		FirstTimestamp:      in.DeprecatedFirstTimestamp,
		LastTimestamp:       in.DeprecatedLastTimestamp,
		Count:               in.DeprecatedCount,
		Type:                in.Type,
		EventTime:           in.EventTime,
		Related:             in.Related,
		Action:              in.Action,
		ReportingController: in.ReportingController,
		ReportingInstance:   in.ReportingInstance,
	}
	if in.Series != nil {
		out.Series = &corev1.EventSeries{Count: in.Series.Count, LastObservedTime: in.Series.LastObservedTime}
	}
}

func toEventsV1(in *corev1.Event, out *eventsv1.Event) {
	*out = eventsv1.Event{
		ObjectMeta:               in.ObjectMeta,
		EventTime:                in.EventTime,
		ReportingController:      in.ReportingController,
		ReportingInstance:        in.ReportingInstance,
		Action:                   in.Action,
		Reason:                   in.Reason,
		Regarding:                in.InvolvedObject,
		Related:                  in.Related,
		Note:                     in.Message,
		Type:                     in.Type,
		DeprecatedSource:         in.Source,
		DeprecatedFirstTimestamp: in.FirstTimestamp,
		DeprecatedLastTimestamp:  in.LastTimestamp,
		DeprecatedCount:          in.Count,
	}
	if in.Series != nil {
		out.Series = &eventsv1.EventSeries{Count: in.Series.Count, LastObservedTime: in.Series.LastObservedTime}
	}
}

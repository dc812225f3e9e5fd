package printers

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// EventColumns are the columns of a core/v1 Event table. Unlike other
// tables the name is not first: it is the last, wide-only column.
var EventColumns = []metav1.TableColumnDefinition{
	column("Last Seen", corev1.Event{}.SwaggerDoc()["lastTimestamp"], 0),
	column("Type", corev1.Event{}.SwaggerDoc()["type"], 0),
	column("Reason", corev1.Event{}.SwaggerDoc()["reason"], 0),
	column("Object", corev1.Event{}.SwaggerDoc()["involvedObject"], 0),
	column("Subobject", corev1.ObjectReference{}.SwaggerDoc()["fieldPath"], 1),
	column("Source", corev1.Event{}.SwaggerDoc()["source"], 1),
	column("Message", corev1.Event{}.SwaggerDoc()["message"], 0),
	column("First Seen", corev1.Event{}.SwaggerDoc()["firstTimestamp"], 1),
	column("Count", corev1.Event{}.SwaggerDoc()["count"], 1),
	{Name: "Name", Type: "string", Format: "name", Priority: 1, Description: metav1.ObjectMeta{}.SwaggerDoc()["name"]},
}

// EventRow returns the cells of an Event: LAST SEEN, TYPE, REASON, OBJECT,
// SUBOBJECT, SOURCE, MESSAGE, FIRST SEEN, COUNT, NAME.
func EventRow(e *corev1.Event) []any {
	// Events written through events.k8s.io/v1 set eventTime and series
	// instead of the timestamps and count of the core API; fall back to
	// them so both kinds print alike.
	firstSeen := e.FirstTimestamp.Time
	if firstSeen.IsZero() {
		firstSeen = e.EventTime.Time
	}
	lastSeen := e.LastTimestamp.Time
	if lastSeen.IsZero() {
		lastSeen = firstSeen
	}
	count := e.Count
	if e.Series != nil {
		lastSeen = e.Series.LastObservedTime.Time
		count = e.Series.Count
	} else if count == 0 {
		count = 1 // a singleton event of the new API has no count
	}

	object := strings.ToLower(e.InvolvedObject.Kind)
	if e.InvolvedObject.Name != "" {
		object += "/" + e.InvolvedObject.Name
	}
	return []any{
		since(lastSeen),
		e.Type,
		e.Reason,
		object,
		e.InvolvedObject.FieldPath,
		eventSource(e),
		strings.TrimSpace(e.Message),
		since(firstSeen),
		int64(count),
		e.Name,
	}
}

// eventSource is "component, host", taking the reporting controller and
// instance of the new API when source is empty.
func eventSource(e *corev1.Event) string {
	component := e.Source.Component
	if component == "" {
		component = e.ReportingController
	}
	host := e.Source.Host
	if host == "" {
		host = e.ReportingInstance
	}
	if host == "" {
		return component
	}
	return component + ", " + host
}

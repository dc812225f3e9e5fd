package validation

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// oldEvent is an event as kubectl, kubelets and most controllers still write
// them: no eventTime, source instead of reportingComponent.
func oldEvent(namespace, involvedNamespace string) *corev1.Event {
	return &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "web-1.17f", Namespace: namespace},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web-1", Namespace: involvedNamespace},
		Reason:         "Scheduled",
		Message:        "Successfully assigned",
		Source:         corev1.EventSource{Component: "default-scheduler"},
		Count:          1,
		Type:           corev1.EventTypeNormal,
	}
}

// newEvent is an event as client-go's events/v1 recorder writes it through
// core/v1: eventTime, reportingComponent, reportingInstance and action set.
func newEvent(namespace, involvedNamespace string) *corev1.Event {
	return &corev1.Event{
		ObjectMeta:          metav1.ObjectMeta{Name: "web-1.17f", Namespace: namespace},
		InvolvedObject:      corev1.ObjectReference{Kind: "Pod", Name: "web-1", Namespace: involvedNamespace},
		Reason:              "Scheduled",
		Message:             "Successfully assigned",
		EventTime:           metav1.NewMicroTime(time.Date(2026, 11, 21, 7, 26, 49, 0, time.UTC)),
		ReportingController: "default-scheduler",
		ReportingInstance:   "default-scheduler-node-a",
		Action:              "Binding",
		Type:                corev1.EventTypeNormal,
	}
}

var eventCases = []createCase[*corev1.Event]{
	{name: "old style", obj: oldEvent("epdemo", "epdemo")},
	{name: "old style, cluster-scoped object in default", obj: oldEvent("default", "")},
	{
		name: "old style, namespace mismatch",
		obj:  oldEvent("epdemo", "other"),
		want: []string{`involvedObject.namespace: Invalid value: "other": does not match event.namespace`},
	},
	{
		name: "old style, cluster-scoped object outside default",
		obj:  oldEvent("epdemo", ""),
		want: []string{`involvedObject.namespace: Invalid value: "": does not match event.namespace`},
	},
	{name: "new style", obj: newEvent("epdemo", "epdemo")},
	// New-style events may name another namespace than their own.
	{name: "new style, other namespace", obj: newEvent("epdemo", "other")},
	{name: "new style, cluster-scoped object in kube-system", obj: newEvent("kube-system", "")},
	{
		name: "new style, cluster-scoped object elsewhere",
		obj:  newEvent("epdemo", ""),
		want: []string{`involvedObject.namespace: Invalid value: "": does not match event.namespace`},
	},
	{
		name: "new style without reporter, action and reason",
		obj: func() *corev1.Event {
			e := newEvent("epdemo", "epdemo")
			e.ReportingController, e.ReportingInstance, e.Action, e.Reason = "", "", "", ""
			return e
		}(),
		want: []string{
			`reportingComponent: Required value`,
			`reportingComponent: Invalid value: "": name part must be non-empty`,
			`reportingComponent: Invalid value: "": ` + qualifiedNameMsg,
			`reportingInstance: Required value`,
			`action: Required value`,
			`reason: Required value`,
		},
	},
	{
		name: "new style, too long",
		obj: func() *corev1.Event {
			e := newEvent("epdemo", "epdemo")
			e.ReportingInstance = strings.Repeat("i", 129)
			e.Action = strings.Repeat("a", 129)
			e.Reason = strings.Repeat("r", 129)
			e.Message = strings.Repeat("m", 1025)
			return e
		}(),
		want: []string{
			`reportingInstance: Invalid value: "": can have at most 128 characters`,
			`action: Invalid value: "": can have at most 128 characters`,
			`reason: Invalid value: "": can have at most 128 characters`,
			`message: Invalid value: "": can have at most 1024 characters`,
		},
	},
}

func TestValidateEvent(t *testing.T) {
	runCreateCases(t, eventCases, ValidateEvent)
}

func TestValidateEventUpdate(t *testing.T) {
	// Through core/v1 every field may change; count goes up on repeats.
	old := oldEvent("epdemo", "epdemo")
	obj := oldEvent("epdemo", "epdemo")
	obj.Count, obj.Message = 2, "again"
	checkErrors(t, ValidateEventUpdate(obj, old), nil)
}

package validation

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Length limits of the fields of a "new" (eventTime-carrying) event.
const (
	reportingInstanceLengthLimit = 128
	actionLengthLimit            = 128
	reasonLengthLimit            = 128
	noteLengthLimit              = 1024
)

// ValidateEvent validates an Event written through the core/v1 API.
//
// For core/v1 Kubernetes applies only its "legacy" rules, for backward
// compatibility with old clients (events.k8s.io/v1 adds stricter ones that
// do not apply here). An event without eventTime is an old-style event and is
// only checked for its namespace; one with eventTime must also say who
// reported it and why. Kubernetes does not validate the metadata of a core/v1
// event beyond its namespace.
func ValidateEvent(e *corev1.Event) field.ErrorList {
	var allErrs field.ErrorList
	involvedNamespace := field.NewPath("involvedObject", "namespace")
	mismatch := field.Invalid(involvedNamespace, e.InvolvedObject.Namespace, "does not match event.namespace")

	if e.EventTime.IsZero() {
		// A cluster-scoped involved object may have its events in "default"
		// (old clients put them there) or nowhere.
		if e.InvolvedObject.Namespace == "" {
			if e.Namespace != metav1.NamespaceNone && e.Namespace != metav1.NamespaceDefault {
				allErrs = append(allErrs, mismatch)
			}
		} else if e.Namespace != e.InvolvedObject.Namespace {
			allErrs = append(allErrs, mismatch)
		}
	} else {
		if e.InvolvedObject.Namespace == "" && e.Namespace != metav1.NamespaceDefault && e.Namespace != metav1.NamespaceSystem {
			allErrs = append(allErrs, mismatch)
		}
		// The core/v1 name of reportingController is reportingComponent.
		reportingPath := field.NewPath("reportingComponent")
		if e.ReportingController == "" {
			allErrs = append(allErrs, field.Required(reportingPath, ""))
		}
		allErrs = append(allErrs, validateQualifiedName(e.ReportingController, reportingPath)...)
		allErrs = append(allErrs, requiredAndLimited(e.ReportingInstance, reportingInstanceLengthLimit, true, field.NewPath("reportingInstance"))...)
		allErrs = append(allErrs, requiredAndLimited(e.Action, actionLengthLimit, true, field.NewPath("action"))...)
		allErrs = append(allErrs, requiredAndLimited(e.Reason, reasonLengthLimit, true, field.NewPath("reason"))...)
		allErrs = append(allErrs, requiredAndLimited(e.Message, noteLengthLimit, false, field.NewPath("message"))...)
	}

	allErrs = append(allErrs, invalidEach(field.NewPath("namespace"), e.Namespace, validation.IsDNS1123Subdomain(e.Namespace))...)
	return allErrs
}

// requiredAndLimited reports an empty (if required) or too long string field.
// Kubernetes does not echo the value in the too-long message.
func requiredAndLimited(value string, limit int, required bool, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if required && value == "" {
		errs = append(errs, field.Required(fldPath, ""))
	}
	if len(value) > limit {
		errs = append(errs, field.Invalid(fldPath, "", fmt.Sprintf("can have at most %v characters", limit)))
	}
	return errs
}

// ValidateEventUpdate has nothing to add to ValidateEvent: through core/v1 any
// field of an event may change (kubelets and controllers bump count and
// lastTimestamp on the same object).
func ValidateEventUpdate(_, _ *corev1.Event) field.ErrorList {
	return nil
}

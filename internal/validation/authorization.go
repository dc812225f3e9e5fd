package validation

import (
	"fmt"

	authorizationv1 "k8s.io/api/authorization/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ValidateSubjectAccessReview validates a SubjectAccessReview: who to ask
// about, and exactly one of resource or non-resource attributes.
func ValidateSubjectAccessReview(sar *authorizationv1.SubjectAccessReview) field.ErrorList {
	allErrs := validateSubjectAccessReviewSpec(sar.Spec)
	return append(allErrs, validateEmptyReviewMeta(sar.ObjectMeta, false)...)
}

// ValidateSelfSubjectAccessReview validates a SelfSubjectAccessReview; the
// user is the one who asks.
func ValidateSelfSubjectAccessReview(sar *authorizationv1.SelfSubjectAccessReview) field.ErrorList {
	spec := sar.Spec
	allErrs := validateAttributesChoice(spec.ResourceAttributes, spec.NonResourceAttributes)
	allErrs = append(allErrs, validateResourceAttributes(spec.ResourceAttributes)...)
	return append(allErrs, validateEmptyReviewMeta(sar.ObjectMeta, false)...)
}

// ValidateLocalSubjectAccessReview validates a LocalSubjectAccessReview,
// which asks about resources of its own namespace only.
func ValidateLocalSubjectAccessReview(sar *authorizationv1.LocalSubjectAccessReview) field.ErrorList {
	allErrs := validateSubjectAccessReviewSpec(sar.Spec)
	allErrs = append(allErrs, validateEmptyReviewMeta(sar.ObjectMeta, true)...)
	if ra := sar.Spec.ResourceAttributes; ra != nil && ra.Namespace != sar.Namespace {
		allErrs = append(allErrs, field.Invalid(field.NewPath("spec.resourceAttributes.namespace"), ra.Namespace, "must match metadata.namespace"))
	}
	if sar.Spec.NonResourceAttributes != nil {
		allErrs = append(allErrs, field.Invalid(field.NewPath("spec.nonResourceAttributes"), sar.Spec.NonResourceAttributes, "disallowed on this kind of request"))
	}
	return allErrs
}

func validateSubjectAccessReviewSpec(spec authorizationv1.SubjectAccessReviewSpec) field.ErrorList {
	allErrs := validateAttributesChoice(spec.ResourceAttributes, spec.NonResourceAttributes)
	if spec.User == "" && len(spec.Groups) == 0 {
		allErrs = append(allErrs, field.Invalid(field.NewPath("spec", "user"), spec.User, "at least one of user or group must be specified"))
	}
	return append(allErrs, validateResourceAttributes(spec.ResourceAttributes)...)
}

// validateAttributesChoice: a review asks about a resource or a path, not
// both and not neither. Kubernetes reports the missing case with the
// (nil) non-resource attributes as the value.
func validateAttributesChoice(ra *authorizationv1.ResourceAttributes, nra *authorizationv1.NonResourceAttributes) field.ErrorList {
	spec := field.NewPath("spec")
	switch {
	case ra != nil && nra != nil:
		return field.ErrorList{field.Invalid(spec.Child("nonResourceAttributes"), nra, "cannot be specified in combination with resourceAttributes")}
	case ra == nil && nra == nil:
		return field.ErrorList{field.Invalid(spec.Child("resourceAttributes"), nra, "exactly one of nonResourceAttributes or resourceAttributes must be specified")}
	}
	return nil
}

// validateEmptyReviewMeta: a review has no name, labels or anything else
// of an object's metadata (a local one has its namespace).
func validateEmptyReviewMeta(m metav1.ObjectMeta, namespaced bool) field.ErrorList {
	rest := m
	rest.ManagedFields = nil
	msg := "must be empty"
	if namespaced {
		rest.Namespace = ""
		msg = "must be empty except for namespace"
	}
	if !apiequality.Semantic.DeepEqual(metav1.ObjectMeta{}, rest) {
		return field.ErrorList{field.Invalid(field.NewPath("metadata"), m, msg)}
	}
	return nil
}

func validateResourceAttributes(ra *authorizationv1.ResourceAttributes) field.ErrorList {
	if ra == nil {
		return nil
	}
	fldPath := field.NewPath("spec.resourceAttributes")
	var allErrs field.ErrorList
	if fs := ra.FieldSelector; fs != nil {
		p := fldPath.Child("fieldSelector")
		allErrs = append(allErrs, validateSelectorChoice(p, fs.RawSelector, len(fs.Requirements))...)
		// Unknown operators pass: a newer client may know operators this
		// server does not, and the authorizer ignores what it cannot read.
		opts := metav1validation.FieldSelectorValidationOptions{AllowUnknownOperatorInRequirement: true}
		for i, r := range fs.Requirements {
			allErrs = append(allErrs, metav1validation.ValidateFieldSelectorRequirement(r, opts, p.Child("requirements").Index(i))...)
		}
	}
	if ls := ra.LabelSelector; ls != nil {
		p := fldPath.Child("labelSelector")
		allErrs = append(allErrs, validateSelectorChoice(p, ls.RawSelector, len(ls.Requirements))...)
		opts := metav1validation.LabelSelectorValidationOptions{AllowUnknownOperatorInRequirement: true}
		for i, r := range ls.Requirements {
			allErrs = append(allErrs, metav1validation.ValidateLabelSelectorRequirement(r, opts, p.Child("requirements").Index(i))...)
		}
	}
	return allErrs
}

// validateSelectorChoice: a selector attribute is either raw or
// requirements. "may not specified" is Kubernetes' wording.
func validateSelectorChoice(fldPath *field.Path, raw string, requirements int) field.ErrorList {
	switch {
	case raw != "" && requirements > 0:
		return field.ErrorList{field.Invalid(fldPath.Child("rawSelector"), raw, "may not specified at the same time as requirements")}
	case raw == "" && requirements == 0:
		return field.ErrorList{field.Required(fldPath.Child("requirements"), fmt.Sprintf("when %s is specified, requirements or rawSelector is required", fldPath))}
	}
	return nil
}

package validation

import (
	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ValidateNamespace validates a Namespace (create, and the new object of an
// update).
func ValidateNamespace(ns *corev1.Namespace) field.ErrorList {
	allErrs := validateKubeFinalizers(&ns.ObjectMeta)
	// Kubernetes reports these without the index, at spec.finalizers.
	for _, f := range ns.Spec.Finalizers {
		allErrs = append(allErrs, validateFinalizerName(string(f), field.NewPath("spec", "finalizers"))...)
	}
	return allErrs
}

// ValidateNamespaceUpdate has nothing to add to ValidateNamespace: a
// namespace's spec and status are not written through the main resource.
func ValidateNamespaceUpdate(_, _ *corev1.Namespace) field.ErrorList {
	return nil
}

// ValidateNamespaceStatusUpdate checks that the phase agrees with whether the
// namespace is being deleted.
func ValidateNamespaceStatusUpdate(ns, _ *corev1.Namespace) field.ErrorList {
	// "Phase" is capitalised in Kubernetes' field path.
	phasePath := field.NewPath("status", "Phase")
	if ns.DeletionTimestamp.IsZero() {
		if ns.Status.Phase != corev1.NamespaceActive {
			return field.ErrorList{field.Invalid(phasePath, ns.Status.Phase, "may only be 'Active' if `deletionTimestamp` is empty")}
		}
	} else if ns.Status.Phase != corev1.NamespaceTerminating {
		return field.ErrorList{field.Invalid(phasePath, ns.Status.Phase, "may only be 'Terminating' if `deletionTimestamp` is not empty")}
	}
	return nil
}

// ValidateNamespaceFinalizeUpdate validates a write to namespaces/finalize,
// the only way to change spec.finalizers.
func ValidateNamespaceFinalizeUpdate(ns, _ *corev1.Namespace) field.ErrorList {
	var allErrs field.ErrorList
	fldPath := field.NewPath("spec", "finalizers")
	for i, f := range ns.Spec.Finalizers {
		allErrs = append(allErrs, validateFinalizerName(string(f), fldPath.Index(i))...)
	}
	return allErrs
}

// validateFinalizerName: a finalizer is a qualified name, and a short one
// must be Kubernetes' own.
func validateFinalizerName(name string, fldPath *field.Path) field.ErrorList {
	allErrs := apivalidation.ValidateFinalizerName(name, fldPath)
	return append(allErrs, validateKubeFinalizerName(name, fldPath)...)
}

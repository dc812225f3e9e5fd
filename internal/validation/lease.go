package validation

import (
	"slices"
	"strings"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validLeaseStrategies are the unprefixed strategy names Kubernetes defines.
var validLeaseStrategies = []coordinationv1.CoordinatedLeaseStrategy{coordinationv1.OldestEmulationVersion}

// ValidateLease validates a Lease (create, and the new object of an update).
//
// strategy and preferredHolder belong to the CoordinatedLeaderElection
// feature, off by default in 1.32: kube-apiserver drops them before
// validation, so they only reach this function if the caller keeps them.
func ValidateLease(l *coordinationv1.Lease) field.ErrorList {
	var allErrs field.ErrorList
	fldPath := field.NewPath("spec")
	spec := &l.Spec
	if spec.LeaseDurationSeconds != nil && *spec.LeaseDurationSeconds <= 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("leaseDurationSeconds"), spec.LeaseDurationSeconds, "must be greater than 0"))
	}
	if spec.LeaseTransitions != nil && *spec.LeaseTransitions < 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("leaseTransitions"), spec.LeaseTransitions, "must be greater than or equal to 0"))
	}
	if spec.Strategy != nil {
		allErrs = append(allErrs, validateCoordinatedLeaseStrategy(*spec.Strategy, fldPath.Child("strategy"))...)
	}
	if spec.PreferredHolder != nil && *spec.PreferredHolder != "" && (spec.Strategy == nil || *spec.Strategy == "") {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("preferredHolder"), "may only be specified if `strategy` is defined"))
	}
	return allErrs
}

// ValidateLeaseUpdate has nothing to add to ValidateLease: any field of a
// lease may change, that is how it is renewed and taken over.
func ValidateLeaseUpdate(_, _ *coordinationv1.Lease) field.ErrorList {
	return nil
}

// validateCoordinatedLeaseStrategy: a strategy is either one of Kubernetes'
// names or a "domain/name" of someone else's.
//
// Kubernetes 1.32 appends "strategy" to a path that already ends in it, so
// the error is reported at spec.strategy.strategy; we keep that.
func validateCoordinatedLeaseStrategy(strategy coordinationv1.CoordinatedLeaseStrategy, fldPath *field.Path) field.ErrorList {
	if !strings.Contains(string(strategy), "/") {
		if !slices.Contains(validLeaseStrategies, strategy) {
			return field.ErrorList{field.NotSupported(fldPath.Child("strategy"), strategy, validLeaseStrategies)}
		}
		return nil
	}
	return invalidEach(fldPath.Child("strategy"), strategy, validation.IsQualifiedName(string(strategy)))
}

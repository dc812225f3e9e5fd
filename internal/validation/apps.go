package validation

import (
	"fmt"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The apps/v1 rules of Kubernetes 1.32 (pkg/apis/apps/validation) for
// Deployments and ReplicaSets, and autoscaling's rule for their Scale.
// Kubernetes validates the internal apps types, into which v1 converts with
// nil pointers becoming zero values; the functions here read the v1 pointers
// the same way. Selector immutability is checked here rather than in the
// registry strategy because portway serves only apps/v1, where it always
// applies.

// ValidateDeployment validates a Deployment on create, and the new object of
// an update.
func ValidateDeployment(d *appsv1.Deployment) field.ErrorList {
	allErrs := validateKubeFinalizers(&d.ObjectMeta)
	return append(allErrs, validateDeploymentSpec(&d.Spec, field.NewPath("spec"))...)
}

// ValidateDeploymentUpdate adds what an update may not do: change the
// selector.
func ValidateDeploymentUpdate(d, old *appsv1.Deployment) field.ErrorList {
	return apivalidation.ValidateImmutableField(d.Spec.Selector, old.Spec.Selector, field.NewPath("spec", "selector"))
}

// ValidateDeploymentStatusUpdate validates a write to deployments/status.
func ValidateDeploymentStatusUpdate(d, old *appsv1.Deployment) field.ErrorList {
	fldPath := field.NewPath("status")
	st := &d.Status
	allErrs := apivalidation.ValidateNonnegativeField(st.ObservedGeneration, fldPath.Child("observedGeneration"))
	for _, f := range []struct {
		name  string
		value int32
	}{
		{"replicas", st.Replicas},
		{"updatedReplicas", st.UpdatedReplicas},
		{"readyReplicas", st.ReadyReplicas},
		{"availableReplicas", st.AvailableReplicas},
		{"unavailableReplicas", st.UnavailableReplicas},
	} {
		allErrs = append(allErrs, apivalidation.ValidateNonnegativeField(int64(f.value), fldPath.Child(f.name))...)
	}
	if st.CollisionCount != nil {
		allErrs = append(allErrs, apivalidation.ValidateNonnegativeField(int64(*st.CollisionCount), fldPath.Child("collisionCount"))...)
	}
	allErrs = append(allErrs, notAboveReplicas(fldPath, st.Replicas, st.ReadyReplicas, st.AvailableReplicas,
		"updatedReplicas", st.UpdatedReplicas)...)
	if isDecremented(st.CollisionCount, old.Status.CollisionCount) {
		var value int32
		if st.CollisionCount != nil {
			value = *st.CollisionCount
		}
		allErrs = append(allErrs, field.Invalid(fldPath.Child("collisionCount"), value, "cannot be decremented"))
	}
	return allErrs
}

// notAboveReplicas checks that no count in a workload status exceeds the
// replicas it counts from, in Kubernetes' order: the named count first
// (updatedReplicas or fullyLabeledReplicas), then ready, then available.
func notAboveReplicas(fldPath *field.Path, replicas, ready, available int32, name string, value int32) field.ErrorList {
	const msg = "cannot be greater than status.replicas"
	var allErrs field.ErrorList
	if value > replicas {
		allErrs = append(allErrs, field.Invalid(fldPath.Child(name), value, msg))
	}
	if ready > replicas {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("readyReplicas"), ready, msg))
	}
	if available > replicas {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("availableReplicas"), available, msg))
	}
	if available > ready {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("availableReplicas"), available, "cannot be greater than readyReplicas"))
	}
	return allErrs
}

// isDecremented: a counter that was set went down or away.
func isDecremented(update, old *int32) bool {
	if update == nil && old != nil {
		return true
	}
	return update != nil && old != nil && *update < *old
}

// ValidateReplicaSet validates a ReplicaSet on create, and the new object of
// an update.
func ValidateReplicaSet(rs *appsv1.ReplicaSet) field.ErrorList {
	fldPath := field.NewPath("spec")
	spec := &rs.Spec
	allErrs := validateKubeFinalizers(&rs.ObjectMeta)
	allErrs = append(allErrs, apivalidation.ValidateNonnegativeField(int64(replicasOf(spec.Replicas)), fldPath.Child("replicas"))...)
	allErrs = append(allErrs, apivalidation.ValidateNonnegativeField(int64(spec.MinReadySeconds), fldPath.Child("minReadySeconds"))...)
	allErrs = append(allErrs, validateWorkloadSelector(spec.Selector, &spec.Template, fldPath)...)
	return allErrs
}

// ValidateReplicaSetUpdate adds what an update may not do: change the
// selector.
func ValidateReplicaSetUpdate(rs, old *appsv1.ReplicaSet) field.ErrorList {
	return apivalidation.ValidateImmutableField(rs.Spec.Selector, old.Spec.Selector, field.NewPath("spec", "selector"))
}

// ValidateReplicaSetStatusUpdate validates a write to replicasets/status.
func ValidateReplicaSetStatusUpdate(rs, _ *appsv1.ReplicaSet) field.ErrorList {
	fldPath := field.NewPath("status")
	st := &rs.Status
	var allErrs field.ErrorList
	for _, f := range []struct {
		name  string
		value int64
	}{
		{"replicas", int64(st.Replicas)},
		{"fullyLabeledReplicas", int64(st.FullyLabeledReplicas)},
		{"readyReplicas", int64(st.ReadyReplicas)},
		{"availableReplicas", int64(st.AvailableReplicas)},
		{"observedGeneration", st.ObservedGeneration},
	} {
		allErrs = append(allErrs, apivalidation.ValidateNonnegativeField(f.value, fldPath.Child(f.name))...)
	}
	allErrs = append(allErrs, notAboveReplicas(fldPath, st.Replicas, st.ReadyReplicas, st.AvailableReplicas,
		"fullyLabeledReplicas", st.FullyLabeledReplicas)...)
	return allErrs
}

// ValidateScale validates the Scale written to deployments/scale or
// replicasets/scale, as autoscaling's ValidateScale.
func ValidateScale(s *autoscalingv1.Scale) field.ErrorList {
	allErrs := apivalidation.ValidateObjectMeta(&s.ObjectMeta, true, apivalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	if s.Spec.Replicas < 0 {
		allErrs = append(allErrs, field.Invalid(field.NewPath("spec", "replicas"), s.Spec.Replicas, "must be greater than or equal to 0"))
	}
	return allErrs
}

// replicasOf reads a defaulted replicas pointer; nil (defaulting bypassed)
// reads as the internal type's zero.
func replicasOf(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}

func validateDeploymentSpec(spec *appsv1.DeploymentSpec, fldPath *field.Path) field.ErrorList {
	allErrs := apivalidation.ValidateNonnegativeField(int64(replicasOf(spec.Replicas)), fldPath.Child("replicas"))
	allErrs = append(allErrs, validateWorkloadSelector(spec.Selector, &spec.Template, fldPath)...)
	allErrs = append(allErrs, validateDeploymentStrategy(&spec.Strategy, fldPath.Child("strategy"))...)
	allErrs = append(allErrs, apivalidation.ValidateNonnegativeField(int64(spec.MinReadySeconds), fldPath.Child("minReadySeconds"))...)
	if spec.RevisionHistoryLimit != nil {
		allErrs = append(allErrs, apivalidation.ValidateNonnegativeField(int64(*spec.RevisionHistoryLimit), fldPath.Child("revisionHistoryLimit"))...)
	}
	if p := spec.ProgressDeadlineSeconds; p != nil {
		allErrs = append(allErrs, apivalidation.ValidateNonnegativeField(int64(*p), fldPath.Child("progressDeadlineSeconds"))...)
		if *p <= spec.MinReadySeconds {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("progressDeadlineSeconds"), *p, "must be greater than minReadySeconds"))
		}
	}
	return allErrs
}

// validateWorkloadSelector checks a Deployment's or ReplicaSet's selector
// and the pod template it must select. Kubernetes words the empty-selector
// error "for deployment" for ReplicaSets too.
func validateWorkloadSelector(sel *metav1.LabelSelector, template *corev1.PodTemplateSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	selPath := fldPath.Child("selector")
	if sel == nil {
		allErrs = append(allErrs, field.Required(selPath, ""))
	} else {
		allErrs = append(allErrs, metavalidation.ValidateLabelSelector(sel, metavalidation.LabelSelectorValidationOptions{}, selPath)...)
		if len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
			allErrs = append(allErrs, field.Invalid(selPath, sel, "empty selector is invalid for deployment"))
		}
	}
	selector, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return append(allErrs, field.Invalid(selPath, sel, "invalid label selector"))
	}
	return append(allErrs, validateReplicatedPodTemplate(template, selector, fldPath.Child("template"))...)
}

// validateReplicatedPodTemplate is Kubernetes' ValidatePodTemplateSpecForReplicaSet:
// the template's labels must match the selector, its pods restart Always and
// do not run against a deadline.
func validateReplicatedPodTemplate(template *corev1.PodTemplateSpec, selector labels.Selector, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if !selector.Empty() && !selector.Matches(labels.Set(template.Labels)) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("metadata", "labels"), template.Labels, "`selector` does not match template `labels`"))
	}
	allErrs = append(allErrs, ValidatePodTemplateSpec(template, fldPath)...)
	if template.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("spec", "restartPolicy"), template.Spec.RestartPolicy, []string{string(corev1.RestartPolicyAlways)}))
	}
	if template.Spec.ActiveDeadlineSeconds != nil {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("spec", "activeDeadlineSeconds"), "activeDeadlineSeconds in ReplicaSet is not Supported"))
	}
	return allErrs
}

// ValidatePodTemplateSpec validates the pod template of a workload with the
// pod rules of pod.go, as Kubernetes' ValidatePodTemplateSpec. Note
// Kubernetes' paths: the template's labels are reported at
// <template>.labels, not <template>.metadata.labels.
func ValidatePodTemplateSpec(template *corev1.PodTemplateSpec, fldPath *field.Path) field.ErrorList {
	allErrs := metavalidation.ValidateLabels(template.Labels, fldPath.Child("labels"))
	allErrs = append(allErrs, apivalidation.ValidateAnnotations(template.Annotations, fldPath.Child("annotations"))...)
	allErrs = append(allErrs, validatePodAnnotations(template.Annotations, &template.Spec, fldPath.Child("annotations"))...)
	// A template has no pod name: the pod-name dependent volume checks
	// (generic ephemeral volume claim names) do not apply, as with
	// Kubernetes' nil pod metadata.
	allErrs = append(allErrs, validatePodSpec(&corev1.Pod{Spec: template.Spec}, fldPath.Child("spec"))...)
	if len(template.Spec.EphemeralContainers) > 0 {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("spec", "ephemeralContainers"), "ephemeral containers not allowed in pod template"))
	}
	return allErrs
}

func validateDeploymentStrategy(strategy *appsv1.DeploymentStrategy, fldPath *field.Path) field.ErrorList {
	switch strategy.Type {
	case appsv1.RecreateDeploymentStrategyType:
		if strategy.RollingUpdate != nil {
			return field.ErrorList{field.Forbidden(fldPath.Child("rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'")}
		}
	case appsv1.RollingUpdateDeploymentStrategyType:
		if strategy.RollingUpdate == nil {
			return field.ErrorList{field.Required(fldPath.Child("rollingUpdate"), "this should be defaulted and never be nil")}
		}
		return validateRollingUpdateDeployment(strategy.RollingUpdate, fldPath.Child("rollingUpdate"))
	default:
		return field.ErrorList{field.NotSupported(fldPath, appsRepr{strategy}, []string{
			string(appsv1.RecreateDeploymentStrategyType), string(appsv1.RollingUpdateDeploymentStrategyType)})}
	}
	return nil
}

func validateRollingUpdateDeployment(ru *appsv1.RollingUpdateDeployment, fldPath *field.Path) field.ErrorList {
	maxUnavailable, maxSurge := intOrStringOf(ru.MaxUnavailable), intOrStringOf(ru.MaxSurge)
	allErrs := validatePositiveIntOrPercent(maxUnavailable, fldPath.Child("maxUnavailable"))
	allErrs = append(allErrs, validatePositiveIntOrPercent(maxSurge, fldPath.Child("maxSurge"))...)
	if intOrPercentValue(maxUnavailable) == 0 && intOrPercentValue(maxSurge) == 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("maxUnavailable"), maxUnavailable, "may not be 0 when `maxSurge` is 0"))
	}
	if v, ok := percentValue(maxUnavailable); ok && v > 100 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("maxUnavailable"), maxUnavailable, "must not be greater than 100%"))
	}
	return allErrs
}

// intOrStringOf reads a v1 pointer as the internal type's value field.
func intOrStringOf(p *intstr.IntOrString) intstr.IntOrString {
	if p == nil {
		return intstr.IntOrString{}
	}
	return *p
}

func validatePositiveIntOrPercent(v intstr.IntOrString, fldPath *field.Path) field.ErrorList {
	switch v.Type {
	case intstr.String:
		return invalidEach(fldPath, v, validation.IsValidPercent(v.StrVal))
	case intstr.Int:
		return apivalidation.ValidateNonnegativeField(int64(v.IntValue()), fldPath)
	}
	return field.ErrorList{field.Invalid(fldPath, v, "must be an integer or percentage (e.g '5%%')")}
}

// percentValue is the number of a valid percentage ("25%" is 25).
func percentValue(v intstr.IntOrString) (int, bool) {
	if v.Type != intstr.String || len(validation.IsValidPercent(v.StrVal)) != 0 {
		return 0, false
	}
	n, _ := strconv.Atoi(strings.TrimSuffix(v.StrVal, "%"))
	return n, true
}

func intOrPercentValue(v intstr.IntOrString) int {
	if n, ok := percentValue(v); ok {
		return n
	}
	return v.IntValue()
}

// appsRepr prints an apps/v1 struct value as kube-apiserver prints its
// internal apps type: apps.DeploymentStrategy{...} rather than
// v1.DeploymentStrategy{...} (see coreRepr).
type appsRepr struct{ v any }

func (r appsRepr) String() string {
	v := r.v
	if s, ok := v.(*appsv1.DeploymentStrategy); ok {
		v = *s
	}
	return v1Qualified.ReplaceAllString(fmt.Sprintf("%#v", v), "apps.$1")
}

package validation

import (
	"fmt"
	"math"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	netutils "k8s.io/utils/net"
)

// Pod updates: writes to the pod itself, and to pods/status.

// ValidatePodUpdate checks what a write to a pod may change. A pod's spec is
// fixed once created, except for container images, a shorter
// activeDeadlineSeconds, added tolerations, removed scheduling gates and, on
// a pod that is still gated, added nodeSelector entries.
func ValidatePodUpdate(p, old *corev1.Pod) field.ErrorList {
	specPath := field.NewPath("spec")
	allErrs := validatePodAnnotationUpdates(p, old, field.NewPath("metadata", "annotations"))

	// Kubernetes repeats the image checks of create here; kubectl prints
	// each message once.
	errs, stop := validateContainerUpdates(p.Spec.Containers, old.Spec.Containers, specPath.Child("containers"))
	allErrs = append(allErrs, errs...)
	if stop {
		return allErrs
	}
	errs, stop = validateContainerUpdates(p.Spec.InitContainers, old.Spec.InitContainers, specPath.Child("initContainers"))
	allErrs = append(allErrs, errs...)
	if stop {
		return allErrs
	}

	// activeDeadlineSeconds may be set, or lowered, but not raised or unset.
	deadlinePath := specPath.Child("activeDeadlineSeconds")
	if p.Spec.ActiveDeadlineSeconds != nil {
		v := *p.Spec.ActiveDeadlineSeconds
		if v < 0 || v > math.MaxInt32 {
			return append(allErrs, field.Invalid(deadlinePath, v, validation.InclusiveRangeError(0, math.MaxInt32)))
		}
		if old.Spec.ActiveDeadlineSeconds != nil && *old.Spec.ActiveDeadlineSeconds < v {
			return append(allErrs, field.Invalid(deadlinePath, v, "must be less than or equal to previous value"))
		}
	} else if old.Spec.ActiveDeadlineSeconds != nil {
		allErrs = append(allErrs, field.Invalid(deadlinePath, p.Spec.ActiveDeadlineSeconds, "must not update from a positive integer to nil value"))
	}

	allErrs = append(allErrs, validateOnlyAddedTolerations(p.Spec.Tolerations, old.Spec.Tolerations, specPath.Child("tolerations"))...)
	allErrs = append(allErrs, validateOnlyDeletedSchedulingGates(p.Spec.SchedulingGates, old.Spec.SchedulingGates, specPath.Child("schedulingGates"))...)

	// Compare the rest: the new spec with the updatable fields taken from
	// the old one must equal the old spec.
	oldSpec := comparablePodSpec(&old.Spec)
	munged := comparablePodSpec(&p.Spec)
	if apiequality.Semantic.DeepEqual(munged, oldSpec) {
		return allErrs
	}
	for i := range munged.Containers {
		munged.Containers[i].Image = oldSpec.Containers[i].Image
	}
	for i := range munged.InitContainers {
		munged.InitContainers[i].Image = oldSpec.InitContainers[i].Image
	}
	munged.ActiveDeadlineSeconds = oldSpec.ActiveDeadlineSeconds
	munged.SchedulingGates = oldSpec.SchedulingGates
	munged.Tolerations = oldSpec.Tolerations
	if len(oldSpec.SchedulingGates) > 0 && !apiequality.Semantic.DeepEqual(munged.NodeSelector, oldSpec.NodeSelector) {
		// A pod not yet scheduled may get more specific about its node.
		allErrs = append(allErrs, validateNodeSelectorMutation(specPath.Child("nodeSelector"), munged.NodeSelector, oldSpec.NodeSelector)...)
		munged.NodeSelector = oldSpec.NodeSelector
	}
	if !apiequality.Semantic.DeepEqual(munged, oldSpec) {
		// Kubernetes appends "\n" and a go-cmp diff of its internal specs,
		// whose output go-cmp deliberately randomises; we leave it out.
		allErrs = append(allErrs, field.Forbidden(specPath, "pod updates may not change fields other than "+strings.Join(updatablePodSpecFields, ",")))
	}
	return allErrs
}

// comparablePodSpec returns a copy of spec as Kubernetes' internal pod spec
// would compare: the v1 alias serviceAccount folded into serviceAccountName,
// the security context always present (the host namespace flags live there),
// and a negative grace period raised to 1 (decoding does that for pods).
func comparablePodSpec(spec *corev1.PodSpec) *corev1.PodSpec {
	c := spec.DeepCopy()
	c.ServiceAccountName = serviceAccountName(spec)
	c.DeprecatedServiceAccount = ""
	if c.SecurityContext == nil {
		c.SecurityContext = &corev1.PodSecurityContext{}
	}
	if c.TerminationGracePeriodSeconds != nil && *c.TerminationGracePeriodSeconds < 0 {
		one := int64(1)
		c.TerminationGracePeriodSeconds = &one
	}
	return c
}

func validateContainerUpdates(containers, old []corev1.Container, fldPath *field.Path) (field.ErrorList, bool) {
	if len(containers) != len(old) {
		return field.ErrorList{field.Forbidden(fldPath, "pod updates may not add or remove containers")}, true
	}
	var allErrs field.ErrorList
	for i, ctr := range containers {
		if ctr.Image == "" {
			allErrs = append(allErrs, field.Required(fldPath.Index(i).Child("image"), ""))
		}
		allErrs = append(allErrs, validateImageTrimmed(ctr.Image, fldPath.Index(i).Child("image"))...)
	}
	return allErrs, false
}

// validateOnlyAddedTolerations: existing tolerations stay, except that their
// tolerationSeconds may change.
func validateOnlyAddedTolerations(tolerations, old []corev1.Toleration, fldPath *field.Path) field.ErrorList {
	for _, o := range old {
		found := slices.ContainsFunc(tolerations, func(t corev1.Toleration) bool {
			o.TolerationSeconds = t.TolerationSeconds
			return apiequality.Semantic.DeepEqual(o, t)
		})
		if !found {
			return field.ErrorList{field.Forbidden(fldPath, "existing toleration can not be modified except its tolerationSeconds")}
		}
	}
	// Kubernetes checks the new list again here.
	return validateTolerations(tolerations, fldPath)
}

func validateOnlyDeletedSchedulingGates(gates, old []corev1.PodSchedulingGate, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, gate := range gates {
		// Kubernetes reports each new gate once, at its last index.
		if slices.ContainsFunc(old, func(o corev1.PodSchedulingGate) bool { return o.Name == gate.Name }) ||
			slices.ContainsFunc(gates[i+1:], func(g corev1.PodSchedulingGate) bool { return g.Name == gate.Name }) {
			continue
		}
		allErrs = append(allErrs, field.Forbidden(fldPath.Index(i).Child("name"), fmt.Sprintf("only deletion is allowed, but found new scheduling gate '%s'", gate.Name)))
	}
	return allErrs
}

func validateNodeSelectorMutation(fldPath *field.Path, selector, old map[string]string) field.ErrorList {
	for k, v := range old {
		if w, ok := selector[k]; !ok || v != w {
			return field.ErrorList{field.Invalid(fldPath, selector, "only additions to spec.nodeSelector are allowed (no mutations or deletions)")}
		}
	}
	return nil
}

// ValidatePodStatusUpdate validates a write to pods/status (the whole of it:
// the caller does not run ValidatePod for status writes).
func ValidatePodStatusUpdate(p, old *corev1.Pod) field.ErrorList {
	metaPath := field.NewPath("metadata")
	allErrs := validatePodAnnotationUpdates(p, old, metaPath.Child("annotations"))
	allErrs = append(allErrs, validatePodAnnotations(p.Annotations, &p.Spec, metaPath.Child("annotations"))...)
	// Kubernetes 1.32 reports bad condition types under metadata.conditions.
	allErrs = append(allErrs, validatePodConditions(p.Status.Conditions, metaPath.Child("conditions"))...)

	statusPath := field.NewPath("status")
	if p.Spec.NodeName != old.Spec.NodeName {
		allErrs = append(allErrs, field.Forbidden(statusPath.Child("nodeName"), "may not be changed directly"))
	}
	if nominated := p.Status.NominatedNodeName; nominated != old.Status.NominatedNodeName && nominated != "" {
		allErrs = append(allErrs, validateObjectName(nominated, apivalidation.NameIsDNSSubdomain, statusPath.Child("nominatedNodeName"))...)
	}
	allErrs = append(allErrs, apivalidation.ValidateImmutableField(p.Status.QOSClass, old.Status.QOSClass, statusPath.Child("qosClass"))...)

	// A container that will not be restarted stays terminated.
	allErrs = append(allErrs, validateContainerStateTransition(p.Status.ContainerStatuses, old.Status.ContainerStatuses, statusPath.Child("containerStatuses"), old.Spec.RestartPolicy, nil)...)
	allErrs = append(allErrs, validateContainerStateTransition(p.Status.InitContainerStatuses, old.Status.InitContainerStatuses, statusPath.Child("initContainerStatuses"), old.Spec.RestartPolicy, old.Spec.InitContainers)...)
	// Ephemeral containers are never restarted.
	allErrs = append(allErrs, validateContainerStateTransition(p.Status.EphemeralContainerStatuses, old.Status.EphemeralContainerStatuses, statusPath.Child("ephemeralContainerStatuses"), corev1.RestartPolicyNever, nil)...)

	allErrs = append(allErrs, validatePodIPs(&p.Status)...)
	allErrs = append(allErrs, validateHostIPs(&p.Status)...)
	return allErrs
}

// validatePodConditions: Kubernetes' own condition types are known; others
// must be qualified names.
func validatePodConditions(conditions []corev1.PodCondition, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, c := range conditions {
		switch c.Type {
		case corev1.PodScheduled, corev1.PodReady, corev1.PodInitialized:
			continue
		}
		allErrs = append(allErrs, validateQualifiedName(string(c.Type), fldPath.Index(i).Child("Type"))...)
	}
	return allErrs
}

// validateContainerStateTransition forbids a terminated container to come
// back when the restart policy says it will not be restarted. initContainers
// is set for init container statuses, where restartable (sidecar) containers
// are exempt.
func validateContainerStateTransition(statuses, old []corev1.ContainerStatus, fldPath *field.Path, policy corev1.RestartPolicy, initContainers []corev1.Container) field.ErrorList {
	if policy == corev1.RestartPolicyAlways {
		return nil
	}
	var allErrs field.ErrorList
	for i, o := range old {
		if o.State.Terminated == nil {
			continue
		}
		if o.State.Terminated.ExitCode != 0 && policy == corev1.RestartPolicyOnFailure {
			continue
		}
		if isRestartableInitContainer(o.Name, initContainers) {
			continue
		}
		for _, s := range statuses {
			if s.Name == o.Name && s.State.Terminated == nil {
				allErrs = append(allErrs, field.Forbidden(fldPath.Index(i).Child("state"), "may not be transitioned to non-terminated state"))
			}
		}
	}
	return allErrs
}

func isRestartableInitContainer(name string, initContainers []corev1.Container) bool {
	i := slices.IndexFunc(initContainers, func(c corev1.Container) bool { return c.Name == name })
	return i >= 0 && initContainers[i].RestartPolicy != nil && *initContainers[i].RestartPolicy == corev1.ContainerRestartPolicyAlways
}

// podIPs is the list Kubernetes validates: its v1 conversion makes podIP
// authoritative when it disagrees with podIPs[0], and fills podIPs from podIP
// when only the latter is set.
func podIPs(status *corev1.PodStatus) []corev1.PodIP {
	if status.PodIP != "" && (len(status.PodIPs) == 0 || status.PodIPs[0].IP != status.PodIP) {
		return []corev1.PodIP{{IP: status.PodIP}}
	}
	return status.PodIPs
}

// validatePodIPs: valid IPs, at most one per family, no duplicates.
func validatePodIPs(status *corev1.PodStatus) field.ErrorList {
	fldPath := field.NewPath("status", "podIPs")
	ips := podIPs(status)
	var allErrs field.ErrorList
	for i, ip := range ips {
		allErrs = append(allErrs, validation.IsValidIP(fldPath.Index(i), ip.IP)...)
	}
	if len(ips) > 1 {
		strs := make([]string, 0, len(ips))
		for _, ip := range ips {
			strs = append(strs, ip.IP)
		}
		dualStack, err := netutils.IsDualStackIPStrings(strs)
		if err != nil {
			allErrs = append(allErrs, field.InternalError(fldPath, fmt.Errorf("failed to check for dual stack with error:%v", err)))
		}
		if !dualStack || len(ips) > 2 {
			allErrs = append(allErrs, field.Invalid(fldPath, coreRepr{ips}, "may specify no more than one IP for each IP family"))
		}
		seen := sets.New[string]()
		for i, ip := range ips {
			if seen.Has(ip.IP) {
				allErrs = append(allErrs, field.Duplicate(fldPath.Index(i), coreRepr{ip}))
			}
			seen.Insert(ip.IP)
		}
	}
	return allErrs
}

// validateHostIPs: hostIPs[0] is hostIP; valid IPs, no duplicates, at most
// one per family. (Kubernetes checks duplicates before families here, unlike
// for pod IPs.)
func validateHostIPs(status *corev1.PodStatus) field.ErrorList {
	if len(status.HostIPs) == 0 {
		return nil
	}
	fldPath := field.NewPath("status", "hostIPs")
	var allErrs field.ErrorList
	if status.HostIP != status.HostIPs[0].IP {
		allErrs = append(allErrs, field.Invalid(fldPath.Index(0).Child("ip"), status.HostIPs[0].IP, "must be equal to `hostIP`"))
	}
	for i, ip := range status.HostIPs {
		allErrs = append(allErrs, validation.IsValidIP(fldPath.Index(i), ip.IP)...)
	}
	if len(status.HostIPs) > 1 {
		seen := sets.New[string]()
		strs := make([]string, 0, len(status.HostIPs))
		for i, ip := range status.HostIPs {
			strs = append(strs, ip.IP)
			if seen.Has(ip.IP) {
				allErrs = append(allErrs, field.Duplicate(fldPath.Index(i), coreRepr{ip}))
			}
			seen.Insert(ip.IP)
		}
		dualStack, err := netutils.IsDualStackIPStrings(strs)
		if err != nil {
			allErrs = append(allErrs, field.InternalError(fldPath, fmt.Errorf("failed to check for dual stack with error:%v", err)))
		}
		if !dualStack || len(strs) > 2 {
			allErrs = append(allErrs, field.Invalid(fldPath, coreRepr{status.HostIPs}, "may specify no more than one IP for each IP family"))
		}
	}
	return allErrs
}

// validatePodAnnotationUpdates: the mirror-pod marker and AppArmor
// annotations are set at creation and then fixed.
func validatePodAnnotationUpdates(p, old *corev1.Pod, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	fixed := func(k string) bool {
		return k == corev1.MirrorPodAnnotationKey || strings.HasPrefix(k, corev1.DeprecatedAppArmorBetaContainerAnnotationKeyPrefix)
	}
	for _, k := range sortedKeys(old.Annotations) {
		if v, ok := p.Annotations[k]; (ok && v == old.Annotations[k]) || !fixed(k) {
			continue
		}
		if k == corev1.MirrorPodAnnotationKey {
			allErrs = append(allErrs, field.Forbidden(fldPath.Key(k), "may not remove or update mirror pod annotation"))
		} else {
			allErrs = append(allErrs, field.Forbidden(fldPath.Key(k), "may not remove or update AppArmor annotations"))
		}
	}
	for _, k := range sortedKeys(p.Annotations) {
		if _, ok := old.Annotations[k]; ok || !fixed(k) {
			continue
		}
		if k == corev1.MirrorPodAnnotationKey {
			allErrs = append(allErrs, field.Forbidden(fldPath.Key(k), "may not add mirror pod annotation"))
		} else {
			allErrs = append(allErrs, field.Forbidden(fldPath.Key(k), "may not add AppArmor annotations"))
		}
	}
	return allErrs
}

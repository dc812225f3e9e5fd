package validation

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	netutils "k8s.io/utils/net"
)

// Not validated: the node annotations scheduler.alpha.kubernetes.io/taints
// and scheduler.alpha.kubernetes.io/preferAvoidPods (JSON documents from the
// alpha days of taints and scheduling hints, unused by current clients).

const podCIDRChangeMsg = "node updates may not change podCIDR except from \"\" to valid"

// ValidateNode validates a Node (create, and the new object of an update).
// Status fields are optional, but checked when present.
func ValidateNode(n *corev1.Node) field.ErrorList {
	allErrs := validateKubeFinalizers(&n.ObjectMeta)
	if len(n.Spec.Taints) > 0 {
		allErrs = append(allErrs, validateNodeTaints(n.Spec.Taints)...)
	}
	allErrs = append(allErrs, validateNodeResources(n)...)

	podCIDRs := nodePodCIDRs(&n.Spec)
	podCIDRsPath := field.NewPath("spec", "podCIDRs")
	for i, cidr := range podCIDRs {
		allErrs = append(allErrs, validation.IsValidCIDR(podCIDRsPath.Index(i), cidr)...)
	}
	// A dual-stack node has one CIDR per family, never more.
	if len(podCIDRs) > 1 {
		dualStack, err := netutils.IsDualStackCIDRStrings(podCIDRs)
		if err != nil {
			allErrs = append(allErrs, field.InternalError(podCIDRsPath, fmt.Errorf("invalid PodCIDRs. failed to check with dual stack with error:%v", err)))
		}
		if !dualStack || len(podCIDRs) > 2 {
			allErrs = append(allErrs, field.Invalid(podCIDRsPath, podCIDRs, "may specify no more than one CIDR for each IP family"))
		}
		seen := sets.New[string]()
		for i, cidr := range podCIDRs {
			if seen.Has(cidr) {
				allErrs = append(allErrs, field.Duplicate(podCIDRsPath.Index(i), cidr))
			}
			seen.Insert(cidr)
		}
	}
	return allErrs
}

// ValidateNodeUpdate checks what a write to a node may not change: the pod
// CIDRs and provider ID once set (the controller manager may fill them in),
// and the external ID. It also rejects duplicate addresses.
func ValidateNodeUpdate(n, old *corev1.Node) field.ErrorList {
	return validateNodeUpdate(n, old, false)
}

// ValidateNodeStatusUpdate validates a write to nodes/status. Kubernetes runs
// the whole of its node update validation here (not the create-time one), so
// the resource quantities and taints are checked too.
func ValidateNodeStatusUpdate(n, old *corev1.Node) field.ErrorList {
	allErrs := validateNodeResources(n)
	return append(allErrs, validateNodeUpdate(n, old, true)...)
}

// validateNodeUpdate follows the order of Kubernetes' ValidateNodeUpdate,
// where the taints come between the status config and the external ID.
func validateNodeUpdate(n, old *corev1.Node, taints bool) field.ErrorList {
	var allErrs field.ErrorList

	addresses := sets.New[corev1.NodeAddress]()
	for i, address := range n.Status.Addresses {
		if addresses.Has(address) {
			allErrs = append(allErrs, field.Duplicate(field.NewPath("status", "addresses").Index(i), coreRepr{address}))
		}
		addresses.Insert(address)
	}

	// The pod CIDRs may go from unset to set, and then never change.
	if oldCIDRs, newCIDRs := nodePodCIDRs(&old.Spec), nodePodCIDRs(&n.Spec); len(oldCIDRs) > 0 {
		podCIDRsPath := field.NewPath("spec", "podCIDRs")
		if len(oldCIDRs) != len(newCIDRs) {
			allErrs = append(allErrs, field.Forbidden(podCIDRsPath, podCIDRChangeMsg))
		} else {
			// One error per changed entry, as Kubernetes reports it.
			for i := range oldCIDRs {
				if oldCIDRs[i] != newCIDRs[i] {
					allErrs = append(allErrs, field.Forbidden(podCIDRsPath, podCIDRChangeMsg))
				}
			}
		}
	}

	if old.Spec.ProviderID != "" && old.Spec.ProviderID != n.Spec.ProviderID {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("spec", "providerID"), "node updates may not change providerID except from \"\" to valid"))
	}

	// configSource is deprecated and ignored, but still validated.
	//lint:ignore SA1019 Kubernetes 1.32 still validates the deprecated field
	if n.Spec.ConfigSource != nil {
		//lint:ignore SA1019 as above
		allErrs = append(allErrs, validateNodeConfigSource(n.Spec.ConfigSource, false, field.NewPath("spec", "configSource"))...)
	}
	if config := n.Status.Config; config != nil {
		configPath := field.NewPath("status", "config")
		for _, s := range []struct {
			name   string
			source *corev1.NodeConfigSource
		}{{"assigned", config.Assigned}, {"active", config.Active}, {"lastKnownGood", config.LastKnownGood}} {
			if s.source != nil {
				allErrs = append(allErrs, validateNodeConfigSource(s.source, true, configPath.Child(s.name))...)
			}
		}
	}

	if taints && len(n.Spec.Taints) > 0 {
		allErrs = append(allErrs, validateNodeTaints(n.Spec.Taints)...)
	}

	if n.Spec.DoNotUseExternalID != old.Spec.DoNotUseExternalID {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("spec", "externalID"), "may not be updated"))
	}
	return allErrs
}

// nodePodCIDRs is the list Kubernetes validates: its v1 conversion makes
// podCIDR authoritative when it disagrees with podCIDRs[0], and fills podCIDRs
// from podCIDR when only the latter is set.
func nodePodCIDRs(spec *corev1.NodeSpec) []string {
	if spec.PodCIDR != "" && (len(spec.PodCIDRs) == 0 || spec.PodCIDRs[0] != spec.PodCIDR) {
		return []string{spec.PodCIDR}
	}
	return spec.PodCIDRs
}

// validateNodeTaints checks each taint and that no two share key and effect.
//
// Kubernetes 1.32 reports taint errors under metadata.taints, not
// spec.taints; we keep its path.
func validateNodeTaints(taints []corev1.Taint) field.ErrorList {
	var allErrs field.ErrorList
	fldPath := field.NewPath("metadata", "taints")
	seen := map[corev1.TaintEffect]sets.Set[string]{}
	for i, taint := range taints {
		idxPath := fldPath.Index(i)
		allErrs = append(allErrs, metavalidation.ValidateLabelName(taint.Key, idxPath.Child("key"))...)
		if errs := validation.IsValidLabelValue(taint.Value); len(errs) != 0 {
			allErrs = append(allErrs, field.Invalid(idxPath.Child("value"), taint.Value, joinMsgs(errs)))
		}
		allErrs = append(allErrs, validateTaintEffect(taint.Effect, false, idxPath.Child("effect"))...)

		if seen[taint.Effect].Has(taint.Key) {
			dup := field.Duplicate(idxPath, coreRepr{taint})
			dup.Detail = "taints must be unique by key and effect pair"
			allErrs = append(allErrs, dup)
			continue
		}
		if seen[taint.Effect] == nil {
			seen[taint.Effect] = sets.New[string]()
		}
		seen[taint.Effect].Insert(taint.Key)
	}
	return allErrs
}

// validateTaintEffect checks the effect of a taint, or of a toleration, where
// empty means "any effect".
func validateTaintEffect(effect corev1.TaintEffect, allowEmpty bool, fldPath *field.Path) field.ErrorList {
	if effect == "" && !allowEmpty {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	switch effect {
	case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		return nil
	}
	valid := []corev1.TaintEffect{corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute}
	return field.ErrorList{field.NotSupported(fldPath, effect, valid)}
}

// validateNodeResources checks the capacity and allocatable quantities.
func validateNodeResources(n *corev1.Node) field.ErrorList {
	var allErrs field.ErrorList
	for _, name := range sortedKeys(n.Status.Capacity) {
		allErrs = append(allErrs, validateResourceQuantityValue(name, n.Status.Capacity[name], field.NewPath("status", "capacity", string(name)))...)
	}
	for _, name := range sortedKeys(n.Status.Allocatable) {
		allErrs = append(allErrs, validateResourceQuantityValue(name, n.Status.Allocatable[name], field.NewPath("status", "allocatable", string(name)))...)
	}
	return allErrs
}

// validateNodeConfigSource checks a (deprecated) dynamic kubelet config
// reference. In status the reference must pin a uid and resourceVersion; in
// spec it must not.
func validateNodeConfigSource(source *corev1.NodeConfigSource, status bool, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if cm := source.ConfigMap; cm != nil {
		cmPath := fldPath.Child("configMap")
		if status {
			if cm.UID == "" {
				allErrs = append(allErrs, field.Required(cmPath.Child("uid"), "uid must be set in status"))
			}
			if cm.ResourceVersion == "" {
				allErrs = append(allErrs, field.Required(cmPath.Child("resourceVersion"), "resourceVersion must be set in status"))
			}
		} else {
			if cm.UID != "" {
				allErrs = append(allErrs, field.Forbidden(cmPath.Child("uid"), "uid must not be set in spec"))
			}
			if cm.ResourceVersion != "" {
				allErrs = append(allErrs, field.Forbidden(cmPath.Child("resourceVersion"), "resourceVersion must not be set in spec"))
			}
		}
		allErrs = append(allErrs, validateConfigMapNodeConfigSource(cm, cmPath)...)
	} else {
		// ConfigMap is the only kind of source there is.
		allErrs = append(allErrs, field.Invalid(fldPath, coreRepr{*source}, "exactly one reference subfield must be non-nil"))
	}
	return allErrs
}

func validateConfigMapNodeConfigSource(source *corev1.ConfigMapNodeConfigSource, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if source.Namespace == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("namespace"), "namespace must be set"))
	} else {
		allErrs = append(allErrs, validateObjectName(source.Namespace, apivalidation.ValidateNamespaceName, fldPath.Child("namespace"))...)
	}
	if source.Name == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("name"), "name must be set"))
	} else {
		allErrs = append(allErrs, validateObjectName(source.Name, apivalidation.NameIsDNSSubdomain, fldPath.Child("name"))...)
	}
	if source.KubeletConfigKey == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("kubeletConfigKey"), "kubeletConfigKey must be set"))
	} else {
		allErrs = append(allErrs, invalidEach(fldPath.Child("kubeletConfigKey"), source.KubeletConfigKey, validation.IsConfigMapKey(source.KubeletConfigKey))...)
	}
	return allErrs
}

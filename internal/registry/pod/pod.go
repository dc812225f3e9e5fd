// Package pod serves core/v1 Pods.
package pod

import (
	"context"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/portway/portway/internal/printers"
	"github.com/portway/portway/internal/registry"
	"github.com/portway/portway/internal/validation"
)

// Resource is the pods resource; NewStorage adds pods/binding, pods/log,
// pods/exec, pods/attach, pods/portforward and pods/proxy to it.
//
// Not done yet: pods/ephemeralcontainers, pods/eviction.
var Resource = &registry.Resource[*corev1.Pod]{
	Resource:             corev1.Resource("pods"),
	Singular:             "pod",
	ShortNames:           []string{"po"},
	Categories:           []string{"all"},
	Namespaced:           true,
	New:                  func() *corev1.Pod { return &corev1.Pod{} },
	NewList:              func() runtime.Object { return &corev1.PodList{} },
	HasStatus:            true,
	ReturnDeletedObject:  true,
	PrepareForCreate:     prepareForCreate,
	GracePeriod:          gracePeriod,
	Validate:             validation.ValidatePod,
	ValidateUpdate:       validation.ValidatePodUpdate,
	ValidateStatusUpdate: validation.ValidatePodStatusUpdate,
	Fields:               selectableFields,
	Columns:              printers.PodColumns,
	Row:                  printers.PodRow,
	Conditions:           printers.PodRowConditions,
}

func prepareForCreate(_ context.Context, p *corev1.Pod) {
	p.Status = corev1.PodStatus{Phase: corev1.PodPending, QOSClass: qosClass(&p.Spec)}
	addDefaultTolerations(&p.Spec)
	setPriority(&p.Spec)
}

// setPriority does what kube-apiserver's Priority admission plugin does when
// no PriorityClass is the global default: priority 0, and the default
// preemption policy. Not done: PriorityClasses themselves (not served).
func setPriority(spec *corev1.PodSpec) {
	if spec.PriorityClassName == "" && spec.Priority == nil {
		spec.Priority = ptr.To[int32](0)
	}
	if spec.PreemptionPolicy == nil {
		spec.PreemptionPolicy = ptr.To(corev1.PreemptLowerPriority)
	}
}

// gracePeriod is how long a deleted pod may take to stop: what the client
// asked for, else its terminationGracePeriodSeconds; 0 (gone at once) for a
// pod no node runs or one that has finished.
func gracePeriod(p *corev1.Pod, options *metav1.DeleteOptions) int64 {
	var period int64
	switch {
	case options.GracePeriodSeconds != nil:
		period = *options.GracePeriodSeconds
	case p.Spec.TerminationGracePeriodSeconds != nil:
		period = *p.Spec.TerminationGracePeriodSeconds
	}
	if p.Spec.NodeName == "" || p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded {
		period = 0
	}
	if period < 0 {
		return 1 // Kubernetes' reading of a negative request
	}
	return period
}

func selectableFields(p *corev1.Pod) fields.Set {
	podIP := ""
	if len(p.Status.PodIPs) > 0 {
		podIP = p.Status.PodIPs[0].IP
	}
	return fields.Set{
		"spec.nodeName":            p.Spec.NodeName,
		"spec.restartPolicy":       string(p.Spec.RestartPolicy),
		"spec.schedulerName":       p.Spec.SchedulerName,
		"spec.serviceAccountName":  p.Spec.ServiceAccountName,
		"spec.hostNetwork":         strconv.FormatBool(p.Spec.HostNetwork),
		"status.phase":             string(p.Status.Phase),
		"status.podIP":             podIP,
		"status.nominatedNodeName": p.Status.NominatedNodeName,
	}
}

// addDefaultTolerations does what kube-apiserver's DefaultTolerationSeconds
// admission plugin does (it is on by default): pods tolerate a not-ready or
// unreachable node for 300 s before being evicted.
func addDefaultTolerations(spec *corev1.PodSpec) {
	for _, key := range []string{corev1.TaintNodeNotReady, corev1.TaintNodeUnreachable} {
		tolerated := false
		for _, t := range spec.Tolerations {
			if (t.Key == key || (t.Key == "" && t.Operator == corev1.TolerationOpExists)) &&
				(t.Effect == corev1.TaintEffectNoExecute || t.Effect == "") {
				tolerated = true
			}
		}
		if !tolerated {
			spec.Tolerations = append(spec.Tolerations, corev1.Toleration{
				Key: key, Operator: corev1.TolerationOpExists,
				Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300),
			})
		}
	}
}

// qosClass is the pod's quality of service class: Guaranteed when every
// container's cpu and memory requests equal their limits, BestEffort when no
// container asks for any, Burstable otherwise.
func qosClass(spec *corev1.PodSpec) corev1.PodQOSClass {
	compute := []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory}
	anySet, guaranteed := false, true
	for _, c := range append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...) {
		for _, r := range compute {
			req, hasReq := c.Resources.Requests[r]
			lim, hasLim := c.Resources.Limits[r]
			if (hasReq && !req.IsZero()) || (hasLim && !lim.IsZero()) {
				anySet = true
			}
			if !hasLim || lim.IsZero() || (hasReq && req.Cmp(lim) != 0) {
				guaranteed = false
			}
		}
	}
	switch {
	case !anySet:
		return corev1.PodQOSBestEffort
	case guaranteed:
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}

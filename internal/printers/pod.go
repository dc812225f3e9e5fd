package printers

import (
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// nodeLostReason is the pod status reason the node lifecycle controller sets
// on pods of an unreachable node (k8s.io/kubernetes/pkg/util/node).
const nodeLostReason = "NodeLost"

// PodColumns are the columns of a Pod table.
var PodColumns = []metav1.TableColumnDefinition{
	nameColumn,
	column("Ready", "The aggregate readiness state of this pod for accepting traffic.", 0),
	column("Status", "The aggregate status of the containers in this pod.", 0),
	column("Restarts", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.", 0),
	ageColumn,
	column("IP", corev1.PodStatus{}.SwaggerDoc()["podIP"], 1),
	column("Node", corev1.PodSpec{}.SwaggerDoc()["nodeName"], 1),
	column("Nominated Node", corev1.PodStatus{}.SwaggerDoc()["nominatedNodeName"], 1),
	column("Readiness Gates", corev1.PodSpec{}.SwaggerDoc()["readinessGates"], 1),
}

// PodRow returns the cells of a Pod: NAME, READY, STATUS, RESTARTS, AGE, IP,
// NODE, NOMINATED NODE, READINESS GATES.
func PodRow(p *corev1.Pod) []any {
	s := summarizePod(p)
	restarts := strconv.Itoa(s.restarts)
	if s.restarts != 0 && !s.lastRestart.IsZero() {
		restarts = fmt.Sprintf("%d (%s ago)", s.restarts, since(s.lastRestart))
	}
	return []any{
		p.Name,
		fmt.Sprintf("%d/%d", s.ready, s.total),
		s.reason,
		restarts,
		age(p.CreationTimestamp),
		orNone(podIP(p)),
		orNone(p.Spec.NodeName),
		orNone(p.Status.NominatedNodeName),
		readinessGates(p),
	}
}

// PodRowConditions are the row conditions Kubernetes attaches to a pod's
// table row: a Completed condition for pods that succeeded or failed, which
// lets clients tell finished pods apart. Nil for other pods.
func PodRowConditions(p *corev1.Pod) []metav1.TableRowCondition {
	switch p.Status.Phase {
	case corev1.PodSucceeded:
		return []metav1.TableRowCondition{{Type: metav1.RowCompleted, Status: metav1.ConditionTrue,
			Reason: string(corev1.PodSucceeded), Message: "The pod has completed successfully."}}
	case corev1.PodFailed:
		return []metav1.TableRowCondition{{Type: metav1.RowCompleted, Status: metav1.ConditionTrue,
			Reason: string(corev1.PodFailed), Message: "The pod failed."}}
	}
	return nil
}

// podSummary is what the READY, STATUS and RESTARTS cells are made of.
type podSummary struct {
	ready, total int
	reason       string
	restarts     int
	lastRestart  time.Time
}

// summarizePod follows Kubernetes' printPod: the status starts as the phase
// (or the pod's reason), the first unfinished init container overrides it
// with "Init:...", then, once initialized, the first container with a
// waiting or terminated reason overrides it, and deletion overrides all.
func summarizePod(p *corev1.Pod) podSummary {
	s := podSummary{total: len(p.Spec.Containers), reason: string(p.Status.Phase)}
	if p.Status.Reason != "" {
		s.reason = p.Status.Reason
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Reason == corev1.PodReasonSchedulingGated {
			s.reason = corev1.PodReasonSchedulingGated
		}
	}

	// Sidecars (init containers with restartPolicy Always) keep running
	// alongside the app containers, so they count as containers.
	sidecar := make(map[string]bool, len(p.Spec.InitContainers))
	for _, c := range p.Spec.InitContainers {
		sidecar[c.Name] = c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
		if sidecar[c.Name] {
			s.total++
		}
	}

	// While initializing, restarts count every init container; afterwards
	// only sidecars, since finished init containers no longer matter.
	var sidecarRestarts int
	var sidecarLastRestart time.Time
	initializing := false
	for i, st := range p.Status.InitContainerStatuses {
		s.restarts += int(st.RestartCount)
		s.lastRestart = later(s.lastRestart, st.LastTerminationState)
		if sidecar[st.Name] {
			sidecarRestarts += int(st.RestartCount)
			sidecarLastRestart = later(sidecarLastRestart, st.LastTerminationState)
		}
		term, wait := st.State.Terminated, st.State.Waiting
		switch {
		case term != nil && term.ExitCode == 0:
			continue
		case sidecar[st.Name] && st.Started != nil && *st.Started:
			if st.Ready {
				s.ready++
			}
			continue
		case term != nil && term.Reason != "":
			s.reason = "Init:" + term.Reason
		case term != nil && term.Signal != 0:
			s.reason = fmt.Sprintf("Init:Signal:%d", term.Signal)
		case term != nil:
			s.reason = fmt.Sprintf("Init:ExitCode:%d", term.ExitCode)
		case wait != nil && wait.Reason != "" && wait.Reason != "PodInitializing":
			s.reason = "Init:" + wait.Reason
		default:
			s.reason = fmt.Sprintf("Init:%d/%d", i, len(p.Spec.InitContainers))
		}
		// The first init container that has not finished decides the status.
		initializing = true
		break
	}

	if !initializing || podInitialized(p) {
		s.restarts, s.lastRestart = sidecarRestarts, sidecarLastRestart
		hasRunning := false
		// Walk backwards so the first container with a reason wins.
		for i := len(p.Status.ContainerStatuses) - 1; i >= 0; i-- {
			st := p.Status.ContainerStatuses[i]
			s.restarts += int(st.RestartCount)
			s.lastRestart = later(s.lastRestart, st.LastTerminationState)
			term, wait := st.State.Terminated, st.State.Waiting
			switch {
			case wait != nil && wait.Reason != "":
				s.reason = wait.Reason
			case term != nil && term.Reason != "":
				s.reason = term.Reason
			case term != nil && term.Signal != 0:
				s.reason = fmt.Sprintf("Signal:%d", term.Signal)
			case term != nil:
				s.reason = fmt.Sprintf("ExitCode:%d", term.ExitCode)
			case st.Ready && st.State.Running != nil:
				hasRunning = true
				s.ready++
			}
		}
		// A completed container next to a running one does not make the
		// pod Completed.
		if s.reason == "Completed" && hasRunning {
			if podConditionTrue(p, corev1.PodReady) {
				s.reason = "Running"
			} else {
				s.reason = "NotReady"
			}
		}
	}

	if p.DeletionTimestamp != nil {
		switch {
		case p.Status.Reason == nodeLostReason:
			s.reason = "Unknown"
		case p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed:
			s.reason = "Terminating"
		}
	}
	return s
}

// later returns the later of t and the time a container's previous run
// finished.
func later(t time.Time, last corev1.ContainerState) time.Time {
	if last.Terminated != nil && t.Before(last.Terminated.FinishedAt.Time) {
		return last.Terminated.FinishedAt.Time
	}
	return t
}

// podInitialized reports whether the pod's Initialized condition is True;
// only the first condition of that type counts.
func podInitialized(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodInitialized {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podConditionTrue reports whether any condition of type t is True.
func podConditionTrue(p *corev1.Pod, t corev1.PodConditionType) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// podIP is the pod's primary IP as Kubernetes' v1 conversion sees it: podIP
// wins over podIPs[0] when both are set.
func podIP(p *corev1.Pod) string {
	if p.Status.PodIP != "" {
		return p.Status.PodIP
	}
	if len(p.Status.PodIPs) > 0 {
		return p.Status.PodIPs[0].IP
	}
	return ""
}

// readinessGates is "true/total" over the pod's readiness gates, using the
// first condition of each gate's type, or "<none>" without gates.
func readinessGates(p *corev1.Pod) string {
	if len(p.Spec.ReadinessGates) == 0 {
		return none
	}
	trueGates := 0
	for _, g := range p.Spec.ReadinessGates {
		for _, c := range p.Status.Conditions {
			if c.Type == g.ConditionType {
				if c.Status == corev1.ConditionTrue {
					trueGates++
				}
				break
			}
		}
	}
	return fmt.Sprintf("%d/%d", trueGates, len(p.Spec.ReadinessGates))
}

// orNone returns s, or "<none>" when s is empty.
func orNone(s string) string {
	if s == "" {
		return none
	}
	return s
}

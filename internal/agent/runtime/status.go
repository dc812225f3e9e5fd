package runtime

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"

	"github.com/portway/portway/internal/agent/shim"
)

// postStatus writes the pod's status as this worker sees it, when it
// differs from the stored one. Conditions the kubelet does not own
// (PodScheduled, readiness gates' conditions) are kept.
func (w *podWorker) postStatus(ctx context.Context, pod *corev1.Pod) {
	want := w.status(pod)
	if apiequality.Semantic.DeepEqual(want, &pod.Status) {
		return
	}
	p := pod.DeepCopy()
	p.Status = *want
	_, err := w.r.client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) {
		// A newer Pod is on its way through the informer; its sync posts.
		w.poke()
		return
	}
	if err != nil && !apierrors.IsNotFound(err) && ctx.Err() == nil {
		klog.FromContext(ctx).Error(err, "updating pod status")
	}
}

// status is the kubelet's view of the pod.
func (w *podWorker) status(pod *corev1.Pod) *corev1.PodStatus {
	s := pod.Status.DeepCopy()
	s.HostIP = w.r.cfg.NodeIP
	s.HostIPs = []corev1.HostIP{{IP: w.r.cfg.NodeIP}}
	if s.StartTime == nil {
		s.StartTime = w.startTime
	}
	if w.sb != nil {
		s.PodIP = w.sb.IP
		s.PodIPs = []corev1.PodIP{{IP: w.sb.IP}}
	}
	s.InitContainerStatuses = w.containerStatuses(pod, pod.Spec.InitContainers, pod.Status.InitContainerStatuses)
	s.ContainerStatuses = w.containerStatuses(pod, pod.Spec.Containers, pod.Status.ContainerStatuses)
	terminal := pod.DeletionTimestamp != nil || w.latest() == nil
	s.Phase = phase(pod, s.InitContainerStatuses, s.ContainerStatuses, terminal)
	if s.Phase == corev1.PodPending && w.sbErr == "" && w.sb == nil {
		s.PodIP, s.PodIPs = "", nil
	}
	s.QOSClass = pod.Status.QOSClass

	var conds []corev1.PodCondition
	ready := corev1.ConditionFalse
	if w.sb != nil {
		ready = corev1.ConditionTrue
	}
	conds = append(conds, corev1.PodCondition{Type: corev1.PodReadyToStartContainers, Status: ready})
	conds = append(conds, initializedCondition(pod, s))
	containersReady := containersReadyCondition(pod, s)
	conds = append(conds, podReadyCondition(pod, containersReady))
	conds = append(conds, containersReady)
	s.Conditions = mergeConditions(pod.Status.Conditions, conds)
	return s
}

// mergeConditions replaces the kubelet's conditions in old with want,
// keeping lastTransitionTime where the status did not change, and keeps
// the others.
func mergeConditions(old, want []corev1.PodCondition) []corev1.PodCondition {
	now := apiTime(time.Now())
	out := make([]corev1.PodCondition, 0, len(old)+len(want))
	owned := map[corev1.PodConditionType]bool{}
	for _, c := range want {
		owned[c.Type] = true
	}
	for _, c := range old {
		if !owned[c.Type] {
			out = append(out, c)
		}
	}
	for _, c := range want {
		c.LastTransitionTime = now
		for _, o := range old {
			if o.Type == c.Type && o.Status == c.Status {
				c.LastTransitionTime = o.LastTransitionTime
			}
		}
		out = append(out, c)
	}
	order := []corev1.PodConditionType{corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.PodReady, corev1.ContainersReady, corev1.PodScheduled}
	rank := func(t corev1.PodConditionType) int {
		if i := slices.Index(order, t); i >= 0 {
			return i
		}
		return len(order)
	}
	slices.SortStableFunc(out, func(a, b corev1.PodCondition) int { return rank(a.Type) - rank(b.Type) })
	return out
}

func (w *podWorker) containerStatuses(pod *corev1.Pod, specs []corev1.Container, old []corev1.ContainerStatus) []corev1.ContainerStatus {
	if len(specs) == 0 {
		return nil
	}
	out := make([]corev1.ContainerStatus, 0, len(specs))
	for _, spec := range specs {
		st := corev1.ContainerStatus{Name: spec.Name, Image: spec.Image, Started: ptr.To(false)}
		c := w.containers[spec.Name]
		switch {
		case c == nil || c.cur == nil:
			// The kubelet's default: every container of a pod with init
			// containers, init ones too, is PodInitializing until it has
			// a state of its own.
			reason, msg := "ContainerCreating", ""
			if c != nil && c.waitingReason != "" {
				reason, msg = c.waitingReason, c.waitingMessage
			} else if len(pod.Spec.InitContainers) > 0 {
				reason = "PodInitializing"
			}
			st.State.Waiting = &corev1.ContainerStateWaiting{Reason: reason, Message: msg}
		default:
			st.ImageID = spec.Image
			st.ContainerID = "portway://" + c.cur.ID
			st.RestartCount = c.restarts
			if !c.cur.done() {
				st.State.Running = &corev1.ContainerStateRunning{StartedAt: apiTime(c.cur.startedAt())}
				st.Started = ptr.To(c.probes.started())
				st.Ready = *st.Started && c.probes.ready()
			} else if c.waitingReason != "" {
				st.State.Waiting = &corev1.ContainerStateWaiting{Reason: c.waitingReason, Message: c.waitingMessage}
				st.LastTerminationState.Terminated = terminated(c.cur)
			} else {
				st.State.Terminated = terminated(c.cur)
				if c.prev != nil {
					st.LastTerminationState.Terminated = terminated(c.prev)
				}
				// A finished init container counts as ready, as in Kubernetes.
				st.Ready = c.init && st.State.Terminated.ExitCode == 0
			}
			if st.LastTerminationState.Terminated == nil && c.prev != nil && !c.cur.done() {
				st.LastTerminationState.Terminated = terminated(c.prev)
			}
		}
		st.VolumeMounts = volumeMountStatuses(spec.VolumeMounts, shim.RecursiveReadOnlySupported())
		// Keep the previous status's times when nothing changed, so a
		// resync does not rewrite the pod.
		for _, o := range old {
			if o.Name == st.Name && apiequality.Semantic.DeepEqual(o.State, st.State) {
				st.State = o.State
			}
		}
		out = append(out, st)
	}
	return out
}

// apiTime is t as the API stores it, to the second, so that a status read
// back compares equal to the one computed and a resync writes nothing.
func apiTime(t time.Time) metav1.Time { return metav1.NewTime(t.Truncate(time.Second)) }

func terminated(i *instance) *corev1.ContainerStateTerminated {
	e := i.exit
	t := &corev1.ContainerStateTerminated{
		ExitCode:    e.ExitCode,
		Signal:      e.Signal,
		StartedAt:   apiTime(e.StartedAt),
		FinishedAt:  apiTime(e.FinishedAt),
		ContainerID: "portway://" + i.ID,
	}
	switch {
	case e.Error != "":
		t.Reason, t.Message = "StartError", e.Error
	case e.ExitCode == 0:
		t.Reason = "Completed"
	default:
		t.Reason = "Error"
	}
	return t
}

// phase is the kubelet's getPhase for regular init containers and
// containers.
func phase(pod *corev1.Pod, inits, ctrs []corev1.ContainerStatus, terminal bool) corev1.PodPhase {
	pendingInit, failedInit := 0, 0
	for _, st := range inits {
		switch {
		case st.State.Running != nil:
			pendingInit++
		case st.State.Terminated != nil:
			if st.State.Terminated.ExitCode != 0 {
				failedInit++
			}
		case st.LastTerminationState.Terminated != nil:
			if st.LastTerminationState.Terminated.ExitCode != 0 {
				failedInit++
			}
		default:
			pendingInit++
		}
	}
	// An init container that succeeded once may show as terminated; one
	// not yet started has no status entry worth counting otherwise.
	if len(inits) < len(pod.Spec.InitContainers) {
		pendingInit++
	}
	unknown, running, waiting, stopped, succeeded := 0, 0, 0, 0, 0
	for _, st := range ctrs {
		switch {
		case st.State.Running != nil:
			running++
		case st.State.Terminated != nil:
			stopped++
			if st.State.Terminated.ExitCode == 0 {
				succeeded++
			}
		case st.State.Waiting != nil:
			if st.LastTerminationState.Terminated != nil {
				stopped++
			} else {
				waiting++
			}
		default:
			unknown++
		}
	}
	if failedInit > 0 && pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
		return corev1.PodFailed
	}
	anyStarted := running > 0 || stopped > 0
	switch {
	case pendingInit > 0 && !anyStarted, waiting > 0:
		return corev1.PodPending
	case running > 0 && unknown == 0:
		return corev1.PodRunning
	case running == 0 && stopped > 0 && unknown == 0:
		if terminal {
			if stopped == succeeded {
				return corev1.PodSucceeded
			}
			return corev1.PodFailed
		}
		if pod.Spec.RestartPolicy == corev1.RestartPolicyAlways {
			return corev1.PodRunning
		}
		if stopped == succeeded {
			return corev1.PodSucceeded
		}
		if pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
			return corev1.PodFailed
		}
		return corev1.PodRunning
	}
	return corev1.PodPending
}

func initializedCondition(pod *corev1.Pod, s *corev1.PodStatus) corev1.PodCondition {
	c := corev1.PodCondition{Type: corev1.PodInitialized, Status: corev1.ConditionTrue}
	if s.Phase == corev1.PodSucceeded && len(pod.Spec.InitContainers) > 0 {
		c.Reason = "PodCompleted"
		return c
	}
	for _, st := range s.ContainerStatuses {
		if st.State.Running != nil || st.State.Terminated != nil || st.LastTerminationState.Terminated != nil {
			return c // a container started: initialized before
		}
	}
	var incomplete []string
	for _, ic := range pod.Spec.InitContainers {
		ready := false
		for _, st := range s.InitContainerStatuses {
			if st.Name == ic.Name {
				ready = st.Ready
			}
		}
		if !ready {
			incomplete = append(incomplete, ic.Name)
		}
	}
	if len(incomplete) > 0 {
		c.Status, c.Reason = corev1.ConditionFalse, "ContainersNotInitialized"
		c.Message = fmt.Sprintf("containers with incomplete status: [%s]", strings.Join(incomplete, " "))
	}
	return c
}

func containersReadyCondition(pod *corev1.Pod, s *corev1.PodStatus) corev1.PodCondition {
	c := corev1.PodCondition{Type: corev1.ContainersReady, Status: corev1.ConditionTrue}
	switch s.Phase {
	case corev1.PodSucceeded:
		c.Status, c.Reason = corev1.ConditionFalse, "PodCompleted"
		return c
	case corev1.PodFailed:
		c.Status, c.Reason = corev1.ConditionFalse, "PodFailed"
		return c
	}
	var unready []string
	for _, spec := range pod.Spec.Containers {
		for _, st := range s.ContainerStatuses {
			if st.Name == spec.Name && !st.Ready {
				unready = append(unready, spec.Name)
			}
		}
	}
	if len(unready) > 0 {
		c.Status, c.Reason = corev1.ConditionFalse, "ContainersNotReady"
		c.Message = fmt.Sprintf("containers with unready status: [%s]", strings.Join(unready, " "))
	}
	return c
}

func podReadyCondition(pod *corev1.Pod, containersReady corev1.PodCondition) corev1.PodCondition {
	c := corev1.PodCondition{Type: corev1.PodReady, Status: containersReady.Status, Reason: containersReady.Reason, Message: containersReady.Message}
	if c.Status != corev1.ConditionTrue {
		return c
	}
	var unready []string
	for _, g := range pod.Spec.ReadinessGates {
		found := false
		for _, pc := range pod.Status.Conditions {
			if pc.Type == g.ConditionType {
				found = true
				if pc.Status != corev1.ConditionTrue {
					unready = append(unready, fmt.Sprintf("the status of pod readiness gate %q is not \"True\", but %v", g.ConditionType, pc.Status))
				}
			}
		}
		if !found {
			unready = append(unready, fmt.Sprintf("corresponding condition of pod readiness gate %q does not exist.", g.ConditionType))
		}
	}
	if len(unready) > 0 {
		c.Status, c.Reason, c.Message = corev1.ConditionFalse, "ReadinessGatesNotReady", strings.Join(unready, ", ")
	}
	return c
}

// volumeMountStatuses are a container's mounts as the kubelet reports
// them: a read-only one says whether it is recursively so.
func volumeMountStatuses(mounts []corev1.VolumeMount, rroSupported bool) []corev1.VolumeMountStatus {
	var out []corev1.VolumeMountStatus
	for _, m := range mounts {
		s := corev1.VolumeMountStatus{Name: m.Name, MountPath: m.MountPath, ReadOnly: m.ReadOnly}
		if m.ReadOnly {
			mode := corev1.RecursiveReadOnlyDisabled
			if rro, err := recursiveReadOnly(m, rroSupported); err == nil && rro {
				mode = corev1.RecursiveReadOnlyEnabled
			}
			s.RecursiveReadOnly = &mode
		}
		out = append(out, s)
	}
	return out
}

// Package podinfo reads what several parts of portway ask of a Pod: its
// Ready condition.
package podinfo

import corev1 "k8s.io/api/core/v1"

// ReadyCondition is the pod's Ready condition, or nil when it has none.
func ReadyCondition(p *corev1.Pod) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodReady {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

// Ready says whether the pod's Ready condition is True.
func Ready(p *corev1.Pod) bool {
	c := ReadyCondition(p)
	return c != nil && c.Status == corev1.ConditionTrue
}

// RunningAndReady says whether the pod is in phase Running with its Ready
// condition True: what a test or a benchmark waits for.
func RunningAndReady(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodRunning && Ready(p)
}

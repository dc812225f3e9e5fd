package podinfo

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestReady(t *testing.T) {
	cond := func(typ corev1.PodConditionType, s corev1.ConditionStatus) corev1.PodCondition {
		return corev1.PodCondition{Type: typ, Status: s}
	}
	for _, tc := range []struct {
		name  string
		conds []corev1.PodCondition
		want  bool
	}{
		{"no conditions", nil, false},
		{"ready", []corev1.PodCondition{cond(corev1.PodScheduled, corev1.ConditionTrue), cond(corev1.PodReady, corev1.ConditionTrue)}, true},
		{"not ready", []corev1.PodCondition{cond(corev1.PodReady, corev1.ConditionFalse)}, false},
		{"only containers ready", []corev1.PodCondition{cond(corev1.ContainersReady, corev1.ConditionTrue)}, false},
	} {
		p := &corev1.Pod{Status: corev1.PodStatus{Conditions: tc.conds}}
		if got := Ready(p); got != tc.want {
			t.Errorf("%s: Ready = %v, want %v", tc.name, got, tc.want)
		}
	}
	p := &corev1.Pod{Status: corev1.PodStatus{Conditions: []corev1.PodCondition{cond(corev1.PodReady, corev1.ConditionFalse)}}}
	ReadyCondition(p).Status = corev1.ConditionTrue
	if !Ready(p) {
		t.Error("ReadyCondition does not point into the pod")
	}
}

func TestRunningAndReady(t *testing.T) {
	ready := []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	for _, tc := range []struct {
		phase corev1.PodPhase
		conds []corev1.PodCondition
		want  bool
	}{
		{corev1.PodRunning, ready, true},
		{corev1.PodRunning, nil, false},
		{corev1.PodSucceeded, ready, false},
	} {
		p := &corev1.Pod{Status: corev1.PodStatus{Phase: tc.phase, Conditions: tc.conds}}
		if got := RunningAndReady(p); got != tc.want {
			t.Errorf("phase %s, conditions %v: RunningAndReady = %v, want %v", tc.phase, tc.conds, got, tc.want)
		}
	}
}

package runtime

import (
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func running() corev1.ContainerStatus {
	return corev1.ContainerStatus{State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
}

func exited(code int32) corev1.ContainerStatus {
	return corev1.ContainerStatus{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code}}}
}

func backingOff(code int32) corev1.ContainerStatus {
	return corev1.ContainerStatus{
		State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code}},
	}
}

func creating() corev1.ContainerStatus {
	return corev1.ContainerStatus{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}
}

// TestPhase checks the kubelet's getPhase rules.
func TestPhase(t *testing.T) {
	for _, tc := range []struct {
		name     string
		policy   corev1.RestartPolicy
		inits    int
		initSt   []corev1.ContainerStatus
		ctrs     []corev1.ContainerStatus
		terminal bool
		want     corev1.PodPhase
	}{
		{"creating", corev1.RestartPolicyAlways, 0, nil, []corev1.ContainerStatus{creating()}, false, corev1.PodPending},
		{"one running one creating", corev1.RestartPolicyAlways, 0, nil, []corev1.ContainerStatus{running(), creating()}, false, corev1.PodPending},
		{"running", corev1.RestartPolicyAlways, 0, nil, []corev1.ContainerStatus{running()}, false, corev1.PodRunning},
		{"crash loop stays running", corev1.RestartPolicyAlways, 0, nil, []corev1.ContainerStatus{backingOff(1)}, false, corev1.PodRunning},
		{"never, failed", corev1.RestartPolicyNever, 0, nil, []corev1.ContainerStatus{exited(2)}, false, corev1.PodFailed},
		{"never, succeeded", corev1.RestartPolicyNever, 0, nil, []corev1.ContainerStatus{exited(0)}, false, corev1.PodSucceeded},
		{"on failure, failed, restarting", corev1.RestartPolicyOnFailure, 0, nil, []corev1.ContainerStatus{exited(1)}, false, corev1.PodRunning},
		{"on failure, succeeded", corev1.RestartPolicyOnFailure, 0, nil, []corev1.ContainerStatus{exited(0)}, false, corev1.PodSucceeded},
		{"always, deleted, failed", corev1.RestartPolicyAlways, 0, nil, []corev1.ContainerStatus{exited(137)}, true, corev1.PodFailed},
		{"init running", corev1.RestartPolicyAlways, 1, []corev1.ContainerStatus{running()}, []corev1.ContainerStatus{creating()}, false, corev1.PodPending},
		{"init failed, never", corev1.RestartPolicyNever, 1, []corev1.ContainerStatus{exited(1)}, []corev1.ContainerStatus{creating()}, false, corev1.PodFailed},
		{"init not started", corev1.RestartPolicyAlways, 1, nil, []corev1.ContainerStatus{creating()}, false, corev1.PodPending},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{Spec: corev1.PodSpec{RestartPolicy: tc.policy}}
			for range tc.inits {
				pod.Spec.InitContainers = append(pod.Spec.InitContainers, corev1.Container{Name: "init"})
			}
			if got := phase(pod, tc.initSt, tc.ctrs, tc.terminal); got != tc.want {
				t.Errorf("phase = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestMergeConditionsKeepsTransitionTimeAndOthers(t *testing.T) {
	then := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	old := []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: then},
		{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: then},
		{Type: corev1.ContainersReady, Status: corev1.ConditionFalse, LastTransitionTime: then},
	}
	got := mergeConditions(old, []corev1.PodCondition{
		{Type: corev1.PodReady, Status: corev1.ConditionTrue},
		{Type: corev1.ContainersReady, Status: corev1.ConditionTrue},
	})
	var types []corev1.PodConditionType
	for _, c := range got {
		types = append(types, c.Type)
		switch c.Type {
		case corev1.PodReady, corev1.PodScheduled:
			if !c.LastTransitionTime.Equal(&then) {
				t.Errorf("%s lost its transition time", c.Type)
			}
		case corev1.ContainersReady:
			if c.LastTransitionTime.Equal(&then) {
				t.Errorf("ContainersReady changed status but kept its transition time")
			}
		}
	}
	want := []corev1.PodConditionType{corev1.PodReady, corev1.ContainersReady, corev1.PodScheduled}
	if len(types) != len(want) {
		t.Fatalf("conditions %v, want %v", types, want)
	}
	for i := range want {
		if types[i] != want[i] {
			t.Errorf("conditions %v, want %v (kubectl's order)", types, want)
		}
	}
}

func TestExpand(t *testing.T) {
	env := map[string]string{"A": "x", "B": "y y"}
	for in, want := range map[string]string{
		"$(A)":         "x",
		"$(A)-$(B)":    "x-y y",
		"$$(A)":        "$(A)",
		"$(C)":         "$(C)",
		"plain":        "plain",
		"$(A":          "$(A",
		"cost $5":      "cost $5",
		"trailing $":   "trailing $",
		"$(A)$(A)$$$$": "xx$$",
	} {
		if got := expand(in, env); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNetnsName(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web", UID: "0123456789abcdef"}}
	if got, want := netnsName("pw-node1", pod), "pw-node1_default_web_01234567"; got != want {
		t.Errorf("netnsName = %q, want %q", got, want)
	}
}

// TestWaitingReason checks the kubelet's default waiting reason for
// containers not created yet (waiting for volumes, say): kubectl shows
// Init:0/1 for a pod with init containers, ContainerCreating otherwise.
func TestWaitingReason(t *testing.T) {
	w := &podWorker{containers: map[string]*ctr{}}
	reasons := func(pod *corev1.Pod, specs []corev1.Container) []string {
		var out []string
		for _, st := range w.containerStatuses(pod, specs, nil) {
			out = append(out, st.State.Waiting.Reason)
		}
		return out
	}
	plain := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}, {Name: "b"}}}}
	if got := reasons(plain, plain.Spec.Containers); !slices.Equal(got, []string{"ContainerCreating", "ContainerCreating"}) {
		t.Errorf("without init containers: %v", got)
	}
	withInit := &corev1.Pod{Spec: corev1.PodSpec{InitContainers: []corev1.Container{{Name: "i"}}, Containers: []corev1.Container{{Name: "a"}}}}
	if got := append(reasons(withInit, withInit.Spec.InitContainers), reasons(withInit, withInit.Spec.Containers)...); !slices.Equal(got, []string{"PodInitializing", "PodInitializing"}) {
		t.Errorf("with init containers: %v", got)
	}
	w.containers["a"] = &ctr{name: "a", waitingReason: "CreateContainerConfigError"}
	if got := reasons(plain, plain.Spec.Containers); !slices.Equal(got, []string{"CreateContainerConfigError", "ContainerCreating"}) {
		t.Errorf("with a reason of its own: %v", got)
	}
}

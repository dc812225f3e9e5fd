package pod

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestQOSClass(t *testing.T) {
	rl := func(cpu, mem string) corev1.ResourceList {
		l := corev1.ResourceList{}
		if cpu != "" {
			l[corev1.ResourceCPU] = resource.MustParse(cpu)
		}
		if mem != "" {
			l[corev1.ResourceMemory] = resource.MustParse(mem)
		}
		return l
	}
	for _, tc := range []struct {
		name      string
		resources []corev1.ResourceRequirements
		want      corev1.PodQOSClass
	}{
		{"nothing", []corev1.ResourceRequirements{{}}, corev1.PodQOSBestEffort},
		{"limits equal requests", []corev1.ResourceRequirements{{Requests: rl("1", "1Gi"), Limits: rl("1", "1Gi")}}, corev1.PodQOSGuaranteed},
		{"limits only (requests default to them)", []corev1.ResourceRequirements{{Limits: rl("1", "1Gi")}}, corev1.PodQOSGuaranteed},
		{"cpu only", []corev1.ResourceRequirements{{Requests: rl("100m", "")}}, corev1.PodQOSBurstable},
		{"one of two containers guaranteed", []corev1.ResourceRequirements{{Limits: rl("1", "1Gi")}, {}}, corev1.PodQOSBurstable},
		{"requests below limits", []corev1.ResourceRequirements{{Requests: rl("500m", "1Gi"), Limits: rl("1", "1Gi")}}, corev1.PodQOSBurstable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := &corev1.PodSpec{}
			for _, r := range tc.resources {
				spec.Containers = append(spec.Containers, corev1.Container{Resources: r})
			}
			if got := qosClass(spec); got != tc.want {
				t.Errorf("qosClass = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestDefaultTolerations(t *testing.T) {
	spec := &corev1.PodSpec{Tolerations: []corev1.Toleration{{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists}}}
	addDefaultTolerations(spec)
	if len(spec.Tolerations) != 2 || spec.Tolerations[1].Key != corev1.TaintNodeNotReady || *spec.Tolerations[1].TolerationSeconds != 300 {
		t.Errorf("tolerations = %+v, want the user's unreachable one plus not-ready for 300s", spec.Tolerations)
	}
}

func TestGracePeriod(t *testing.T) {
	thirty := int64(30)
	for _, tc := range []struct {
		name      string
		node      string
		phase     corev1.PodPhase
		requested *int64
		want      int64
	}{
		{"running on a node: its terminationGracePeriodSeconds", "node-a", corev1.PodRunning, nil, 30},
		{"the client's choice wins", "node-a", corev1.PodRunning, ptr.To[int64](5), 5},
		{"no node runs it: at once", "", corev1.PodPending, nil, 0},
		{"finished: at once", "node-a", corev1.PodSucceeded, nil, 0},
		{"negative means 1", "node-a", corev1.PodRunning, ptr.To[int64](-3), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &corev1.Pod{Spec: corev1.PodSpec{NodeName: tc.node, TerminationGracePeriodSeconds: &thirty},
				Status: corev1.PodStatus{Phase: tc.phase}}
			if got := gracePeriod(p, &metav1.DeleteOptions{GracePeriodSeconds: tc.requested}); got != tc.want {
				t.Errorf("gracePeriod = %d, want %d", got, tc.want)
			}
		})
	}
}

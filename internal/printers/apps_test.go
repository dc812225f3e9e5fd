package printers

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestAppsColumns pins the column definitions kube-apiserver 1.32 sends for
// deployments and replicasets (pkg/printers/internalversion), descriptions
// spelled out: they are the extensions/v1beta1 documentation, not apps/v1's.
func TestAppsColumns(t *testing.T) {
	const (
		nameDoc       = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
		containersDoc = "Names of each container in the template."
		imagesDoc     = "Images referenced by each container in the template."
	)
	ageDoc := metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"]
	for _, tc := range []struct {
		name string
		got  []metav1.TableColumnDefinition
		want []metav1.TableColumnDefinition
	}{{
		name: "deployments",
		got:  DeploymentColumns,
		want: []metav1.TableColumnDefinition{
			{Name: "Name", Type: "string", Format: "name", Description: nameDoc},
			{Name: "Ready", Type: "string", Description: "Number of the pod with ready state"},
			{Name: "Up-to-date", Type: "string", Description: "Total number of non-terminated pods targeted by this deployment that have the desired template spec."},
			{Name: "Available", Type: "string", Description: "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment."},
			{Name: "Age", Type: "string", Description: ageDoc},
			{Name: "Containers", Type: "string", Priority: 1, Description: containersDoc},
			{Name: "Images", Type: "string", Priority: 1, Description: imagesDoc},
			{Name: "Selector", Type: "string", Priority: 1, Description: "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment."},
		},
	}, {
		name: "replicasets",
		got:  ReplicaSetColumns,
		want: []metav1.TableColumnDefinition{
			{Name: "Name", Type: "string", Format: "name", Description: nameDoc},
			{Name: "Desired", Type: "integer", Description: "Replicas is the number of desired replicas. This is a pointer to distinguish between explicit zero and unspecified. Defaults to 1. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller/#what-is-a-replicationcontroller"},
			{Name: "Current", Type: "integer", Description: "Replicas is the most recently observed number of replicas. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller/#what-is-a-replicationcontroller"},
			{Name: "Ready", Type: "integer", Description: "The number of ready replicas for this replica set."},
			{Name: "Age", Type: "string", Description: ageDoc},
			{Name: "Containers", Type: "string", Priority: 1, Description: containersDoc},
			{Name: "Images", Type: "string", Priority: 1, Description: imagesDoc},
			{Name: "Selector", Type: "string", Priority: 1, Description: "Selector is a label query over pods that should match the replica count. If the selector is empty, it is defaulted to the labels present on the pod template. Label keys and values that must match in order to be controlled by this replica set. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors"},
		},
	}} {
		if len(tc.got) != len(tc.want) {
			t.Fatalf("%s: %d columns, want %d", tc.name, len(tc.got), len(tc.want))
		}
		for i := range tc.want {
			if tc.got[i] != tc.want[i] {
				t.Errorf("%s column %d:\n got %+v\nwant %+v", tc.name, i, tc.got[i], tc.want[i])
			}
		}
	}
}

func containers(nameImage ...string) []corev1.Container {
	var cs []corev1.Container
	for i := 0; i+1 < len(nameImage); i += 2 {
		cs = append(cs, corev1.Container{Name: nameImage[i], Image: nameImage[i+1]})
	}
	return cs
}

func TestDeploymentRow(t *testing.T) {
	fixClock(t)
	web := &appsv1.Deployment{
		ObjectMeta: meta("web", ago(90*time.Second)),
		Spec: appsv1.DeploymentSpec{
			Replicas: ref[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: containers("agnhost", "registry.k8s.io/e2e-test-images/agnhost:2.40")}},
		},
		Status: appsv1.DeploymentStatus{Replicas: 4, UpdatedReplicas: 2, ReadyReplicas: 1, AvailableReplicas: 1},
	}
	checkRow(t, "web", DeploymentRow(web), []any{"web", "1/3", int64(2), int64(1), "90s",
		"agnhost", "registry.k8s.io/e2e-test-images/agnhost:2.40", "app=web"})

	two := &appsv1.Deployment{
		ObjectMeta: meta("two", ago(3*time.Hour)),
		Spec: appsv1.DeploymentSpec{
			Replicas: ref[int32](0),
			Selector: &metav1.LabelSelector{
				MatchLabels:      map[string]string{"tier": "fe", "app": "two"},
				MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "env", Operator: metav1.LabelSelectorOpIn, Values: []string{"prod", "dev"}}},
			},
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: containers("a", "nginx", "b", "busybox:1.36")}},
		},
	}
	checkRow(t, "two containers, expressions", DeploymentRow(two), []any{"two", "0/0", int64(0), int64(0), "3h",
		"a,b", "nginx,busybox:1.36", "app=two,env in (dev,prod),tier=fe"})

	bad := &appsv1.Deployment{
		ObjectMeta: meta("bad", ago(time.Minute)),
		Spec: appsv1.DeploymentSpec{Replicas: ref[int32](1),
			Selector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "x", Operator: "Bogus"}}}},
	}
	checkRow(t, "invalid selector", DeploymentRow(bad), []any{"bad", "0/1", int64(0), int64(0), "60s", "", "", "<invalid>"})
}

func TestReplicaSetRow(t *testing.T) {
	fixClock(t)
	rs := &appsv1.ReplicaSet{
		ObjectMeta: meta("web-7c9d8f6b5", ago(26*time.Hour)),
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ref[int32](5),
			Selector: &metav1.LabelSelector{
				MatchLabels:      map[string]string{"app": "web", "pod-template-hash": "7c9d8f6b5"},
				MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "canary", Operator: metav1.LabelSelectorOpDoesNotExist}},
			},
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: containers("agnhost", "registry.k8s.io/e2e-test-images/agnhost:2.40")}},
		},
		Status: appsv1.ReplicaSetStatus{Replicas: 4, ReadyReplicas: 3},
	}
	checkRow(t, "rs", ReplicaSetRow(rs), []any{"web-7c9d8f6b5", int64(5), int64(4), int64(3), "26h",
		"agnhost", "registry.k8s.io/e2e-test-images/agnhost:2.40", "app=web,!canary,pod-template-hash=7c9d8f6b5"})

	empty := &appsv1.ReplicaSet{ObjectMeta: meta("empty", ago(time.Second)), Spec: appsv1.ReplicaSetSpec{Replicas: ref[int32](1)}}
	checkRow(t, "no selector", ReplicaSetRow(empty), []any{"empty", int64(1), int64(0), int64(0), "1s", "", "", "<none>"})
}

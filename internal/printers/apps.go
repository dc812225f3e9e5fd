package printers

import (
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	extensionsv1beta1 "k8s.io/api/extensions/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The template columns of both workloads. The other apps columns are
// described, as in Kubernetes, by the documentation of the old
// extensions/v1beta1 types, which words them differently from apps/v1.
var (
	templateContainersColumn = column("Containers", "Names of each container in the template.", 1)
	templateImagesColumn     = column("Images", "Images referenced by each container in the template.", 1)
)

// DeploymentColumns are the columns of a Deployment table.
var DeploymentColumns = []metav1.TableColumnDefinition{
	nameColumn,
	column("Ready", "Number of the pod with ready state", 0),
	column("Up-to-date", extensionsv1beta1.DeploymentStatus{}.SwaggerDoc()["updatedReplicas"], 0),
	column("Available", extensionsv1beta1.DeploymentStatus{}.SwaggerDoc()["availableReplicas"], 0),
	ageColumn,
	templateContainersColumn,
	templateImagesColumn,
	column("Selector", extensionsv1beta1.DeploymentSpec{}.SwaggerDoc()["selector"], 1),
}

// DeploymentRow returns the cells of a Deployment: NAME, READY (ready/desired),
// UP-TO-DATE, AVAILABLE, AGE, CONTAINERS, IMAGES, SELECTOR. The selector is
// in label-query form, "" when empty and "<invalid>" when it does not parse.
func DeploymentRow(d *appsv1.Deployment) []any {
	selector := "<invalid>"
	if s, err := metav1.LabelSelectorAsSelector(d.Spec.Selector); err == nil {
		selector = s.String()
	}
	names, images := containerCells(d.Spec.Template.Spec.Containers)
	return []any{
		d.Name,
		fmt.Sprintf("%d/%d", d.Status.ReadyReplicas, replicas(d.Spec.Replicas)),
		int64(d.Status.UpdatedReplicas),
		int64(d.Status.AvailableReplicas),
		age(d.CreationTimestamp),
		names, images, selector,
	}
}

// ReplicaSetColumns are the columns of a ReplicaSet table; unlike most, its
// counts are declared integers.
var ReplicaSetColumns = []metav1.TableColumnDefinition{
	nameColumn,
	{Name: "Desired", Type: "integer", Description: extensionsv1beta1.ReplicaSetSpec{}.SwaggerDoc()["replicas"]},
	{Name: "Current", Type: "integer", Description: extensionsv1beta1.ReplicaSetStatus{}.SwaggerDoc()["replicas"]},
	{Name: "Ready", Type: "integer", Description: extensionsv1beta1.ReplicaSetStatus{}.SwaggerDoc()["readyReplicas"]},
	ageColumn,
	templateContainersColumn,
	templateImagesColumn,
	column("Selector", extensionsv1beta1.ReplicaSetSpec{}.SwaggerDoc()["selector"], 1),
}

// ReplicaSetRow returns the cells of a ReplicaSet: NAME, DESIRED, CURRENT,
// READY, AGE, CONTAINERS, IMAGES, SELECTOR. Here Kubernetes formats the
// selector with FormatLabelSelector ("<none>" when empty).
func ReplicaSetRow(rs *appsv1.ReplicaSet) []any {
	names, images := containerCells(rs.Spec.Template.Spec.Containers)
	return []any{
		rs.Name,
		int64(replicas(rs.Spec.Replicas)),
		int64(rs.Status.Replicas),
		int64(rs.Status.ReadyReplicas),
		age(rs.CreationTimestamp),
		names, images, metav1.FormatLabelSelector(rs.Spec.Selector),
	}
}

// replicas reads a defaulted spec.replicas.
func replicas(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}

// containerCells are the CONTAINERS and IMAGES cells of a pod template:
// names and images joined by commas.
func containerCells(containers []corev1.Container) (names, images string) {
	n := make([]string, len(containers))
	im := make([]string, len(containers))
	for i, c := range containers {
		n[i], im[i] = c.Name, c.Image
	}
	return strings.Join(n, ","), strings.Join(im, ",")
}

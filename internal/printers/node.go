package printers

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
)

// Node role labels: node-role.kubernetes.io/<role> (any value) and the older
// kubernetes.io/role=<role>.
const (
	nodeRoleLabelPrefix = "node-role.kubernetes.io/"
	nodeRoleLabel       = "kubernetes.io/role"
)

// NodeColumns are the columns of a Node table.
var NodeColumns = []metav1.TableColumnDefinition{
	nameColumn,
	column("Status", "The status of the node", 0),
	column("Roles", "The roles of the node", 0),
	ageColumn,
	column("Version", corev1.NodeSystemInfo{}.SwaggerDoc()["kubeletVersion"], 0),
	column("Internal-IP", corev1.NodeStatus{}.SwaggerDoc()["addresses"], 1),
	column("External-IP", corev1.NodeStatus{}.SwaggerDoc()["addresses"], 1),
	column("OS-Image", corev1.NodeSystemInfo{}.SwaggerDoc()["osImage"], 1),
	column("Kernel-Version", corev1.NodeSystemInfo{}.SwaggerDoc()["kernelVersion"], 1),
	column("Container-Runtime", corev1.NodeSystemInfo{}.SwaggerDoc()["containerRuntimeVersion"], 1),
}

// NodeRow returns the cells of a Node: NAME, STATUS, ROLES, AGE, VERSION,
// INTERNAL-IP, EXTERNAL-IP, OS-IMAGE, KERNEL-VERSION, CONTAINER-RUNTIME.
func NodeRow(n *corev1.Node) []any {
	status := nodeReadyStatus(n)
	if n.Spec.Unschedulable {
		status += ",SchedulingDisabled"
	}
	roles := strings.Join(nodeRoles(n), ",")
	if roles == "" {
		roles = none
	}
	info := n.Status.NodeInfo
	return []any{
		n.Name,
		status,
		roles,
		age(n.CreationTimestamp),
		info.KubeletVersion,
		nodeAddress(n, corev1.NodeInternalIP),
		nodeAddress(n, corev1.NodeExternalIP),
		orUnknown(info.OSImage),
		orUnknown(info.KernelVersion),
		orUnknown(info.ContainerRuntimeVersion),
	}
}

// nodeReadyStatus is "Ready" or "NotReady" from the node's Ready condition
// (the last one, should there be several), or "Unknown" without one.
func nodeReadyStatus(n *corev1.Node) string {
	status := "Unknown"
	for _, c := range n.Status.Conditions {
		if c.Type != corev1.NodeReady {
			continue
		}
		if c.Status == corev1.ConditionTrue {
			status = string(corev1.NodeReady)
		} else {
			status = "Not" + string(corev1.NodeReady)
		}
	}
	return status
}

// nodeRoles returns the node's roles, sorted and without duplicates.
func nodeRoles(n *corev1.Node) []string {
	roles := sets.New[string]()
	for k, v := range n.Labels {
		switch {
		case strings.HasPrefix(k, nodeRoleLabelPrefix):
			if role := strings.TrimPrefix(k, nodeRoleLabelPrefix); role != "" {
				roles.Insert(role)
			}
		case k == nodeRoleLabel && v != "":
			roles.Insert(v)
		}
	}
	return sets.List(roles)
}

// nodeAddress returns the node's first address of type t, or "<none>".
func nodeAddress(n *corev1.Node, t corev1.NodeAddressType) string {
	for _, a := range n.Status.Addresses {
		if a.Type == t {
			return a.Address
		}
	}
	return none
}

// orUnknown returns s, or "<unknown>" when s is empty.
func orUnknown(s string) string {
	if s == "" {
		return unknown
	}
	return s
}

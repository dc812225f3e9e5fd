// Package nodeinfo reads what every part of portway asks of a Node: its
// InternalIP and whether it is Ready.
package nodeinfo

import (
	"net"

	corev1 "k8s.io/api/core/v1"
)

// InternalIP is the node's first IPv4 InternalIP address (portway is
// IPv4-only; a dual-stack node may list an IPv6 one first), or "".
func InternalIP(n *corev1.Node) string {
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP && net.ParseIP(a.Address).To4() != nil {
			return a.Address
		}
	}
	return ""
}

// Ready says whether the node's Ready condition is True.
func Ready(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

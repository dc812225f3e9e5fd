// Package node serves core/v1 Nodes.
package node

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/portway/portway/internal/printers"
	"github.com/portway/portway/internal/registry"
	"github.com/portway/portway/internal/validation"
)

// Resource is the nodes resource.
var Resource = &registry.Resource[*corev1.Node]{
	Resource:             corev1.Resource("nodes"),
	Singular:             "node",
	ShortNames:           []string{"no"},
	New:                  func() *corev1.Node { return &corev1.Node{} },
	NewList:              func() runtime.Object { return &corev1.NodeList{} },
	HasStatus:            true,
	Validate:             validation.ValidateNode,
	ValidateUpdate:       validation.ValidateNodeUpdate,
	ValidateStatusUpdate: validation.ValidateNodeStatusUpdate,
	Fields: func(n *corev1.Node) fields.Set {
		return fields.Set{"spec.unschedulable": strconv.FormatBool(n.Spec.Unschedulable)}
	},
	Columns: printers.NodeColumns,
	Row:     printers.NodeRow,
}

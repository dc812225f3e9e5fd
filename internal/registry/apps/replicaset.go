package apps

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/portway/portway/internal/printers"
	"github.com/portway/portway/internal/registry"
	"github.com/portway/portway/internal/validation"
)

// ReplicaSets is the replicasets resource; NewReplicaSetStorage adds
// replicasets/scale to it.
//
// Field selectors: only metadata.name and metadata.namespace, as in
// Kubernetes 1.32, whose apps/v1 registers no field label conversion, so
// the status.replicas its registry would match on is rejected before.
var ReplicaSets = &registry.Resource[*appsv1.ReplicaSet]{
	Resource:   appsv1.Resource("replicasets"),
	Singular:   "replicaset",
	ShortNames: []string{"rs"},
	Categories: []string{"all"},
	Namespaced: true,
	New:        func() *appsv1.ReplicaSet { return &appsv1.ReplicaSet{} },
	NewList:    func() runtime.Object { return &appsv1.ReplicaSetList{} },
	HasStatus:  true,
	PrepareForCreate: func(_ context.Context, rs *appsv1.ReplicaSet) {
		rs.Status = appsv1.ReplicaSetStatus{}
		rs.Generation = 1
	},
	PrepareForUpdate: func(_ context.Context, rs, old *appsv1.ReplicaSet) {
		if !equality.Semantic.DeepEqual(rs.Spec, old.Spec) {
			rs.Generation = old.Generation + 1
		}
	},
	Validate:             validation.ValidateReplicaSet,
	ValidateUpdate:       validation.ValidateReplicaSetUpdate,
	ValidateStatusUpdate: validation.ValidateReplicaSetStatusUpdate,
	Warnings: func(rs, old *appsv1.ReplicaSet) []string {
		if old != nil {
			return nil
		}
		return nameWarnings(rs.Name)
	},
	Columns: printers.ReplicaSetColumns,
	Row:     printers.ReplicaSetRow,
}

// NewReplicaSetStorage returns replicasets, replicasets/status and
// replicasets/scale.
func NewReplicaSetStorage(opts generic.RESTOptionsGetter) (map[string]rest.Storage, error) {
	s, err := ReplicaSets.NewStorage(opts)
	if err != nil {
		return nil, err
	}
	s.REST["replicasets/scale"] = &ScaleREST[*appsv1.ReplicaSet]{store: s.Store, kind: replicaSetScale}
	return s.REST, nil
}

var replicaSetScale = scaleKind[*appsv1.ReplicaSet]{
	resource: appsv1.Resource("replicasets/scale"),
	parts: func(rs *appsv1.ReplicaSet) scaleParts {
		return scaleParts{rs.Spec.Replicas, rs.Status.Replicas, rs.Spec.Selector}
	},
	setReplicas: func(rs *appsv1.ReplicaSet, n int32) { rs.Spec.Replicas = &n },
}

// nameWarnings: a workload's name becomes part of its pods' names and
// hostnames, so Kubernetes warns when it is not a DNS label.
func nameWarnings(name string) []string {
	if msgs := utilvalidation.IsDNS1123Label(name); len(msgs) != 0 {
		return []string{fmt.Sprintf("metadata.name: this is used in Pod names and hostnames, which can result in surprising behavior; a DNS label is recommended: %v", msgs)}
	}
	return nil
}

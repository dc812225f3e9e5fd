package apps

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/portway/portway/internal/printers"
	"github.com/portway/portway/internal/registry"
	"github.com/portway/portway/internal/validation"
)

// Deployments is the deployments resource; NewDeploymentStorage adds
// deployments/scale to it.
//
// Not done: the deprecated deployments/rollback subresource (apps/v1 has no
// DeploymentRollback; kubectl rollout undo writes the template instead).
var Deployments = &registry.Resource[*appsv1.Deployment]{
	Resource:   appsv1.Resource("deployments"),
	Singular:   "deployment",
	ShortNames: []string{"deploy"},
	Categories: []string{"all"},
	Namespaced: true,
	New:        func() *appsv1.Deployment { return &appsv1.Deployment{} },
	NewList:    func() runtime.Object { return &appsv1.DeploymentList{} },
	HasStatus:  true,
	PrepareForCreate: func(_ context.Context, d *appsv1.Deployment) {
		d.Status = appsv1.DeploymentStatus{}
		d.Generation = 1
	},
	PrepareForUpdate: func(_ context.Context, d, old *appsv1.Deployment) {
		// Spec changes bump the generation so that the controller can tell
		// them from its own status writes; annotation changes too, because
		// the controller copies annotations to the ReplicaSets.
		if !equality.Semantic.DeepEqual(d.Spec, old.Spec) || !equality.Semantic.DeepEqual(d.Annotations, old.Annotations) {
			d.Generation = old.Generation + 1
		}
	},
	Validate:             validation.ValidateDeployment,
	ValidateUpdate:       validation.ValidateDeploymentUpdate,
	ValidateStatusUpdate: validation.ValidateDeploymentStatusUpdate,
	Warnings: func(d, old *appsv1.Deployment) []string {
		if old != nil {
			return nil
		}
		return nameWarnings(d.Name)
	},
	Columns: printers.DeploymentColumns,
	Row:     printers.DeploymentRow,
}

// NewDeploymentStorage returns deployments, deployments/status and
// deployments/scale.
func NewDeploymentStorage(opts generic.RESTOptionsGetter) (map[string]rest.Storage, error) {
	s, err := Deployments.NewStorage(opts)
	if err != nil {
		return nil, err
	}
	s.REST["deployments/scale"] = &ScaleREST[*appsv1.Deployment]{store: s.Store, kind: deploymentScale}
	return s.REST, nil
}

// deploymentScale maps a Deployment to its Scale.
var deploymentScale = scaleKind[*appsv1.Deployment]{
	resource: appsv1.Resource("deployments/scale"),
	parts: func(d *appsv1.Deployment) scaleParts {
		return scaleParts{d.Spec.Replicas, d.Status.Replicas, d.Spec.Selector}
	},
	setReplicas: func(d *appsv1.Deployment, n int32) { d.Spec.Replicas = &n },
}

package apps

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"sigs.k8s.io/structured-merge-diff/v4/fieldpath"

	"github.com/portway/portway/internal/validation"
)

// scaleParts are what a Scale shows of its parent.
type scaleParts struct {
	specReplicas   *int32
	statusReplicas int32
	selector       *metav1.LabelSelector
}

// scaleKind maps one parent type to and from its Scale.
type scaleKind[T runtime.Object] struct {
	resource    schema.GroupResource // "deployments/scale", for errors
	parts       func(T) scaleParts
	setReplicas func(T, int32)
}

// replicasPaths tells server-side apply where a Scale's spec.replicas lives
// in the parent, so a manager's ownership of one is ownership of the other.
var replicasPaths = managedfields.ResourcePathMappings{
	appsv1.SchemeGroupVersion.String(): fieldpath.MakePathOrDie("spec", "replicas"),
}

// ScaleREST is the scale subresource of a workload: GET reads an
// autoscaling/v1 Scale made from the parent, PUT and PATCH change the
// parent's spec.replicas through one, as Kubernetes' ScaleREST does.
type ScaleREST[T runtime.Object] struct {
	store *genericregistry.Store
	kind  scaleKind[T]
}

var (
	_ rest.Patcher                  = &ScaleREST[*appsv1.Deployment]{}
	_ rest.GroupVersionKindProvider = &ScaleREST[*appsv1.Deployment]{}
	_ rest.TableConvertor           = &ScaleREST[*appsv1.Deployment]{}
)

// GroupVersionKind implements rest.GroupVersionKindProvider: the Scale of an
// apps/v1 resource is autoscaling/v1's.
func (r *ScaleREST[T]) GroupVersionKind(schema.GroupVersion) schema.GroupVersionKind {
	return autoscalingv1.SchemeGroupVersion.WithKind("Scale")
}

// New implements rest.Storage.
func (r *ScaleREST[T]) New() runtime.Object { return &autoscalingv1.Scale{} }

// Destroy implements rest.Storage; the main resource owns the store.
func (r *ScaleREST[T]) Destroy() {}

// Get implements rest.Getter. Kubernetes reports any failure to read the
// parent as the Scale not being found.
func (r *ScaleREST[T]) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	obj, err := r.store.Get(ctx, name, options)
	if err != nil {
		return nil, apierrors.NewNotFound(r.kind.resource, name)
	}
	scale, err := r.scaleOf(obj.(T))
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	return scale, nil
}

// Update implements rest.Updater: the parent is updated through its own
// strategy (so validation, generation and resourceVersion preconditions
// apply), with only spec.replicas taken from the Scale.
func (r *ScaleREST[T]) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, _ bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	obj, _, err := r.store.Update(ctx, name,
		&scaleUpdate[T]{name: name, request: objInfo, rest: r},
		r.toScaleCreateValidation(createValidation),
		r.toScaleUpdateValidation(updateValidation),
		false, options)
	if err != nil {
		return nil, false, err
	}
	scale, err := r.scaleOf(obj.(T))
	if err != nil {
		return nil, false, apierrors.NewBadRequest(err.Error())
	}
	return scale, false, nil
}

// ConvertToTable implements rest.TableConvertor.
func (r *ScaleREST[T]) ConvertToTable(ctx context.Context, object runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	return r.store.ConvertToTable(ctx, object, tableOptions)
}

// scaleOf is the Scale of a parent; status.selector is the selector in
// label-query form, for autoscalers.
func (r *ScaleREST[T]) scaleOf(obj T) (*autoscalingv1.Scale, error) {
	p := r.kind.parts(obj)
	selector, err := metav1.LabelSelectorAsSelector(p.selector)
	if err != nil {
		return nil, err
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	var replicas int32
	if p.specReplicas != nil {
		replicas = *p.specReplicas
	}
	return &autoscalingv1.Scale{
		ObjectMeta: metav1.ObjectMeta{
			Name:              m.GetName(),
			Namespace:         m.GetNamespace(),
			UID:               m.GetUID(),
			ResourceVersion:   m.GetResourceVersion(),
			CreationTimestamp: m.GetCreationTimestamp(),
		},
		Spec:   autoscalingv1.ScaleSpec{Replicas: replicas},
		Status: autoscalingv1.ScaleStatus{Replicas: p.statusReplicas, Selector: selector.String()},
	}, nil
}

// toScaleCreateValidation and toScaleUpdateValidation run admission on the
// Scale rather than the parent, as Kubernetes does.
func (r *ScaleREST[T]) toScaleCreateValidation(f rest.ValidateObjectFunc) rest.ValidateObjectFunc {
	if f == nil {
		return nil
	}
	return func(ctx context.Context, obj runtime.Object) error {
		scale, err := r.scaleOf(obj.(T))
		if err != nil {
			return err
		}
		return f(ctx, scale)
	}
}

func (r *ScaleREST[T]) toScaleUpdateValidation(f rest.ValidateObjectUpdateFunc) rest.ValidateObjectUpdateFunc {
	if f == nil {
		return nil
	}
	return func(ctx context.Context, obj, old runtime.Object) error {
		scale, err := r.scaleOf(obj.(T))
		if err != nil {
			return err
		}
		oldScale, err := r.scaleOf(old.(T))
		if err != nil {
			return err
		}
		return f(ctx, scale, oldScale)
	}
}

// scaleUpdate turns the stored parent into its Scale, lets the request
// change that, and carries replicas, resourceVersion and managed fields back
// into the parent.
type scaleUpdate[T runtime.Object] struct {
	name    string
	request rest.UpdatedObjectInfo
	rest    *ScaleREST[T]
}

// Preconditions implements rest.UpdatedObjectInfo.
func (u *scaleUpdate[T]) Preconditions() *metav1.Preconditions { return u.request.Preconditions() }

// UpdatedObject implements rest.UpdatedObjectInfo.
func (u *scaleUpdate[T]) UpdatedObject(ctx context.Context, oldObj runtime.Object) (runtime.Object, error) {
	parent, ok := oldObj.DeepCopyObject().(T)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("expected existing object type to be %s, got %T", u.rest.kind.resource.Resource, oldObj))
	}
	m, err := meta.Accessor(parent)
	if err != nil {
		return nil, err
	}
	// A zero object is what the store passes when the parent does not exist.
	if m.GetResourceVersion() == "" {
		return nil, apierrors.NewNotFound(u.rest.kind.resource, u.name)
	}
	fieldsHandler := managedfields.NewScaleHandler(m.GetManagedFields(), appsv1.SchemeGroupVersion, replicasPaths)
	oldScale, err := u.rest.scaleOf(parent)
	if err != nil {
		return nil, err
	}
	if oldScale.ManagedFields, err = fieldsHandler.ToSubresource(); err != nil {
		return nil, err
	}
	newObj, err := u.request.UpdatedObject(ctx, oldScale)
	if err != nil {
		return nil, err
	}
	if newObj == nil {
		return nil, apierrors.NewBadRequest("nil update passed to Scale")
	}
	scale, ok := newObj.(*autoscalingv1.Scale)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("expected input object type to be Scale, but %T", newObj))
	}
	if errs := validation.ValidateScale(scale); len(errs) > 0 {
		return nil, apierrors.NewInvalid(autoscalingv1.SchemeGroupVersion.WithKind("Scale").GroupKind(), m.GetName(), errs)
	}
	if scale.UID != "" && scale.UID != m.GetUID() {
		return nil, apierrors.NewConflict(u.rest.kind.resource, m.GetName(),
			//lint:ignore ST1005 Kubernetes' wording, which kubectl prints.
			fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", scale.UID, m.GetUID()))
	}
	u.rest.kind.setReplicas(parent, scale.Spec.Replicas)
	m.SetResourceVersion(scale.ResourceVersion)
	entries, err := fieldsHandler.ToParent(scale.ManagedFields)
	if err != nil {
		return nil, err
	}
	m.SetManagedFields(entries)
	return parent, nil
}

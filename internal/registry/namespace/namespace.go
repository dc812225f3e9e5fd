// Package namespace serves core/v1 Namespaces and their two-phase deletion:
// DELETE marks a namespace Terminating, the namespace controller empties it
// and clears spec.finalizers through namespaces/finalize, and only then is
// the namespace itself removed.
package namespace

import (
	"context"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage"

	"github.com/portway/portway/internal/printers"
	"github.com/portway/portway/internal/registry"
	"github.com/portway/portway/internal/validation"
)

// Resource is the namespaces resource.
var Resource = &registry.Resource[*corev1.Namespace]{
	Resource:             corev1.Resource("namespaces"),
	Singular:             "namespace",
	ShortNames:           []string{"ns"},
	New:                  func() *corev1.Namespace { return &corev1.Namespace{} },
	NewList:              func() runtime.Object { return &corev1.NamespaceList{} },
	HasStatus:            true,
	ReturnDeletedObject:  true,
	NameValidation:       apivalidation.ValidateNamespaceName,
	PrepareForCreate:     prepareForCreate,
	PrepareForUpdate:     prepareForUpdate,
	Validate:             validation.ValidateNamespace,
	ValidateUpdate:       validation.ValidateNamespaceUpdate,
	ValidateStatusUpdate: validation.ValidateNamespaceStatusUpdate,
	Fields: func(ns *corev1.Namespace) fields.Set {
		return fields.Set{"status.phase": string(ns.Status.Phase)}
	},
	Columns: printers.NamespaceColumns,
	Row:     printers.NamespaceRow,
}

func prepareForCreate(_ context.Context, ns *corev1.Namespace) {
	ns.Status = corev1.NamespaceStatus{Phase: corev1.NamespaceActive}
	if !slices.Contains(ns.Spec.Finalizers, corev1.FinalizerKubernetes) {
		ns.Spec.Finalizers = append(ns.Spec.Finalizers, corev1.FinalizerKubernetes)
	}
	setNameLabel(ns)
}

// prepareForUpdate keeps spec.finalizers: only namespaces/finalize changes them.
func prepareForUpdate(_ context.Context, ns, old *corev1.Namespace) {
	ns.Spec.Finalizers = old.Spec.Finalizers
	setNameLabel(ns)
}

// setNameLabel keeps the immutable kubernetes.io/metadata.name label that
// lets label selectors pick namespaces by name.
func setNameLabel(ns *corev1.Namespace) {
	if ns.Labels == nil {
		ns.Labels = map[string]string{}
	}
	ns.Labels[corev1.LabelMetadataName] = ns.Name
}

// NewStorage returns the namespaces, namespaces/status and namespaces/finalize
// endpoints.
func NewStorage(opts generic.RESTOptionsGetter) (map[string]rest.Storage, error) {
	s, err := Resource.NewStorage(opts)
	if err != nil {
		return nil, err
	}
	s.Store.ShouldDeleteDuringUpdate = shouldDeleteDuringUpdate
	finalize := *s.Store
	finalize.UpdateStrategy = finalizeStrategy{s.Store.UpdateStrategy}
	finalize.ResetFieldsStrategy = nil
	rests := s.REST
	rests["namespaces"] = &REST{REST: rests["namespaces"].(*registry.REST)}
	rests["namespaces/finalize"] = &FinalizeREST{store: &finalize}
	return rests, nil
}

// shouldDeleteDuringUpdate removes a terminating namespace on the update that
// clears its last finalizer.
func shouldDeleteDuringUpdate(ctx context.Context, key string, obj, existing runtime.Object) bool {
	ns, ok := obj.(*corev1.Namespace)
	return ok && len(ns.Spec.Finalizers) == 0 && genericregistry.ShouldDeleteDuringUpdate(ctx, key, obj, existing)
}

// REST is the namespaces endpoint with Kubernetes' two-phase delete.
type REST struct {
	*registry.REST
}

// Delete marks the namespace Terminating on the first call, and deletes it
// once spec.finalizers is empty.
func (r *REST) Delete(ctx context.Context, name string, deleteValidation rest.ValidateObjectFunc, options *metav1.DeleteOptions) (runtime.Object, bool, error) {
	obj, err := r.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, false, err
	}
	ns := obj.(*corev1.Namespace)
	if options == nil {
		options = metav1.NewDeleteOptions(0)
	}
	if p := options.Preconditions; p != nil {
		if p.UID != nil && *p.UID != ns.UID {
			return nil, false, apierrors.NewConflict(corev1.Resource("namespaces"), name,
				field.Invalid(field.NewPath("metadata", "uid"), *p.UID, "precondition failed: UID in precondition does not match the UID of the namespace"))
		}
		if p.ResourceVersion != nil && *p.ResourceVersion != ns.ResourceVersion {
			return nil, false, apierrors.NewConflict(corev1.Resource("namespaces"), name,
				field.Invalid(field.NewPath("metadata", "resourceVersion"), *p.ResourceVersion, "precondition failed: ResourceVersion in precondition does not match the ResourceVersion of the namespace"))
		}
	}
	if ns.DeletionTimestamp.IsZero() {
		if err := deleteValidation(ctx, ns); err != nil {
			return nil, false, err
		}
		key, err := r.KeyFunc(ctx, name)
		if err != nil {
			return nil, false, err
		}
		out := &corev1.Namespace{}
		err = r.Storage.GuaranteedUpdate(ctx, key, out, false, &storage.Preconditions{UID: &ns.UID},
			func(existing runtime.Object, _ storage.ResponseMeta) (runtime.Object, *uint64, error) {
				cur := existing.(*corev1.Namespace)
				if cur.DeletionTimestamp.IsZero() {
					now := metav1.Now()
					cur.DeletionTimestamp = &now
					cur.DeletionGracePeriodSeconds = new(int64)
				}
				cur.Status.Phase = corev1.NamespaceTerminating
				return cur, nil, nil
			}, dryRun(options), nil)
		if err != nil {
			return nil, false, err
		}
		ns = out
	}
	if len(ns.Spec.Finalizers) > 0 {
		return ns, false, nil
	}
	return r.Store.Delete(ctx, name, deleteValidation, options)
}

func dryRun(options *metav1.DeleteOptions) bool {
	return slices.Contains(options.DryRun, metav1.DryRunAll)
}

// FinalizeREST is namespaces/finalize: the one way to change spec.finalizers.
type FinalizeREST struct {
	store *genericregistry.Store
}

// New implements rest.Storage.
func (r *FinalizeREST) New() runtime.Object { return &corev1.Namespace{} }

// Destroy implements rest.Storage; the main resource owns the store.
func (r *FinalizeREST) Destroy() {}

// Update implements rest.Updater.
func (r *FinalizeREST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, _ bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	return r.store.Update(ctx, name, objInfo, createValidation, updateValidation, false, options)
}

// finalizeStrategy lets a write change spec.finalizers and nothing else.
type finalizeStrategy struct {
	rest.RESTUpdateStrategy
}

func (finalizeStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	ns, oldNS := obj.(*corev1.Namespace), old.(*corev1.Namespace)
	finalizers := ns.Spec.Finalizers
	*ns = *oldNS.DeepCopy()
	ns.Spec.Finalizers = finalizers
}

func (finalizeStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateNamespaceFinalizeUpdate(obj.(*corev1.Namespace), old.(*corev1.Namespace))
}

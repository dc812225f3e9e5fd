package registry

import (
	"context"

	"k8s.io/apimachinery/pkg/api/meta"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/storage/names"
	"sigs.k8s.io/structured-merge-diff/v4/fieldpath"
)

// CheckGracefulDelete implements rest.RESTGracefulDeleteStrategy.
func (s *strategy[T]) CheckGracefulDelete(_ context.Context, obj runtime.Object, options *metav1.DeleteOptions) bool {
	if s.r.GracePeriod == nil || options == nil {
		return false
	}
	period := s.r.GracePeriod(obj.(T), options)
	options.GracePeriodSeconds = &period
	return true
}

// strategy runs a Resource's hooks at the points the apiserver library's
// generic store calls them: defaulting has happened already (at decode),
// then Prepare*, then validation, then the etcd write.
type strategy[T runtime.Object] struct {
	r *Resource[T]
	runtime.ObjectTyper
	names.NameGenerator
}

func (s *strategy[T]) NamespaceScoped() bool { return s.r.Namespaced }

func (s *strategy[T]) PrepareForCreate(ctx context.Context, obj runtime.Object) {
	if s.r.PrepareForCreate != nil {
		s.r.PrepareForCreate(ctx, obj.(T))
	}
}

func (s *strategy[T]) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	m, err := meta.Accessor(obj)
	if err != nil {
		return field.ErrorList{field.InternalError(nil, err)}
	}
	nameFn := s.r.NameValidation
	if nameFn == nil {
		nameFn = apivalidation.NameIsDNSSubdomain
	}
	errs := apivalidation.ValidateObjectMetaAccessor(m, s.r.Namespaced, nameFn, field.NewPath("metadata"))
	if s.r.Validate != nil {
		errs = append(errs, s.r.Validate(obj.(T))...)
	}
	return errs
}

func (s *strategy[T]) WarningsOnCreate(_ context.Context, obj runtime.Object) []string {
	if s.r.Warnings == nil {
		return nil
	}
	var none T
	return s.r.Warnings(obj.(T), none)
}

func (s *strategy[T]) Canonicalize(runtime.Object) {}

func (s *strategy[T]) AllowCreateOnUpdate() bool { return s.r.AllowCreateOnUpdate }

func (s *strategy[T]) AllowUnconditionalUpdate() bool { return true }

func (s *strategy[T]) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	if s.r.HasStatus {
		copyField(obj, old, "Status")
	}
	if s.r.PrepareForUpdate != nil {
		s.r.PrepareForUpdate(ctx, obj.(T), old.(T))
	}
}

// ValidateUpdate runs the create validation on the new object and the checks
// of what may not change, in the order Kubernetes runs them for the resource.
func (s *strategy[T]) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	errs := s.validateMetaUpdate(obj, old)
	if s.r.ValidateUpdate != nil {
		errs = append(errs, s.r.ValidateUpdate(obj.(T), old.(T))...)
	}
	if s.r.ValidateUpdateFirst {
		return append(errs, s.Validate(ctx, obj)...)
	}
	return append(s.Validate(ctx, obj), errs...)
}

func (s *strategy[T]) validateMetaUpdate(obj, old runtime.Object) field.ErrorList {
	newMeta, err := meta.Accessor(obj)
	if err != nil {
		return field.ErrorList{field.InternalError(nil, err)}
	}
	oldMeta, err := meta.Accessor(old)
	if err != nil {
		return field.ErrorList{field.InternalError(nil, err)}
	}
	return apivalidation.ValidateObjectMetaAccessorUpdate(newMeta, oldMeta, field.NewPath("metadata"))
}

func (s *strategy[T]) WarningsOnUpdate(_ context.Context, obj, old runtime.Object) []string {
	if s.r.Warnings == nil {
		return nil
	}
	return s.r.Warnings(obj.(T), old.(T))
}

// GetResetFields tells server-side apply which fields a write to the main
// resource never changes, so no manager is recorded as owning them.
func (s *strategy[T]) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return s.resetFields("status")
}

func (s *strategy[T]) resetFields(part string) map[fieldpath.APIVersion]*fieldpath.Set {
	if !s.r.HasStatus {
		return nil
	}
	gvs := Scheme.PrioritizedVersionsForGroup(s.r.Resource.Group)
	return map[fieldpath.APIVersion]*fieldpath.Set{
		fieldpath.APIVersion(gvs[0].String()): fieldpath.NewSet(fieldpath.MakePathOrDie(part)),
	}
}

// statusStrategy is the strategy of the status subresource: only status
// (and metadata) may change.
type statusStrategy[T runtime.Object] struct {
	*strategy[T]
}

func (s *statusStrategy[T]) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	copyField(obj, old, "Spec")
}

func (s *statusStrategy[T]) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	errs := s.validateMetaUpdate(obj, old)
	if s.r.ValidateStatusUpdate != nil {
		errs = append(errs, s.r.ValidateStatusUpdate(obj.(T), old.(T))...)
	}
	return errs
}

func (s *statusStrategy[T]) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return s.resetFields("spec")
}

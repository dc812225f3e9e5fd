// Package registry turns a short description of an API resource (its names,
// defaults, validation, printed columns and selectable fields) into REST
// storage served by the Kubernetes apiserver library on top of etcd.
package registry

import (
	"context"
	"reflect"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/apiserver/pkg/storage/names"
	"sigs.k8s.io/structured-merge-diff/v4/fieldpath"
)

// Resource describes one API resource. T is its k8s.io/api pointer type.
type Resource[T runtime.Object] struct {
	Resource   schema.GroupResource // the plural, e.g. {"", "pods"}
	Singular   string
	ShortNames []string
	Categories []string
	Namespaced bool
	New        func() T
	NewList    func() runtime.Object

	// HasStatus adds the status subresource: writes to the resource keep the
	// stored status, writes to resource/status keep everything but status.
	// The type must have Spec and Status fields.
	HasStatus bool
	// ReturnDeletedObject makes DELETE answer with the object rather than a
	// Status, as Kubernetes does for pods, services and namespaces.
	ReturnDeletedObject bool
	// GracePeriod, when set, makes DELETE graceful: it returns the grace
	// period in seconds for obj and options (0 deletes at once), and the
	// object stays, with deletionTimestamp set, until that long has passed
	// or its owner (for pods, the node agent) deletes it for good.
	GracePeriod func(obj T, options *metav1.DeleteOptions) int64
	// TTL, when set, makes etcd expire objects this long after their last write
	// (Kubernetes' --event-ttl).
	TTL time.Duration

	// NameValidation checks metadata.name; NameIsDNSSubdomain when nil.
	NameValidation apivalidation.ValidateNameFunc

	// Hooks, each optional. Validate and ValidateUpdate get the object after
	// defaulting and Prepare*; ObjectMeta is validated already.
	PrepareForCreate     func(ctx context.Context, obj T)
	PrepareForUpdate     func(ctx context.Context, obj, old T)
	Validate             func(obj T) field.ErrorList
	ValidateUpdate       func(obj, old T) field.ErrorList
	ValidateStatusUpdate func(obj, old T) field.ErrorList
	// AllowCreateOnUpdate lets PUT create a missing object (services,
	// endpoints, events and leases in Kubernetes).
	AllowCreateOnUpdate bool
	// ValidateUpdateFirst reports update errors before the create-time ones,
	// as Kubernetes does for some resources (services); otherwise after.
	ValidateUpdateFirst bool

	// Warnings, optional, lists what kubectl prints as "Warning:" for an
	// accepted object (old is nil on create).
	Warnings func(obj, old T) []string

	// Fields returns the values of the selectable fields beyond metadata.name
	// and metadata.namespace (see fieldlabels.go).
	Fields func(obj T) fields.Set
	// Columns and Row make the server-side Table that kubectl get prints.
	Columns []metav1.TableColumnDefinition
	Row     func(obj T) []any
	// Conditions, optional, marks rows (kubectl greys out Completed pods).
	Conditions func(obj T) []metav1.TableRowCondition
}

// Storage is the REST storage of one resource: the main resource and its
// subresources, keyed as the apiserver wants them ("pods", "pods/status").
type Storage struct {
	Store *genericregistry.Store
	REST  map[string]rest.Storage
}

// NewStorage builds etcd-backed storage for r.
func (r *Resource[T]) NewStorage(opts generic.RESTOptionsGetter) (*Storage, error) {
	st := &strategy[T]{r: r, ObjectTyper: Scheme, NameGenerator: names.SimpleNameGenerator}
	store := &genericregistry.Store{
		NewFunc:                   func() runtime.Object { return r.New() },
		NewListFunc:               r.NewList,
		DefaultQualifiedResource:  r.Resource,
		SingularQualifiedResource: schema.GroupResource{Group: r.Resource.Group, Resource: r.Singular},
		PredicateFunc:             r.predicate,
		CreateStrategy:            st,
		UpdateStrategy:            st,
		DeleteStrategy:            st,
		ResetFieldsStrategy:       st,
		ReturnDeletedObject:       r.ReturnDeletedObject,
		TableConvertor:            &table[T]{r},
	}
	if r.TTL > 0 {
		ttl := uint64(r.TTL.Seconds())
		store.TTLFunc = func(runtime.Object, uint64, bool) (uint64, error) { return ttl, nil }
	}
	if err := store.CompleteWithOptions(&generic.StoreOptions{RESTOptions: opts, AttrFunc: r.attrs}); err != nil {
		return nil, err
	}
	s := &Storage{Store: store, REST: map[string]rest.Storage{
		r.Resource.Resource: &REST{Store: store, shortNames: r.ShortNames, categories: r.Categories},
	}}
	if r.HasStatus {
		statusStore := *store
		ss := &statusStrategy[T]{strategy: st}
		statusStore.UpdateStrategy = ss
		statusStore.ResetFieldsStrategy = ss
		s.REST[r.Resource.Resource+"/status"] = &StatusREST{store: &statusStore}
	}
	return s, nil
}

func (r *Resource[T]) predicate(label labels.Selector, field fields.Selector) storage.SelectionPredicate {
	return storage.SelectionPredicate{Label: label, Field: field, GetAttrs: r.attrs}
}

func (r *Resource[T]) attrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, nil, err
	}
	set := fields.Set{"metadata.name": m.GetName()}
	if r.Namespaced {
		set["metadata.namespace"] = m.GetNamespace()
	}
	if t, ok := obj.(T); ok && r.Fields != nil {
		for k, v := range r.Fields(t) {
			set[k] = v
		}
	}
	return m.GetLabels(), set, nil
}

// REST is the main endpoint of a resource.
type REST struct {
	*genericregistry.Store
	shortNames, categories []string
}

// ShortNames implements rest.ShortNamesProvider (kubectl get svc).
func (r *REST) ShortNames() []string { return r.shortNames }

// Categories implements rest.CategoriesProvider (kubectl get all).
func (r *REST) Categories() []string { return r.categories }

// StatusREST is the status subresource of a resource.
type StatusREST struct {
	store *genericregistry.Store
}

var (
	_ rest.Patcher             = &StatusREST{}
	_ rest.ResetFieldsStrategy = &StatusREST{}
)

// New implements rest.Storage.
func (r *StatusREST) New() runtime.Object { return r.store.New() }

// Destroy implements rest.Storage; the main resource owns the store.
func (r *StatusREST) Destroy() {}

// Get implements rest.Getter.
func (r *StatusREST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	return r.store.Get(ctx, name, options)
}

// Update implements rest.Updater; status writes never create.
func (r *StatusREST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, _ bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	return r.store.Update(ctx, name, objInfo, createValidation, updateValidation, false, options)
}

// GetResetFields implements rest.ResetFieldsStrategy.
func (r *StatusREST) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return r.store.GetResetFields()
}

// ConvertToTable implements rest.TableConvertor.
func (r *StatusREST) ConvertToTable(ctx context.Context, object runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	return r.store.ConvertToTable(ctx, object, tableOptions)
}

// copyField sets dst.<name> = src.<name>; used to keep spec or status across
// writes to the other part.
func copyField(dst, src runtime.Object, name string) {
	reflect.ValueOf(dst).Elem().FieldByName(name).Set(reflect.ValueOf(src).Elem().FieldByName(name))
}

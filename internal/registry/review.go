package registry

import (
	"context"
	"fmt"
	"reflect"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/authentication/user"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
)

// Review is a resource that is never stored: a POST of it is a question
// (may this user do that? who am I?) and the response is the object with
// its status filled in, as Kubernetes serves the access and token reviews.
// It has no get, list, watch or delete. T is its k8s.io/api pointer type.
type Review[T runtime.Object] struct {
	Singular   string
	Namespaced bool
	// Check, optional, returns what is wrong with the question, as a
	// Status error.
	Check func(ctx context.Context, obj T) error
	// Answer answers a question that Check and admission have passed.
	Answer func(ctx context.Context, obj T) (runtime.Object, error)
}

var (
	_ rest.Creater              = &Review[runtime.Object]{}
	_ rest.SingularNameProvider = &Review[runtime.Object]{}
)

// New implements rest.Storage.
func (r *Review[T]) New() runtime.Object { return newObject[T]() }

// NamespaceScoped implements rest.Scoper.
func (r *Review[T]) NamespaceScoped() bool { return r.Namespaced }

// GetSingularName implements rest.SingularNameProvider.
func (r *Review[T]) GetSingularName() string { return r.Singular }

// Destroy implements rest.Storage; there is no store.
func (r *Review[T]) Destroy() {}

// Create implements rest.Creater: check, admit (a copy, as the library's
// stores do), answer. Dry-run changes nothing: nothing is written either
// way.
func (r *Review[T]) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, _ *metav1.CreateOptions) (runtime.Object, error) {
	q, ok := obj.(T)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not a %s: %#v", reflect.TypeFor[T]().Elem().Name(), obj))
	}
	if r.Check != nil {
		if err := r.Check(ctx, q); err != nil {
			return nil, err
		}
	}
	if createValidation != nil {
		if err := createValidation(ctx, obj.DeepCopyObject()); err != nil {
			return nil, err
		}
	}
	return r.Answer(ctx, q)
}

// RequestUser is who sent the request: what the self reviews are about.
func RequestUser(ctx context.Context) (user.Info, error) {
	u, ok := genericapirequest.UserFrom(ctx)
	if !ok {
		return nil, apierrors.NewBadRequest("no user present on request")
	}
	return u, nil
}

// newObject is a new, empty T, which is a pointer type (*v1.Pod).
func newObject[T runtime.Object]() T {
	return reflect.New(reflect.TypeFor[T]().Elem()).Interface().(T)
}

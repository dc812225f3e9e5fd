package serviceaccount

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/portway/portway/internal/satoken"
)

// Tokens is what serviceaccounts/token needs besides the accounts: the
// objects a token may be bound to, and the key that signs.
type Tokens struct {
	Pods, Secrets, Nodes rest.Getter
	Signer               *satoken.Signer
}

// NewStorage builds serviceaccounts and serviceaccounts/token.
func NewStorage(opts generic.RESTOptionsGetter, tokens Tokens) (map[string]rest.Storage, error) {
	if tokens.Pods == nil || tokens.Secrets == nil || tokens.Nodes == nil || tokens.Signer == nil {
		return nil, errors.New("serviceaccounts/token needs the pods, secrets and nodes storage and a signer: build them first")
	}
	s, err := Resource.NewStorage(opts)
	if err != nil {
		return nil, err
	}
	s.REST["serviceaccounts/token"] = &TokenREST{accounts: s.Store, tokens: tokens}
	return s.REST, nil
}

var tokenRequestKind = authenticationv1.SchemeGroupVersion.WithKind("TokenRequest")

// TokenREST is serviceaccounts/token: a POST of a TokenRequest returns it
// with a signed token for the account (kubectl create token).
type TokenREST struct {
	accounts rest.Getter
	tokens   Tokens
}

var (
	_ rest.NamedCreater             = &TokenREST{}
	_ rest.GroupVersionKindProvider = &TokenREST{}
)

// New implements rest.Storage.
func (r *TokenREST) New() runtime.Object { return &authenticationv1.TokenRequest{} }

// Destroy implements rest.Storage.
func (r *TokenREST) Destroy() {}

// GroupVersionKind implements rest.GroupVersionKindProvider: the
// subresource of a core resource speaks authentication.k8s.io/v1.
func (r *TokenREST) GroupVersionKind(schema.GroupVersion) schema.GroupVersionKind {
	return tokenRequestKind
}

// Create issues a token for the account name, as kube-apiserver does: for
// the API server's audiences unless others are asked for, bound to a pod,
// secret or node if asked, whose UID must match when given. A pod's token
// volume asks for 3607 s; such a token lasts a year, and its use after
// 3607 s is only flagged.
func (r *TokenREST) Create(ctx context.Context, name string, obj runtime.Object, createValidation rest.ValidateObjectFunc, _ *metav1.CreateOptions) (runtime.Object, error) {
	req := obj.(*authenticationv1.TokenRequest)
	namespace, ok := request.NamespaceFrom(ctx)
	if !ok {
		return nil, apierrors.NewBadRequest("namespace is required")
	}
	if req.Name != "" && req.Name != name {
		return nil, apierrors.NewInvalid(tokenRequestKind.GroupKind(), name, field.ErrorList{
			field.Invalid(field.NewPath("metadata", "name"), req.Name, "must match the service account name if specified")})
	}
	if req.Namespace != "" && req.Namespace != namespace {
		return nil, apierrors.NewInvalid(tokenRequestKind.GroupKind(), name, field.ErrorList{
			field.Invalid(field.NewPath("metadata", "namespace"), req.Namespace, "must match the service account namespace if specified")})
	}
	obj, err := r.accounts.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	sa := obj.(*corev1.ServiceAccount)

	if len(req.Spec.Audiences) == 0 {
		req.Spec.Audiences = slices.Clone(satoken.APIAudiences)
	}
	if req.Name == "" {
		req.Name = sa.Name
	}
	if req.Namespace == "" {
		req.Namespace = sa.Namespace
	}
	// Taken before the token, so the reported expiry is never after the
	// token's own.
	now := time.Now()
	req.CreationTimestamp = metav1.NewTime(now)
	req.Status = authenticationv1.TokenRequestStatus{}
	if errs := validateTokenRequest(req); len(errs) > 0 {
		return nil, apierrors.NewInvalid(tokenRequestKind.GroupKind(), "", errs)
	}
	if createValidation != nil {
		if err := createValidation(ctx, req.DeepCopyObject()); err != nil {
			return nil, err
		}
	}

	binding, err := r.binding(ctx, name, req.Spec.BoundObjectRef)
	if err != nil {
		return nil, err
	}
	lifetime := time.Duration(*req.Spec.ExpirationSeconds) * time.Second
	var warnAfter time.Duration
	if binding.Pod != nil && *req.Spec.ExpirationSeconds == satoken.WarnOnlyExpirationSeconds &&
		!slices.ContainsFunc(req.Spec.Audiences, func(a string) bool { return !satoken.APIAudiences.Has(a) }) {
		warnAfter, lifetime = lifetime, satoken.ExtendedExpiration
	}
	token, err := r.tokens.Signer.Issue(sa, binding, req.Spec.Audiences, now, lifetime, warnAfter)
	if err != nil {
		return nil, apierrors.NewInternalError(fmt.Errorf("failed to generate token: %v", err))
	}
	out := req.DeepCopy()
	out.Status = authenticationv1.TokenRequestStatus{
		Token:               token,
		ExpirationTimestamp: metav1.NewTime(now.Add(time.Duration(*out.Spec.ExpirationSeconds) * time.Second)),
	}
	return out, nil
}

// binding reads the object a token is to be bound to.
func (r *TokenREST) binding(ctx context.Context, account string, ref *authenticationv1.BoundObjectReference) (satoken.Binding, error) {
	var b satoken.Binding
	if ref == nil {
		return b, nil
	}
	gvk := schema.FromAPIVersionAndKind(ref.APIVersion, ref.Kind)
	var uid string
	switch {
	case gvk.Group == "" && gvk.Kind == "Pod":
		obj, err := r.tokens.Pods.Get(ctx, ref.Name, &metav1.GetOptions{})
		if err != nil {
			return b, err
		}
		b.Pod = obj.(*corev1.Pod)
		if b.Pod.Spec.ServiceAccountName != account {
			return b, apierrors.NewBadRequest(fmt.Sprintf("cannot bind token for serviceaccount %q to pod running with different serviceaccount name.", account))
		}
		uid = string(b.Pod.UID)
		// The pod's node goes into the token for information; a node
		// that is gone leaves its name only.
		if node := b.Pod.Spec.NodeName; node != "" {
			obj, err := r.tokens.Nodes.Get(ctx, node, &metav1.GetOptions{})
			switch {
			case apierrors.IsNotFound(err):
				b.Node = &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}}
			case err != nil:
				return b, apierrors.NewInternalError(err)
			default:
				b.Node = obj.(*corev1.Node)
			}
		}
	case gvk.Group == "" && gvk.Kind == "Node":
		obj, err := r.tokens.Nodes.Get(ctx, ref.Name, &metav1.GetOptions{})
		if err != nil {
			return b, err
		}
		b.Node = obj.(*corev1.Node)
		uid = string(b.Node.UID)
	case gvk.Group == "" && gvk.Kind == "Secret":
		obj, err := r.tokens.Secrets.Get(ctx, ref.Name, &metav1.GetOptions{})
		if err != nil {
			return b, err
		}
		b.Secret = obj.(*corev1.Secret)
		uid = string(b.Secret.UID)
	default:
		return b, apierrors.NewBadRequest(fmt.Sprintf("cannot bind token to object of type %s", gvk.String()))
	}
	if ref.UID != "" && string(ref.UID) != uid {
		return b, apierrors.NewConflict(schema.GroupResource{Group: gvk.Group, Resource: gvk.Kind}, ref.Name,
			fmt.Errorf("the UID in the bound object reference (%s) does not match the UID in record. The object might have been deleted and then recreated", ref.UID))
	}
	return b, nil
}

// validateTokenRequest is Kubernetes' check of a TokenRequest: a lifetime
// from 10 minutes to 2^32 seconds.
func validateTokenRequest(tr *authenticationv1.TokenRequest) field.ErrorList {
	var errs field.ErrorList
	path := field.NewPath("spec", "expirationSeconds")
	switch exp := *tr.Spec.ExpirationSeconds; {
	case exp < 600:
		errs = append(errs, field.Invalid(path, exp, "may not specify a duration less than 10 minutes"))
	case exp > 1<<32:
		errs = append(errs, field.Invalid(path, exp, "may not specify a duration larger than 2^32 seconds"))
	}
	return errs
}

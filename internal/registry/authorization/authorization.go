// Package authorization serves authorization.k8s.io/v1, the reviews that
// ask the server's authorizer a question: may this user do that
// (`kubectl auth can-i`), and what may I do here (`kubectl auth can-i
// --list`). Nothing is stored; each answer comes from the same authorizer
// that guards every request, as in kube-apiserver's
// pkg/registry/authorization.
package authorization

import (
	"context"
	"fmt"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/portway/portway/internal/registry"
	"github.com/portway/portway/internal/validation"
)

// Authorizer is what the reviews ask: the server's authorizer, which also
// lists a user's rules.
type Authorizer interface {
	authorizer.Authorizer
	authorizer.RuleResolver
}

// NewStorage returns the four review resources of authorization.k8s.io/v1.
func NewStorage(a Authorizer) map[string]rest.Storage {
	return map[string]rest.Storage{
		"subjectaccessreviews": &registry.Review[*authorizationv1.SubjectAccessReview]{
			Singular: "subjectaccessreview",
			Check: func(_ context.Context, sar *authorizationv1.SubjectAccessReview) error {
				return invalid(validation.ValidateSubjectAccessReview(sar))
			},
			Answer: func(ctx context.Context, sar *authorizationv1.SubjectAccessReview) (runtime.Object, error) {
				sar.Status = review(ctx, a, subjectAttributes(sar.Spec))
				return sar, nil
			},
		},
		"selfsubjectaccessreviews": &registry.Review[*authorizationv1.SelfSubjectAccessReview]{
			Singular: "selfsubjectaccessreview",
			Check: func(ctx context.Context, sar *authorizationv1.SelfSubjectAccessReview) error {
				if err := invalid(validation.ValidateSelfSubjectAccessReview(sar)); err != nil {
					return err
				}
				_, err := registry.RequestUser(ctx)
				return err
			},
			Answer: func(ctx context.Context, sar *authorizationv1.SelfSubjectAccessReview) (runtime.Object, error) {
				u, err := registry.RequestUser(ctx)
				if err != nil {
					return nil, err
				}
				sar.Status = review(ctx, a, attributes(u, sar.Spec.ResourceAttributes, sar.Spec.NonResourceAttributes))
				return sar, nil
			},
		},
		"localsubjectaccessreviews": &registry.Review[*authorizationv1.LocalSubjectAccessReview]{
			Singular:   "localsubjectaccessreview",
			Namespaced: true,
			Check: func(ctx context.Context, sar *authorizationv1.LocalSubjectAccessReview) error {
				if err := invalid(validation.ValidateLocalSubjectAccessReview(sar)); err != nil {
					return err
				}
				ns := genericapirequest.NamespaceValue(ctx)
				if ns == "" {
					return apierrors.NewBadRequest(fmt.Sprintf("namespace is required on this type: %v", ns))
				}
				if ns != sar.Namespace {
					return apierrors.NewBadRequest(fmt.Sprintf("spec.resourceAttributes.namespace must match namespace: %v", ns))
				}
				return nil
			},
			Answer: func(ctx context.Context, sar *authorizationv1.LocalSubjectAccessReview) (runtime.Object, error) {
				sar.Status = review(ctx, a, subjectAttributes(sar.Spec))
				return sar, nil
			},
		},
		"selfsubjectrulesreviews": &registry.Review[*authorizationv1.SelfSubjectRulesReview]{
			Singular: "selfsubjectrulesreview",
			Check: func(ctx context.Context, srr *authorizationv1.SelfSubjectRulesReview) error {
				if _, err := registry.RequestUser(ctx); err != nil {
					return err
				}
				if srr.Spec.Namespace == "" {
					return apierrors.NewBadRequest("no namespace on request")
				}
				return nil
			},
			Answer: func(ctx context.Context, srr *authorizationv1.SelfSubjectRulesReview) (runtime.Object, error) {
				u, err := registry.RequestUser(ctx)
				if err != nil {
					return nil, err
				}
				return rulesReview(ctx, a, u, srr.Spec.Namespace), nil
			},
		},
	}
}

// invalid is Kubernetes' 422 for a review with errs, or nil without.
// kube-apiserver names the kind of the object it decoded, an internal type
// whose kind conversion left empty, so its message names only the group
// (`.authorization.k8s.io "" is invalid: ...`, which kubectl prints as
// `The request is invalid: ...`).
func invalid(errs field.ErrorList) error {
	if len(errs) == 0 {
		return nil
	}
	return apierrors.NewInvalid(schema.GroupKind{Group: authorizationv1.GroupName}, "", errs)
}

// review asks the authorizer about attrs.
func review(ctx context.Context, a authorizer.Authorizer, attrs authorizer.AttributesRecord) authorizationv1.SubjectAccessReviewStatus {
	decision, reason, err := a.Authorize(ctx, attrs)
	return authorizationv1.SubjectAccessReviewStatus{
		Allowed:         decision == authorizer.DecisionAllow,
		Denied:          decision == authorizer.DecisionDeny,
		Reason:          reason,
		EvaluationError: evaluationError(err, attrs),
	}
}

// rulesReview lists what u may do in namespace.
func rulesReview(ctx context.Context, a authorizer.RuleResolver, u user.Info, namespace string) *authorizationv1.SelfSubjectRulesReview {
	resourceRules, nonResourceRules, incomplete, err := a.RulesFor(ctx, u, namespace)
	out := &authorizationv1.SelfSubjectRulesReview{Status: authorizationv1.SubjectRulesReviewStatus{
		ResourceRules:    make([]authorizationv1.ResourceRule, len(resourceRules)),
		NonResourceRules: make([]authorizationv1.NonResourceRule, len(nonResourceRules)),
		Incomplete:       incomplete,
	}}
	for i, r := range resourceRules {
		out.Status.ResourceRules[i] = authorizationv1.ResourceRule{
			Verbs: r.GetVerbs(), APIGroups: r.GetAPIGroups(), Resources: r.GetResources(), ResourceNames: r.GetResourceNames(),
		}
	}
	for i, r := range nonResourceRules {
		out.Status.NonResourceRules[i] = authorizationv1.NonResourceRule{Verbs: r.GetVerbs(), NonResourceURLs: r.GetNonResourceURLs()}
	}
	if err != nil {
		out.Status.EvaluationError = err.Error()
	}
	return out
}

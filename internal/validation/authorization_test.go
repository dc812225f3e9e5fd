package validation

import (
	"strings"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestValidateAccessReviews(t *testing.T) {
	pods := &authorizationv1.ResourceAttributes{Verb: "get", Resource: "pods", Namespace: "ns"}
	healthz := &authorizationv1.NonResourceAttributes{Verb: "get", Path: "/healthz"}
	bob := func(ra *authorizationv1.ResourceAttributes, nra *authorizationv1.NonResourceAttributes) authorizationv1.SubjectAccessReviewSpec {
		return authorizationv1.SubjectAccessReviewSpec{User: "bob", ResourceAttributes: ra, NonResourceAttributes: nra}
	}
	for _, tc := range []struct {
		name string
		errs field.ErrorList
		want []string // each error's text, in order
	}{
		{"sar resource", ValidateSubjectAccessReview(&authorizationv1.SubjectAccessReview{Spec: bob(pods, nil)}), nil},
		{"sar path, group only", ValidateSubjectAccessReview(&authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{Groups: []string{"g"}, NonResourceAttributes: healthz}}), nil},
		{"sar neither, nobody", ValidateSubjectAccessReview(&authorizationv1.SubjectAccessReview{}), []string{
			`spec.resourceAttributes: Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified`,
			`spec.user: Invalid value: "": at least one of user or group must be specified`,
		}},
		{"sar both", ValidateSubjectAccessReview(&authorizationv1.SubjectAccessReview{Spec: bob(pods, healthz)}), []string{
			`spec.nonResourceAttributes: Invalid value: `, `cannot be specified in combination with resourceAttributes`,
		}},
		{"sar named", ValidateSubjectAccessReview(&authorizationv1.SubjectAccessReview{ObjectMeta: metav1.ObjectMeta{Name: "x"}, Spec: bob(pods, nil)}), []string{
			`metadata: Invalid value: `, `: must be empty`,
		}},
		{"self, managed fields only", ValidateSelfSubjectAccessReview(&authorizationv1.SelfSubjectAccessReview{
			ObjectMeta: metav1.ObjectMeta{ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}},
			Spec:       authorizationv1.SelfSubjectAccessReviewSpec{NonResourceAttributes: healthz}}), nil},
		{"self neither", ValidateSelfSubjectAccessReview(&authorizationv1.SelfSubjectAccessReview{}), []string{
			`spec.resourceAttributes: Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified`,
		}},
		{"self selectors", ValidateSelfSubjectAccessReview(&authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
			ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "list", Resource: "pods",
				FieldSelector: &authorizationv1.FieldSelectorAttributes{},
				LabelSelector: &authorizationv1.LabelSelectorAttributes{RawSelector: "a=b", Requirements: []metav1.LabelSelectorRequirement{{Key: "a", Operator: "In", Values: []string{"b"}}}},
			}}}), []string{
			`spec.resourceAttributes.fieldSelector.requirements: Required value: when spec.resourceAttributes.fieldSelector is specified, requirements or rawSelector is required`,
			`spec.resourceAttributes.labelSelector.rawSelector: Invalid value: "a=b": may not specified at the same time as requirements`,
		}},
		{"self selector requirement", ValidateSelfSubjectAccessReview(&authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
			ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "list", Resource: "pods",
				// An unknown operator passes; a bad key does not.
				LabelSelector: &authorizationv1.LabelSelectorAttributes{Requirements: []metav1.LabelSelectorRequirement{{Key: "a", Operator: "Near"}, {Key: "-x", Operator: "Exists"}}},
			}}}), []string{
			`spec.resourceAttributes.labelSelector.requirements[1].key: Invalid value: "-x": name part must consist of alphanumeric characters`,
		}},
		{"local", ValidateLocalSubjectAccessReview(&authorizationv1.LocalSubjectAccessReview{ObjectMeta: metav1.ObjectMeta{Namespace: "ns"}, Spec: bob(pods, nil)}), nil},
		{"local elsewhere", ValidateLocalSubjectAccessReview(&authorizationv1.LocalSubjectAccessReview{ObjectMeta: metav1.ObjectMeta{Namespace: "other", Labels: map[string]string{"a": "b"}}, Spec: bob(pods, nil)}), []string{
			`metadata: Invalid value: `, `: must be empty except for namespace`,
			`spec.resourceAttributes.namespace: Invalid value: "ns": must match metadata.namespace`,
		}},
		{"local path", ValidateLocalSubjectAccessReview(&authorizationv1.LocalSubjectAccessReview{ObjectMeta: metav1.ObjectMeta{Namespace: "ns"}, Spec: bob(nil, healthz)}), []string{
			`spec.nonResourceAttributes: Invalid value: `, `disallowed on this kind of request`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.errs.ToAggregate()
			if tc.want == nil {
				if got != nil {
					t.Fatalf("want no errors, got %v", got)
				}
				return
			}
			if got == nil {
				t.Fatalf("want %q, got no errors", tc.want)
			}
			// The parts must appear in order.
			rest := got.Error()
			for _, part := range tc.want {
				i := strings.Index(rest, part)
				if i < 0 {
					t.Fatalf("%q not found (in order) in:\n%s", part, got)
				}
				rest = rest[i+len(part):]
			}
		})
	}
}

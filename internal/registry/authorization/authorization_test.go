package authorization

import (
	"context"
	"errors"
	"reflect"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
)

// recorder answers every question with its decision and remembers the
// last one.
type recorder struct {
	decision authorizer.Decision
	reason   string
	err      error
	asked    authorizer.Attributes
}

func (r *recorder) Authorize(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
	r.asked = a
	return r.decision, r.reason, r.err
}

func (r *recorder) RulesFor(context.Context, user.Info, string) ([]authorizer.ResourceRuleInfo, []authorizer.NonResourceRuleInfo, bool, error) {
	return []authorizer.ResourceRuleInfo{&authorizer.DefaultResourceRuleInfo{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}}},
		nil, true, errors.New("webhook unreachable")
}

var alice = &user.DefaultInfo{Name: "alice", Groups: []string{"devs", user.AllAuthenticated}}

func create(t *testing.T, a Authorizer, resource, namespace string, obj runtime.Object) (runtime.Object, error) {
	t.Helper()
	ctx := genericapirequest.WithUser(genericapirequest.WithNamespace(context.Background(), namespace), alice)
	return NewStorage(a)[resource].(rest.Creater).Create(ctx, obj, nil, &metav1.CreateOptions{})
}

func TestSelfSubjectAccessReview(t *testing.T) {
	r := &recorder{decision: authorizer.DecisionDeny, reason: "nope", err: errors.New("boom")}
	out, err := create(t, r, "selfsubjectaccessreviews", "", &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
		ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "list", Resource: "pods", Namespace: "web",
			LabelSelector: &authorizationv1.LabelSelectorAttributes{RawSelector: "app=web"},
			FieldSelector: &authorizationv1.FieldSelectorAttributes{Requirements: []metav1.FieldSelectorRequirement{
				{Key: "spec.nodeName", Operator: metav1.FieldSelectorOpNotIn, Values: []string{"n1"}},
				{Key: "status.phase", Operator: metav1.FieldSelectorOpExists},
			}},
		}}})
	if err != nil {
		t.Fatal(err)
	}
	want := authorizationv1.SubjectAccessReviewStatus{Denied: true, Reason: "nope",
		EvaluationError: "boom; spec.resourceAttributes.fieldSelector partially ignored due to parse error"}
	if got := out.(*authorizationv1.SelfSubjectAccessReview).Status; !reflect.DeepEqual(got, want) {
		t.Errorf("status %+v, want %+v", got, want)
	}
	a := r.asked.(authorizer.AttributesRecord)
	if a.User != alice || a.Verb != "list" || a.Namespace != "web" || a.APIVersion != "*" || !a.ResourceRequest {
		t.Errorf("asked %+v", a)
	}
	if ls, err := a.GetLabelSelector(); err != nil || len(ls) != 1 || ls[0].String() != "app=web" {
		t.Errorf("label selector %v, %v", ls, err)
	}
	if fs, _ := a.GetFieldSelector(); !reflect.DeepEqual(fs, fields.Requirements{{Field: "spec.nodeName", Operator: selection.NotEquals, Value: "n1"}}) {
		t.Errorf("field selector %v", fs)
	}
}

func TestSubjectAccessReview(t *testing.T) {
	r := &recorder{decision: authorizer.DecisionAllow}
	out, err := create(t, r, "subjectaccessreviews", "", &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: "bob", Groups: []string{"ops"}, Extra: map[string]authorizationv1.ExtraValue{"scopes": {"a"}},
		NonResourceAttributes: &authorizationv1.NonResourceAttributes{Verb: "get", Path: "/metrics"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if s := out.(*authorizationv1.SubjectAccessReview).Status; !s.Allowed || s.Denied || s.EvaluationError != "" {
		t.Errorf("status %+v", s)
	}
	a := r.asked.(authorizer.AttributesRecord)
	u := a.User.(*user.DefaultInfo)
	if u.Name != "bob" || !reflect.DeepEqual(u.Groups, []string{"ops"}) || !reflect.DeepEqual(u.Extra, map[string][]string{"scopes": {"a"}}) {
		t.Errorf("asked about %+v, not the spec's user", u)
	}
	if a.ResourceRequest || a.Path != "/metrics" || a.Verb != "get" {
		t.Errorf("asked %+v", a)
	}

	_, err = create(t, r, "subjectaccessreviews", "", &authorizationv1.SubjectAccessReview{})
	if !apierrors.IsInvalid(err) || err.Error() != `.authorization.k8s.io "" is invalid: [spec.resourceAttributes: Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified, spec.user: Invalid value: "": at least one of user or group must be specified]` {
		t.Errorf("empty review: %v", err)
	}
}

func TestLocalSubjectAccessReview(t *testing.T) {
	r := &recorder{decision: authorizer.DecisionAllow}
	review := func(ns string) *authorizationv1.LocalSubjectAccessReview {
		return &authorizationv1.LocalSubjectAccessReview{ObjectMeta: metav1.ObjectMeta{Namespace: ns}, Spec: authorizationv1.SubjectAccessReviewSpec{
			User: "bob", ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "get", Resource: "pods", Namespace: ns}}}
	}
	if _, err := create(t, r, "localsubjectaccessreviews", "web", review("web")); err != nil {
		t.Fatal(err)
	}
	if a := r.asked.(authorizer.AttributesRecord); a.Namespace != "web" || a.User.GetName() != "bob" {
		t.Errorf("asked %+v", a)
	}
	_, err := create(t, r, "localsubjectaccessreviews", "web", review("db"))
	if !apierrors.IsBadRequest(err) || err.Error() != "spec.resourceAttributes.namespace must match namespace: web" {
		t.Errorf("review of another namespace: %v", err)
	}
}

func TestSelfSubjectRulesReview(t *testing.T) {
	out, err := create(t, &recorder{}, "selfsubjectrulesreviews", "", &authorizationv1.SelfSubjectRulesReview{Spec: authorizationv1.SelfSubjectRulesReviewSpec{Namespace: "web"}})
	if err != nil {
		t.Fatal(err)
	}
	want := authorizationv1.SubjectRulesReviewStatus{
		ResourceRules:    []authorizationv1.ResourceRule{{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}}},
		NonResourceRules: []authorizationv1.NonResourceRule{},
		Incomplete:       true,
		EvaluationError:  "webhook unreachable",
	}
	if got := out.(*authorizationv1.SelfSubjectRulesReview).Status; !reflect.DeepEqual(got, want) {
		t.Errorf("status %+v, want %+v", got, want)
	}
	if _, err := create(t, &recorder{}, "selfsubjectrulesreviews", "", &authorizationv1.SelfSubjectRulesReview{}); !apierrors.IsBadRequest(err) {
		t.Errorf("no namespace: %v", err)
	}
	// portway's authorizer: everything, everywhere.
	out, err = create(t, authorizerfactory.NewAlwaysAllowAuthorizer(), "selfsubjectrulesreviews", "", &authorizationv1.SelfSubjectRulesReview{Spec: authorizationv1.SelfSubjectRulesReviewSpec{Namespace: "web"}})
	if err != nil {
		t.Fatal(err)
	}
	if s := out.(*authorizationv1.SelfSubjectRulesReview).Status; len(s.ResourceRules) != 1 || s.ResourceRules[0].Verbs[0] != "*" || len(s.NonResourceRules) != 1 || s.Incomplete {
		t.Errorf("always-allow rules %+v", s)
	}
}

func TestLabelRequirements(t *testing.T) {
	reqs, err := labelRequirements([]metav1.LabelSelectorRequirement{
		{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"web", "db"}},
		{Key: "tier", Operator: "Near"},
		{Key: "gone", Operator: metav1.LabelSelectorOpDoesNotExist, Values: []string{}},
	})
	if err == nil || err.Error() != `"Near" is not a valid label selector operator` {
		t.Errorf("error %v", err)
	}
	if got := labels.NewSelector().Add(reqs...).String(); got != "app in (db,web),!gone" {
		t.Errorf("requirements %q", got)
	}
}

// TestReviewAdmission: an invalid review is refused before admission sees
// it; a valid one is admitted as a copy, so admission cannot change the
// question.
func TestReviewAdmission(t *testing.T) {
	r := &recorder{decision: authorizer.DecisionAllow}
	admitted := 0
	admit := func(_ context.Context, obj runtime.Object) error {
		admitted++
		obj.(*authorizationv1.SelfSubjectAccessReview).Spec.ResourceAttributes.Verb = "delete"
		return nil
	}
	ssar := NewStorage(r)["selfsubjectaccessreviews"].(rest.Creater)
	// No user on the context either: validation speaks first, with a 422.
	_, err := ssar.Create(context.Background(), &authorizationv1.SelfSubjectAccessReview{}, admit, &metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || admitted != 0 {
		t.Errorf("invalid review: %v, admitted %d times", err, admitted)
	}
	ctx := genericapirequest.WithUser(context.Background(), alice)
	_, err = ssar.Create(ctx, &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
		ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "get", Resource: "pods"}}}, admit, &metav1.CreateOptions{})
	if err != nil || admitted != 1 || r.asked.GetVerb() != "get" {
		t.Errorf("valid review: %v, admitted %d times, asked %+v", err, admitted, r.asked)
	}
}

func TestFieldRequirements(t *testing.T) {
	reqs, err := fieldRequirements([]metav1.FieldSelectorRequirement{
		{Key: "spec.nodeName", Operator: metav1.FieldSelectorOpIn, Values: []string{"n1"}},
		{Key: "a", Operator: metav1.FieldSelectorOpIn, Values: []string{"x", "y"}},
		{Key: "b", Operator: metav1.FieldSelectorOpNotIn},
		{Key: "c", Operator: "Near", Values: []string{"x"}},
	})
	want := "[fieldSelectors do not yet support multiple values, fieldSelectors not in must have one value, \"Near\" is not a valid field selector operator]"
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
	if !reflect.DeepEqual(reqs, fields.Requirements{{Field: "spec.nodeName", Operator: selection.Equals, Value: "n1"}}) {
		t.Errorf("requirements %v", reqs)
	}
}

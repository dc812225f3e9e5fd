package authentication

import (
	"context"
	"crypto/x509"
	"reflect"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/authentication/user"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/portway/portway/internal/apiserver/authn"
)

func create(t *testing.T, resource string, u user.Info, obj runtime.Object) (runtime.Object, error) {
	t.Helper()
	storage := NewStorage(authn.NewAuthenticator(x509.NewCertPool(), "secret-token"))
	ctx := context.Background()
	if u != nil {
		ctx = genericapirequest.WithUser(ctx, u)
	}
	return storage[resource].(rest.Creater).Create(ctx, obj, nil, &metav1.CreateOptions{})
}

func TestSelfSubjectReview(t *testing.T) {
	u := &user.DefaultInfo{Name: "alice", UID: "42", Groups: []string{"devs"}, Extra: map[string][]string{"scopes": {"a", "b"}}}
	out, err := create(t, "selfsubjectreviews", u, &authenticationv1.SelfSubjectReview{})
	if err != nil {
		t.Fatal(err)
	}
	want := authenticationv1.UserInfo{Username: "alice", UID: "42", Groups: []string{"devs"}, Extra: map[string]authenticationv1.ExtraValue{"scopes": {"a", "b"}}}
	if got := out.(*authenticationv1.SelfSubjectReview); !reflect.DeepEqual(got.Status.UserInfo, want) || got.CreationTimestamp.IsZero() {
		t.Errorf("got %+v, want user %+v and a creation time", got, want)
	}
	if _, err := create(t, "selfsubjectreviews", nil, &authenticationv1.SelfSubjectReview{}); !apierrors.IsBadRequest(err) {
		t.Errorf("without a user: %v", err)
	}
}

func TestTokenReview(t *testing.T) {
	review := func(token string, audiences ...string) (*authenticationv1.TokenReviewStatus, error) {
		out, err := create(t, "tokenreviews", nil, &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: token, Audiences: audiences}})
		if err != nil {
			return nil, err
		}
		return &out.(*authenticationv1.TokenReview).Status, nil
	}
	s, err := review("secret-token")
	if err != nil {
		t.Fatal(err)
	}
	want := authenticationv1.UserInfo{Username: "portway-admin", Groups: []string{user.SystemPrivilegedGroup, user.AllAuthenticated}, Extra: map[string]authenticationv1.ExtraValue{}}
	if !s.Authenticated || s.Error != "" || !reflect.DeepEqual(s.User, want) {
		t.Errorf("admin token: %+v", s)
	}
	if s, err := review("wrong"); err != nil || s.Authenticated || s.Error != "invalid bearer token" || s.User.Username != "" {
		t.Errorf("wrong token: %+v, %v", s, err)
	}
	// Blank after trimming: no token at all, and no anonymous user either
	// (the request is for no public path).
	if s, err := review("  "); err != nil || s.Authenticated || s.Error != "" {
		t.Errorf("blank token: %+v, %v", s, err)
	}
	if _, err := review(""); !apierrors.IsBadRequest(err) {
		t.Errorf("empty token: %v", err)
	}
	// portway's server has no audiences of its own, so a token is valid
	// for none that a review names.
	if s, err := review("secret-token", "vault"); err != nil || s.Authenticated || s.Error != "invalid bearer token" {
		t.Errorf("with audiences: %+v, %v", s, err)
	}
}

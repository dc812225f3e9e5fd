package authentication

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"reflect"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/authentication/user"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/client-go/kubernetes/fake"
	listerscorev1 "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/portway/portway/internal/apiserver/authn"
	"github.com/portway/portway/internal/satoken"
)

// robot is a service account the tests' API holds, and key signs its
// tokens.
var (
	robot = &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "robot", Namespace: "ns", UID: "robot-uid"}}
	key   = func() *rsa.PrivateKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		return k
	}()
)

func create(t *testing.T, resource string, u user.Info, obj runtime.Object) (runtime.Object, error) {
	t.Helper()
	saTokens := satoken.NewAuthenticator(key.Public(), satoken.NewClientGetter(fake.NewClientset(robot), listerscorev1.NewServiceAccountLister(cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{}))))
	storage := NewStorage(authn.NewAuthenticator(x509.NewCertPool(), "secret-token", saTokens), satoken.APIAudiences)
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
	if !s.Authenticated || s.Error != "" || !reflect.DeepEqual(s.User, want) || !reflect.DeepEqual(s.Audiences, []string{satoken.Issuer}) {
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
	// The admin token is good for the API server's own audience only.
	if s, err := review("secret-token", "vault"); err != nil || s.Authenticated || s.Error != "invalid bearer token" {
		t.Errorf("admin token for another audience: %+v, %v", s, err)
	}
	if s, err := review("secret-token", "vault", satoken.Issuer); err != nil || !s.Authenticated || !reflect.DeepEqual(s.Audiences, []string{satoken.Issuer}) {
		t.Errorf("admin token for the API server: %+v, %v", s, err)
	}

	signer, err := satoken.NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	sa, err := signer.Issue(robot, satoken.Binding{}, satoken.APIAudiences, time.Now(), time.Hour, 0)
	if err != nil {
		t.Fatal(err)
	}
	s, err = review(sa)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Authenticated || s.User.Username != "system:serviceaccount:ns:robot" || s.User.UID != "robot-uid" ||
		!reflect.DeepEqual(s.User.Groups, []string{"system:serviceaccounts", "system:serviceaccounts:ns", user.AllAuthenticated}) {
		t.Errorf("service account token: %+v", s)
	}
	if s, err := review(sa, "vault"); err != nil || s.Authenticated ||
		s.Error != `token audiences ["https://kubernetes.default.svc.cluster.local"] is invalid for the target audiences ["vault"]` {
		t.Errorf("service account token for another audience: %+v, %v", s, err)
	}
}

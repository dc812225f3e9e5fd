// Package authentication serves authentication.k8s.io/v1: SelfSubjectReview
// (`kubectl auth whoami`: who the server takes the caller for) and
// TokenReview (whom a bearer token belongs to), answered by the server's
// own authenticator, as in kube-apiserver's pkg/registry/authentication.
// Nothing is stored.
package authentication

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/portway/portway/internal/registry"
)

// NewStorage returns selfsubjectreviews and tokenreviews. authn is the
// server's request authenticator; a TokenReview runs it on a request that
// carries nothing but the token, for the review's audiences or else the
// server's own, apiAudiences.
func NewStorage(authn authenticator.Request, apiAudiences authenticator.Audiences) map[string]rest.Storage {
	return map[string]rest.Storage{
		"selfsubjectreviews": &registry.Review[*authenticationv1.SelfSubjectReview]{
			Singular: "selfsubjectreview",
			// Kubernetes looks for the user after admission, so here.
			Answer: func(ctx context.Context, _ *authenticationv1.SelfSubjectReview) (runtime.Object, error) {
				u, err := registry.RequestUser(ctx)
				if err != nil {
					return nil, err
				}
				return &authenticationv1.SelfSubjectReview{
					ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.NewTime(time.Now())},
					Status:     authenticationv1.SelfSubjectReviewStatus{UserInfo: userInfo(u)},
				}, nil
			},
		},
		"tokenreviews": &registry.Review[*authenticationv1.TokenReview]{
			Singular: "tokenreview",
			Check: func(_ context.Context, tr *authenticationv1.TokenReview) error {
				if tr.Spec.Token == "" {
					return apierrors.NewBadRequest("token is required for TokenReview in authentication")
				}
				return nil
			},
			Answer: func(_ context.Context, tr *authenticationv1.TokenReview) (runtime.Object, error) {
				return tokenReview(authn, apiAudiences, tr)
			},
		},
	}
}

// errAudiences is kube-apiserver's answer when an authenticator accepts a
// token for audiences other than those asked about.
var errAudiences = apierrors.NewInternalError(errors.New("error validating audiences"))

func tokenReview(authn authenticator.Request, apiAudiences authenticator.Audiences, tr *authenticationv1.TokenReview) (*authenticationv1.TokenReview, error) {
	req := &http.Request{URL: &url.URL{}, Header: http.Header{"Authorization": {"Bearer " + tr.Spec.Token}}}
	auds := authenticator.Audiences(tr.Spec.Audiences)
	if len(auds) == 0 {
		auds = apiAudiences
	}
	if len(auds) > 0 {
		req = req.WithContext(authenticator.WithAudiences(req.Context(), auds))
	}
	resp, ok, err := authn.AuthenticateRequest(req)
	tr.Status.Authenticated = ok
	if err != nil {
		tr.Status.Error = err.Error()
	}
	if len(auds) > 0 && resp != nil && len(auds.Intersect(resp.Audiences)) == 0 {
		return nil, errAudiences
	}
	if resp != nil && resp.User != nil {
		tr.Status.User = userInfo(resp.User)
		tr.Status.Audiences = resp.Audiences
	}
	return tr, nil
}

func userInfo(u user.Info) authenticationv1.UserInfo {
	info := authenticationv1.UserInfo{
		Username: u.GetName(),
		UID:      u.GetUID(),
		Groups:   u.GetGroups(),
		Extra:    make(map[string]authenticationv1.ExtraValue, len(u.GetExtra())),
	}
	for k, v := range u.GetExtra() {
		info.Extra[k] = v
	}
	return info
}

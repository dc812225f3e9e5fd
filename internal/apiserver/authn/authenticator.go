package authn

import (
	"crypto/x509"
	"net/http"
	"strings"
	"time"

	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/group"
	"k8s.io/apiserver/pkg/authentication/request/bearertoken"
	"k8s.io/apiserver/pkg/authentication/request/union"
	x509request "k8s.io/apiserver/pkg/authentication/request/x509"
	tokencache "k8s.io/apiserver/pkg/authentication/token/cache"
	"k8s.io/apiserver/pkg/authentication/token/tokenfile"
	tokenunion "k8s.io/apiserver/pkg/authentication/token/union"
	"k8s.io/apiserver/pkg/authentication/user"

	"github.com/portway/portway/internal/satoken"
)

// publicPaths answer without credentials, as a Kubernetes apiserver's default
// RBAC lets anyone read them.
var publicPaths = []string{"/healthz", "/livez", "/readyz", "/version"}

// NewAuthenticator accepts client certificates signed by clientCAs, the
// admin bearer token and service account tokens (checked by saTokens), and
// puts every user it accepts in system:authenticated, as kube-apiserver
// does; anyone else is anonymous on the public paths and unauthorized (401)
// everywhere else.
func NewAuthenticator(clientCAs *x509.CertPool, adminToken string, saTokens authenticator.Token) authenticator.Request {
	opts := x509request.DefaultVerifyOptions()
	opts.Roots = clientCAs
	admin := tokenfile.New(map[string]*user.DefaultInfo{
		adminToken: {Name: "portway-admin", Groups: []string{user.SystemPrivilegedGroup}},
	})
	// The admin token is good for whatever audiences the server answers
	// to, as kube-apiserver wraps its static tokens: a TokenReview for
	// another audience finds it invalid. Successes are cached for 10 s,
	// kube-apiserver's --token-success-cache-ttl, which spares a bound
	// token's lookups on every request.
	tokens := tokencache.New(tokenunion.New(
		authenticator.WrapAudienceAgnosticToken(satoken.APIAudiences, admin),
		saTokens,
	), true, 10*time.Second, 0)
	return &public{group.NewAuthenticatedGroupAdder(union.New(
		x509request.New(opts, x509request.CommonNameUserConversion),
		bearertoken.New(tokens),
	))}
}

type public struct {
	authenticator.Request
}

func (p *public) AuthenticateRequest(req *http.Request) (*authenticator.Response, bool, error) {
	resp, ok, err := p.Request.AuthenticateRequest(req)
	if ok || err != nil || !isPublic(req.URL.Path) {
		return resp, ok, err
	}
	return &authenticator.Response{User: &user.DefaultInfo{
		Name: user.Anonymous, Groups: []string{user.AllUnauthenticated},
	}}, true, nil
}

func isPublic(path string) bool {
	for _, p := range publicPaths {
		if path == p || strings.HasPrefix(path, p+"/") {
			return true
		}
	}
	return false
}

package authn

import (
	"crypto/x509"
	"net/http"
	"strings"

	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/group"
	"k8s.io/apiserver/pkg/authentication/request/bearertoken"
	"k8s.io/apiserver/pkg/authentication/request/union"
	x509request "k8s.io/apiserver/pkg/authentication/request/x509"
	"k8s.io/apiserver/pkg/authentication/token/tokenfile"
	"k8s.io/apiserver/pkg/authentication/user"
)

// publicPaths answer without credentials, as a Kubernetes apiserver's default
// RBAC lets anyone read them.
var publicPaths = []string{"/healthz", "/livez", "/readyz", "/version"}

// NewAuthenticator accepts client certificates signed by clientCAs and the
// admin bearer token, and puts every user it accepts in
// system:authenticated, as kube-apiserver does; anyone else is anonymous on
// the public paths and unauthorized (401) everywhere else.
func NewAuthenticator(clientCAs *x509.CertPool, adminToken string) authenticator.Request {
	opts := x509request.DefaultVerifyOptions()
	opts.Roots = clientCAs
	tokens := tokenfile.New(map[string]*user.DefaultInfo{
		adminToken: {Name: "portway-admin", Groups: []string{user.SystemPrivilegedGroup}},
	})
	return &public{group.NewAuthenticatedGroupAdder(union.New(
		x509request.New(opts, x509request.CommonNameUserConversion),
		// The admin token is for any audience the server itself is
		// (it has none of its own), as kube-apiserver wraps its static
		// tokens: a TokenReview that names audiences finds it invalid.
		bearertoken.New(authenticator.WrapAudienceAgnosticToken(nil, tokens)),
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

package registry

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"k8s.io/apimachinery/pkg/runtime"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/util/proxy"
	"k8s.io/apiserver/pkg/registry/rest"
)

// Proxy is a proxy subresource (pods/proxy, services/proxy): a request for
// .../NAME/proxy/PATH goes on to Location(NAME) + PATH over Transport, as
// kube-apiserver sends it: links and redirects in HTML answers are
// rewritten to come back through the proxy, and upgraded connections
// (WebSockets) pass through. O is the options type, whose Path the handler
// fills from the URL.
type Proxy[O runtime.Object] struct {
	Path func(O) string
	// Location is where a request for id (the name, with the scheme and
	// port Kubernetes allows around it) goes.
	Location  func(ctx context.Context, id string) (*url.URL, error)
	Transport http.RoundTripper
}

var _ rest.Connecter = &Proxy[runtime.Object]{}

// New implements rest.Storage.
func (p *Proxy[O]) New() runtime.Object { return newObject[O]() }

// Destroy implements rest.Storage; the resource owns its store.
func (p *Proxy[O]) Destroy() {}

// NewConnectOptions implements rest.Connecter: what follows proxy/ in the
// URL is the options' path.
func (p *Proxy[O]) NewConnectOptions() (runtime.Object, bool, string) {
	return newObject[O](), true, "path"
}

// ConnectMethods implements rest.Connecter: the verbs passed on.
func (p *Proxy[O]) ConnectMethods() []string {
	return []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}
}

// Connect implements rest.Connecter.
func (p *Proxy[O]) Connect(ctx context.Context, id string, opts runtime.Object, responder rest.Responder) (http.Handler, error) {
	o, ok := opts.(O)
	if !ok {
		return nil, fmt.Errorf("invalid options object: %#v", opts)
	}
	loc, err := p.Location(ctx, id)
	if err != nil {
		return nil, err
	}
	loc.Path = utilnet.JoinPreservingTrailingSlash(loc.Path, p.Path(o))
	return proxy.NewUpgradeAwareHandler(loc, p.Transport, true, false, proxy.NewErrorResponder(responder)), nil
}

package pod

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/httpstream/wsstream"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	translator "k8s.io/apiserver/pkg/util/proxy"
)

// PortForwardREST is pods/portforward: it forwards connections to ports
// of the pod, through the agent of its node. SPDY clients are proxied as
// they are; WebSocket clients (kubectl 1.31 and later) tunnel SPDY over
// the WebSocket, unwrapped here as kube-apiserver 1.32 does by default
// (PortForwardWebsockets).
type PortForwardREST struct {
	store    *genericregistry.Store
	kubelets Kubelets
}

var _ rest.Connecter = &PortForwardREST{}

// New implements rest.Storage.
func (r *PortForwardREST) New() runtime.Object { return &corev1.PodPortForwardOptions{} }

// Destroy implements rest.Storage; the pods resource owns the store.
func (r *PortForwardREST) Destroy() {}

// NewConnectOptions implements rest.Connecter.
func (r *PortForwardREST) NewConnectOptions() (runtime.Object, bool, string) {
	return &corev1.PodPortForwardOptions{}, false, ""
}

// ConnectMethods implements rest.Connecter.
func (r *PortForwardREST) ConnectMethods() []string { return upgradeMethods }

// Connect implements rest.Connecter.
func (r *PortForwardREST) Connect(ctx context.Context, name string, opts runtime.Object, responder rest.Responder) (http.Handler, error) {
	o, ok := opts.(*corev1.PodPortForwardOptions)
	if !ok {
		return nil, fmt.Errorf("invalid options object: %#v", opts)
	}
	p, err := podByName(ctx, r.store, name)
	if err != nil {
		return nil, err
	}
	addr, err := nodeAgent(ctx, r.kubelets, p)
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	if len(o.Ports) > 0 {
		ports := make([]string, len(o.Ports))
		for i, port := range o.Ports {
			ports[i] = strconv.Itoa(int(port))
		}
		q.Set(corev1.PortHeader, strings.Join(ports, ","))
	}
	loc := &url.URL{
		Scheme:   "https",
		Host:     addr,
		Path:     fmt.Sprintf("/portForward/%s/%s", p.Namespace, p.Name),
		RawQuery: q.Encode(),
	}
	h := upgradeHandler(loc, r.kubelets.Transport, responder)
	return translator.NewTranslatingHandler(h, translator.NewTunnelingHandler(h), wsstream.IsWebSocketRequestWithTunnelingProtocol), nil
}

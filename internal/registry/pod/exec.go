package pod

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/httpstream/wsstream"
	"k8s.io/apimachinery/pkg/util/proxy"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	translator "k8s.io/apiserver/pkg/util/proxy"
)

// upgradeMethods are the verbs of pods/exec, pods/attach and
// pods/portforward: GET as well as POST, for browsers' WebSockets.
var upgradeMethods = []string{"GET", "POST"}

// ExecREST is pods/exec: it runs a command in a container, proxying the
// client's upgraded connection to the agent of the pod's node as
// kube-apiserver proxies it to the kubelet. Clients speaking WebSocket
// (v5.channel.k8s.io, kubectl 1.30 and later) are translated to SPDY
// towards the agent, as kube-apiserver 1.32 does by default
// (TranslateStreamCloseWebsocketRequests).
type ExecREST struct {
	store    *genericregistry.Store
	kubelets Kubelets
}

var _ rest.Connecter = &ExecREST{}

// New implements rest.Storage.
func (r *ExecREST) New() runtime.Object { return &corev1.PodExecOptions{} }

// Destroy implements rest.Storage; the pods resource owns the store.
func (r *ExecREST) Destroy() {}

// NewConnectOptions implements rest.Connecter.
func (r *ExecREST) NewConnectOptions() (runtime.Object, bool, string) {
	return &corev1.PodExecOptions{}, false, ""
}

// ConnectMethods implements rest.Connecter.
func (r *ExecREST) ConnectMethods() []string { return upgradeMethods }

// Connect implements rest.Connecter.
func (r *ExecREST) Connect(ctx context.Context, name string, opts runtime.Object, responder rest.Responder) (http.Handler, error) {
	o, ok := opts.(*corev1.PodExecOptions)
	if !ok {
		return nil, fmt.Errorf("invalid options object: %#v", opts)
	}
	q := streamQuery(o.Stdin, o.Stdout, o.Stderr, o.TTY)
	for _, c := range o.Command {
		q.Add("command", c)
	}
	loc, err := streamLocation(ctx, r.store, r.kubelets, name, o.Container, "exec", q)
	if err != nil {
		return nil, err
	}
	return remoteCommandHandler(loc, r.kubelets.Transport, responder,
		translator.Options{Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr, Tty: o.TTY}), nil
}

// AttachREST is pods/attach: it attaches to a running container's
// streams, proxied as pods/exec is.
type AttachREST struct {
	store    *genericregistry.Store
	kubelets Kubelets
}

var _ rest.Connecter = &AttachREST{}

// New implements rest.Storage.
func (r *AttachREST) New() runtime.Object { return &corev1.PodAttachOptions{} }

// Destroy implements rest.Storage; the pods resource owns the store.
func (r *AttachREST) Destroy() {}

// NewConnectOptions implements rest.Connecter.
func (r *AttachREST) NewConnectOptions() (runtime.Object, bool, string) {
	return &corev1.PodAttachOptions{}, false, ""
}

// ConnectMethods implements rest.Connecter.
func (r *AttachREST) ConnectMethods() []string { return upgradeMethods }

// Connect implements rest.Connecter.
func (r *AttachREST) Connect(ctx context.Context, name string, opts runtime.Object, responder rest.Responder) (http.Handler, error) {
	o, ok := opts.(*corev1.PodAttachOptions)
	if !ok {
		return nil, fmt.Errorf("invalid options object: %#v", opts)
	}
	loc, err := streamLocation(ctx, r.store, r.kubelets, name, o.Container, "attach", streamQuery(o.Stdin, o.Stdout, o.Stderr, o.TTY))
	if err != nil {
		return nil, err
	}
	return remoteCommandHandler(loc, r.kubelets.Transport, responder,
		translator.Options{Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr, Tty: o.TTY}), nil
}

// streamQuery is the kubelet's query for exec and attach streams.
func streamQuery(stdin, stdout, stderr, tty bool) url.Values {
	q := url.Values{}
	for name, set := range map[string]bool{
		corev1.ExecStdinParam: stdin, corev1.ExecStdoutParam: stdout,
		corev1.ExecStderrParam: stderr, corev1.ExecTTYParam: tty,
	} {
		if set {
			q.Set(name, "1")
		}
	}
	return q
}

// streamLocation is the agent URL of a container's exec or attach, as
// Kubernetes' streamLocation builds the kubelet's: the container named, or
// the pod's only one, on the pod's node.
func streamLocation(ctx context.Context, store *genericregistry.Store, kubelets Kubelets, name, container, path string, q url.Values) (*url.URL, error) {
	p, err := podByName(ctx, store, name)
	if err != nil {
		return nil, err
	}
	if container, err = logContainer(container, p); err != nil {
		return nil, err
	}
	addr, err := nodeAgent(ctx, kubelets, p)
	if err != nil {
		return nil, err
	}
	return &url.URL{
		Scheme:   "https",
		Host:     addr,
		Path:     fmt.Sprintf("/%s/%s/%s/%s", path, p.Namespace, p.Name, container),
		RawQuery: q.Encode(),
	}, nil
}

func podByName(ctx context.Context, store *genericregistry.Store, name string) (*corev1.Pod, error) {
	obj, err := store.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return obj.(*corev1.Pod), nil
}

// nodeAgent is host:port of the agent running p, with Kubernetes' error for
// a pod no node runs.
func nodeAgent(ctx context.Context, kubelets Kubelets, p *corev1.Pod) (string, error) {
	if p.Spec.NodeName == "" {
		return "", apierrors.NewBadRequest(fmt.Sprintf("pod %s does not have a host assigned", p.Name))
	}
	return kubelets.address(ctx, p.Spec.NodeName)
}

// upgradeHandler proxies an upgrade request to loc. The upgrade is
// required: a plain request gets Kubernetes' 400.
func upgradeHandler(loc *url.URL, transport http.RoundTripper, responder rest.Responder) *proxy.UpgradeAwareHandler {
	return proxy.NewUpgradeAwareHandler(loc, transport, false, true, proxy.NewErrorResponder(responder))
}

// remoteCommandHandler proxies SPDY exec/attach streams as they are and
// translates WebSocket ones with the v5 stream-close protocol to SPDY.
func remoteCommandHandler(loc *url.URL, transport http.RoundTripper, responder rest.Responder, o translator.Options) http.Handler {
	// The translator takes no more than the bandwidth limit
	// kube-apiserver's default capabilities give: none.
	const maxBytesPerSec = 0
	return translator.NewTranslatingHandler(
		upgradeHandler(loc, transport, responder),
		translator.NewStreamTranslatorHandler(loc, transport, maxBytesPerSec, o),
		wsstream.IsWebSocketRequestWithStreamCloseProtocol)
}

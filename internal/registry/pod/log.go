package pod

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	genericrest "k8s.io/apiserver/pkg/registry/generic/rest"
	"k8s.io/apiserver/pkg/registry/rest"
)

// Kubelets reaches node agents, as kube-apiserver reaches kubelets: at
// the node's InternalIP and status.daemonEndpoints.kubeletEndpoint.Port,
// over HTTPS with the API server's kubelet client certificate.
type Kubelets struct {
	// Nodes gets Nodes from storage.
	Nodes rest.Getter
	// Transport carries the client certificate.
	Transport http.RoundTripper
}

// address is host:port of a node's agent.
func (k Kubelets) address(ctx context.Context, nodeName string) (string, error) {
	obj, err := k.Nodes.Get(ctx, nodeName, &metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	n := obj.(*corev1.Node)
	host := ""
	for _, t := range []corev1.NodeAddressType{corev1.NodeInternalIP, corev1.NodeHostName} {
		for _, a := range n.Status.Addresses {
			if a.Type == t && host == "" {
				host = a.Address
			}
		}
	}
	port := n.Status.DaemonEndpoints.KubeletEndpoint.Port
	if host == "" || port == 0 {
		return "", apierrors.NewBadRequest(fmt.Sprintf("node %s has no address or kubelet port to reach it", nodeName))
	}
	return net.JoinHostPort(host, strconv.Itoa(int(port))), nil
}

// LogREST is pods/log: it streams a container's log from the pod's node.
type LogREST struct {
	store    *genericregistry.Store
	kubelets Kubelets
}

var _ rest.GetterWithOptions = &LogREST{}

// New implements rest.Storage.
func (r *LogREST) New() runtime.Object { return &corev1.Pod{} }

// Destroy implements rest.Storage; the pods resource owns the store.
func (r *LogREST) Destroy() {}

// ProducesMIMETypes says logs are text.
func (r *LogREST) ProducesMIMETypes(string) []string { return []string{"text/plain"} }

// ProducesObject says logs are a string, for OpenAPI.
func (r *LogREST) ProducesObject(string) any { return "" }

// NewGetOptions implements rest.GetterWithOptions.
func (r *LogREST) NewGetOptions() (runtime.Object, bool, string) {
	return &corev1.PodLogOptions{}, false, ""
}

// Get validates the options as Kubernetes does and returns a stream from
// the node's agent.
func (r *LogREST) Get(ctx context.Context, name string, opts runtime.Object) (runtime.Object, error) {
	o, ok := opts.(*corev1.PodLogOptions)
	if !ok {
		return nil, fmt.Errorf("invalid options object: %#v", opts)
	}
	if errs := validateLogOptions(o); len(errs) > 0 {
		return nil, apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("PodLogOptions").GroupKind(), name, errs)
	}
	obj, err := r.store.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	p := obj.(*corev1.Pod)
	container, err := logContainer(o.Container, p)
	if err != nil {
		return nil, err
	}
	if p.Spec.NodeName == "" {
		// Kubernetes' answer for a pod no node runs: an empty log.
		return &genericrest.LocationStreamer{}, nil
	}
	addr, err := r.kubelets.address(ctx, p.Spec.NodeName)
	if err != nil {
		return nil, err
	}
	return &genericrest.LocationStreamer{
		Location: &url.URL{
			Scheme:   "https",
			Host:     addr,
			Path:     fmt.Sprintf("/containerLogs/%s/%s/%s", p.Namespace, p.Name, container),
			RawQuery: logQuery(o).Encode(),
		},
		Transport:       r.kubelets.Transport,
		ContentType:     "text/plain",
		Flush:           o.Follow,
		ResponseChecker: genericrest.NewGenericHttpResponseChecker(corev1.Resource("pods/log"), name),
		RedirectChecker: genericrest.PreventRedirects,
	}, nil
}

func logQuery(o *corev1.PodLogOptions) url.Values {
	q := url.Values{}
	for name, set := range map[string]bool{"follow": o.Follow, "previous": o.Previous, "timestamps": o.Timestamps} {
		if set {
			q.Set(name, "true")
		}
	}
	for name, v := range map[string]*int64{"sinceSeconds": o.SinceSeconds, "tailLines": o.TailLines, "limitBytes": o.LimitBytes} {
		if v != nil {
			q.Set(name, strconv.FormatInt(*v, 10))
		}
	}
	if o.SinceTime != nil {
		q.Set("sinceTime", o.SinceTime.Format(time.RFC3339))
	}
	return q
}

// validateLogOptions is Kubernetes' ValidatePodLogOptions with split
// streams off (their feature gate is off in 1.32).
func validateLogOptions(o *corev1.PodLogOptions) field.ErrorList {
	var errs field.ErrorList
	if o.TailLines != nil && *o.TailLines < 0 {
		errs = append(errs, field.Invalid(field.NewPath("tailLines"), *o.TailLines, "must be greater than or equal to 0"))
	}
	if o.LimitBytes != nil && *o.LimitBytes < 1 {
		errs = append(errs, field.Invalid(field.NewPath("limitBytes"), *o.LimitBytes, "must be greater than 0"))
	}
	switch {
	case o.SinceSeconds != nil && o.SinceTime != nil:
		errs = append(errs, field.Forbidden(field.NewPath(""), "at most one of `sinceTime` or `sinceSeconds` may be specified"))
	case o.SinceSeconds != nil && *o.SinceSeconds < 1:
		errs = append(errs, field.Invalid(field.NewPath("sinceSeconds"), *o.SinceSeconds, "must be greater than 0"))
	}
	if o.Stream != nil {
		errs = append(errs, field.Forbidden(field.NewPath("stream"), "may not be specified"))
	}
	return errs
}

// logContainer picks the container as Kubernetes does: the one named, or
// the only one.
func logContainer(name string, p *corev1.Pod) (string, error) {
	var names []string
	for _, cs := range [][]corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
		for _, c := range cs {
			names = append(names, c.Name)
		}
	}
	for _, c := range p.Spec.EphemeralContainers {
		names = append(names, c.Name)
	}
	if name == "" {
		switch len(p.Spec.Containers) {
		case 1:
			return p.Spec.Containers[0].Name, nil
		case 0:
			return "", apierrors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s", p.Name))
		}
		return "", apierrors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s, choose one of: %s", p.Name, names))
	}
	for _, n := range names {
		if n == name {
			return name, nil
		}
	}
	return "", apierrors.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", name, p.Name))
}

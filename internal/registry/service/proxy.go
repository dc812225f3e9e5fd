package service

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/klog/v2"
)

// Proxy is what services/proxy reads besides the Service: its Endpoints,
// and the pods they name; Transport carries the requests.
type Proxy struct {
	Endpoints, Pods rest.Getter
	Transport       http.RoundTripper
}

// proxyLocation is where services/proxy goes: to one of the Service's
// ready endpoints, picked at random, from the API server straight to the
// pod, as kube-apiserver does. It goes around the Service's clusterIP and
// the nodes' rules: the API server reads the Endpoints itself.
type proxyLocation struct {
	services rest.Getter
	proxy    Proxy
}

// location picks where a request for id ("name", "name:port" or
// "scheme:name:port", the port by name or number) goes, as kube-apiserver
// does: an endpoint port with the Service port's name, in a random subset,
// at a random ready address whose pod has that IP.
func (r proxyLocation) location(ctx context.Context, id string) (*url.URL, error) {
	scheme, name, port, valid := utilnet.SplitSchemeNamePort(id)
	if !valid {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid service request %q", id))
	}
	// Endpoints name their ports after the Service's ports.
	if number, err := strconv.ParseInt(port, 10, 64); err == nil {
		obj, err := r.services.Get(ctx, name, &metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		ports := obj.(*corev1.Service).Spec.Ports
		i := slices.IndexFunc(ports, func(p corev1.ServicePort) bool { return int64(p.Port) == number })
		if i < 0 {
			return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("no service port %d found for service %q", number, name))
		}
		port = ports[i].Name
	}
	obj, err := r.proxy.Endpoints.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	subsets := obj.(*corev1.Endpoints).Subsets
	if len(subsets) == 0 {
		return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("no endpoints available for service %q", name))
	}
	first := rand.IntN(len(subsets))
	for i := range subsets {
		ss := subsets[(first+i)%len(subsets)]
		if len(ss.Addresses) == 0 {
			continue
		}
		for _, p := range ss.Ports {
			if p.Name != port {
				continue
			}
			firstAddr := rand.IntN(len(ss.Addresses))
			for j := range ss.Addresses {
				addr := ss.Addresses[(firstAddr+j)%len(ss.Addresses)]
				if err := r.isPod(ctx, addr); err != nil {
					klog.FromContext(ctx).V(2).Info("Skipping an endpoint of the service proxy", "service", name, "address", addr.IP, "reason", err)
					continue
				}
				return &url.URL{Scheme: scheme, Host: net.JoinHostPort(addr.IP, strconv.Itoa(int(p.Port)))}, nil
			}
		}
	}
	return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("no endpoints available for service %q", id))
}

// isPod: the proxy only goes to addresses that are a pod of the Service's
// namespace with that IP, never to what a hand-written Endpoints names.
func (r proxyLocation) isPod(ctx context.Context, addr corev1.EndpointAddress) error {
	ref := addr.TargetRef
	if ref == nil {
		return fmt.Errorf("address has no target ref")
	}
	if ref.Namespace != genericapirequest.NamespaceValue(ctx) {
		return fmt.Errorf("address namespace doesn't match context namespace")
	}
	obj, err := r.proxy.Pods.Get(ctx, ref.Name, &metav1.GetOptions{})
	if err != nil {
		return err
	}
	for _, ip := range obj.(*corev1.Pod).Status.PodIPs {
		if ip.IP == addr.IP {
			return nil
		}
	}
	return fmt.Errorf("pod ip(s) doesn't match endpoint ip")
}

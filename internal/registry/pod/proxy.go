package pod

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	netutils "k8s.io/utils/net"
)

// proxyLocation is where pods/proxy goes: from the API server straight to
// the pod's IP, as kube-apiserver does; the API server needs a route to
// the pod network (`portway up` gives its host one).
type proxyLocation struct {
	store *genericregistry.Store
}

// location is where a request for id ("name", "name:port" or
// "scheme:name:port") goes; without a port, to the first port a container
// declares, and without one of those, to the scheme's.
func (r proxyLocation) location(ctx context.Context, id string) (*url.URL, error) {
	scheme, name, port, valid := utilnet.SplitSchemeNamePort(id)
	if !valid {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid pod request %q", id))
	}
	p, err := podByName(ctx, r.store, name)
	if err != nil {
		return nil, err
	}
	if port == "" {
		for _, c := range p.Spec.Containers {
			if len(c.Ports) > 0 {
				port = strconv.Itoa(int(c.Ports[0].ContainerPort))
				break
			}
		}
	}
	// Only a pod's own address: never loopback, link-local or unset.
	// (podIP is always podIPs[0]: defaulting keeps them so.)
	var ip string
	if len(p.Status.PodIPs) > 0 {
		ip = p.Status.PodIPs[0].IP
	}
	if parsed := netutils.ParseIPSloppy(ip); parsed == nil || !parsed.IsGlobalUnicast() {
		return nil, apierrors.NewBadRequest("address not allowed")
	}
	loc := &url.URL{Scheme: scheme, Host: ip}
	if port != "" {
		loc.Host = net.JoinHostPort(ip, port)
	} else if netutils.IsIPv6String(ip) {
		loc.Host = "[" + ip + "]"
	}
	return loc, nil
}

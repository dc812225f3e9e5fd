package printers

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	discoveryv1beta1 "k8s.io/api/discovery/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
)

// ServiceColumns are the columns of a Service table.
var ServiceColumns = []metav1.TableColumnDefinition{
	nameColumn,
	column("Type", corev1.ServiceSpec{}.SwaggerDoc()["type"], 0),
	column("Cluster-IP", corev1.ServiceSpec{}.SwaggerDoc()["clusterIP"], 0),
	column("External-IP", corev1.ServiceSpec{}.SwaggerDoc()["externalIPs"], 0),
	column("Port(s)", corev1.ServiceSpec{}.SwaggerDoc()["ports"], 0),
	ageColumn,
	column("Selector", corev1.ServiceSpec{}.SwaggerDoc()["selector"], 1),
}

// ServiceRow returns the cells of a Service: NAME, TYPE, CLUSTER-IP,
// EXTERNAL-IP, PORT(S), AGE, SELECTOR.
func ServiceRow(s *corev1.Service) []any {
	clusterIP := none
	switch {
	case len(s.Spec.ClusterIPs) > 0:
		clusterIP = s.Spec.ClusterIPs[0]
	case s.Spec.ClusterIP != "":
		// Kubernetes keeps clusterIPs[0] equal to clusterIP on every stored
		// Service; fall back in case an object skipped that step.
		clusterIP = s.Spec.ClusterIP
	}
	ports := servicePorts(s.Spec.Ports)
	if ports == "" {
		ports = none
	}
	return []any{
		s.Name,
		string(s.Spec.Type),
		clusterIP,
		serviceExternalIP(s),
		ports,
		age(s.CreationTimestamp),
		labels.FormatLabels(s.Spec.Selector), // "<none>" when empty
	}
}

// serviceExternalIP is the EXTERNAL-IP cell: the external IPs, plus for a
// LoadBalancer its ingress points ("<pending>" until it has any), or an
// ExternalName's DNS name.
func serviceExternalIP(s *corev1.Service) string {
	switch s.Spec.Type {
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort:
		if len(s.Spec.ExternalIPs) > 0 {
			return strings.Join(s.Spec.ExternalIPs, ",")
		}
		return none
	case corev1.ServiceTypeLoadBalancer:
		ips := append(loadBalancerIngress(s.Status.LoadBalancer), s.Spec.ExternalIPs...)
		if len(ips) == 0 {
			return "<pending>"
		}
		return strings.Join(ips, ",")
	case corev1.ServiceTypeExternalName:
		return s.Spec.ExternalName
	}
	return unknown
}

// loadBalancerIngress returns the load balancer's ingress IPs, or hostnames
// where there is no IP, sorted and without duplicates. Kubernetes clips this
// list only for non-wide output, which the server never generates.
func loadBalancerIngress(lb corev1.LoadBalancerStatus) []string {
	points := sets.New[string]()
	for _, in := range lb.Ingress {
		switch {
		case in.IP != "":
			points.Insert(in.IP)
		case in.Hostname != "":
			points.Insert(in.Hostname)
		}
	}
	return sets.List(points)
}

// servicePorts formats ports as "port/PROTO" or "port:nodePort/PROTO",
// comma separated.
func servicePorts(ports []corev1.ServicePort) string {
	pieces := make([]string, len(ports))
	for i, p := range ports {
		if p.NodePort > 0 {
			pieces[i] = fmt.Sprintf("%d:%d/%s", p.Port, p.NodePort, p.Protocol)
		} else {
			pieces[i] = fmt.Sprintf("%d/%s", p.Port, p.Protocol)
		}
	}
	return strings.Join(pieces, ",")
}

// EndpointsColumns are the columns of an Endpoints table.
var EndpointsColumns = []metav1.TableColumnDefinition{
	nameColumn,
	column("Endpoints", corev1.Endpoints{}.SwaggerDoc()["subsets"], 0),
	ageColumn,
}

// EndpointsRow returns the cells of an Endpoints: NAME, ENDPOINTS, AGE.
func EndpointsRow(e *corev1.Endpoints) []any {
	return []any{e.Name, formatEndpoints(e), age(e.CreationTimestamp)}
}

// formatEndpoints lists the ready addresses as ip:port for every port of
// their subset (bare IPs for a subset without ports, as headless services
// may have), at most three, then "+ N more...". It is "<none>" without
// subsets but empty when the subsets hold no ready address, as in Kubernetes.
func formatEndpoints(e *corev1.Endpoints) string {
	if len(e.Subsets) == 0 {
		return none
	}
	var listed []string
	total := 0
	add := func(s string) {
		total++
		if len(listed) < maxListed {
			listed = append(listed, s)
		}
	}
	for _, ss := range e.Subsets {
		if len(ss.Ports) == 0 {
			for _, a := range ss.Addresses {
				add(a.IP)
			}
			continue
		}
		for _, p := range ss.Ports {
			for _, a := range ss.Addresses {
				add(net.JoinHostPort(a.IP, strconv.Itoa(int(p.Port))))
			}
		}
	}
	return joinListed(listed, total, "")
}

// EndpointSliceColumns are the columns of a discovery.k8s.io/v1
// EndpointSlice table. Kubernetes takes their descriptions from the
// v1beta1 API documentation, so this does too.
var EndpointSliceColumns = []metav1.TableColumnDefinition{
	nameColumn,
	column("AddressType", discoveryv1beta1.EndpointSlice{}.SwaggerDoc()["addressType"], 0),
	column("Ports", discoveryv1beta1.EndpointSlice{}.SwaggerDoc()["ports"], 0),
	column("Endpoints", discoveryv1beta1.EndpointSlice{}.SwaggerDoc()["endpoints"], 0),
	ageColumn,
}

// EndpointSliceRow returns the cells of an EndpointSlice: NAME, ADDRESSTYPE,
// PORTS, ENDPOINTS, AGE.
func EndpointSliceRow(s *discoveryv1.EndpointSlice) []any {
	return []any{
		s.Name,
		string(s.AddressType),
		formatDiscoveryPorts(s.Ports),
		formatDiscoveryEndpoints(s.Endpoints),
		age(s.CreationTimestamp),
	}
}

// formatDiscoveryPorts lists port numbers (the name for a port without a
// number, "*" for neither), at most three, or "<unset>" for none.
func formatDiscoveryPorts(ports []discoveryv1.EndpointPort) string {
	var listed []string
	for _, p := range ports {
		if len(listed) == maxListed {
			break
		}
		switch {
		case p.Port != nil:
			listed = append(listed, strconv.Itoa(int(*p.Port)))
		case p.Name != nil:
			listed = append(listed, *p.Name)
		default:
			listed = append(listed, "*")
		}
	}
	return joinListed(listed, len(ports), unset)
}

// formatDiscoveryEndpoints lists the addresses of all endpoints, ready or
// not, at most three, or "<unset>" for none.
func formatDiscoveryEndpoints(endpoints []discoveryv1.Endpoint) string {
	var listed []string
	total := 0
	for _, e := range endpoints {
		for _, a := range e.Addresses {
			total++
			if len(listed) < maxListed {
				listed = append(listed, a)
			}
		}
	}
	return joinListed(listed, total, unset)
}

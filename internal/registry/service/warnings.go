package service

import (
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// warnings are what Kubernetes tells the client about a Service it accepts
// but that will not do what it seems to (printed by kubectl as "Warning: ...").
func warnings(svc, _ *corev1.Service) []string {
	var out []string
	if _, ok := svc.Annotations[corev1.DeprecatedAnnotationTopologyAwareHints]; ok {
		out = append(out, fmt.Sprintf("annotation %s is deprecated, please use %s instead",
			corev1.DeprecatedAnnotationTopologyAwareHints, corev1.AnnotationTopologyMode))
	}
	spec := field.NewPath("spec")
	if svc.Spec.ClusterIP != "" && svc.Spec.ClusterIP != corev1.ClusterIPNone {
		for i, ip := range svc.Spec.ClusterIPs {
			out = append(out, ipWarnings(spec.Child("clusterIPs").Index(i), ip)...)
		}
	}
	for i, ip := range svc.Spec.ExternalIPs {
		out = append(out, ipWarnings(spec.Child("externalIPs").Index(i), ip)...)
	}
	if svc.Spec.LoadBalancerIP != "" {
		out = append(out, ipWarnings(spec.Child("loadBalancerIP"), svc.Spec.LoadBalancerIP)...)
	}
	for i, cidr := range svc.Spec.LoadBalancerSourceRanges {
		path := spec.Child("loadBalancerSourceRanges").Index(i)
		prefix, err := netip.ParsePrefix(cidr)
		switch {
		case err != nil:
			out = append(out, fmt.Sprintf("%s: IP prefix was accepted, but will be invalid in a future Kubernetes release: %v", path, err))
		case prefix.Addr().Is6() && prefix.String() != cidr:
			out = append(out, fmt.Sprintf("%s: IPv6 prefix %q is not in RFC 5952 canonical format (%q), which may cause controller apply-loops", path, cidr, prefix.String()))
		}
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName && len(svc.Spec.ExternalIPs) > 0 {
		out = append(out, fmt.Sprintf("spec.externalIPs is ignored when spec.type is %q", corev1.ServiceTypeExternalName))
	}
	if svc.Spec.Type != corev1.ServiceTypeExternalName && svc.Spec.ExternalName != "" {
		out = append(out, fmt.Sprintf("spec.externalName is ignored when spec.type is not %q", corev1.ServiceTypeExternalName))
	}
	return out
}

func ipWarnings(path *field.Path, address string) []string {
	ip, err := netip.ParseAddr(address)
	if err != nil {
		return []string{fmt.Sprintf("%s: IP address was accepted, but will be invalid in a future Kubernetes release: %v", path, err)}
	}
	if ip.Is6() && ip.String() != address {
		return []string{fmt.Sprintf("%s: IPv6 address %q is not in RFC 5952 canonical format (%q), which may cause controller apply-loops", path, address, ip.String())}
	}
	return nil
}

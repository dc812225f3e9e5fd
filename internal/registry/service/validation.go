package service

// Service validation as Kubernetes 1.32 does it (pkg/apis/core/validation:
// ValidateService, ValidateServiceUpdate, ValidateServiceStatusUpdate), written
// against the v1 types. Field paths, values and messages are kept identical to
// kube-apiserver's, quirks included (spec.LoadBalancerSourceRanges, a bare
// allocateLoadBalancerNodePorts path), because clients and tests compare them.
//
// Kubernetes allocates cluster IPs and node ports before it validates, so some
// of its checks are written for filled-in objects. Here allocation has not
// happened yet on create; the checks that only an allocator can satisfy
// (healthCheckNodePort required, nodePorts unique on NodePort/LoadBalancer
// services) are left to the allocator, which reports them its own way.

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	netutils "k8s.io/utils/net"
	"k8s.io/utils/ptr"

	corevalidation "github.com/portway/portway/internal/validation"
)

// clusterIPFamilies are the families portway hands out cluster IPs from. Like
// the oracle (--service-cluster-ip-range=10.96.0.0/12) it is single-stack IPv4.
var clusterIPFamilies = []corev1.IPFamily{corev1.IPv4Protocol}

// maxClientIPAffinitySeconds is core.MaxClientIPServiceAffinitySeconds, which
// k8s.io/api does not export.
const maxClientIPAffinitySeconds = 86400

// Supported values, sorted: field.NotSupported prints them in this order, as
// Kubernetes does with sets.List.
var (
	serviceTypes = []corev1.ServiceType{corev1.ServiceTypeClusterIP, corev1.ServiceTypeExternalName,
		corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeNodePort}
	portProtocols           = []corev1.Protocol{corev1.ProtocolSCTP, corev1.ProtocolTCP, corev1.ProtocolUDP}
	sessionAffinities       = []corev1.ServiceAffinity{corev1.ServiceAffinityClientIP, corev1.ServiceAffinityNone}
	externalTrafficPolicies = []corev1.ServiceExternalTrafficPolicy{corev1.ServiceExternalTrafficPolicyCluster,
		corev1.ServiceExternalTrafficPolicyLocal}
	internalTrafficPolicies = []corev1.ServiceInternalTrafficPolicy{corev1.ServiceInternalTrafficPolicyCluster,
		corev1.ServiceInternalTrafficPolicyLocal}
	ipFamilies       = []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}
	ipFamilyPolicies = []corev1.IPFamilyPolicy{corev1.IPFamilyPolicyPreferDualStack,
		corev1.IPFamilyPolicyRequireDualStack, corev1.IPFamilyPolicySingleStack}
	loadBalancerIPModes = []corev1.LoadBalancerIPMode{corev1.LoadBalancerIPModeProxy, corev1.LoadBalancerIPModeVIP}
)

// ValidateService checks a Service after defaulting (type, protocol,
// targetPort, sessionAffinity, externalTrafficPolicy, internalTrafficPolicy,
// allocateLoadBalancerNodePorts are already defaulted as Kubernetes' v1
// defaults do; clusterIP/nodePort allocation has NOT happened yet on create).
// ObjectMeta is the caller's.
func ValidateService(svc *corev1.Service) field.ErrorList {
	svc = withClusterIPs(svc)
	// Kubernetes checks the cluster IP and IP family fields while allocating,
	// before validation, and answers with those errors alone.
	if errs := validateIPFamilyFields(svc); len(errs) > 0 {
		return errs
	}

	var errs field.ErrorList
	spec := &svc.Spec
	specPath := field.NewPath("spec")

	errs = append(errs, validateTopologyAnnotations(svc)...)

	if len(spec.Ports) == 0 && !isHeadless(svc) && spec.Type != corev1.ServiceTypeExternalName {
		errs = append(errs, field.Required(specPath.Child("ports"), ""))
	}

	switch spec.Type {
	case corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeNodePort:
		if isHeadless(svc) {
			errs = append(errs, field.Invalid(specPath.Child("clusterIPs").Index(0), spec.ClusterIPs[0],
				fmt.Sprintf("may not be set to 'None' for %s services", spec.Type)))
		}
	case corev1.ServiceTypeExternalName:
		errs = append(errs, validateExternalName(svc, specPath)...)
	}

	portsPath := specPath.Child("ports")
	names := map[string]bool{}
	for i := range spec.Ports {
		errs = append(errs, validateServicePort(&spec.Ports[i], len(spec.Ports) > 1, names, portsPath.Index(i))...)
	}

	if spec.Selector != nil {
		errs = append(errs, metav1validation.ValidateLabels(spec.Selector, specPath.Child("selector"))...)
	}

	errs = append(errs, validateSessionAffinity(spec, specPath)...)

	for i, ip := range spec.ExternalIPs {
		idxPath := specPath.Child("externalIPs").Index(i)
		if ipErrs := validation.IsValidIP(idxPath, ip); len(ipErrs) > 0 {
			errs = append(errs, ipErrs...)
		} else {
			errs = append(errs, corevalidation.ValidateNonSpecialIP(ip, idxPath)...)
		}
	}

	if spec.Type == "" {
		errs = append(errs, field.Required(specPath.Child("type"), ""))
	} else if !slices.Contains(serviceTypes, spec.Type) {
		errs = append(errs, field.NotSupported(specPath.Child("type"), spec.Type, serviceTypes))
	}

	errs = append(errs, validateNodePorts(spec, portsPath)...)

	// Ports are keyed by (port, protocol), as kube-proxy and server-side apply
	// see them. Kubernetes reports the key as its internal core.ServicePort.
	seen := map[portKey]bool{}
	for i, port := range spec.Ports {
		key := portKey{Protocol: port.Protocol, Port: port.Port}
		if seen[key] {
			errs = append(errs, field.Duplicate(portsPath.Index(i), key))
		}
		seen[key] = true
	}

	errs = append(errs, validateSourceRanges(svc)...)

	if spec.AllocateLoadBalancerNodePorts != nil && spec.Type != corev1.ServiceTypeLoadBalancer {
		errs = append(errs, field.Forbidden(specPath.Child("allocateLoadBalancerNodePorts"),
			"may only be used when `type` is 'LoadBalancer'"))
	}
	if spec.Type == corev1.ServiceTypeLoadBalancer && spec.AllocateLoadBalancerNodePorts == nil {
		// Kubernetes' path lacks the "spec." prefix here; kept as is.
		errs = append(errs, field.Required(field.NewPath("allocateLoadBalancerNodePorts"), ""))
	}

	errs = append(errs, validateLoadBalancerClass(svc, nil)...)
	errs = append(errs, validateExternalTrafficPolicy(svc)...)
	errs = append(errs, validateInternalTrafficPolicy(spec)...)

	if td := spec.TrafficDistribution; td != nil && *td != corev1.ServiceTrafficDistributionPreferClose {
		errs = append(errs, field.NotSupported(specPath.Child("trafficDistribution"), *td,
			[]string{corev1.ServiceTrafficDistributionPreferClose}))
	}
	return errs
}

// ValidateServiceUpdate checks only what may not change on update (clusterIP(s)
// immutable unless changing to/from ExternalName, ipFamilies rules ...). The
// caller also runs ValidateService on the new object. Like Kubernetes it
// expects clusterIP/clusterIPs already reconciled with the old object
// (normalizeClusterIPs, patchAllocatedValues): a changed clusterIP must have
// been copied into clusterIPs.
func ValidateServiceUpdate(svc, old *corev1.Service) field.ErrorList {
	svc, old = withClusterIPs(svc), withClusterIPs(old)
	// Kubernetes rejects such a request while allocating, before these checks;
	// ValidateService reports why.
	if len(validateIPFamilyFields(svc)) > 0 {
		return nil
	}

	errs := validateClusterIPsUpdate(svc, old)
	errs = append(errs, validateIPFamiliesUpdate(svc, old)...)
	// This repeats the loadBalancerClass format checks of ValidateService, as
	// Kubernetes does (it reports such an error twice).
	errs = append(errs, validateLoadBalancerClass(svc, old)...)
	if needsHealthCheck(old) && needsHealthCheck(svc) &&
		svc.Spec.HealthCheckNodePort != old.Spec.HealthCheckNodePort {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "healthCheckNodePort"), "field is immutable"))
	}
	return errs
}

// ValidateServiceStatusUpdate checks status.loadBalancer. Kubernetes looks at
// the new status only.
func ValidateServiceStatusUpdate(svc, _ *corev1.Service) field.ErrorList {
	var errs field.ErrorList
	ingressPath := field.NewPath("status", "loadBalancer", "ingress")
	ingresses := svc.Status.LoadBalancer.Ingress
	// The AllowServiceLBStatusOnNonLB gate is off in 1.32.
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer && len(ingresses) > 0 {
		return field.ErrorList{field.Forbidden(ingressPath, "may only be used when `spec.type` is 'LoadBalancer'")}
	}
	for i, ing := range ingresses {
		idxPath := ingressPath.Index(i)
		if ing.IP != "" {
			errs = append(errs, validation.IsValidIP(idxPath.Child("ip"), ing.IP)...)
		}
		// LoadBalancerIPMode is GA in 1.32; defaulting sets VIP when ip is set.
		switch {
		case ing.IPMode == nil:
			if ing.IP != "" {
				errs = append(errs, field.Required(idxPath.Child("ipMode"), "must be specified when `ip` is set"))
			}
		case ing.IP == "":
			errs = append(errs, field.Forbidden(idxPath.Child("ipMode"), "may not be specified when `ip` is not set"))
		case !slices.Contains(loadBalancerIPModes, *ing.IPMode):
			errs = append(errs, field.NotSupported(idxPath.Child("ipMode"), ing.IPMode, loadBalancerIPModes))
		}
		if ing.Hostname != "" {
			for _, msg := range validation.IsDNS1123Subdomain(ing.Hostname) {
				errs = append(errs, field.Invalid(idxPath.Child("hostname"), ing.Hostname, msg))
			}
			if netutils.ParseIPSloppy(ing.Hostname) != nil {
				errs = append(errs, field.Invalid(idxPath.Child("hostname"), ing.Hostname,
					"must be a DNS name, not an IP address"))
			}
		}
	}
	return errs
}

// withClusterIPs returns svc, or a shallow copy whose clusterIPs holds
// clusterIP when a client wrote only the singular field. Kubernetes fills
// clusterIPs this way before it validates, and its checks look at clusterIPs.
func withClusterIPs(svc *corev1.Service) *corev1.Service {
	if svc.Spec.ClusterIP == "" || len(svc.Spec.ClusterIPs) > 0 {
		return svc
	}
	c := *svc
	c.Spec.ClusterIPs = []string{svc.Spec.ClusterIP}
	return &c
}

func isHeadless(svc *corev1.Service) bool {
	return len(svc.Spec.ClusterIPs) == 1 && svc.Spec.ClusterIPs[0] == corev1.ClusterIPNone
}

func externallyAccessible(spec *corev1.ServiceSpec) bool {
	return spec.Type == corev1.ServiceTypeLoadBalancer || spec.Type == corev1.ServiceTypeNodePort ||
		(spec.Type == corev1.ServiceTypeClusterIP && len(spec.ExternalIPs) > 0)
}

func needsHealthCheck(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeLoadBalancer &&
		svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
}

// portKey prints itself the way Kubernetes prints the core.ServicePort it
// uses as key for duplicate ports (field.Duplicate formats it with %#v).
type portKey struct {
	Protocol corev1.Protocol
	Port     int32
}

func (k portKey) GoString() string {
	return fmt.Sprintf(`core.ServicePort{Name:"", Protocol:%q, AppProtocol:(*string)(nil), Port:%d, `+
		`TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}`, string(k.Protocol), k.Port)
}

// validateTopologyAnnotations rejects the two topology annotations disagreeing.
func validateTopologyAnnotations(svc *corev1.Service) field.ErrorList {
	hints, hintsSet := svc.Annotations[corev1.DeprecatedAnnotationTopologyAwareHints]
	mode, modeSet := svc.Annotations[corev1.AnnotationTopologyMode]
	if !hintsSet || !modeSet || hints == mode {
		return nil
	}
	return field.ErrorList{field.Invalid(
		field.NewPath("metadata", "annotations").Key(corev1.AnnotationTopologyMode), mode,
		fmt.Sprintf("must match annotations[%s] when both are specified", corev1.DeprecatedAnnotationTopologyAwareHints))}
}

// validateExternalName checks an ExternalName service: a DNS name and none of
// the cluster IP fields.
func validateExternalName(svc *corev1.Service, specPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	spec := &svc.Spec
	if len(spec.ClusterIPs) > 0 {
		errs = append(errs, field.Forbidden(specPath.Child("clusterIPs"), "may not be set for ExternalName services"))
	}
	if len(spec.IPFamilies) > 0 {
		errs = append(errs, field.Forbidden(specPath.Child("ipFamilies"), "may not be set for ExternalName services"))
	}
	if spec.IPFamilyPolicy != nil {
		errs = append(errs, field.Forbidden(specPath.Child("ipFamilyPolicy"), "may not be set for ExternalName services"))
	}
	// A CNAME may end in a dot to mark it fully qualified.
	cname := strings.TrimSuffix(spec.ExternalName, ".")
	if cname == "" {
		return append(errs, field.Required(specPath.Child("externalName"), ""))
	}
	for _, msg := range validation.IsDNS1123Subdomain(cname) {
		errs = append(errs, field.Invalid(specPath.Child("externalName"), cname, msg))
	}
	return errs
}

// validateServicePort checks one port; names collects the names seen so far.
func validateServicePort(sp *corev1.ServicePort, requireName bool, names map[string]bool, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if requireName && sp.Name == "" {
		errs = append(errs, field.Required(path.Child("name"), ""))
	} else if sp.Name != "" {
		for _, msg := range validation.IsDNS1123Label(sp.Name) {
			errs = append(errs, field.Invalid(path.Child("name"), sp.Name, msg))
		}
		if names[sp.Name] {
			errs = append(errs, field.Duplicate(path.Child("name"), sp.Name))
		}
		names[sp.Name] = true
	}

	for _, msg := range validation.IsValidPortNum(int(sp.Port)) {
		errs = append(errs, field.Invalid(path.Child("port"), sp.Port, msg))
	}

	if sp.Protocol == "" {
		errs = append(errs, field.Required(path.Child("protocol"), ""))
	} else if !slices.Contains(portProtocols, sp.Protocol) {
		errs = append(errs, field.NotSupported(path.Child("protocol"), sp.Protocol, portProtocols))
	}

	// A named targetPort must be an IANA service name, as container port names are.
	tp := sp.TargetPort
	switch tp.Type {
	case intstr.Int:
		for _, msg := range validation.IsValidPortNum(int(tp.IntVal)) {
			errs = append(errs, field.Invalid(path.Child("targetPort"), tp.IntVal, msg))
		}
	case intstr.String:
		for _, msg := range validation.IsValidPortName(tp.StrVal) {
			errs = append(errs, field.Invalid(path.Child("targetPort"), tp.StrVal, msg))
		}
	default:
		errs = append(errs, field.InternalError(path.Child("targetPort"), fmt.Errorf("unknown type: %v", tp.Type)))
	}

	if sp.AppProtocol != nil {
		for _, msg := range validation.IsQualifiedName(*sp.AppProtocol) {
			errs = append(errs, field.Invalid(path.Child("appProtocol"), *sp.AppProtocol, msg))
		}
	}
	return errs
}

func validateSessionAffinity(spec *corev1.ServiceSpec, specPath *field.Path) field.ErrorList {
	path := specPath.Child("sessionAffinity")
	switch {
	case spec.SessionAffinity == "":
		return field.ErrorList{field.Required(path, "")}
	case !slices.Contains(sessionAffinities, spec.SessionAffinity):
		return field.ErrorList{field.NotSupported(path, spec.SessionAffinity, sessionAffinities)}
	}

	configPath := specPath.Child("sessionAffinityConfig")
	if spec.SessionAffinity == corev1.ServiceAffinityNone {
		if spec.SessionAffinityConfig != nil {
			return field.ErrorList{field.Forbidden(configPath,
				fmt.Sprintf("must not be set when session affinity is %s", corev1.ServiceAffinityNone))}
		}
		return nil
	}

	// ClientIP: defaulting fills in a timeout, so these are rarely hit.
	required := fmt.Sprintf("when session affinity type is %s", corev1.ServiceAffinityClientIP)
	config := spec.SessionAffinityConfig
	switch {
	case config == nil:
		return field.ErrorList{field.Required(configPath, required)}
	case config.ClientIP == nil:
		return field.ErrorList{field.Required(configPath.Child("clientIP"), required)}
	case config.ClientIP.TimeoutSeconds == nil:
		return field.ErrorList{field.Required(configPath.Child("clientIP", "timeoutSeconds"), required)}
	}
	if t := *config.ClientIP.TimeoutSeconds; t <= 0 || t > maxClientIPAffinitySeconds {
		return field.ErrorList{field.Invalid(configPath.Child("clientIP", "timeoutSeconds"), t,
			fmt.Sprintf("must be greater than 0 and less than %d", maxClientIPAffinitySeconds))}
	}
	return nil
}

// validateNodePorts checks what validation can say about nodePorts; their
// range and uniqueness across services is the allocator's business.
func validateNodePorts(spec *corev1.ServiceSpec, portsPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if spec.Type == corev1.ServiceTypeClusterIP {
		for i := range spec.Ports {
			if spec.Ports[i].NodePort != 0 {
				errs = append(errs, field.Forbidden(portsPath.Index(i).Child("nodePort"),
					"may not be used when `type` is 'ClusterIP'"))
			}
		}
	}

	// On NodePort and LoadBalancer services Kubernetes' allocator claims each
	// requested nodePort before validation runs and reports a second claim of
	// the same port as "provided port is already allocated", so this check
	// only ever speaks for the other types.
	if spec.Type == corev1.ServiceTypeNodePort || spec.Type == corev1.ServiceTypeLoadBalancer {
		return errs
	}
	type key struct {
		protocol corev1.Protocol
		nodePort int32
	}
	seen := map[key]bool{}
	for i, port := range spec.Ports {
		if port.NodePort == 0 {
			continue
		}
		k := key{port.Protocol, port.NodePort}
		if seen[k] {
			errs = append(errs, field.Duplicate(portsPath.Index(i).Child("nodePort"), port.NodePort))
		}
		seen[k] = true
	}
	return errs
}

// validateSourceRanges checks spec.loadBalancerSourceRanges, or the older
// annotation when the field is empty.
func validateSourceRanges(svc *corev1.Service) field.ErrorList {
	var errs field.ErrorList
	isLB := svc.Spec.Type == corev1.ServiceTypeLoadBalancer
	const lbOnly = "may only be used when `type` is 'LoadBalancer'"
	if ranges := svc.Spec.LoadBalancerSourceRanges; len(ranges) > 0 {
		path := field.NewPath("spec", "LoadBalancerSourceRanges")
		if !isLB {
			errs = append(errs, field.Forbidden(path, lbOnly))
		}
		for i, cidr := range ranges {
			// Space padding is tolerated, a leftover of the annotation days.
			errs = append(errs, validation.IsValidCIDR(path.Index(i), strings.TrimSpace(cidr))...)
		}
		return errs
	}

	val, ok := svc.Annotations[corev1.AnnotationLoadBalancerSourceRangesKey]
	if !ok {
		return nil
	}
	path := field.NewPath("metadata", "annotations").Key(corev1.AnnotationLoadBalancerSourceRangesKey)
	if !isLB {
		errs = append(errs, field.Forbidden(path, lbOnly))
	}
	if val = strings.TrimSpace(val); val != "" {
		for _, cidr := range strings.Split(val, ",") {
			errs = append(errs, validation.IsValidCIDR(path, strings.TrimSpace(cidr))...)
		}
	}
	return errs
}

// validateLoadBalancerClass checks loadBalancerClass, and with old that it
// does not change while the service stays a LoadBalancer.
func validateLoadBalancerClass(svc, old *corev1.Service) field.ErrorList {
	var errs field.ErrorList
	path := field.NewPath("spec", "loadBalancerClass")
	class := svc.Spec.LoadBalancerClass
	isLB := svc.Spec.Type == corev1.ServiceTypeLoadBalancer
	if old != nil && isLB && old.Spec.Type == corev1.ServiceTypeLoadBalancer &&
		!ptr.Equal(old.Spec.LoadBalancerClass, class) {
		errs = append(errs, field.Invalid(path, class, "may not change once set"))
	}
	switch {
	case class == nil:
	case !isLB:
		errs = append(errs, field.Forbidden(path, "may only be used when `type` is 'LoadBalancer'"))
	default:
		for _, msg := range validation.IsQualifiedName(*class) {
			errs = append(errs, field.Invalid(path, *class, msg))
		}
	}
	return errs
}

func validateExternalTrafficPolicy(svc *corev1.Service) field.ErrorList {
	var errs field.ErrorList
	spec := &svc.Spec
	etpPath := field.NewPath("spec", "externalTrafficPolicy")
	switch {
	case !externallyAccessible(spec):
		if spec.ExternalTrafficPolicy != "" {
			errs = append(errs, field.Invalid(etpPath, spec.ExternalTrafficPolicy,
				"may only be set for externally-accessible services"))
		}
	case spec.ExternalTrafficPolicy == "":
		errs = append(errs, field.Required(etpPath, ""))
	case !slices.Contains(externalTrafficPolicies, spec.ExternalTrafficPolicy):
		errs = append(errs, field.NotSupported(etpPath, spec.ExternalTrafficPolicy, externalTrafficPolicies))
	}

	hcPath := field.NewPath("spec", "healthCheckNodePort")
	hc := spec.HealthCheckNodePort
	if !needsHealthCheck(svc) {
		if hc != 0 {
			errs = append(errs, field.Invalid(hcPath, hc,
				"may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"))
		}
	} else if hc != 0 { // 0 is not an error: the allocator picks one.
		for _, msg := range validation.IsValidPortNum(int(hc)) {
			errs = append(errs, field.Invalid(hcPath, hc, msg))
		}
	}
	return errs
}

func validateInternalTrafficPolicy(spec *corev1.ServiceSpec) field.ErrorList {
	path := field.NewPath("spec", "internalTrafficPolicy")
	itp := spec.InternalTrafficPolicy
	if itp == nil {
		// Not required of other types: stored objects predate the check.
		switch spec.Type {
		case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer:
			return field.ErrorList{field.Required(path, "")}
		}
		return nil
	}
	if !slices.Contains(internalTrafficPolicies, *itp) {
		return field.ErrorList{field.NotSupported(path, *itp, internalTrafficPolicies)}
	}
	return nil
}

// ipFamilyPolicyOf is the policy Kubernetes' allocator settles on when the
// client gave none: dual-stack for headless selectorless services, else
// single-stack.
func ipFamilyPolicyOf(svc *corev1.Service) corev1.IPFamilyPolicy {
	if p := svc.Spec.IPFamilyPolicy; p != nil {
		return *p
	}
	if svc.Spec.ClusterIP == corev1.ClusterIPNone && len(svc.Spec.Selector) == 0 {
		return corev1.IPFamilyPolicyRequireDualStack
	}
	return corev1.IPFamilyPolicySingleStack
}

func familyOf(ip string) corev1.IPFamily {
	if netutils.IsIPv6String(ip) {
		return corev1.IPv6Protocol
	}
	return corev1.IPv4Protocol
}

// validateIPFamilyFields is what Kubernetes checks of clusterIPs, ipFamilies
// and ipFamilyPolicy while it initialises them for allocation
// (initIPFamilyFields), for this single-stack cluster. Like Kubernetes it
// stops at the first group of errors so they do not pile up.
func validateIPFamilyFields(svc *corev1.Service) field.ErrorList {
	spec := &svc.Spec
	if spec.Type == corev1.ServiceTypeExternalName {
		return nil // validateExternalName forbids these fields
	}
	if errs := validateClusterIPsRelatedFields(svc); len(errs) > 0 {
		return errs
	}

	var errs field.ErrorList
	policy := ipFamilyPolicyOf(svc)
	policyPath := field.NewPath("spec", "ipFamilyPolicy")
	if policy == corev1.IPFamilyPolicySingleStack {
		if len(spec.ClusterIPs) == 2 {
			errs = append(errs, field.Invalid(policyPath, policy,
				"must be 'RequireDualStack' or 'PreferDualStack' when multiple cluster IPs are specified"))
		}
		if len(spec.IPFamilies) == 2 {
			errs = append(errs, field.Invalid(policyPath, policy,
				"must be 'RequireDualStack' or 'PreferDualStack' when multiple IP families are specified"))
		}
	}
	// A cluster IP without a matching ipFamilies entry must be of a family the
	// cluster has.
	for i, ip := range spec.ClusterIPs {
		if ip == corev1.ClusterIPNone {
			break
		}
		if fam := familyOf(ip); i >= len(spec.IPFamilies) && !slices.Contains(clusterIPFamilies, fam) {
			errs = append(errs, field.Invalid(field.NewPath("spec", "clusterIPs").Index(i), spec.ClusterIPs,
				fmt.Sprintf("%s is not configured on this cluster", fam)))
		}
	}
	if len(errs) > 0 {
		return errs
	}

	// Headless selectorless services may ask for any families: they get no IPs.
	if spec.ClusterIP == corev1.ClusterIPNone && len(spec.Selector) == 0 {
		return nil
	}
	if policy == corev1.IPFamilyPolicyRequireDualStack && len(clusterIPFamilies) < 2 {
		errs = append(errs, field.Invalid(policyPath, policy, "this cluster is not configured for dual-stack services"))
	}
	for i, fam := range spec.IPFamilies {
		if !slices.Contains(clusterIPFamilies, fam) {
			errs = append(errs, field.Invalid(field.NewPath("spec", "ipFamilies").Index(i), fam, "not configured on this cluster"))
		}
	}
	return errs
}

// validateClusterIPsRelatedFields checks clusterIPs, ipFamilies and
// ipFamilyPolicy on their own and against each other
// (ValidateServiceClusterIPsRelatedFields).
func validateClusterIPsRelatedFields(svc *corev1.Service) field.ErrorList {
	var errs field.ErrorList
	spec := &svc.Spec
	ipsPath := field.NewPath("spec", "clusterIPs")
	familiesPath := field.NewPath("spec", "ipFamilies")

	// withClusterIPs has filled clusterIPs whenever clusterIP is set.
	if spec.ClusterIP != "" && spec.ClusterIPs[0] != spec.ClusterIP {
		errs = append(errs, field.Invalid(ipsPath, spec.ClusterIPs, "first value must match `clusterIP`"))
	} else if spec.ClusterIP == "" && len(spec.ClusterIPs) > 0 {
		errs = append(errs, field.Invalid(ipsPath, spec.ClusterIPs, "must be empty when `clusterIP` is not specified"))
	}

	seen := map[corev1.IPFamily]bool{}
	for i, fam := range spec.IPFamilies {
		if !slices.Contains(ipFamilies, fam) {
			errs = append(errs, field.NotSupported(familiesPath.Index(i), fam, ipFamilies))
		}
		if seen[fam] {
			errs = append(errs, field.Duplicate(familiesPath.Index(i), fam))
		}
		seen[fam] = true
	}

	if p := spec.IPFamilyPolicy; p != nil && !slices.Contains(ipFamilyPolicies, *p) {
		errs = append(errs, field.NotSupported(field.NewPath("spec", "ipFamilyPolicy"), p, ipFamilyPolicies))
	}

	invalidIPs := false
	for i, ip := range spec.ClusterIPs {
		if i == 0 && ip == corev1.ClusterIPNone {
			if len(spec.ClusterIPs) > 1 {
				invalidIPs = true
				errs = append(errs, field.Invalid(ipsPath, spec.ClusterIPs, "'None' must be the first and only value"))
			}
			continue
		}
		ipErrs := validation.IsValidIP(ipsPath.Index(i), ip)
		invalidIPs = invalidIPs || len(ipErrs) > 0
		errs = append(errs, ipErrs...)
	}
	if len(spec.ClusterIPs) > 2 {
		errs = append(errs, field.Invalid(ipsPath, spec.ClusterIPs, "may only hold up to 2 values"))
	}
	// Bad IPs would only make the checks below misleading.
	if invalidIPs {
		return errs
	}

	if len(spec.ClusterIPs) > 1 {
		dualStack, err := netutils.IsDualStackIPStrings(spec.ClusterIPs)
		if err != nil {
			errs = append(errs, field.InternalError(ipsPath, fmt.Errorf("failed to check for dual stack with error:%v", err)))
		}
		if !dualStack {
			errs = append(errs, field.Invalid(ipsPath, spec.ClusterIPs, "may specify no more than one IP for each IP family"))
		}
	}

	if !isHeadless(svc) {
		for i, ip := range spec.ClusterIPs {
			if i >= len(spec.IPFamilies) {
				break
			}
			switch fam := spec.IPFamilies[i]; {
			case fam == corev1.IPv4Protocol && netutils.IsIPv6String(ip):
				errs = append(errs, field.Invalid(ipsPath.Index(i), ip,
					fmt.Sprintf("expected an IPv4 value as indicated by `ipFamilies[%v]`", i)))
			case fam == corev1.IPv6Protocol && !netutils.IsIPv6String(ip):
				errs = append(errs, field.Invalid(ipsPath.Index(i), ip,
					fmt.Sprintf("expected an IPv6 value as indicated by `ipFamilies[%v]`", i)))
			}
		}
	}
	return errs
}

// validateClusterIPsUpdate keeps allocated cluster IPs: the primary never
// changes; a secondary may be added, or released with policy SingleStack.
func validateClusterIPsUpdate(svc, old *corev1.Service) field.ErrorList {
	if svc.Spec.Type == corev1.ServiceTypeExternalName || old.Spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	if isHeadless(svc) && isHeadless(old) {
		return nil
	}

	var errs field.ErrorList
	newIPs, oldIPs := svc.Spec.ClusterIPs, old.Spec.ClusterIPs
	ipsPath := field.NewPath("spec", "clusterIPs")
	const immutable = "may not change once set"
	switch {
	case len(oldIPs) == len(newIPs):
		for i, ip := range oldIPs {
			if ip != newIPs[i] {
				errs = append(errs, field.Invalid(ipsPath.Index(i), newIPs, immutable))
			}
		}
	case len(oldIPs) > len(newIPs):
		if len(newIPs) == 0 {
			errs = append(errs, field.Invalid(ipsPath.Index(0), newIPs, "primary clusterIP can not be unset"))
		}
		if len(newIPs) > 0 && newIPs[0] != oldIPs[0] {
			errs = append(errs, field.Invalid(ipsPath.Index(0), newIPs, immutable))
		}
		if len(newIPs) == 1 && ptr.Deref(svc.Spec.IPFamilyPolicy, "") != corev1.IPFamilyPolicySingleStack {
			errs = append(errs, field.Invalid(field.NewPath("spec", "ipFamilyPolicy"), svc.Spec.IPFamilyPolicy,
				"must be set to 'SingleStack' when releasing the secondary clusterIP"))
		}
	default: // an IP was added
		if len(oldIPs) > 0 && newIPs[0] != oldIPs[0] {
			errs = append(errs, field.Invalid(ipsPath.Index(0), newIPs, immutable))
		}
	}
	return errs
}

// validateIPFamiliesUpdate is validateClusterIPsUpdate for ipFamilies. Some
// messages carry clusterIPs as value; that is Kubernetes' doing.
func validateIPFamiliesUpdate(svc, old *corev1.Service) field.ErrorList {
	if svc.Spec.Type == corev1.ServiceTypeExternalName || old.Spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	// Headless services, and services becoming or ceasing to be headless,
	// may change families.
	if isHeadless(svc) || isHeadless(old) {
		return nil
	}

	var errs field.ErrorList
	newFams, oldFams := svc.Spec.IPFamilies, old.Spec.IPFamilies
	primaryPath := field.NewPath("spec", "ipFamilies").Index(0)
	const immutable = "may not change once set"
	switch {
	case len(oldFams) == len(newFams):
		for i, fam := range oldFams {
			if fam != newFams[i] {
				errs = append(errs, field.Invalid(primaryPath, newFams, immutable))
			}
		}
	case len(oldFams) > len(newFams):
		if len(svc.Spec.ClusterIPs) == 0 {
			errs = append(errs, field.Invalid(primaryPath, newFams, "primary ipFamily can not be unset"))
		}
		if len(newFams) > 0 && newFams[0] != oldFams[0] {
			errs = append(errs, field.Invalid(primaryPath, svc.Spec.ClusterIPs, immutable))
		}
		if len(newFams) == 1 && ptr.Deref(svc.Spec.IPFamilyPolicy, "") != corev1.IPFamilyPolicySingleStack {
			errs = append(errs, field.Invalid(field.NewPath("spec", "ipFamilyPolicy"), svc.Spec.IPFamilyPolicy,
				"must be set to 'SingleStack' when releasing the secondary ipFamily"))
		}
	default: // a family was added
		if len(oldFams) > 0 && len(newFams) > 0 && newFams[0] != oldFams[0] {
			errs = append(errs, field.Invalid(primaryPath, svc.Spec.ClusterIPs, immutable))
		}
	}
	return errs
}

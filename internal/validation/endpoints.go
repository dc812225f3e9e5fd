package validation

import (
	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ValidateEndpoints validates an Endpoints object (create, and the new object
// of an update).
func ValidateEndpoints(e *corev1.Endpoints) field.ErrorList {
	allErrs := validateKubeFinalizers(&e.ObjectMeta)
	fldPath := field.NewPath("subsets")
	for i := range e.Subsets {
		allErrs = append(allErrs, validateEndpointSubset(&e.Subsets[i], fldPath.Index(i))...)
	}
	return allErrs
}

// ValidateEndpointsUpdate has nothing to add to ValidateEndpoints: every field
// of an Endpoints object may change. (Kubernetes explicitly allows nodeName to
// change, since an IP can move to another node.)
func ValidateEndpointsUpdate(_, _ *corev1.Endpoints) field.ErrorList {
	return nil
}

func validateEndpointSubset(ss *corev1.EndpointSubset, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	// A subset may have no ports (headless services), but it needs addresses.
	if len(ss.Addresses) == 0 && len(ss.NotReadyAddresses) == 0 {
		allErrs = append(allErrs, field.Required(fldPath, "must specify `addresses` or `notReadyAddresses`"))
	}
	for i := range ss.Addresses {
		allErrs = append(allErrs, validateEndpointAddress(&ss.Addresses[i], fldPath.Child("addresses").Index(i))...)
	}
	for i := range ss.NotReadyAddresses {
		allErrs = append(allErrs, validateEndpointAddress(&ss.NotReadyAddresses[i], fldPath.Child("notReadyAddresses").Index(i))...)
	}
	// With more than one port each needs a name, so that a named targetPort
	// can tell them apart.
	for i := range ss.Ports {
		allErrs = append(allErrs, validateEndpointPort(&ss.Ports[i], len(ss.Ports) > 1, fldPath.Child("ports").Index(i))...)
	}
	return allErrs
}

func validateEndpointAddress(address *corev1.EndpointAddress, fldPath *field.Path) field.ErrorList {
	// A malformed IP is reported twice, once by each check, exactly as
	// Kubernetes does.
	allErrs := validation.IsValidIP(fldPath.Child("ip"), address.IP)
	if len(address.Hostname) > 0 {
		allErrs = append(allErrs, validateDNS1123Label(address.Hostname, fldPath.Child("hostname"))...)
	}
	if address.NodeName != nil {
		allErrs = append(allErrs, validateObjectName(*address.NodeName, apivalidation.NameIsDNSSubdomain, fldPath.Child("nodeName"))...)
	}
	allErrs = append(allErrs, ValidateNonSpecialIP(address.IP, fldPath.Child("ip"))...)
	return allErrs
}

func validateEndpointPort(port *corev1.EndpointPort, requireName bool, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if requireName && len(port.Name) == 0 {
		allErrs = append(allErrs, field.Required(fldPath.Child("name"), ""))
	} else if len(port.Name) != 0 {
		allErrs = append(allErrs, validateDNS1123Label(port.Name, fldPath.Child("name"))...)
	}
	allErrs = append(allErrs, invalidEach(fldPath.Child("port"), port.Port, validation.IsValidPortNum(int(port.Port)))...)
	if len(port.Protocol) == 0 {
		allErrs = append(allErrs, field.Required(fldPath.Child("protocol"), ""))
	} else if !supportedPortProtocols.Has(port.Protocol) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("protocol"), port.Protocol, sets.List(supportedPortProtocols)))
	}
	if port.AppProtocol != nil {
		allErrs = append(allErrs, validateQualifiedName(*port.AppProtocol, fldPath.Child("appProtocol"))...)
	}
	return allErrs
}

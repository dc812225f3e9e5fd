package validation

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Limits of an EndpointSlice (pkg/apis/discovery/validation).
const (
	maxSliceTopologyLabels = 16
	maxSliceAddresses      = 100
	maxSlicePorts          = 20000
	maxSliceEndpoints      = 1000
	maxSliceZoneHints      = 8
)

var supportedAddressTypes = sets.New(
	discoveryv1.AddressTypeIPv4,
	discoveryv1.AddressTypeIPv6,
	discoveryv1.AddressTypeFQDN,
)

// ValidateEndpointSlice validates an EndpointSlice (create, and the new object
// of an update).
//
// Unlike Endpoints, Kubernetes does not range-check EndpointSlice port
// numbers: port 0, -1 or 99999 is accepted (oracle case 107).
func ValidateEndpointSlice(s *discoveryv1.EndpointSlice) field.ErrorList {
	allErrs := validateKubeFinalizers(&s.ObjectMeta)
	allErrs = append(allErrs, validateAddressType(s.AddressType)...)
	allErrs = append(allErrs, validateSliceEndpoints(s.Endpoints, s.AddressType, field.NewPath("endpoints"))...)
	allErrs = append(allErrs, validateSlicePorts(s.Ports, field.NewPath("ports"))...)
	return allErrs
}

// ValidateEndpointSliceUpdate: the address type of a slice may not change,
// since consumers key slices by it.
func ValidateEndpointSliceUpdate(s, old *discoveryv1.EndpointSlice) field.ErrorList {
	return apivalidation.ValidateImmutableField(s.AddressType, old.AddressType, field.NewPath("addressType"))
}

func validateAddressType(addressType discoveryv1.AddressType) field.ErrorList {
	fldPath := field.NewPath("addressType")
	if addressType == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	if !supportedAddressTypes.Has(addressType) {
		return field.ErrorList{field.NotSupported(fldPath, addressType, sets.List(supportedAddressTypes))}
	}
	return nil
}

func validateSliceEndpoints(endpoints []discoveryv1.Endpoint, addrType discoveryv1.AddressType, fldPath *field.Path) field.ErrorList {
	if len(endpoints) > maxSliceEndpoints {
		return field.ErrorList{field.TooMany(fldPath, len(endpoints), maxSliceEndpoints)}
	}

	var allErrs field.ErrorList
	for i, endpoint := range endpoints {
		idxPath := fldPath.Index(i)
		addressPath := idxPath.Child("addresses")

		if len(endpoint.Addresses) == 0 {
			allErrs = append(allErrs, field.Required(addressPath, "must contain at least 1 address"))
		} else if len(endpoint.Addresses) > maxSliceAddresses {
			allErrs = append(allErrs, field.TooMany(addressPath, len(endpoint.Addresses), maxSliceAddresses))
		}
		for j, address := range endpoint.Addresses {
			allErrs = append(allErrs, validateSliceAddress(address, addrType, addressPath.Index(j))...)
		}

		if endpoint.NodeName != nil {
			allErrs = append(allErrs, validateObjectName(*endpoint.NodeName, apivalidation.NameIsDNSSubdomain, idxPath.Child("nodeName"))...)
		}

		topologyPath := idxPath.Child("deprecatedTopology")
		if len(endpoint.DeprecatedTopology) > maxSliceTopologyLabels {
			allErrs = append(allErrs, field.TooMany(topologyPath, len(endpoint.DeprecatedTopology), maxSliceTopologyLabels))
		}
		allErrs = append(allErrs, metavalidation.ValidateLabels(endpoint.DeprecatedTopology, topologyPath)...)
		// The zone has its own field in discovery/v1; Kubernetes' v1beta1
		// conversion moves it out of the topology map and complains, as an
		// internal error, when a v1 client puts it there.
		if _, found := endpoint.DeprecatedTopology[corev1.LabelTopologyZone]; found {
			allErrs = append(allErrs, field.InternalError(topologyPath.Key(corev1.LabelTopologyZone), fmt.Errorf("reserved key was not removed in conversion")))
		}

		if endpoint.Hostname != nil {
			allErrs = append(allErrs, validateDNS1123Label(*endpoint.Hostname, idxPath.Child("hostname"))...)
		}
		if endpoint.Hints != nil {
			allErrs = append(allErrs, validateHints(endpoint.Hints, idxPath.Child("hints"))...)
		}
	}
	return allErrs
}

// validateSliceAddress checks one address against the slice's address type.
// An unknown address type was reported already; its addresses are not
// checked.
func validateSliceAddress(address string, addrType discoveryv1.AddressType, fldPath *field.Path) field.ErrorList {
	switch addrType {
	case discoveryv1.AddressTypeIPv4:
		return append(validation.IsValidIPv4Address(fldPath, address), ValidateNonSpecialIP(address, fldPath)...)
	case discoveryv1.AddressTypeIPv6:
		return append(validation.IsValidIPv6Address(fldPath, address), ValidateNonSpecialIP(address, fldPath)...)
	case discoveryv1.AddressTypeFQDN:
		return validation.IsFullyQualifiedDomainName(fldPath, address)
	}
	return nil
}

func validateSlicePorts(ports []discoveryv1.EndpointPort, fldPath *field.Path) field.ErrorList {
	if len(ports) > maxSlicePorts {
		return field.ErrorList{field.TooMany(fldPath, len(ports), maxSlicePorts)}
	}

	var allErrs field.ErrorList
	names := sets.New[string]()
	for i, port := range ports {
		idxPath := fldPath.Index(i)

		// Defaulting turns a missing name into "".
		name := ""
		if port.Name != nil {
			name = *port.Name
		}
		if len(name) > 0 {
			allErrs = append(allErrs, validateDNS1123Label(name, idxPath.Child("name"))...)
		}
		if names.Has(name) {
			allErrs = append(allErrs, field.Duplicate(idxPath.Child("name"), name))
		} else {
			names.Insert(name)
		}

		if port.Protocol == nil {
			allErrs = append(allErrs, field.Required(idxPath.Child("protocol"), ""))
		} else if !supportedPortProtocols.Has(*port.Protocol) {
			allErrs = append(allErrs, field.NotSupported(idxPath.Child("protocol"), *port.Protocol, sets.List(supportedPortProtocols)))
		}

		if port.AppProtocol != nil {
			allErrs = append(allErrs, validateQualifiedName(*port.AppProtocol, idxPath.Child("appProtocol"))...)
		}
	}
	return allErrs
}

func validateHints(hints *discoveryv1.EndpointHints, fldPath *field.Path) field.ErrorList {
	fzPath := fldPath.Child("forZones")
	if len(hints.ForZones) > maxSliceZoneHints {
		return field.ErrorList{field.TooMany(fzPath, len(hints.ForZones), maxSliceZoneHints)}
	}

	var allErrs field.ErrorList
	zones := sets.New[string]()
	for i, forZone := range hints.ForZones {
		zonePath := fzPath.Index(i).Child("name")
		if zones.Has(forZone.Name) {
			allErrs = append(allErrs, field.Duplicate(zonePath, forZone.Name))
		} else {
			zones.Insert(forZone.Name)
		}
		allErrs = append(allErrs, invalidEach(zonePath, forZone.Name, validation.IsValidLabelValue(forZone.Name))...)
	}
	return allErrs
}

package validation

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// slicePort is an EndpointSlice port as it is after defaulting.
func slicePort(name string, port int32) discoveryv1.EndpointPort {
	return discoveryv1.EndpointPort{Name: ptr.To(name), Port: ptr.To(port), Protocol: ptr.To(corev1.ProtocolTCP)}
}

func slice(name string, addrType discoveryv1.AddressType, ports []discoveryv1.EndpointPort, endpoints ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: name, Namespace: "epdemo"},
		AddressType: addrType,
		Ports:       ports,
		Endpoints:   endpoints,
	}
}

func sliceEndpoint(addrs ...string) discoveryv1.Endpoint {
	return discoveryv1.Endpoint{Addresses: addrs}
}

var endpointSliceCases = []createCase[*discoveryv1.EndpointSlice]{
	// Oracle case 087.
	{
		name: "087 manual slice",
		obj: func() *discoveryv1.EndpointSlice {
			s := slice("manual-slice-svc-1", discoveryv1.AddressTypeIPv4, []discoveryv1.EndpointPort{slicePort("http", 8080)},
				discoveryv1.Endpoint{Addresses: []string{"192.0.2.60"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}},
				discoveryv1.Endpoint{
					Addresses:  []string{"192.0.2.61"},
					Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(false), Terminating: ptr.To(true), Serving: ptr.To(true)},
					NodeName:   ptr.To("node-a"),
					Zone:       ptr.To("zone-a"),
				})
			s.Labels = map[string]string{
				discoveryv1.LabelServiceName: "manual-slice-svc",
				discoveryv1.LabelManagedBy:   "my-controller.example.com",
			}
			return s
		}(),
	},
	{
		name: "087 bad address and port name; port number is not checked",
		obj: slice("eps-bad", discoveryv1.AddressTypeIPv4, []discoveryv1.EndpointPort{slicePort("Bad_Name", 99999)},
			sliceEndpoint("2001:db8::1", "192.0.2.1", "192.0.2.2")),
		want: []string{
			`endpoints[0].addresses[0]: Invalid value: "2001:db8::1": must be a valid IPv4 address`,
			`ports[0].name: Invalid value: "Bad_Name": ` + dns1123LabelMsg,
		},
	},
	{
		name: "087 no address type",
		obj:  slice("eps-noaddrtype", "", nil, sliceEndpoint("192.0.2.1")),
		want: []string{`addressType: Required value`},
	},
	// Oracle case 107.
	{
		name: "107 port numbers out of range are accepted",
		obj: slice("eps-ports", discoveryv1.AddressTypeIPv4,
			[]discoveryv1.EndpointPort{slicePort("a", 99999), slicePort("b", 0), slicePort("c", -1)},
			sliceEndpoint("192.0.2.1", "192.0.2.2")),
	},
	{
		name: "107 FQDN",
		obj: slice("eps-fqdn", discoveryv1.AddressTypeFQDN, []discoveryv1.EndpointPort{slicePort("https", 443)},
			sliceEndpoint("api.example.com"), sliceEndpoint("Not_A_Name")),
		want: []string{`endpoints[1].addresses[0]: Invalid value: "Not_A_Name": ` + dns1123SubdomainMsg},
	},

	{
		name: "unknown address type",
		obj:  slice("eps", "IPv5", nil, sliceEndpoint("anything")),
		want: []string{`addressType: Unsupported value: "IPv5": supported values: "FQDN", "IPv4", "IPv6"`},
	},
	{
		name: "IPv6 special addresses",
		obj:  slice("eps", discoveryv1.AddressTypeIPv6, nil, sliceEndpoint("::1", "192.0.2.1", "fe80::1")),
		want: []string{
			`endpoints[0].addresses[0]: Invalid value: "::1": may not be in the loopback range (127.0.0.0/8, ::1/128)`,
			`endpoints[0].addresses[1]: Invalid value: "192.0.2.1": must be a valid IPv6 address`,
			`endpoints[0].addresses[2]: Invalid value: "fe80::1": may not be in the link-local range (169.254.0.0/16, fe80::/10)`,
		},
	},
	{
		name: "endpoint without addresses, bad node name and hostname",
		obj: slice("eps", discoveryv1.AddressTypeIPv4, nil,
			discoveryv1.Endpoint{NodeName: ptr.To("Node_A"), Hostname: ptr.To("a.b")}),
		want: []string{
			`endpoints[0].addresses: Required value: must contain at least 1 address`,
			`endpoints[0].nodeName: Invalid value: "Node_A": ` + dns1123SubdomainMsg,
			`endpoints[0].hostname: Invalid value: "a.b": must not contain dots`,
		},
	},
	{
		name: "zone in deprecated topology",
		obj: slice("eps", discoveryv1.AddressTypeIPv4, nil, discoveryv1.Endpoint{
			Addresses:          []string{"192.0.2.1"},
			DeprecatedTopology: map[string]string{corev1.LabelTopologyZone: "a"},
		}),
		want: []string{`endpoints[0].deprecatedTopology[topology.kubernetes.io/zone]: Internal error: reserved key was not removed in conversion`},
	},
	{
		name: "zone hints",
		obj: slice("eps", discoveryv1.AddressTypeIPv4, nil, discoveryv1.Endpoint{
			Addresses: []string{"192.0.2.1"},
			Hints:     &discoveryv1.EndpointHints{ForZones: []discoveryv1.ForZone{{Name: "zone-a"}, {Name: "zone-a"}, {Name: "bad zone"}}},
		}),
		want: []string{
			`endpoints[0].hints.forZones[1].name: Duplicate value: "zone-a"`,
			`endpoints[0].hints.forZones[2].name: Invalid value: "bad zone": ` + labelValueMsg,
		},
	},
	{
		name: "duplicate port names, missing protocol, bad appProtocol",
		obj: slice("eps", discoveryv1.AddressTypeIPv4, []discoveryv1.EndpointPort{
			slicePort("", 80),
			{Name: ptr.To(""), Port: ptr.To[int32](81)},
			{Name: ptr.To("x"), Protocol: ptr.To[corev1.Protocol]("HTTP"), AppProtocol: ptr.To("-bad")},
		}),
		want: []string{
			`ports[1].name: Duplicate value: ""`,
			`ports[1].protocol: Required value`,
			`ports[2].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"`,
			`ports[2].appProtocol: Invalid value: "-bad": ` + qualifiedNameMsg,
		},
	},
}

func TestValidateEndpointSlice(t *testing.T) {
	runCreateCases(t, endpointSliceCases, ValidateEndpointSlice)
}

var endpointSliceUpdateCases = []updateCase[*discoveryv1.EndpointSlice]{
	{
		name: "endpoints and ports may change",
		obj:  slice("eps", discoveryv1.AddressTypeIPv4, []discoveryv1.EndpointPort{slicePort("http", 81)}, sliceEndpoint("192.0.2.2")),
		old:  slice("eps", discoveryv1.AddressTypeIPv4, []discoveryv1.EndpointPort{slicePort("http", 80)}, sliceEndpoint("192.0.2.1")),
	},
	{
		name: "address type may not",
		obj:  slice("eps", discoveryv1.AddressTypeIPv6, nil, sliceEndpoint("2001:db8::1")),
		old:  slice("eps", discoveryv1.AddressTypeIPv4, nil, sliceEndpoint("192.0.2.1")),
		want: []string{`addressType: Invalid value: "IPv6": field is immutable`},
	},
}

func TestValidateEndpointSliceUpdate(t *testing.T) {
	runUpdateCases(t, endpointSliceUpdateCases, ValidateEndpointSliceUpdate)
}

package validation

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// endpoints builds an Endpoints object with one subset.
func endpoints(name string, subset corev1.EndpointSubset) *corev1.Endpoints {
	return &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "epdemo"},
		Subsets:    []corev1.EndpointSubset{subset},
	}
}

func addresses(ips ...string) []corev1.EndpointAddress {
	var out []corev1.EndpointAddress
	for _, ip := range ips {
		out = append(out, corev1.EndpointAddress{IP: ip})
	}
	return out
}

// port80 is a port as kubectl sends it after defaulting (protocol TCP).
var port80 = []corev1.EndpointPort{{Port: 80, Protocol: corev1.ProtocolTCP}}

var endpointsCases = []createCase[*corev1.Endpoints]{
	// Oracle case 086.
	{
		name: "086 loopback",
		obj:  endpoints("bad-ep-127-0-0-1", corev1.EndpointSubset{Addresses: addresses("127.0.0.1"), Ports: port80}),
		want: []string{`subsets[0].addresses[0].ip: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)`},
	},
	{
		name: "086 link-local",
		obj:  endpoints("bad-ep-169-254-1-1", corev1.EndpointSubset{Addresses: addresses("169.254.1.1"), Ports: port80}),
		want: []string{`subsets[0].addresses[0].ip: Invalid value: "169.254.1.1": may not be in the link-local range (169.254.0.0/16, fe80::/10)`},
	},
	{
		name: "086 link-local multicast",
		obj:  endpoints("bad-ep-224-0-0-5", corev1.EndpointSubset{Addresses: addresses("224.0.0.5"), Ports: port80}),
		want: []string{`subsets[0].addresses[0].ip: Invalid value: "224.0.0.5": may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)`},
	},
	{
		name: "086 not an IP is reported twice",
		obj:  endpoints("bad-ep-not-an-ip", corev1.EndpointSubset{Addresses: addresses("not-an-ip"), Ports: port80}),
		want: []string{
			`subsets[0].addresses[0].ip: Invalid value: "not-an-ip": ` + invalidIPMsg,
			`subsets[0].addresses[0].ip: Invalid value: "not-an-ip": must be a valid IP address`,
		},
	},
	{
		name: "086 bad ports",
		obj: endpoints("ep-badport", corev1.EndpointSubset{
			Addresses: addresses("192.0.2.50"),
			Ports:     []corev1.EndpointPort{{Port: 0, Protocol: corev1.ProtocolTCP}, {Port: 70000, Protocol: "HTTP"}},
		}),
		want: []string{
			`subsets[0].ports[0].name: Required value`,
			`subsets[0].ports[0].port: Invalid value: 0: ` + portRangeMsg,
			`subsets[0].ports[1].name: Required value`,
			`subsets[0].ports[1].port: Invalid value: 70000: ` + portRangeMsg,
			`subsets[0].ports[1].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"`,
		},
	},
	{
		name: "086 no ports is fine",
		obj:  endpoints("ep-noports", corev1.EndpointSubset{Addresses: addresses("192.0.2.51")}),
	},

	{
		name: "unspecified address",
		obj:  endpoints("ep", corev1.EndpointSubset{Addresses: addresses("0.0.0.0"), Ports: port80}),
		want: []string{`subsets[0].addresses[0].ip: Invalid value: "0.0.0.0": may not be unspecified (0.0.0.0)`},
	},
	{
		name: "IPv6 loopback and link-local",
		obj:  endpoints("ep", corev1.EndpointSubset{NotReadyAddresses: addresses("::1", "fe80::1"), Ports: port80}),
		want: []string{
			`subsets[0].notReadyAddresses[0].ip: Invalid value: "::1": may not be in the loopback range (127.0.0.0/8, ::1/128)`,
			`subsets[0].notReadyAddresses[1].ip: Invalid value: "fe80::1": may not be in the link-local range (169.254.0.0/16, fe80::/10)`,
		},
	},
	{
		name: "subset without addresses",
		obj:  endpoints("ep", corev1.EndpointSubset{Ports: port80}),
		want: []string{"subsets[0]: Required value: must specify `addresses` or `notReadyAddresses`"},
	},
	{
		name: "hostname, nodeName, port name and appProtocol",
		obj: endpoints("ep", corev1.EndpointSubset{
			Addresses: []corev1.EndpointAddress{{IP: "10.244.1.5", Hostname: "Web_1", NodeName: ptr.To("Node_A")}},
			Ports: []corev1.EndpointPort{
				{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, AppProtocol: ptr.To("a/b/c")},
				{Name: "Metrics", Port: 9090},
			},
		}),
		want: []string{
			`subsets[0].addresses[0].hostname: Invalid value: "Web_1": ` + dns1123LabelMsg,
			`subsets[0].addresses[0].nodeName: Invalid value: "Node_A": ` + dns1123SubdomainMsg,
			`subsets[0].ports[0].appProtocol: Invalid value: "a/b/c": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
			`subsets[0].ports[1].name: Invalid value: "Metrics": ` + dns1123LabelMsg,
			`subsets[0].ports[1].protocol: Required value`,
		},
	},
	{
		name: "finalizer without a domain",
		obj: func() *corev1.Endpoints {
			e := endpoints("ep", corev1.EndpointSubset{Addresses: addresses("10.244.1.5")})
			e.Finalizers = []string{"kubernetes", "example.com/keep", "keep"}
			return e
		}(),
		want: []string{`metadata.finalizers[2]: Invalid value: "keep": name is neither a standard finalizer name nor is it fully qualified`},
	},
}

func TestValidateEndpoints(t *testing.T) {
	runCreateCases(t, endpointsCases, ValidateEndpoints)
}

func TestValidateEndpointsUpdate(t *testing.T) {
	// Everything may change, including the node of an address.
	old := endpoints("ep", corev1.EndpointSubset{Addresses: []corev1.EndpointAddress{{IP: "10.244.1.5", NodeName: ptr.To("node-a")}}})
	obj := endpoints("ep", corev1.EndpointSubset{Addresses: []corev1.EndpointAddress{{IP: "10.244.2.5", NodeName: ptr.To("node-b")}}})
	checkErrors(t, ValidateEndpointsUpdate(obj, old), nil)
}

package service

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// The expected strings are kube-apiserver 1.32's, copied from the oracle
// cases in /work/shared/oracle/cases (kubectl prints each err.Error() after
// `The Service "x" is invalid: `, bulleted when there are several).

var edge = map[string]string{"app": "edge"}

// setDefaults applies Kubernetes 1.32's v1 Service defaults
// (SetDefaults_Service), which every request body gets before validation.
func setDefaults(svc *corev1.Service) {
	spec := &svc.Spec
	if spec.SessionAffinity == "" {
		spec.SessionAffinity = corev1.ServiceAffinityNone
	}
	if spec.SessionAffinity == corev1.ServiceAffinityNone {
		spec.SessionAffinityConfig = nil
	}
	if spec.SessionAffinity == corev1.ServiceAffinityClientIP && (spec.SessionAffinityConfig == nil ||
		spec.SessionAffinityConfig.ClientIP == nil || spec.SessionAffinityConfig.ClientIP.TimeoutSeconds == nil) {
		spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{
			ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr.To(corev1.DefaultClientIPServiceAffinitySeconds)},
		}
	}
	if spec.Type == "" {
		spec.Type = corev1.ServiceTypeClusterIP
	}
	for i := range spec.Ports {
		p := &spec.Ports[i]
		if p.Protocol == "" {
			p.Protocol = corev1.ProtocolTCP
		}
		if p.TargetPort == intstr.FromInt32(0) || p.TargetPort == intstr.FromString("") {
			p.TargetPort = intstr.FromInt32(p.Port)
		}
	}
	if externallyAccessible(spec) && spec.ExternalTrafficPolicy == "" {
		spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
	}
	switch spec.Type {
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer:
		if spec.InternalTrafficPolicy == nil {
			spec.InternalTrafficPolicy = ptr.To(corev1.ServiceInternalTrafficPolicyCluster)
		}
	}
	if spec.Type == corev1.ServiceTypeLoadBalancer {
		if spec.AllocateLoadBalancerNodePorts == nil {
			spec.AllocateLoadBalancerNodePorts = ptr.To(true)
		}
		for i, ing := range svc.Status.LoadBalancer.Ingress {
			if ing.IP != "" && ing.IPMode == nil {
				svc.Status.LoadBalancer.Ingress[i].IPMode = ptr.To(corev1.LoadBalancerIPModeVIP)
			}
		}
	}
}

// newService is a manifest as it reaches validation on create: defaulted,
// nothing allocated.
func newService(name string, spec corev1.ServiceSpec) *corev1.Service {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Spec: spec}
	setDefaults(svc)
	return svc
}

// stored is svc as it sits in storage after create: cluster IP, IP family
// fields and nodePorts allocated.
func stored(svc *corev1.Service, clusterIP string, nodePorts ...int32) *corev1.Service {
	svc = svc.DeepCopy()
	svc.Spec.ClusterIP = clusterIP
	svc.Spec.ClusterIPs = []string{clusterIP}
	svc.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol}
	svc.Spec.IPFamilyPolicy = ptr.To(corev1.IPFamilyPolicySingleStack)
	for i, np := range nodePorts {
		svc.Spec.Ports[i].NodePort = np
	}
	return svc
}

func port(p int32) []corev1.ServicePort { return []corev1.ServicePort{{Port: p}} }

func clientIPTimeout(seconds int32) *corev1.SessionAffinityConfig {
	return &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr.To(seconds)}}
}

func errStrings(errs field.ErrorList) []string {
	out := []string{}
	for _, err := range errs {
		out = append(out, err.Error())
	}
	return out
}

func checkErrs(t *testing.T, got field.ErrorList, want []string, unordered bool) {
	t.Helper()
	gotS := errStrings(got)
	if want == nil {
		want = []string{}
	}
	if unordered { // errors about map entries come in Go map order
		slices.Sort(gotS)
		want = slices.Sorted(slices.Values(want))
	}
	if !slices.Equal(gotS, want) {
		t.Errorf("got:\n  %q\nwant:\n  %q", gotS, want)
	}
}

const (
	portRange         = "must be between 1 and 65535, inclusive"
	dns1123Subdomain  = `a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`
	dns1123Label      = `a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`
	qualifiedNamePart = `name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`
	labelValue        = `a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`
)

func TestValidateService(t *testing.T) {
	long74 := "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	long64 := "a234567890123456789012345678901234567890123456789012345678901234"

	cases := []struct {
		name      string // oracle case / manifest
		svc       *corev1.Service
		want      []string
		unordered bool
	}{
		// Ports.
		{"035 port-0", newService("port-0", corev1.ServiceSpec{Selector: edge,
			Ports: []corev1.ServicePort{{Port: 0, TargetPort: intstr.FromInt32(8080)}}}),
			[]string{"spec.ports[0].port: Invalid value: 0: " + portRange}, false},
		{"036 port-70000", newService("port-70000", corev1.ServiceSpec{Selector: edge,
			Ports: []corev1.ServicePort{{Port: 70000, TargetPort: intstr.FromInt32(8080)}}}),
			[]string{"spec.ports[0].port: Invalid value: 70000: " + portRange}, false},
		{"037 targetport-0 (defaulted to port)", newService("targetport-0", corev1.ServiceSpec{Selector: edge,
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(0)}}}), nil, false},
		{"038 targetport-65536", newService("targetport-65536", corev1.ServiceSpec{Selector: edge,
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(65536)}}}),
			[]string{"spec.ports[0].targetPort: Invalid value: 65536: " + portRange}, false},
		{"039 targetport-named-invalid", newService("targetport-named-invalid", corev1.ServiceSpec{Selector: edge,
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromString("HTTP_PORT")}}}),
			[]string{
				`spec.ports[0].targetPort: Invalid value: "HTTP_PORT": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)`,
				`spec.ports[0].targetPort: Invalid value: "HTTP_PORT": must contain at least one letter (a-z)`,
			}, false},
		{"040 targetport-named-too-long", newService("targetport-named-too-long", corev1.ServiceSpec{Selector: edge,
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromString("this-name-is-way-too-long")}}}),
			[]string{`spec.ports[0].targetPort: Invalid value: "this-name-is-way-too-long": must be no more than 15 characters`}, false},
		{"041 targetport-numeric-string", newService("targetport-numeric-string", corev1.ServiceSpec{Selector: edge,
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromString("8080")}}}),
			[]string{`spec.ports[0].targetPort: Invalid value: "8080": must contain at least one letter (a-z)`}, false},
		{"042 targetport-named-double-hyphen", newService("targetport-named-double-hyphen", corev1.ServiceSpec{Selector: edge,
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromString("http--alt")}}}),
			[]string{`spec.ports[0].targetPort: Invalid value: "http--alt": must not contain consecutive hyphens`}, false},
		{"043 port-negative", newService("port-negative", corev1.ServiceSpec{Selector: edge,
			Ports: []corev1.ServicePort{{Port: -1, TargetPort: intstr.FromInt32(8080)}}}),
			[]string{"spec.ports[0].port: Invalid value: -1: " + portRange}, false},
		{"044 targetport-negative", newService("targetport-negative", corev1.ServiceSpec{Selector: edge,
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(-5)}}}),
			[]string{"spec.ports[0].targetPort: Invalid value: -5: " + portRange}, false},
		{"045 two-ports", newService("two-ports", corev1.ServiceSpec{Selector: edge, Ports: []corev1.ServicePort{
			{Port: 80, TargetPort: intstr.FromInt32(8080)}, {Port: 443, TargetPort: intstr.FromInt32(8443)}}}),
			[]string{"spec.ports[0].name: Required value", "spec.ports[1].name: Required value"}, false},
		{"045 two-ports-one-name", newService("two-ports", corev1.ServiceSpec{Selector: edge, Ports: []corev1.ServicePort{
			{Port: 80, TargetPort: intstr.FromInt32(8080)}, {Name: "https", Port: 443, TargetPort: intstr.FromInt32(8443)}}}),
			[]string{"spec.ports[0].name: Required value"}, false},
		{"007 karma-daemon-nonames (NodePort)", newService("karma-daemon", corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort,
			Selector: map[string]string{"app": "karma-daemon"}, Ports: []corev1.ServicePort{
				{Port: 80, TargetPort: intstr.FromInt32(80)}, {Port: 2121, TargetPort: intstr.FromInt32(2121)}}}),
			[]string{"spec.ports[0].name: Required value", "spec.ports[1].name: Required value"}, false},
		{"046 dup-names", newService("dup-names", corev1.ServiceSpec{Selector: edge, Ports: []corev1.ServicePort{
			{Name: "web", Port: 80}, {Name: "web", Port: 443}}}),
			[]string{`spec.ports[1].name: Duplicate value: "web"`}, false},
		{"047 dup-port", newService("dup-port", corev1.ServiceSpec{Selector: edge, Ports: []corev1.ServicePort{
			{Name: "a", Port: 80, TargetPort: intstr.FromInt32(8080)}, {Name: "b", Port: 80, TargetPort: intstr.FromInt32(9090)}}}),
			[]string{`spec.ports[1]: Duplicate value: core.ServicePort{Name:"", Protocol:"TCP", AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}`}, false},
		{"047 dup-port-tcpudp", newService("dup-port-tcpudp", corev1.ServiceSpec{Selector: edge, Ports: []corev1.ServicePort{
			{Name: "a", Port: 80, Protocol: corev1.ProtocolTCP}, {Name: "b", Port: 80, Protocol: corev1.ProtocolUDP}}}), nil, false},
		{"048 proto-http", newService("proto-http", corev1.ServiceSpec{Selector: edge,
			Ports: []corev1.ServicePort{{Port: 80, Protocol: "HTTP"}}}),
			[]string{`spec.ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"`}, false},
		{"048 proto-tcp", newService("proto-tcp", corev1.ServiceSpec{Selector: edge,
			Ports: []corev1.ServicePort{{Port: 80, Protocol: "tcp"}}}),
			[]string{`spec.ports[0].protocol: Unsupported value: "tcp": supported values: "SCTP", "TCP", "UDP"`}, false},
		{"048 proto-sctp", newService("proto-sctp", corev1.ServiceSpec{Selector: edge,
			Ports: []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolSCTP}}}), nil, false},
		{"071 pn-http", newService("pn-http", corev1.ServiceSpec{Selector: edge,
			Ports: []corev1.ServicePort{{Name: "HTTP", Port: 80}}}),
			[]string{`spec.ports[0].name: Invalid value: "HTTP": ` + dns1123Label}, false},
		{"071 pn-http-port-name-toolong", newService("pn-http-port-name-toolong", corev1.ServiceSpec{Selector: edge,
			Ports: []corev1.ServicePort{{Name: "http-port-name-toolong", Port: 80}}}), nil, false},
		{"071 pn-1http", newService("pn-1http", corev1.ServiceSpec{Selector: edge,
			Ports: []corev1.ServicePort{{Name: "1http", Port: 80}}}), nil, false},
		{"071 pn-8080", newService("pn-8080", corev1.ServiceSpec{Selector: edge,
			Ports: []corev1.ServicePort{{Name: "8080", Port: 80}}}), nil, false},
		{"071 pn-http (http-)", newService("pn-http", corev1.ServiceSpec{Selector: edge,
			Ports: []corev1.ServicePort{{Name: "http-", Port: 80}}}),
			[]string{`spec.ports[0].name: Invalid value: "http-": ` + dns1123Label}, false},
		{"071 pn-web-ui", newService("pn-web-ui", corev1.ServiceSpec{Selector: edge,
			Ports: []corev1.ServicePort{{Name: "web_ui", Port: 80}}}),
			[]string{`spec.ports[0].name: Invalid value: "web_ui": ` + dns1123Label}, false},
		{"072 approto", newService("approto", corev1.ServiceSpec{Selector: edge, Ports: []corev1.ServicePort{
			{Name: "http", Port: 80, AppProtocol: ptr.To("http")},
			{Name: "h2c", Port: 81, AppProtocol: ptr.To("kubernetes.io/h2c")},
			{Name: "custom", Port: 82, AppProtocol: ptr.To("example.com/custom")}}}), nil, false},
		{"072 approto-bad", newService("approto-bad", corev1.ServiceSpec{Selector: edge,
			Ports: []corev1.ServicePort{{Port: 80, AppProtocol: ptr.To("bad proto")}}}),
			[]string{`spec.ports[0].appProtocol: Invalid value: "bad proto": ` + qualifiedNamePart}, false},

		// nodePort rules that are validation (range and conflicts are allocation).
		{"056 cip-np", newService("cip-np", corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, Selector: edge,
			Ports: []corev1.ServicePort{{Port: 80, NodePort: 30090}}}),
			[]string{"spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"}, false},
		{"056 cip-np-notype", newService("cip-np", corev1.ServiceSpec{Selector: edge,
			Ports: []corev1.ServicePort{{Port: 80, NodePort: 30090}}}),
			[]string{"spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"}, false},
		{"031 np-30000", newService("np-30000", corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Selector: map[string]string{"app": "np"},
			Ports: []corev1.ServicePort{{Port: 80, NodePort: 30000}}}), nil, false},
		{"033 np-tcpudp", newService("np-tcpudp", corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Selector: map[string]string{"app": "dns"},
			Ports: []corev1.ServicePort{
				{Name: "dns-tcp", Protocol: corev1.ProtocolTCP, Port: 53, TargetPort: intstr.FromInt32(53), NodePort: 30053},
				{Name: "dns-udp", Protocol: corev1.ProtocolUDP, Port: 53, TargetPort: intstr.FromInt32(53), NodePort: 30053}}}), nil, false},
		{"034 np-auto-tcpudp", newService("np-auto-tcpudp", corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Selector: map[string]string{"app": "dns"},
			Ports: []corev1.ServicePort{{Name: "dns-tcp", Protocol: corev1.ProtocolTCP, Port: 53}, {Name: "dns-udp", Protocol: corev1.ProtocolUDP, Port: 53}}}),
			nil, false},
		{"076 reuse", newService("reuse", corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, ClusterIP: "10.96.77.77", Selector: edge,
			Ports: []corev1.ServicePort{{Port: 80, NodePort: 30777}}}), nil, false},

		// clusterIP.
		{"049 cip-bad", newService("cip-bad", corev1.ServiceSpec{ClusterIP: "10.96.0.300", Selector: edge, Ports: port(80)}),
			[]string{`spec.clusterIPs[0]: Invalid value: "10.96.0.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)`}, false},
		{"049 cip-10.111.255.254", newService("cip-10-111-255-254", corev1.ServiceSpec{ClusterIP: "10.111.255.254", Selector: edge, Ports: port(80)}),
			nil, false},
		{"051 headless-np", newService("headless-np", corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, ClusterIP: "None", Selector: edge, Ports: port(80)}),
			[]string{`spec.clusterIPs[0]: Invalid value: "None": may not be set to 'None' for NodePort services`}, false},
		{"051 headless-lb", newService("headless-lb", corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ClusterIP: "None", Selector: edge, Ports: port(80)}),
			[]string{`spec.clusterIPs[0]: Invalid value: "None": may not be set to 'None' for LoadBalancer services`}, false},
		{"052 headless", newService("headless", corev1.ServiceSpec{ClusterIP: "None", Selector: edge,
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}}), nil, false},
		{"052 headless-noports", newService("headless-noports", corev1.ServiceSpec{ClusterIP: "None", Selector: edge}), nil, false},
		{"052 noports", newService("noports", corev1.ServiceSpec{Selector: edge}),
			[]string{"spec.ports: Required value"}, false},

		// ExternalName.
		{"053 extname-missing", newService("extname-missing", corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName}),
			[]string{"spec.externalName: Required value"}, false},
		{"054 my_service.example.com", newService("en-my-service-example-com", corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName,
			ExternalName: "my_service.example.com"}),
			[]string{`spec.externalName: Invalid value: "my_service.example.com": ` + dns1123Subdomain}, false},
		{"054 foo.example.com.", newService("en-foo-example-com", corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName,
			ExternalName: "foo.example.com."}), nil, false},
		{"054 192.0.2.10", newService("en-192-0-2-10", corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName,
			ExternalName: "192.0.2.10"}), nil, false},
		{"054 -bad.example.com", newService("en-bad-example-com", corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName,
			ExternalName: "-bad.example.com"}),
			[]string{`spec.externalName: Invalid value: "-bad.example.com": ` + dns1123Subdomain}, false},
		{"054 UPPER.Example.COM", newService("en-upper-example-com", corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName,
			ExternalName: "UPPER.Example.COM"}),
			[]string{`spec.externalName: Invalid value: "UPPER.Example.COM": ` + dns1123Subdomain}, false},
		{"055 my-database", newService("my-database", corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName,
			ExternalName: "db.example.com", Ports: port(5432)}), nil, false},
		{"055 extname-cip", newService("extname-cip", corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName,
			ExternalName: "db.example.com", ClusterIP: "10.96.100.101"}),
			[]string{"spec.clusterIPs: Forbidden: may not be set for ExternalName services"}, false},
		{"055 extname-sel", newService("extname-sel", corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName,
			ExternalName: "db.example.com", Selector: map[string]string{"app": "db"}}), nil, false},

		// Traffic policies.
		{"057 etp-cip", newService("etp-cip", corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP,
			ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal, Selector: edge, Ports: port(80)}),
			[]string{`spec.externalTrafficPolicy: Invalid value: "Local": may only be set for externally-accessible services`}, false},
		{"057 etp-np", newService("etp-np", corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort,
			ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal, Selector: edge, Ports: port(80)}), nil, false},
		{"057 etp-bad", newService("etp-bad", corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, ExternalTrafficPolicy: "Foo",
			InternalTrafficPolicy: ptr.To(corev1.ServiceInternalTrafficPolicy("Bar")), Selector: edge, Ports: port(80)}),
			[]string{
				`spec.externalTrafficPolicy: Unsupported value: "Foo": supported values: "Cluster", "Local"`,
				`spec.internalTrafficPolicy: Unsupported value: "Bar": supported values: "Cluster", "Local"`,
			}, false},
		{"057 itp-local", newService("itp-local", corev1.ServiceSpec{
			InternalTrafficPolicy: ptr.To(corev1.ServiceInternalTrafficPolicyLocal), Selector: edge, Ports: port(80)}), nil, false},
		{"064 lb-local (healthCheckNodePort not allocated yet)", newService("lb-local", corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer,
			ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal, Selector: edge,
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}}), nil, false},
		{"064 lb-hc", newService("lb-hc", corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer,
			ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal, HealthCheckNodePort: 32000, Selector: edge, Ports: port(80)}),
			nil, false},
		{"064 lb-hc-cluster", newService("lb-hc-cluster", corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer,
			ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyCluster, HealthCheckNodePort: 32001, Selector: edge, Ports: port(80)}),
			[]string{"spec.healthCheckNodePort: Invalid value: 32001: may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"}, false},

		// Session affinity.
		{"058 sa-clientip", newService("sa-clientip", corev1.ServiceSpec{SessionAffinity: corev1.ServiceAffinityClientIP,
			Selector: edge, Ports: port(80)}), nil, false},
		{"058 sa-timeout-0", newService("sa-timeout-0", corev1.ServiceSpec{SessionAffinity: corev1.ServiceAffinityClientIP,
			SessionAffinityConfig: clientIPTimeout(0), Selector: edge, Ports: port(80)}),
			[]string{"spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 0: must be greater than 0 and less than 86400"}, false},
		{"058 sa-timeout-86401", newService("sa-timeout-86401", corev1.ServiceSpec{SessionAffinity: corev1.ServiceAffinityClientIP,
			SessionAffinityConfig: clientIPTimeout(86401), Selector: edge, Ports: port(80)}),
			[]string{"spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 86401: must be greater than 0 and less than 86400"}, false},
		{"058 sa-timeout-86400", newService("sa-timeout-86400", corev1.ServiceSpec{SessionAffinity: corev1.ServiceAffinityClientIP,
			SessionAffinityConfig: clientIPTimeout(86400), Selector: edge, Ports: port(80)}), nil, false},
		{"058 sa-none-config (defaulting drops the config)", newService("sa-none-config", corev1.ServiceSpec{SessionAffinity: corev1.ServiceAffinityNone,
			SessionAffinityConfig: clientIPTimeout(100), Selector: edge, Ports: port(80)}), nil, false},
		{"058 sa-bad", newService("sa-bad", corev1.ServiceSpec{SessionAffinity: "Cookie", Selector: edge, Ports: port(80)}),
			[]string{`spec.sessionAffinity: Unsupported value: "Cookie": supported values: "ClientIP", "None"`}, false},

		// Selector.
		{"059 sel-bad", newService("sel-bad", corev1.ServiceSpec{Selector: map[string]string{
			"app": "my app!", "bad key/with/slashes": "x", "ok-key": "-starts-with-dash"}, Ports: port(80)}),
			[]string{
				`spec.selector: Invalid value: "my app!": ` + labelValue,
				`spec.selector: Invalid value: "bad key/with/slashes": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
				`spec.selector: Invalid value: "-starts-with-dash": ` + labelValue,
			}, true},
		{"059 sel-long", newService("sel-long", corev1.ServiceSpec{Selector: map[string]string{"app": long74}, Ports: port(80)}),
			[]string{`spec.selector: Invalid value: "` + long74 + `": must be no more than 63 characters`}, false},
		{"059 sel-empty", newService("sel-empty", corev1.ServiceSpec{Selector: map[string]string{"app": ""}, Ports: port(80)}), nil, false},
		{"069 create service clusterip <64 chars> (spec part)", newService(long64, corev1.ServiceSpec{
			Selector: map[string]string{"app": long64}, Ports: []corev1.ServicePort{{Name: "80-80", Port: 80}}}),
			[]string{`spec.selector: Invalid value: "` + long64 + `": must be no more than 63 characters`}, false},

		// Type.
		{"070 type-Foo", newService("type-foo", corev1.ServiceSpec{Type: "Foo", Selector: edge, Ports: port(80)}),
			[]string{`spec.type: Unsupported value: "Foo": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"`}, false},
		{"070 type-nodeport", newService("type-nodeport", corev1.ServiceSpec{Type: "nodeport", Selector: edge, Ports: port(80)}),
			[]string{`spec.type: Unsupported value: "nodeport": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"`}, false},

		// IP families on this single-stack IPv4 cluster.
		{"073 ipf-RequireDualStack", newService("ipf-requiredualstack", corev1.ServiceSpec{
			IPFamilyPolicy: ptr.To(corev1.IPFamilyPolicyRequireDualStack), Selector: edge, Ports: port(80)}),
			[]string{`spec.ipFamilyPolicy: Invalid value: "RequireDualStack": this cluster is not configured for dual-stack services`}, false},
		{"073 ipf-PreferDualStack", newService("ipf-preferdualstack", corev1.ServiceSpec{
			IPFamilyPolicy: ptr.To(corev1.IPFamilyPolicyPreferDualStack), Selector: edge, Ports: port(80)}), nil, false},
		{"073 ipf-v6", newService("ipf-v6", corev1.ServiceSpec{
			IPFamilies: []corev1.IPFamily{corev1.IPv6Protocol}, Selector: edge, Ports: port(80)}),
			[]string{`spec.ipFamilies[0]: Invalid value: "IPv6": not configured on this cluster`}, false},
		{"073 ipf-bad", newService("ipf-bad", corev1.ServiceSpec{IPFamilyPolicy: ptr.To(corev1.IPFamilyPolicySingleStack),
			IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}, Selector: edge, Ports: port(80)}),
			[]string{`spec.ipFamilyPolicy: Invalid value: "SingleStack": must be 'RequireDualStack' or 'PreferDualStack' when multiple IP families are specified`}, false},
		{"073 cips-two", newService("cips-two", corev1.ServiceSpec{ClusterIPs: []string{"10.96.50.50", "10.96.50.51"}, Selector: edge, Ports: port(80)}),
			[]string{
				"spec.clusterIPs: Invalid value: []string{\"10.96.50.50\", \"10.96.50.51\"}: must be empty when `clusterIP` is not specified",
				`spec.clusterIPs: Invalid value: []string{"10.96.50.50", "10.96.50.51"}: may specify no more than one IP for each IP family`,
			}, false},
		{"073 cips-mismatch", newService("cips-mismatch", corev1.ServiceSpec{ClusterIP: "10.96.50.52", ClusterIPs: []string{"10.96.50.53"},
			Selector: edge, Ports: port(80)}),
			[]string{"spec.clusterIPs: Invalid value: []string{\"10.96.50.53\"}: first value must match `clusterIP`"}, false},

		// externalIPs.
		{"074 eip-192-0-2-10", newService("eip-192-0-2-10", corev1.ServiceSpec{ExternalIPs: []string{"192.0.2.10"}, Selector: edge, Ports: port(80)}),
			nil, false},
		{"074 eip-127-0-0-1", newService("eip-127-0-0-1", corev1.ServiceSpec{ExternalIPs: []string{"127.0.0.1"}, Selector: edge, Ports: port(80)}),
			[]string{`spec.externalIPs[0]: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)`}, false},
		{"074 eip-0-0-0-0", newService("eip-0-0-0-0", corev1.ServiceSpec{ExternalIPs: []string{"0.0.0.0"}, Selector: edge, Ports: port(80)}),
			[]string{`spec.externalIPs[0]: Invalid value: "0.0.0.0": may not be unspecified (0.0.0.0)`}, false},
		{"074 eip-not-an-ip", newService("eip-not-an-ip", corev1.ServiceSpec{ExternalIPs: []string{"not-an-ip"}, Selector: edge, Ports: port(80)}),
			[]string{`spec.externalIPs[0]: Invalid value: "not-an-ip": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)`}, false},
		{"074 eip-224-0-0-1", newService("eip-224-0-0-1", corev1.ServiceSpec{ExternalIPs: []string{"224.0.0.1"}, Selector: edge, Ports: port(80)}),
			[]string{`spec.externalIPs[0]: Invalid value: "224.0.0.1": may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)`}, false},

		// LoadBalancer fields.
		{"075 lbsr", newService("lbsr", corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer,
			LoadBalancerSourceRanges: []string{"203.0.113.0/24", "198.51.100.7/32"}, LoadBalancerIP: "203.0.113.50",
			LoadBalancerClass: ptr.To("example.com/my-lb"), Selector: edge, Ports: port(80)}), nil, false},
		{"075 lbsr-bad", newService("lbsr-bad", corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer,
			LoadBalancerSourceRanges: []string{"203.0.113.0/33", "banana"}, LoadBalancerClass: ptr.To("not a class"),
			Selector: edge, Ports: port(80)}),
			[]string{
				`spec.LoadBalancerSourceRanges[0]: Invalid value: "203.0.113.0/33": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)`,
				`spec.LoadBalancerSourceRanges[1]: Invalid value: "banana": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)`,
				`spec.loadBalancerClass: Invalid value: "not a class": ` + qualifiedNamePart,
			}, false},
		{"075 lbsr-cip", newService("lbsr-cip", corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP,
			LoadBalancerSourceRanges: []string{"203.0.113.0/24"}, LoadBalancerClass: ptr.To("example.com/my-lb"),
			Selector: edge, Ports: port(80)}),
			[]string{
				"spec.LoadBalancerSourceRanges: Forbidden: may only be used when `type` is 'LoadBalancer'",
				"spec.loadBalancerClass: Forbidden: may only be used when `type` is 'LoadBalancer'",
			}, false},
		{"065 lb-nonp", newService("lb-nonp", corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer,
			AllocateLoadBalancerNodePorts: ptr.To(false), Selector: edge,
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}}), nil, false},
		{"065 np-alloc", newService("np-alloc", corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort,
			AllocateLoadBalancerNodePorts: ptr.To(false), Selector: edge, Ports: port(80)}),
			[]string{"spec.allocateLoadBalancerNodePorts: Forbidden: may only be used when `type` is 'LoadBalancer'"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkErrs(t, ValidateService(tc.svc), tc.want, tc.unordered)
		})
	}
}

// TestValidateServiceLeavesAllocationErrors: these oracle errors come from
// Kubernetes' allocators, not from validation, so ValidateService must pass
// the manifests and leave the message (quoted here for the allocator) to them.
func TestValidateServiceLeavesAllocationErrors(t *testing.T) {
	np := func(name string, nodePort int32) *corev1.Service {
		return newService(name, corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Selector: map[string]string{"app": "np"},
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080), NodePort: nodePort}}})
	}
	cip := func(name, ip string) *corev1.Service {
		return newService(name, corev1.ServiceSpec{ClusterIP: ip, Selector: edge, Ports: port(80)})
	}
	const outOfRange = "provided port is not in the valid range. The range of valid ports is 30000-32767"
	cases := []struct {
		name      string
		svc       *corev1.Service
		allocator string // the oracle's answer
	}{
		{"030 np-9090", np("np-9090", 9090), "spec.ports[0].nodePort: Invalid value: 9090: " + outOfRange},
		{"031 np-29999", np("np-29999", 29999), "spec.ports[0].nodePort: Invalid value: 29999: " + outOfRange},
		{"031 np-32768", np("np-32768", 32768), "spec.ports[0].nodePort: Invalid value: 32768: " + outOfRange},
		{"032 np-dup", np("np-dup", 30080), "spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated"},
		{"033 np-udp-only", newService("np-udp-only", corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort,
			Selector: map[string]string{"app": "dns"}, Ports: []corev1.ServicePort{{Protocol: corev1.ProtocolUDP, Port: 5353, NodePort: 30053}}}),
			"spec.ports[0].nodePort: Invalid value: 30053: provided port is already allocated"},
		{"034 np-twice", newService("np-twice", corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Selector: map[string]string{"app": "np"},
			Ports: []corev1.ServicePort{{Name: "a", Port: 80, NodePort: 30081}, {Name: "b", Port: 81, NodePort: 30081}}}),
			"spec.ports[1].nodePort: Invalid value: 30081: provided port is already allocated"},
		{"049 cip-outside", cip("cip-outside", "10.200.0.10"),
			`spec.clusterIPs: Invalid value: []string{"10.200.0.10"}: failed to allocate IP 10.200.0.10: the provided IP (10.200.0.10) is not in the valid range. The range of valid IPs is 10.96.0.0/12`},
		{"049 cip-10.96.0.0", cip("cip-10-96-0-0", "10.96.0.0"),
			`spec.clusterIPs: Invalid value: []string{"10.96.0.0"}: failed to allocate IP 10.96.0.0: the provided IP (10.96.0.0) is not in the valid range. The range of valid IPs is 10.96.0.0/12`},
		{"049 cip-10.111.255.255", cip("cip-10-111-255-255", "10.111.255.255"),
			`spec.clusterIPs: Invalid value: []string{"10.111.255.255"}: failed to allocate IP 10.111.255.255: the provided IP (10.111.255.255) is not in the valid range. The range of valid IPs is 10.96.0.0/12`},
		{"049 cip-10.96.0.1", cip("cip-10-96-0-1", "10.96.0.1"),
			`spec.clusterIPs: Invalid value: []string{"10.96.0.1"}: failed to allocate IP 10.96.0.1: provided IP is already allocated`},
		{"050 cip-b", cip("cip-b", "10.96.100.100"),
			`spec.clusterIPs: Invalid value: []string{"10.96.100.100"}: failed to allocate IP 10.96.100.100: provided IP is already allocated`},
		{"064 lb-hc-dup", newService("lb-hc-dup", corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer,
			ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal, HealthCheckNodePort: 30080, Selector: edge, Ports: port(80)}),
			`(InternalError, HTTP 500) Internal error occurred: failed to allocate requested HealthCheck NodePort 30080: provided port is already allocated`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if errs := ValidateService(tc.svc); len(errs) > 0 {
				t.Errorf("got %q; Kubernetes answers only from its allocator: %s", errStrings(errs), tc.allocator)
			}
		})
	}
}

func TestValidateServiceUpdate(t *testing.T) {
	// Stored objects of earlier oracle cases.
	myService := stored(newService("my-service", corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP,
		Selector: map[string]string{"app": "MyApp"},
		Ports:    []corev1.ServicePort{{Protocol: corev1.ProtocolTCP, Port: 8080, TargetPort: intstr.FromInt32(80)}}}),
		"10.103.43.160")
	lbsr := stored(newService("lbsr", corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer,
		LoadBalancerSourceRanges: []string{"203.0.113.0/24", "198.51.100.7/32"}, LoadBalancerIP: "203.0.113.50",
		LoadBalancerClass: ptr.To("example.com/my-lb"), Selector: edge, Ports: port(80)}), "10.100.1.1", 31000)
	tchange := stored(newService("tchange", corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Selector: edge,
		Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}}), "10.100.2.2", 31234)
	lbLocal := stored(newService("lb-local", corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer,
		ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal, Selector: edge,
		Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}}), "10.100.3.3", 31500)
	lbLocal.Spec.HealthCheckNodePort = 31501

	// change returns old with edit applied, as the registry hands it to
	// validation: type-dependent fields dropped and clusterIP(s) reconciled.
	change := func(old *corev1.Service, edit func(*corev1.ServiceSpec)) *corev1.Service {
		svc := old.DeepCopy()
		edit(&svc.Spec)
		return svc
	}

	cases := []struct {
		name     string
		old, svc *corev1.Service
		want     []string
	}{
		{"052 patch clusterIP None", myService, change(myService, func(s *corev1.ServiceSpec) {
			s.ClusterIP, s.ClusterIPs = "None", []string{"None"}
		}), []string{`spec.clusterIPs[0]: Invalid value: []string{"None"}: may not change once set`}},
		{"062 patch clusterIP", myService, change(myService, func(s *corev1.ServiceSpec) {
			s.ClusterIP, s.ClusterIPs = "10.96.200.200", []string{"10.96.200.200"}
		}), []string{`spec.clusterIPs[0]: Invalid value: []string{"10.96.200.200"}: may not change once set`}},
		{"062 replace clusterIPs only", myService, change(myService, func(s *corev1.ServiceSpec) {
			s.ClusterIPs = []string{"10.96.200.200"}
		}), []string{"spec.clusterIPs: Invalid value: []string{\"10.96.200.200\"}: first value must match `clusterIP`"}},
		{"075 patch loadBalancerClass", lbsr, change(lbsr, func(s *corev1.ServiceSpec) {
			s.LoadBalancerClass = ptr.To("example.com/other")
		}), []string{`spec.loadBalancerClass: Invalid value: "example.com/other": may not change once set`}},
		{"060 NodePort -> ClusterIP", tchange, change(tchange, func(s *corev1.ServiceSpec) {
			s.Type, s.ExternalTrafficPolicy, s.Ports[0].NodePort = corev1.ServiceTypeClusterIP, "", 0
		}), nil},
		{"061 ClusterIP -> NodePort (nodePort not allocated yet)", change(tchange, func(s *corev1.ServiceSpec) {
			s.Type, s.ExternalTrafficPolicy, s.Ports[0].NodePort = corev1.ServiceTypeClusterIP, "", 0
		}), change(tchange, func(s *corev1.ServiceSpec) { s.Ports[0].NodePort = 0 }), nil},
		{"061 NodePort -> LoadBalancer", tchange, change(tchange, func(s *corev1.ServiceSpec) {
			s.Type, s.AllocateLoadBalancerNodePorts = corev1.ServiceTypeLoadBalancer, ptr.To(true)
		}), nil},
		{"061 LoadBalancer -> ExternalName", change(tchange, func(s *corev1.ServiceSpec) {
			s.Type, s.AllocateLoadBalancerNodePorts = corev1.ServiceTypeLoadBalancer, ptr.To(true)
		}), change(tchange, func(s *corev1.ServiceSpec) {
			s.Type, s.ExternalName = corev1.ServiceTypeExternalName, "x.example.com"
			s.ClusterIP, s.ClusterIPs, s.IPFamilies, s.IPFamilyPolicy = "", nil, nil, nil
			s.ExternalTrafficPolicy, s.Ports[0].NodePort = "", 0
		}), nil},
		{"061 ExternalName -> ClusterIP", change(tchange, func(s *corev1.ServiceSpec) {
			s.Type, s.ExternalName = corev1.ServiceTypeExternalName, "x.example.com"
			s.ClusterIP, s.ClusterIPs, s.IPFamilies, s.IPFamilyPolicy = "", nil, nil, nil
			s.ExternalTrafficPolicy, s.Ports[0].NodePort = "", 0
		}), change(tchange, func(s *corev1.ServiceSpec) {
			s.Type, s.ExternalName = corev1.ServiceTypeClusterIP, "x.example.com"
			s.ClusterIP, s.ClusterIPs, s.IPFamilies, s.IPFamilyPolicy = "", nil, nil, nil
			s.ExternalTrafficPolicy, s.Ports[0].NodePort = "", 0
		}), nil},
		{"063 nodePort 31111", tchange, change(tchange, func(s *corev1.ServiceSpec) { s.Ports[0].NodePort = 31111 }), nil},
		{"064 Local -> Cluster", lbLocal, change(lbLocal, func(s *corev1.ServiceSpec) {
			s.ExternalTrafficPolicy, s.HealthCheckNodePort = corev1.ServiceExternalTrafficPolicyCluster, 0
		}), nil},
		{"065 allocateLoadBalancerNodePorts flip", lbsr, change(lbsr, func(s *corev1.ServiceSpec) {
			s.AllocateLoadBalancerNodePorts = ptr.To(false)
		}), nil},
		// Not in the oracle: Kubernetes' rule for an allocated healthCheckNodePort.
		{"healthCheckNodePort immutable", lbLocal, change(lbLocal, func(s *corev1.ServiceSpec) { s.HealthCheckNodePort = 31502 }),
			[]string{"spec.healthCheckNodePort: Forbidden: field is immutable"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// The order internal/registry's strategy uses.
			errs := append(ValidateService(tc.svc), ValidateServiceUpdate(tc.svc, tc.old)...)
			checkErrs(t, errs, tc.want, false)
		})
	}
}

func TestValidateServiceStatusUpdate(t *testing.T) {
	myLB := stored(newService("my-lb-service", corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer,
		Selector: map[string]string{"app": "my-lb"}, Ports: []corev1.ServicePort{{Port: 8080, TargetPort: intstr.FromInt32(80)}}}),
		"10.101.39.177", 31066)
	myService := stored(newService("my-service", corev1.ServiceSpec{Selector: map[string]string{"app": "MyApp"},
		Ports: []corev1.ServicePort{{Port: 8080, TargetPort: intstr.FromInt32(80)}}}), "10.103.43.160")

	// withIngress is svc after a status patch, defaulted.
	withIngress := func(svc *corev1.Service, ing ...corev1.LoadBalancerIngress) *corev1.Service {
		svc = svc.DeepCopy()
		svc.Status.LoadBalancer.Ingress = ing
		setDefaults(svc)
		return svc
	}
	cases := []struct {
		name string
		svc  *corev1.Service
		old  *corev1.Service
		want []string
	}{
		{"106 ip (ipMode defaulted)", withIngress(myLB, corev1.LoadBalancerIngress{IP: "192.0.2.100"}), myLB, nil},
		{"106 Proxy and hostname", withIngress(myLB,
			corev1.LoadBalancerIngress{IP: "192.0.2.100", IPMode: ptr.To(corev1.LoadBalancerIPModeProxy)},
			corev1.LoadBalancerIngress{Hostname: "lb.example.com"}), myLB, nil},
		{"106 not-an-ip", withIngress(myLB, corev1.LoadBalancerIngress{IP: "not-an-ip"}), myLB,
			[]string{`status.loadBalancer.ingress[0].ip: Invalid value: "not-an-ip": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)`}},
		{"106 hostname is an IP", withIngress(myLB, corev1.LoadBalancerIngress{Hostname: "192.0.2.7"}), myLB,
			[]string{`status.loadBalancer.ingress[0].hostname: Invalid value: "192.0.2.7": must be a DNS name, not an IP address`}},
		{"106 ipMode Bogus", withIngress(myLB, corev1.LoadBalancerIngress{IP: "192.0.2.100", IPMode: ptr.To(corev1.LoadBalancerIPMode("Bogus"))}), myLB,
			[]string{`status.loadBalancer.ingress[0].ipMode: Unsupported value: "Bogus": supported values: "Proxy", "VIP"`}},
		{"106 ingress on ClusterIP", withIngress(myService, corev1.LoadBalancerIngress{IP: "192.0.2.101"}), myService,
			[]string{"status.loadBalancer.ingress: Forbidden: may only be used when `spec.type` is 'LoadBalancer'"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkErrs(t, ValidateServiceStatusUpdate(tc.svc, tc.old), tc.want, false)
		})
	}
}

// Validation reads a clusterIPs filled in from clusterIP but must not write it.
func TestValidateServiceDoesNotMutate(t *testing.T) {
	svc := newService("headless", corev1.ServiceSpec{ClusterIP: "None", Selector: edge})
	checkErrs(t, ValidateService(svc), nil, false)
	if svc.Spec.ClusterIPs != nil {
		t.Errorf("clusterIPs = %q, want nil", svc.Spec.ClusterIPs)
	}
}

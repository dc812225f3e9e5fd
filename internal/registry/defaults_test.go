package registry

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/json"
	"k8s.io/utils/ptr"
)

func TestServiceDefaults(t *testing.T) {
	clientIP := &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr.To[int32](10800)}}
	cluster := ptr.To(corev1.ServiceInternalTrafficPolicyCluster)
	for _, tc := range []struct {
		name    string
		in, out corev1.ServiceSpec
	}{{
		name: "ClusterIP, targetPort from port, TCP",
		in:   corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 8080}}},
		out: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, SessionAffinity: corev1.ServiceAffinityNone,
			InternalTrafficPolicy: cluster,
			Ports:                 []corev1.ServicePort{{Port: 8080, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(8080)}}},
	}, {
		name: "named targetPort kept",
		in:   corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolUDP}}},
		out: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, SessionAffinity: corev1.ServiceAffinityNone,
			InternalTrafficPolicy: cluster,
			Ports:                 []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromString("http")}}},
	}, {
		name: "NodePort gets externalTrafficPolicy Cluster",
		in:   corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort},
		out: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, SessionAffinity: corev1.ServiceAffinityNone,
			ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyCluster, InternalTrafficPolicy: cluster},
	}, {
		name: "LoadBalancer allocates node ports by default",
		in:   corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer},
		out: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, SessionAffinity: corev1.ServiceAffinityNone,
			ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyCluster, InternalTrafficPolicy: cluster,
			AllocateLoadBalancerNodePorts: ptr.To(true)},
	}, {
		name: "externalIPs make a ClusterIP Service externally reachable",
		in:   corev1.ServiceSpec{ExternalIPs: []string{"192.0.2.10"}},
		out: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, SessionAffinity: corev1.ServiceAffinityNone,
			ExternalIPs: []string{"192.0.2.10"}, ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyCluster,
			InternalTrafficPolicy: cluster},
	}, {
		name: "ClientIP affinity gets the 3 hour timeout",
		in:   corev1.ServiceSpec{SessionAffinity: corev1.ServiceAffinityClientIP},
		out: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, SessionAffinity: corev1.ServiceAffinityClientIP,
			SessionAffinityConfig: clientIP, InternalTrafficPolicy: cluster},
	}, {
		name: "affinity None drops a config",
		in:   corev1.ServiceSpec{SessionAffinityConfig: clientIP},
		out: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, SessionAffinity: corev1.ServiceAffinityNone,
			InternalTrafficPolicy: cluster},
	}, {
		name: "ExternalName has no internalTrafficPolicy",
		in:   corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.com"},
		out: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.com",
			SessionAffinity: corev1.ServiceAffinityNone},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			svc := &corev1.Service{Spec: tc.in}
			Scheme.Default(svc)
			if !equality.Semantic.DeepEqual(svc.Spec, tc.out) {
				got, _ := json.Marshal(svc.Spec)
				want, _ := json.Marshal(tc.out)
				t.Errorf("defaulted spec\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestLoadBalancerIngressIPMode(t *testing.T) {
	svc := &corev1.Service{Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{
		Ingress: []corev1.LoadBalancerIngress{{IP: "192.0.2.100"}, {Hostname: "lb.example.com"}}}}}
	Scheme.Default(svc)
	if ing := svc.Status.LoadBalancer.Ingress; ptr.Deref(ing[0].IPMode, "") != corev1.LoadBalancerIPModeVIP || ing[1].IPMode != nil {
		t.Errorf("ipMode defaults: %+v", ing)
	}
}

func TestPodDefaults(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{
		{Name: "latest", Image: "nginx"},
		{Name: "tagged", Image: "registry.k8s.io/e2e-test-images/agnhost:2.40",
			Ports:          []corev1.ContainerPort{{ContainerPort: 8080}},
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt32(8080)}}},
			Resources:      corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}},
		{Name: "digest", Image: "busybox@sha256:abc"},
	}}}
	Scheme.Default(pod)
	spec := pod.Spec
	if spec.RestartPolicy != corev1.RestartPolicyAlways || spec.DNSPolicy != corev1.DNSClusterFirst ||
		*spec.TerminationGracePeriodSeconds != 30 || spec.SchedulerName != corev1.DefaultSchedulerName ||
		!*spec.EnableServiceLinks || spec.SecurityContext == nil {
		t.Errorf("pod spec defaults: %+v", spec)
	}
	for i, want := range []corev1.PullPolicy{corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullIfNotPresent} {
		if got := spec.Containers[i].ImagePullPolicy; got != want {
			t.Errorf("%s: imagePullPolicy %s, want %s", spec.Containers[i].Name, got, want)
		}
	}
	c := spec.Containers[1]
	if c.Ports[0].Protocol != corev1.ProtocolTCP || c.TerminationMessagePath != "/dev/termination-log" ||
		c.TerminationMessagePolicy != corev1.TerminationMessageReadFile {
		t.Errorf("container defaults: %+v", c)
	}
	p := c.ReadinessProbe
	if p.TimeoutSeconds != 1 || p.PeriodSeconds != 10 || p.SuccessThreshold != 1 || p.FailureThreshold != 3 ||
		p.HTTPGet.Path != "/" || p.HTTPGet.Scheme != corev1.URISchemeHTTP {
		t.Errorf("probe defaults: %+v", p)
	}
	if got := c.Resources.Requests[corev1.ResourceCPU]; got.String() != "1" {
		t.Errorf("cpu request %s, want the limit 1", got.String())
	}
}

func TestSecretDefaultType(t *testing.T) {
	s := &corev1.Secret{}
	Scheme.Default(s)
	if s.Type != corev1.SecretTypeOpaque {
		t.Errorf("type %q, want Opaque", s.Type)
	}
}

func TestPodIPsFollowPodIP(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   corev1.PodStatus
		want string
	}{
		{"both, disagreeing: podIP wins", corev1.PodStatus{PodIP: "10.244.1.9", PodIPs: []corev1.PodIP{{IP: "10.244.1.10"}}}, "10.244.1.9 [{10.244.1.9}]"},
		{"podIPs only", corev1.PodStatus{PodIPs: []corev1.PodIP{{IP: "10.244.1.10"}}}, "10.244.1.10 [{10.244.1.10}]"},
		{"podIP only", corev1.PodStatus{PodIP: "10.244.1.9"}, "10.244.1.9 [{10.244.1.9}]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &corev1.Pod{Status: tc.in}
			Scheme.Default(p)
			if got := p.Status.PodIP + " " + fmt.Sprint(p.Status.PodIPs); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestServiceAccountAlias(t *testing.T) {
	for _, tc := range []struct {
		name     string
		in       corev1.PodSpec
		wantName string
	}{
		{"neither", corev1.PodSpec{}, ""},
		{"alias only", corev1.PodSpec{DeprecatedServiceAccount: "old"}, "old"},
		{"name only", corev1.PodSpec{ServiceAccountName: "new"}, "new"},
		{"both, disagreeing: the name wins", corev1.PodSpec{ServiceAccountName: "new", DeprecatedServiceAccount: "old"}, "new"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &corev1.Pod{Spec: tc.in}
			Scheme.Default(p)
			if p.Spec.ServiceAccountName != tc.wantName || p.Spec.DeprecatedServiceAccount != tc.wantName {
				t.Errorf("serviceAccountName %q, serviceAccount %q; want both %q",
					p.Spec.ServiceAccountName, p.Spec.DeprecatedServiceAccount, tc.wantName)
			}
		})
	}
}

// TestVolumeDefaults: each volume source's defaults, and the other pod
// spec defaults beside the containers' basic ones, as kube-apiserver
// writes them back (pkg/apis/core/v1's defaulters).
func TestVolumeDefaults(t *testing.T) {
	var pod corev1.Pod
	if err := json.Unmarshal([]byte(`{"spec":{
	  "volumes":[
	    {"name":"nosource"},
	    {"name":"host","hostPath":{"path":"/var/log"}},
	    {"name":"secret","secret":{"secretName":"s"}},
	    {"name":"cm","configMap":{"name":"c"}},
	    {"name":"down","downwardAPI":{"items":[{"path":"n","fieldRef":{"fieldPath":"metadata.name"}}]}},
	    {"name":"proj","projected":{"sources":[{"serviceAccountToken":{"path":"t"}},{"downwardAPI":{"items":[{"path":"n","fieldRef":{"fieldPath":"metadata.name"}}]}}]}},
	    {"name":"eph","ephemeral":{"volumeClaimTemplate":{"spec":{"resources":{"requests":{"storage":"1.0001"}}}}}},
	    {"name":"rbd","rbd":{"monitors":["m"],"image":"i"}}],
	  "containers":[{"name":"c","image":"nginx:1",
	    "resources":{"requests":{"cpu":"0.0001"}},
	    "lifecycle":{"preStop":{"httpGet":{"port":80}}},
	    "livenessProbe":{"grpc":{"port":9000}}}]}}`), &pod); err != nil {
		t.Fatal(err)
	}
	Scheme.Default(&pod)
	got, err := json.Marshal(pod.Spec.Volumes)
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"name":"nosource","emptyDir":{}},` +
		`{"name":"host","hostPath":{"path":"/var/log","type":""}},` +
		`{"name":"secret","secret":{"secretName":"s","defaultMode":420}},` +
		`{"name":"cm","configMap":{"name":"c","defaultMode":420}},` +
		`{"name":"down","downwardAPI":{"items":[{"path":"n","fieldRef":{"apiVersion":"v1","fieldPath":"metadata.name"}}],"defaultMode":420}},` +
		`{"name":"proj","projected":{"sources":[{"serviceAccountToken":{"expirationSeconds":3600,"path":"t"}},` +
		`{"downwardAPI":{"items":[{"path":"n","fieldRef":{"apiVersion":"v1","fieldPath":"metadata.name"}}]}}],"defaultMode":420}},` +
		`{"name":"eph","ephemeral":{"volumeClaimTemplate":{"metadata":{"creationTimestamp":null},"spec":{"resources":{"requests":{"storage":"1001m"}},"volumeMode":"Filesystem"}}}},` +
		`{"name":"rbd","rbd":{"monitors":["m"],"image":"i","pool":"rbd","user":"admin","keyring":"/etc/ceph/keyring"}}]`
	if string(got) != want {
		t.Errorf("volumes\n%s\nwant\n%s", got, want)
	}
	c := pod.Spec.Containers[0]
	if cpu := c.Resources.Requests[corev1.ResourceCPU]; cpu.String() != "1m" {
		t.Errorf("cpu request %s, want 1m", cpu.String())
	}
	if h := c.Lifecycle.PreStop.HTTPGet; h.Path != "/" || h.Scheme != corev1.URISchemeHTTP {
		t.Errorf("preStop httpGet %+v", h)
	}
	if s := c.LivenessProbe.GRPC.Service; s == nil || *s != "" {
		t.Errorf("grpc service %v, want \"\"", s)
	}
}

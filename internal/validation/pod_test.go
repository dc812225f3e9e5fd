package validation

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// container is a container as it is after defaulting.
func container(name string, ports ...corev1.ContainerPort) corev1.Container {
	return corev1.Container{
		Name:                     name,
		Image:                    "registry.k8s.io/e2e-test-images/agnhost:2.53",
		Ports:                    ports,
		TerminationMessagePath:   corev1.TerminationMessagePathDefault,
		TerminationMessagePolicy: corev1.TerminationMessageReadFile,
		ImagePullPolicy:          corev1.PullIfNotPresent,
	}
}

func tcpPort(name string, port int32) corev1.ContainerPort {
	return corev1.ContainerPort{Name: name, ContainerPort: port, Protocol: corev1.ProtocolTCP}
}

// pod is a valid, defaulted pod with one container serving http on 8080,
// changed by mutate.
func pod(mutate ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "epdemo", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{
			Containers:                    []corev1.Container{container("web", tcpPort("http", 8080))},
			RestartPolicy:                 corev1.RestartPolicyAlways,
			TerminationGracePeriodSeconds: ptr.To[int64](30),
			DNSPolicy:                     corev1.DNSClusterFirst,
			SecurityContext:               &corev1.PodSecurityContext{},
			SchedulerName:                 corev1.DefaultSchedulerName,
			EnableServiceLinks:            ptr.To(true),
		},
	}
	for _, m := range mutate {
		m(p)
	}
	return p
}

// ctr0 mutates the pod's first container.
func ctr0(mutate func(*corev1.Container)) func(*corev1.Pod) {
	return func(p *corev1.Pod) { mutate(&p.Spec.Containers[0]) }
}

func httpProbe(port intstr.IntOrString) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: port, Scheme: corev1.URISchemeHTTP}},
		TimeoutSeconds:   1,
		PeriodSeconds:    10,
		SuccessThreshold: 1,
		FailureThreshold: 3,
	}
}

var podCases = []createCase[*corev1.Pod]{
	{name: "valid", obj: pod()},
	{
		name: "valid with the usual extras",
		obj: pod(func(p *corev1.Pod) {
			p.Spec.Hostname, p.Spec.Subdomain = "web-1", "web"
			p.Spec.NodeSelector = map[string]string{"kubernetes.io/os": "linux"}
			p.Spec.Tolerations = []corev1.Toleration{
				{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)},
				{Operator: corev1.TolerationOpExists},
			}
			p.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "example.com/ready"}}
			p.Spec.Volumes = []corev1.Volume{
				{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, DefaultMode: ptr.To[int32](0644)}}},
			}
			c := &p.Spec.Containers[0]
			c.Args = []string{"netexec", "--http-port=8080"}
			c.Env = []corev1.EnvVar{
				{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "status.podIP"}}},
				{Name: "my.relaxed-name", Value: "x"},
			}
			c.VolumeMounts = []corev1.VolumeMount{{Name: "scratch", MountPath: "/tmp"}, {Name: "config", MountPath: "/etc/app", ReadOnly: true}}
			c.ReadinessProbe = httpProbe(intstr.FromString("http"))
			c.LivenessProbe = httpProbe(intstr.FromInt32(8080))
			c.Resources = corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
				Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("64Mi")},
			}
		}),
	},
	{
		name: "no containers",
		obj:  pod(func(p *corev1.Pod) { p.Spec.Containers = nil }),
		want: []string{`spec.containers: Required value`},
	},
	{
		name: "container names",
		obj: pod(func(p *corev1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, container("Web_2"), container("web"), container(""))
			p.Spec.InitContainers = []corev1.Container{container("web"), container("init"), container("init")}
		}),
		want: []string{
			`spec.containers[1].name: Invalid value: "Web_2": ` + dns1123LabelMsg,
			`spec.containers[2].name: Duplicate value: "web"`,
			`spec.containers[3].name: Required value`,
			`spec.initContainers[0].name: Duplicate value: "web"`,
			`spec.initContainers[2].name: Duplicate value: "init"`,
		},
	},
	{
		name: "image",
		obj: pod(func(p *corev1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, container("b"))
			p.Spec.Containers[0].Image = ""
			p.Spec.Containers[1].Image = " nginx"
		}),
		want: []string{
			`spec.containers[0].image: Required value`,
			`spec.containers[1].image: Invalid value: " nginx": must not have leading or trailing whitespace`,
		},
	},
	{
		name: "container ports",
		obj: pod(ctr0(func(c *corev1.Container) {
			c.Ports = []corev1.ContainerPort{
				{Name: "http", ContainerPort: 0, Protocol: corev1.ProtocolTCP},
				{Name: "http", ContainerPort: 70000, HostPort: -1, Protocol: "HTTP"},
				{Name: "Metrics_Port_1234", ContainerPort: -8080},
				{Name: "8080", ContainerPort: 8080, Protocol: corev1.ProtocolUDP},
				{Name: "a--b", ContainerPort: 8081, Protocol: corev1.ProtocolSCTP},
			}
		})),
		want: []string{
			`spec.containers[0].ports[0].containerPort: Required value`,
			`spec.containers[0].ports[1].name: Duplicate value: "http"`,
			`spec.containers[0].ports[1].containerPort: Invalid value: 70000: ` + portRangeMsg,
			`spec.containers[0].ports[1].hostPort: Invalid value: -1: ` + portRangeMsg,
			`spec.containers[0].ports[1].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"`,
			`spec.containers[0].ports[2].name: Invalid value: "Metrics_Port_1234": must be no more than 15 characters`,
			`spec.containers[0].ports[2].name: Invalid value: "Metrics_Port_1234": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)`,
			`spec.containers[0].ports[2].containerPort: Invalid value: -8080: ` + portRangeMsg,
			`spec.containers[0].ports[2].protocol: Required value`,
			`spec.containers[0].ports[3].name: Invalid value: "8080": must contain at least one letter (a-z)`,
			`spec.containers[0].ports[4].name: Invalid value: "a--b": must not contain consecutive hyphens`,
		},
	},
	{
		name: "host ports collide across containers",
		obj: pod(func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports[0].HostPort = 80
			p.Spec.Containers = append(p.Spec.Containers, container("b", corev1.ContainerPort{ContainerPort: 8081, HostPort: 80, Protocol: corev1.ProtocolTCP}))
		}),
		want: []string{`spec.containers[1].ports[0].hostPort: Duplicate value: "TCP//80"`},
	},
	{
		name: "host network needs hostPort == containerPort",
		obj:  pod(func(p *corev1.Pod) { p.Spec.HostNetwork = true }),
		want: []string{"spec.containers[0].ports[0].hostPort: Invalid value: 0: must match `containerPort` when `hostNetwork` is true"},
	},
	{
		name: "env",
		obj: pod(ctr0(func(c *corev1.Container) {
			c.Env = []corev1.EnvVar{
				{Name: ""},
				{Name: "A=B"},
				{Name: "X", Value: "v", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}, Key: "k"}}},
				{Name: "Y", ValueFrom: &corev1.EnvVarSource{}},
				{Name: "Z", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "spec.containers"}}},
				{Name: "W", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.labels"}}},
				{Name: "V", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{Key: "a/b"}}},
				{Name: "U", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.gpu"}}},
			}
			c.EnvFrom = []corev1.EnvFromSource{{Prefix: "P="}, {ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg-"}}}}
		})),
		want: []string{
			`spec.containers[0].env[0].name: Required value`,
			`spec.containers[0].env[1].name: Invalid value: "A=B": a valid environment variable name must consist only of printable ASCII characters other than '='`,
			"spec.containers[0].env[2].valueFrom: Invalid value: \"\": may not be specified when `value` is not empty",
			"spec.containers[0].env[3].valueFrom: Invalid value: \"\": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
			`spec.containers[0].env[4].valueFrom.fieldRef.fieldPath: Invalid value: "spec.containers": error converting fieldPath: field label not supported: spec.containers`,
			`spec.containers[0].env[5].valueFrom.fieldRef.fieldPath: Unsupported value: "metadata.labels": supported values: "metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"`,
			`spec.containers[0].env[6].valueFrom.configMapKeyRef.name: Invalid value: "": ` + dns1123SubdomainMsg,
			`spec.containers[0].env[6].valueFrom.configMapKeyRef.key: Invalid value: "a/b": ` + configKeyMsg,
			`spec.containers[0].env[7].valueFrom.resourceFieldRef.resource: Unsupported value: "limits.gpu": supported values: "limits.cpu", "limits.ephemeral-storage", "limits.memory", "requests.cpu", "requests.ephemeral-storage", "requests.memory"`,
			`spec.containers[0].envFrom[0].prefix: Invalid value: "P=": a valid environment variable name must consist only of printable ASCII characters other than '='`,
			"spec.containers[0].envFrom: Invalid value: \"\": must specify one of: `configMapRef` or `secretRef`",
		},
	},
	{
		name: "probes",
		obj: pod(ctr0(func(c *corev1.Container) {
			c.LivenessProbe = httpProbe(intstr.FromString("no_such_port"))
			c.LivenessProbe.TCPSocket = &corev1.TCPSocketAction{Port: intstr.FromInt32(8080)}
			c.LivenessProbe.SuccessThreshold = 2
			c.ReadinessProbe = &corev1.Probe{PeriodSeconds: -1, TerminationGracePeriodSeconds: ptr.To[int64](10)}
			c.StartupProbe = httpProbe(intstr.FromInt32(0))
			c.StartupProbe.HTTPGet.Scheme = "FTP"
		})),
		want: []string{
			`spec.containers[0].livenessProbe.httpGet.port: Invalid value: "no_such_port": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)`,
			`spec.containers[0].livenessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type`,
			`spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1`,
			`spec.containers[0].readinessProbe: Required value: must specify a handler type`,
			`spec.containers[0].readinessProbe.periodSeconds: Invalid value: -1: must be greater than or equal to 0`,
			`spec.containers[0].readinessProbe.terminationGracePeriodSeconds: Invalid value: 10: must not be set for readinessProbes`,
			`spec.containers[0].startupProbe.httpGet.port: Invalid value: 0: ` + portRangeMsg,
			`spec.containers[0].startupProbe.httpGet.scheme: Unsupported value: "FTP": supported values: "HTTP", "HTTPS"`,
		},
	},
	{
		name: "lifecycle",
		obj: pod(ctr0(func(c *corev1.Container) {
			c.Lifecycle = &corev1.Lifecycle{
				PostStart: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{}},
				PreStop:   &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 60}},
			}
		})),
		want: []string{
			`spec.containers[0].lifecycle.postStart.exec.command: Required value`,
			`spec.containers[0].lifecycle.preStop.sleep: Invalid value: 60: must be greater than 0 and less than terminationGracePeriodSeconds (30). Enable AllowPodLifecycleSleepActionZeroValue feature gate for zero sleep.`,
		},
	},
	{
		name: "init containers",
		obj: pod(func(p *corev1.Pod) {
			plain := container("setup")
			plain.ReadinessProbe = httpProbe(intstr.FromInt32(80))
			plain.Lifecycle = &corev1.Lifecycle{}
			sidecar := container("proxy")
			sidecar.RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
			sidecar.ReadinessProbe = httpProbe(intstr.FromInt32(80))
			odd := container("odd")
			odd.RestartPolicy = ptr.To[corev1.ContainerRestartPolicy]("Never")
			p.Spec.InitContainers = []corev1.Container{plain, sidecar, odd}
			p.Spec.Containers[0].RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
		}),
		want: []string{
			`spec.containers[0].restartPolicy: Forbidden: may not be set for non-init containers`,
			`spec.initContainers[0].lifecycle: Forbidden: may not be set for init containers without restartPolicy=Always`,
			`spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers without restartPolicy=Always`,
			`spec.initContainers[2].restartPolicy: Unsupported value: "Never": supported values: "Always"`,
		},
	},
	{
		name: "defaulted enums",
		obj: pod(func(p *corev1.Pod) {
			p.Spec.RestartPolicy = "Sometimes"
			p.Spec.DNSPolicy = ""
			p.Spec.Containers[0].ImagePullPolicy = "Maybe"
			p.Spec.Containers[0].TerminationMessagePolicy = "Stdout"
			p.Spec.TerminationGracePeriodSeconds = nil
		}),
		want: []string{
			`spec.terminationGracePeriodSeconds: Required value`,
			`spec.containers[0].terminationMessagePolicy: Unsupported value: "Stdout": supported values: "File", "FallbackToLogsOnError"`,
			`spec.containers[0].imagePullPolicy: Unsupported value: "Maybe": supported values: "Always", "IfNotPresent", "Never"`,
			`spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"`,
			`spec.dnsPolicy: Required value`,
		},
	},
	{
		name: "resources",
		obj: pod(ctr0(func(c *corev1.Container) {
			c.Resources = corev1.ResourceRequirements{
				Limits: corev1.ResourceList{
					corev1.ResourceCPU:           resource.MustParse("500m"),
					"example.com/gpu":            resource.MustParse("1"),
					corev1.ResourcePods:          resource.MustParse("1"),
					corev1.ResourceMemory:        resource.MustParse("-1"),
					"example.com/foo":            resource.MustParse("500m"),
					corev1.ResourceName("a b/c"): resource.MustParse("1"),
				},
				Requests: corev1.ResourceList{
					corev1.ResourceCPU: resource.MustParse("1"),
					"example.com/gpu":  resource.MustParse("2"),
					"example.com/fpga": resource.MustParse("1"),
					"bogus":            resource.MustParse("1"),
				},
			}
		})),
		want: []string{
			// ResourceName has a String method, so field.Error prints it
			// unquoted (Kubernetes' internal ResourceName has one too).
			`spec.containers[0].resources.limits[a b/c]: Invalid value: a b/c: prefix part ` + dns1123SubdomainMsg,
			`spec.containers[0].resources.limits[a b/c]: Invalid value: a b/c: doesn't follow extended resource name standard`,
			`spec.containers[0].resources.limits[example.com/foo]: Invalid value: resource.Quantity{i:resource.int64Amount{value:500, scale:-3}, d:resource.infDecAmount{Dec:(*inf.Dec)(nil)}, s:"500m", Format:"DecimalSI"}: must be an integer`,
			`spec.containers[0].resources.limits[memory]: Invalid value: "-1": must be greater than or equal to 0`,
			`spec.containers[0].resources.limits[pods]: Invalid value: pods: must be a standard resource for containers`,
			`spec.containers[0].resources.requests[bogus]: Invalid value: bogus: must be a standard resource type or fully qualified`,
			`spec.containers[0].resources.requests[bogus]: Invalid value: bogus: must be a standard resource for containers`,
			`spec.containers[0].resources.requests: Invalid value: "1": must be less than or equal to cpu limit of 500m`,
			`spec.containers[0].resources.limits: Required value: Limit must be set for non overcommitable resources`,
			`spec.containers[0].resources.requests: Invalid value: "2": must be equal to example.com/gpu limit of 1`,
		},
	},
	{
		name: "pod-level fields",
		obj: pod(func(p *corev1.Pod) {
			p.Spec.NodeSelector = map[string]string{"bad key": "v"}
			p.Spec.Hostname = "Web"
			p.Spec.Subdomain = "a.b"
			p.Spec.ServiceAccountName = "Default"
			p.Spec.NodeName = "node_a"
			p.Spec.ActiveDeadlineSeconds = ptr.To[int64](0)
			p.Spec.PriorityClassName = "High"
			p.Spec.PreemptionPolicy = ptr.To[corev1.PreemptionPolicy]("Always")
			p.Spec.OS = &corev1.PodOS{Name: "plan9"}
			p.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "not ready"}}
			p.Spec.HostAliases = []corev1.HostAlias{{IP: "foo", Hostnames: []string{"Bar"}}}
		}),
		want: []string{
			`spec.nodeSelector: Invalid value: "bad key": ` + qualifiedNameMsg,
			`spec.readinessGates[0].conditionType: Invalid value: "not ready": ` + qualifiedNameMsg,
			`spec.serviceAccountName: Invalid value: "Default": ` + dns1123SubdomainMsg,
			`spec.nodeName: Invalid value: "node_a": ` + dns1123SubdomainMsg,
			`spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive`,
			`spec.hostname: Invalid value: "Web": ` + dns1123LabelMsg,
			`spec.subdomain: Invalid value: "a.b": must not contain dots`,
			`spec.hostAliases[0].ip: Invalid value: "foo": ` + invalidIPMsg,
			`spec.hostAliases[0].hostnames[0]: Invalid value: "Bar": ` + dns1123SubdomainMsg,
			`spec.priorityClassName: Invalid value: "High": ` + dns1123SubdomainMsg,
			`spec.preemptionPolicy: Unsupported value: "Always": supported values: "PreemptLowerPriority", "Never"`,
			`spec.os: Unsupported value: "plan9": supported values: "linux", "windows"`,
		},
	},
	{
		name: "security context",
		obj: pod(func(p *corev1.Pod) {
			p.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](-1), SupplementalGroups: []int64{1 << 32}}
			p.Spec.HostPID = true
			p.Spec.ShareProcessNamespace = ptr.To(true)
			p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{RunAsGroup: ptr.To[int64](-2)}
		}),
		want: []string{
			`spec.containers[0].securityContext.runAsGroup: Invalid value: -2: must be between 0 and 2147483647, inclusive`,
			`spec.securityContext.runAsUser: Invalid value: -1: must be between 0 and 2147483647, inclusive`,
			`spec.securityContext.supplementalGroups[0]: Invalid value: 4294967296: must be between 0 and 2147483647, inclusive`,
			`spec.securityContext.shareProcessNamespace: Invalid value: true: ShareProcessNamespace and HostPID cannot both be enabled`,
		},
	},
	{
		name: "dns config",
		obj: pod(func(p *corev1.Pod) {
			p.Spec.DNSPolicy = corev1.DNSNone
			p.Spec.DNSConfig = &corev1.PodDNSConfig{
				Nameservers: []string{"10.96.0.10", "1.1.1.1", "8.8.8.8", "bogus"},
				Searches:    []string{"svc.cluster.local.", "Bad_Domain"},
				Options:     []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptr.To("5")}, {}},
			}
		}),
		want: []string{
			`spec.dnsConfig.nameservers: Invalid value: []string{"10.96.0.10", "1.1.1.1", "8.8.8.8", "bogus"}: must not have more than 3 nameservers`,
			`spec.dnsConfig.nameservers[3]: Invalid value: "bogus": ` + invalidIPMsg,
			`spec.dnsConfig.searches[1]: Invalid value: "Bad_Domain": ` + dns1123SubdomainMsg,
			`spec.dnsConfig.options[1]: Required value: must not be empty`,
		},
	},
	{
		name: "dns policy None without config",
		obj:  pod(func(p *corev1.Pod) { p.Spec.DNSPolicy = corev1.DNSNone }),
		want: []string{"spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None"},
	},
	{
		name: "tolerations",
		obj: pod(func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{
				{Operator: corev1.TolerationOpEqual, Value: "x"},
				{Key: "k", Operator: corev1.TolerationOpExists, Value: "v", Effect: corev1.TaintEffectNoSchedule, TolerationSeconds: ptr.To[int64](60)},
				{Key: "k", Operator: "In", Effect: "Never"},
				{Key: "bad key", Value: "bad value"},
			}
		}),
		want: []string{
			"spec.tolerations[0].operator: Invalid value: \"Equal\": operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
			"spec.tolerations[1].effect: Invalid value: \"NoSchedule\": effect must be 'NoExecute' when `tolerationSeconds` is set",
			"spec.tolerations[1].operator: Invalid value: \"v\": value must be empty when `operator` is 'Exists'",
			`spec.tolerations[2].operator: Unsupported value: "In": supported values: "Equal", "Exists"`,
			`spec.tolerations[2].effect: Unsupported value: "Never": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"`,
			`spec.tolerations[3].key: Invalid value: "bad key": ` + qualifiedNameMsg,
			`spec.tolerations[3].operator: Invalid value: "bad value": ` + labelValueMsg,
		},
	},
	{
		name: "volumes",
		obj: pod(func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{
				{Name: "a", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: "a", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: "Bad_Name"},
				{Name: "two", VolumeSource: corev1.VolumeSource{
					HostPath:    &corev1.HostPathVolumeSource{Path: "/var/log"},
					ConfigMap:   &corev1.ConfigMapVolumeSource{},
					DownwardAPI: &corev1.DownwardAPIVolumeSource{},
				}},
				{Name: "cm", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
					DefaultMode: ptr.To[int32](01000),
					Items:       []corev1.KeyToPath{{Key: "k", Path: "../x"}, {Path: "/abs"}, {Key: "k", Path: "..data"}},
				}}},
				{Name: "sec", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{}}},
				{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/a/../b", Type: ptr.To[corev1.HostPathType]("Pipe")}}},
				{Name: "claim", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{}}},
			}
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{
				{Name: "a", MountPath: "/a"},
				{Name: "sec", MountPath: "/a"},
				{Name: "missing", MountPath: "/m", SubPath: "/abs"},
			}
		}),
		want: []string{
			`spec.volumes[1].name: Duplicate value: "a"`,
			`spec.volumes[2]: Required value: must specify a volume type`,
			`spec.volumes[2].name: Invalid value: "Bad_Name": ` + dns1123LabelMsg,
			`spec.volumes[3].downwarAPI: Forbidden: may not specify more than 1 volume type`,
			`spec.volumes[3].configMap: Forbidden: may not specify more than 1 volume type`,
			`spec.volumes[4].configMap.name: Required value`,
			`spec.volumes[4].configMap.defaultMode: Invalid value: 512: must be a number between 0 and 0777 (octal), both inclusive`,
			`spec.volumes[4].configMap.items[0].path: Invalid value: "../x": must not contain '..'`,
			`spec.volumes[4].configMap.items[1].key: Required value`,
			`spec.volumes[4].configMap.items[1].path: Invalid value: "/abs": must be a relative path`,
			`spec.volumes[4].configMap.items[2].path: Invalid value: "..data": must not start with '..'`,
			`spec.volumes[5].secret.secretName: Required value`,
			`spec.volumes[6].hostPath.path: Invalid value: "/a/../b": must not contain '..'`,
			`spec.volumes[6].hostPath.type: Unsupported value: "Pipe": supported values: "", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket"`,
			`spec.volumes[7].persistentVolumeClaim.claimName: Required value`,
			`spec.containers[0].volumeMounts[1].name: Not found: "sec"`,
			`spec.containers[0].volumeMounts[1].mountPath: Invalid value: "/a": must be unique`,
			`spec.containers[0].volumeMounts[2].name: Not found: "missing"`,
			`spec.containers[0].volumeMounts.subPath: Invalid value: "/abs": must be a relative path`,
		},
	},
	{
		name: "projected volume",
		obj: pod(func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "proj", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
				Sources: []corev1.VolumeProjection{
					{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}, Items: []corev1.KeyToPath{{Key: "a", Path: "x"}}}},
					{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "c"}, Items: []corev1.KeyToPath{{Key: "b", Path: "x"}}}},
					{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{ExpirationSeconds: ptr.To[int64](60), Path: "token"}},
					{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{
						{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.labels['app']"}},
						{Path: "ns", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "status.podIP"}},
					}}},
				},
			}}}}
		}),
		want: []string{
			`spec.volumes[0].projected: Invalid value: "c": conflicting duplicate paths`,
			`spec.volumes[0].projected.sources[2].serviceAccountToken.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes`,
			`spec.volumes[0].projected.sources[3].downwardAPI.fieldRef.fieldPath: Unsupported value: "status.podIP": supported values: "metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid"`,
			`spec.volumes[0].projected.sources[2].serviceAccountToken: Forbidden: must not be specified when serviceAccountName is not set`,
		},
	},
	{
		name: "annotations",
		obj: pod(func(p *corev1.Pod) {
			p.Annotations = map[string]string{
				corev1.MirrorPodAnnotationKey: "x",
				corev1.PodDeletionCost:        "007",
			}
		}),
		want: []string{
			`metadata.annotations[kubernetes.io/config.mirror]: Invalid value: "x": must set spec.nodeName if mirror pod annotation is set`,
			`metadata.annotations[controller.kubernetes.io/pod-deletion-cost]: Invalid value: "007": must be a 32bit integer`,
		},
	},
	{
		name: "deletion cost may be negative",
		obj:  pod(func(p *corev1.Pod) { p.Annotations = map[string]string{corev1.PodDeletionCost: "-2147483648"} }),
	},
	{
		name: "create-only rules",
		obj: pod(func(p *corev1.Pod) {
			p.Spec.NodeName = "node-a"
			p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/wait"}}
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon(container("debug"))}}
		}),
		want: []string{
			`spec.ephemeralContainers: Forbidden: cannot be set on create`,
			`spec.nodeName: Forbidden: cannot be set until all schedulingGates have been cleared`,
		},
	},
	{
		name: "ephemeral containers are checked before being refused",
		obj: pod(func(p *corev1.Pod) {
			debug := container("web", tcpPort("http", 80))
			debug.Image = "busybox "
			debug.ReadinessProbe = httpProbe(intstr.FromInt32(80))
			debug.VolumeMounts = []corev1.VolumeMount{{Name: "missing", MountPath: "/m", SubPath: "x"}}
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{
				EphemeralContainerCommon: corev1.EphemeralContainerCommon(debug),
				TargetContainerName:      "nope",
			}}
		}),
		want: []string{
			`spec.ephemeralContainers[0].volumeMounts[0].name: Not found: "missing"`,
			`spec.ephemeralContainers[0].image: Invalid value: "busybox ": must not have leading or trailing whitespace`,
			`spec.ephemeralContainers[0].name: Duplicate value: "web"`,
			`spec.ephemeralContainers[0].targetContainerName: Not found: "nope"`,
			`spec.ephemeralContainers[0].ports: Forbidden: cannot be set for an Ephemeral Container`,
			`spec.ephemeralContainers[0].readinessProbe: Forbidden: cannot be set for an Ephemeral Container`,
			`spec.ephemeralContainers[0].volumeMounts[0].subPath: Forbidden: cannot be set for an Ephemeral Container`,
			`spec.ephemeralContainers: Forbidden: cannot be set on create`,
		},
	},
}

func TestValidatePod(t *testing.T) {
	runCreateCases(t, podCases, ValidatePod)
}

// forbiddenSpecChange is the error of an update to a field that may not
// change.
const forbiddenSpecChange = "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"

var podUpdateCases = []updateCase[*corev1.Pod]{
	{name: "image", obj: pod(ctr0(func(c *corev1.Container) { c.Image = "nginx:1.27" })), old: pod()},
	{
		name: "deadline set and lowered, toleration added, gate removed",
		obj: pod(func(p *corev1.Pod) {
			p.Spec.ActiveDeadlineSeconds = ptr.To[int64](30)
			p.Spec.Tolerations = []corev1.Toleration{{Key: "a", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](5)}, {Key: "b", Operator: corev1.TolerationOpExists}}
		}),
		old: pod(func(p *corev1.Pod) {
			p.Spec.ActiveDeadlineSeconds = ptr.To[int64](60)
			p.Spec.Tolerations = []corev1.Toleration{{Key: "a", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)}}
			p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/wait"}}
		}),
	},
	{
		name: "container port",
		obj:  pod(ctr0(func(c *corev1.Container) { c.Ports[0].ContainerPort = 9090 })),
		old:  pod(),
		want: []string{forbiddenSpecChange},
	},
	{
		name: "serviceAccount is an alias of serviceAccountName",
		obj: pod(func(p *corev1.Pod) {
			p.Spec.ServiceAccountName = "default"
			p.Spec.DeprecatedServiceAccount = "default"
		}),
		old: pod(func(p *corev1.Pod) { p.Spec.ServiceAccountName = "default" }),
	},
	{
		name: "containers added",
		obj:  pod(func(p *corev1.Pod) { p.Spec.Containers = append(p.Spec.Containers, container("b")) }),
		old:  pod(),
		want: []string{`spec.containers: Forbidden: pod updates may not add or remove containers`},
	},
	{
		name: "deadline raised",
		obj:  pod(func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr.To[int64](90) }),
		old:  pod(func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr.To[int64](60) }),
		want: []string{`spec.activeDeadlineSeconds: Invalid value: 90: must be less than or equal to previous value`},
	},
	{
		name: "deadline removed",
		obj:  pod(),
		old:  pod(func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr.To[int64](60) }),
		want: []string{`spec.activeDeadlineSeconds: Invalid value: "null": must not update from a positive integer to nil value`},
	},
	{
		name: "toleration changed",
		obj: pod(func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "a", Operator: corev1.TolerationOpEqual, Value: "x"}}
		}),
		old: pod(func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "a", Operator: corev1.TolerationOpExists}}
		}),
		want: []string{`spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds`},
	},
	{
		name: "scheduling gate added",
		obj:  pod(func(p *corev1.Pod) { p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "a"}, {Name: "b"}} }),
		old:  pod(func(p *corev1.Pod) { p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "a"}} }),
		want: []string{`spec.schedulingGates[1].name: Forbidden: only deletion is allowed, but found new scheduling gate 'b'`},
	},
	{
		name: "node selector of a gated pod",
		obj:  pod(func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"zone": "b"} }),
		old: pod(func(p *corev1.Pod) {
			p.Spec.NodeSelector = map[string]string{"zone": "a"}
			p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "wait"}}
		}),
		want: []string{`spec.nodeSelector: Invalid value: map[string]string{"zone":"b"}: only additions to spec.nodeSelector are allowed (no mutations or deletions)`},
	},
	{
		name: "mirror annotation",
		obj:  pod(func(p *corev1.Pod) { p.Annotations = map[string]string{corev1.MirrorPodAnnotationKey: "x"} }),
		old:  pod(),
		want: []string{`metadata.annotations[kubernetes.io/config.mirror]: Forbidden: may not add mirror pod annotation`},
	},
}

func TestValidatePodUpdate(t *testing.T) {
	runUpdateCases(t, podUpdateCases, ValidatePodUpdate)
}

// running is a pod after the scheduler and kubelet have had their say.
func running(mutate ...func(*corev1.Pod)) *corev1.Pod {
	p := pod(func(p *corev1.Pod) {
		p.Spec.NodeName = "node-a"
		p.Status = corev1.PodStatus{
			Phase:    corev1.PodRunning,
			QOSClass: corev1.PodQOSBestEffort,
			HostIP:   "172.18.0.2", HostIPs: []corev1.HostIP{{IP: "172.18.0.2"}},
			PodIP: "10.244.1.5", PodIPs: []corev1.PodIP{{IP: "10.244.1.5"}},
		}
	})
	for _, m := range mutate {
		m(p)
	}
	return p
}

var podStatusCases = []updateCase[*corev1.Pod]{
	{
		name: "ready",
		obj: running(func(p *corev1.Pod) {
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		}),
		old: running(),
	},
	{
		// Oracle case 080.
		name: "080 bogus pod IP",
		obj:  running(func(p *corev1.Pod) { p.Status.PodIP = "bogus"; p.Status.PodIPs = []corev1.PodIP{{IP: "bogus"}} }),
		old:  running(),
		want: []string{`status.podIPs[0]: Invalid value: "bogus": ` + invalidIPMsg},
	},
	{
		name: "podIP alone counts as podIPs",
		obj:  running(func(p *corev1.Pod) { p.Status.PodIP = "bogus"; p.Status.PodIPs = nil }),
		old:  running(),
		want: []string{`status.podIPs[0]: Invalid value: "bogus": ` + invalidIPMsg},
	},
	{
		name: "podIP wins over a different podIPs[0]",
		obj:  running(func(p *corev1.Pod) { p.Status.PodIP = "10.244.1.9"; p.Status.PodIPs = []corev1.PodIP{{IP: "bogus"}} }),
		old:  running(),
	},
	{
		name: "two pod IPs of one family",
		obj: running(func(p *corev1.Pod) {
			p.Status.PodIPs = []corev1.PodIP{{IP: "10.244.1.5"}, {IP: "10.244.1.6"}, {IP: "10.244.1.5"}}
		}),
		old: running(),
		want: []string{
			`status.podIPs: Invalid value: []core.PodIP{core.PodIP{IP:"10.244.1.5"}, core.PodIP{IP:"10.244.1.6"}, core.PodIP{IP:"10.244.1.5"}}: may specify no more than one IP for each IP family`,
			`status.podIPs[2]: Duplicate value: core.PodIP{IP:"10.244.1.5"}`,
		},
	},
	{
		name: "host IPs",
		obj:  running(func(p *corev1.Pod) { p.Status.HostIPs = []corev1.HostIP{{IP: "172.18.0.3"}, {IP: "x"}} }),
		old:  running(),
		want: []string{
			"status.hostIPs[0].ip: Invalid value: \"172.18.0.3\": must be equal to `hostIP`",
			`status.hostIPs[1]: Invalid value: "x": ` + invalidIPMsg,
			`status.hostIPs: Internal error: failed to check for dual stack with error:invalid IP[1]: x`,
			`status.hostIPs: Invalid value: []core.HostIP{core.HostIP{IP:"172.18.0.3"}, core.HostIP{IP:"x"}}: may specify no more than one IP for each IP family`,
		},
	},
	{
		name: "conditions, node, QoS, nominated node",
		obj: running(func(p *corev1.Pod) {
			p.Spec.NodeName = "node-b"
			p.Status.QOSClass = corev1.PodQOSGuaranteed
			p.Status.NominatedNodeName = "Node_C"
			p.Status.Conditions = []corev1.PodCondition{{Type: "example.com/ok"}, {Type: "not ok"}}
		}),
		old: running(),
		want: []string{
			`metadata.conditions[1].Type: Invalid value: "not ok": ` + qualifiedNameMsg,
			`status.nodeName: Forbidden: may not be changed directly`,
			`status.nominatedNodeName: Invalid value: "Node_C": ` + dns1123SubdomainMsg,
			`status.qosClass: Invalid value: "Guaranteed": field is immutable`,
		},
	},
	{
		name: "terminated container restarted under restartPolicy Never",
		obj: running(func(p *corev1.Pod) {
			p.Spec.RestartPolicy = corev1.RestartPolicyNever
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "web", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
		}),
		old: running(func(p *corev1.Pod) {
			p.Spec.RestartPolicy = corev1.RestartPolicyNever
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "web", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}}}}
		}),
		want: []string{`status.containerStatuses[0].state: Forbidden: may not be transitioned to non-terminated state`},
	},
}

func TestValidatePodStatusUpdate(t *testing.T) {
	runUpdateCases(t, podStatusCases, ValidatePodStatusUpdate)
}

package validation

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func node(mutate ...func(*corev1.Node)) *corev1.Node {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "node-a"},
		Status: corev1.NodeStatus{
			Capacity: corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse("4"),
				corev1.ResourceMemory: resource.MustParse("8Gi"),
				corev1.ResourcePods:   resource.MustParse("110"),
			},
			Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "172.18.0.2"}},
		},
	}
	for _, m := range mutate {
		m(n)
	}
	return n
}

func podCIDRs(cidrs ...string) func(*corev1.Node) {
	return func(n *corev1.Node) {
		n.Spec.PodCIDRs = cidrs
		if len(cidrs) > 0 {
			n.Spec.PodCIDR = cidrs[0]
		}
	}
}

var nodeCases = []createCase[*corev1.Node]{
	{name: "valid", obj: node(podCIDRs("10.244.1.0/24", "fd00:10:244:1::/64"))},
	{
		name: "bad pod CIDR",
		obj:  node(podCIDRs("10.244.1.0/33")),
		want: []string{`spec.podCIDRs[0]: Invalid value: "10.244.1.0/33": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)`},
	},
	{
		name: "podCIDR alone counts as podCIDRs",
		obj:  node(func(n *corev1.Node) { n.Spec.PodCIDR = "bogus" }),
		want: []string{`spec.podCIDRs[0]: Invalid value: "bogus": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)`},
	},
	{
		name: "two CIDRs of one family, duplicated",
		obj:  node(podCIDRs("10.244.1.0/24", "10.244.1.0/24")),
		want: []string{
			`spec.podCIDRs: Invalid value: []string{"10.244.1.0/24", "10.244.1.0/24"}: may specify no more than one CIDR for each IP family`,
			`spec.podCIDRs[1]: Duplicate value: "10.244.1.0/24"`,
		},
	},
	{
		// Kubernetes reports spec.taints under metadata.taints.
		name: "taints",
		obj: node(func(n *corev1.Node) {
			n.Spec.Taints = []corev1.Taint{
				{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule},
				{Key: "dedicated", Value: "other", Effect: corev1.TaintEffectNoSchedule},
				{Key: "bad key", Value: "bad value", Effect: "Sometimes"},
				{Key: "no-effect"},
			}
		}),
		want: []string{
			`metadata.taints[1]: Duplicate value: core.Taint{Key:"dedicated", Value:"other", Effect:"NoSchedule", TimeAdded:<nil>}: taints must be unique by key and effect pair`,
			`metadata.taints[2].key: Invalid value: "bad key": ` + qualifiedNameMsg,
			`metadata.taints[2].value: Invalid value: "bad value": ` + labelValueMsg,
			`metadata.taints[2].effect: Unsupported value: "Sometimes": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"`,
			`metadata.taints[3].effect: Required value`,
		},
	},
	{
		name: "negative and fractional capacity",
		obj: node(func(n *corev1.Node) {
			n.Status.Capacity[corev1.ResourceCPU] = resource.MustParse("-1")
			n.Status.Allocatable = corev1.ResourceList{corev1.ResourcePods: resource.MustParse("1500m")}
		}),
		want: []string{
			`status.capacity.cpu: Invalid value: "-1": must be greater than or equal to 0`,
			`status.allocatable.pods: Invalid value: resource.Quantity{i:resource.int64Amount{value:1500, scale:-3}, d:resource.infDecAmount{Dec:(*inf.Dec)(nil)}, s:"1500m", Format:"DecimalSI"}: must be an integer`,
		},
	},
}

func TestValidateNode(t *testing.T) {
	runCreateCases(t, nodeCases, ValidateNode)
}

var nodeUpdateCases = []updateCase[*corev1.Node]{
	{name: "pod CIDR set once", obj: node(podCIDRs("10.244.1.0/24")), old: node()},
	{name: "taints and unschedulable may change", obj: node(func(n *corev1.Node) { n.Spec.Unschedulable = true }), old: node()},
	{
		name: "pod CIDR changed",
		obj:  node(podCIDRs("10.244.2.0/24")),
		old:  node(podCIDRs("10.244.1.0/24")),
		want: []string{`spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid`},
	},
	{
		name: "pod CIDR removed",
		obj:  node(),
		old:  node(podCIDRs("10.244.1.0/24")),
		want: []string{`spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid`},
	},
	{
		name: "provider and external ID",
		obj:  node(func(n *corev1.Node) { n.Spec.ProviderID = "kind://b"; n.Spec.DoNotUseExternalID = "x" }),
		old:  node(func(n *corev1.Node) { n.Spec.ProviderID = "kind://a" }),
		want: []string{
			`spec.providerID: Forbidden: node updates may not change providerID except from "" to valid`,
			`spec.externalID: Forbidden: may not be updated`,
		},
	},
	{
		name: "duplicate address",
		obj: node(func(n *corev1.Node) {
			n.Status.Addresses = append(n.Status.Addresses, n.Status.Addresses[0])
		}),
		old:  node(),
		want: []string{`status.addresses[1]: Duplicate value: core.NodeAddress{Type:"InternalIP", Address:"172.18.0.2"}`},
	},
	{
		name: "config source",
		obj: node(func(n *corev1.Node) {
			//lint:ignore SA1019 the deprecated field is still validated
			n.Spec.ConfigSource = &corev1.NodeConfigSource{}
			n.Status.Config = &corev1.NodeConfigStatus{Active: &corev1.NodeConfigSource{ConfigMap: &corev1.ConfigMapNodeConfigSource{Namespace: "kube-system", Name: "kubelet", KubeletConfigKey: "kubelet"}}}
		}),
		old: node(),
		want: []string{
			`spec.configSource: Invalid value: core.NodeConfigSource{ConfigMap:(*core.ConfigMapNodeConfigSource)(nil)}: exactly one reference subfield must be non-nil`,
			`status.config.active.configMap.uid: Required value: uid must be set in status`,
			`status.config.active.configMap.resourceVersion: Required value: resourceVersion must be set in status`,
		},
	},
}

func TestValidateNodeUpdate(t *testing.T) {
	runUpdateCases(t, nodeUpdateCases, ValidateNodeUpdate)
}

var nodeStatusCases = []updateCase[*corev1.Node]{
	{name: "heartbeat", obj: node(func(n *corev1.Node) { n.Status.Phase = corev1.NodeRunning }), old: node()},
	{
		name: "everything of an update, taints and quantities included",
		obj: node(func(n *corev1.Node) {
			n.Spec.Taints = []corev1.Taint{{Key: "a", Effect: "Bad"}}
			n.Status.Capacity[corev1.ResourceMemory] = resource.MustParse("-1Gi")
			n.Status.Addresses = append(n.Status.Addresses, n.Status.Addresses[0])
		}),
		old: node(),
		want: []string{
			`status.capacity.memory: Invalid value: "-1Gi": must be greater than or equal to 0`,
			`status.addresses[1]: Duplicate value: core.NodeAddress{Type:"InternalIP", Address:"172.18.0.2"}`,
			`metadata.taints[0].effect: Unsupported value: "Bad": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"`,
		},
	},
}

func TestValidateNodeStatusUpdate(t *testing.T) {
	runUpdateCases(t, nodeStatusCases, ValidateNodeStatusUpdate)
}

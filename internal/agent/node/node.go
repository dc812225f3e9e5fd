// Package node is the node agent's side of node health, as the kubelet does
// it: it registers the Node with its addresses, capacity and system info,
// renews the node's Lease in kube-node-lease, and posts the node's
// conditions again whenever the control plane has marked them otherwise
// (after a lapse, the node lifecycle controller sets Ready to Unknown).
package node

import (
	"context"
	"fmt"
	"net"
	"os"
	goruntime "runtime"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"

	"github.com/portway/portway/internal/version"
)

// The kubelet's defaults: a 40 s lease renewed every quarter of it, node
// status re-posted at least every 5 minutes, checked every 10 s.
const (
	LeaseDuration        = 40 * time.Second
	renewInterval        = LeaseDuration / 4
	statusUpdateInterval = 10 * time.Second
	statusReportInterval = 5 * time.Minute
	maxPods              = 110
)

// Config says what the Node is.
type Config struct {
	Name string
	IP   net.IP
	// Port is where the agent's own HTTPS server (logs) listens; the API
	// server finds it in status.daemonEndpoints.kubeletEndpoint.
	Port int32
	// RecursiveReadOnlyMounts says the containers' runtime can make them.
	RecursiveReadOnlyMounts bool
}

// Agent keeps one Node registered and its Lease renewed.
type Agent struct {
	client kubernetes.Interface
	cfg    Config
	// lastReport is when conditions were last posted.
	lastReport time.Time
}

// New returns an Agent for cfg.
func New(client kubernetes.Interface, cfg Config) *Agent {
	return &Agent{client: client, cfg: cfg}
}

// Register creates the Node, or takes over an existing one of the same name
// (a restarted agent), and posts its status. It retries until ctx ends.
func (a *Agent) Register(ctx context.Context) error {
	return wait.PollUntilContextCancel(ctx, time.Second, true, func(ctx context.Context) (bool, error) {
		// Node IPAM writes the new Node's podCIDR at once: a conflict is
		// expected and retried right away.
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error { return a.register(ctx) })
		if err != nil {
			klog.FromContext(ctx).Error(err, "registering node", "node", a.cfg.Name)
			return false, nil
		}
		return true, nil
	})
}

func (a *Agent) register(ctx context.Context) error {
	nodes := a.client.CoreV1().Nodes()
	n, err := nodes.Get(ctx, a.cfg.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		n, err = nodes.Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: a.cfg.Name, Labels: a.labels()}}, metav1.CreateOptions{})
	}
	if err != nil {
		return err
	}
	if missing := missingLabels(n.Labels, a.labels()); len(missing) > 0 {
		for k, v := range missing {
			if n.Labels == nil {
				n.Labels = map[string]string{}
			}
			n.Labels[k] = v
		}
		if n, err = nodes.Update(ctx, n, metav1.UpdateOptions{}); err != nil {
			return err
		}
	}
	return a.postStatus(ctx, n)
}

// Run renews the Lease and re-posts the status until ctx ends.
func (a *Agent) Run(ctx context.Context) {
	go wait.UntilWithContext(ctx, a.renewLease, renewInterval)
	wait.UntilWithContext(ctx, func(ctx context.Context) {
		n, err := a.client.CoreV1().Nodes().Get(ctx, a.cfg.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			// Someone deleted the Node: a kubelet registers it again.
			err = a.register(ctx)
		} else if err == nil && a.needsReport(n) {
			err = a.postStatus(ctx, n)
		}
		if err != nil && ctx.Err() == nil {
			klog.FromContext(ctx).Error(err, "updating node status", "node", a.cfg.Name)
		}
	}, statusUpdateInterval)
}

// needsReport says whether the stored status no longer says what this
// agent would: conditions changed (by the lifecycle controller) or the
// report is due anyway.
func (a *Agent) needsReport(n *corev1.Node) bool {
	if time.Since(a.lastReport) >= statusReportInterval {
		return true
	}
	want := a.conditions(nil)
	for _, w := range want {
		c := condition(n.Status.Conditions, w.Type)
		if c == nil || c.Status != w.Status {
			return true
		}
	}
	return false
}

func (a *Agent) postStatus(ctx context.Context, n *corev1.Node) error {
	n = n.DeepCopy()
	n.Status.Addresses = []corev1.NodeAddress{
		{Type: corev1.NodeInternalIP, Address: a.cfg.IP.String()},
		{Type: corev1.NodeHostName, Address: a.cfg.Name},
	}
	capacity := capacity()
	n.Status.Capacity = capacity
	n.Status.Allocatable = capacity
	n.Status.Conditions = a.conditions(n.Status.Conditions)
	n.Status.DaemonEndpoints.KubeletEndpoint.Port = a.cfg.Port
	n.Status.NodeInfo = systemInfo()
	// One runtime handler, the default, reported as the kubelet reports
	// its runtime's; containers get no user namespaces.
	n.Status.RuntimeHandlers = []corev1.NodeRuntimeHandler{{Features: &corev1.NodeRuntimeHandlerFeatures{
		RecursiveReadOnlyMounts: ptr.To(a.cfg.RecursiveReadOnlyMounts), UserNamespaces: ptr.To(false)}}}
	if _, err := a.client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		return err
	}
	a.lastReport = time.Now()
	return nil
}

// conditions are the kubelet's four conditions with this agent's view:
// enough memory, disk and PIDs, and ready. A condition whose status does
// not change keeps its lastTransitionTime.
func (a *Agent) conditions(old []corev1.NodeCondition) []corev1.NodeCondition {
	now := metav1.Now()
	want := []corev1.NodeCondition{
		{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientMemory", Message: "kubelet has sufficient memory available"},
		{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasNoDiskPressure", Message: "kubelet has no disk pressure"},
		{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientPID", Message: "kubelet has sufficient PID available"},
		{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "kubelet is posting ready status"},
	}
	for i := range want {
		want[i].LastHeartbeatTime = now
		want[i].LastTransitionTime = now
		if c := condition(old, want[i].Type); c != nil && c.Status == want[i].Status {
			want[i].LastTransitionTime = c.LastTransitionTime
		}
	}
	return want
}

func condition(cs []corev1.NodeCondition, t corev1.NodeConditionType) *corev1.NodeCondition {
	for i := range cs {
		if cs[i].Type == t {
			return &cs[i]
		}
	}
	return nil
}

// renewLease creates or renews kube-node-lease/NAME, owned by the Node so
// that it goes when the Node does, as the kubelet's lease does.
func (a *Agent) renewLease(ctx context.Context) {
	leases := a.client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	now := metav1.NewMicroTime(time.Now())
	l, err := leases.Get(ctx, a.cfg.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		n, nerr := a.client.CoreV1().Nodes().Get(ctx, a.cfg.Name, metav1.GetOptions{})
		if nerr != nil {
			err = nerr
			break
		}
		_, err = leases.Create(ctx, &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: a.cfg.Name, Namespace: corev1.NamespaceNodeLease,
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: n.Name, UID: n.UID}}},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(a.cfg.Name),
				LeaseDurationSeconds: ptr.To(int32(LeaseDuration / time.Second)), RenewTime: &now},
		}, metav1.CreateOptions{})
	case err == nil:
		l.Spec.HolderIdentity = ptr.To(a.cfg.Name)
		l.Spec.LeaseDurationSeconds = ptr.To(int32(LeaseDuration / time.Second))
		l.Spec.RenewTime = &now
		_, err = leases.Update(ctx, l, metav1.UpdateOptions{})
	}
	if err != nil && ctx.Err() == nil {
		klog.FromContext(ctx).Error(err, "renewing node lease", "node", a.cfg.Name)
	}
}

// labels are the well-known labels a kubelet puts on its Node.
func (a *Agent) labels() map[string]string {
	return map[string]string{
		corev1.LabelHostname:      a.cfg.Name,
		corev1.LabelOSStable:      goruntime.GOOS,
		corev1.LabelArchStable:    goruntime.GOARCH,
		"beta.kubernetes.io/os":   goruntime.GOOS,
		"beta.kubernetes.io/arch": goruntime.GOARCH,
	}
}

func missingLabels(have, want map[string]string) map[string]string {
	missing := map[string]string{}
	for k, v := range want {
		if _, ok := have[k]; !ok {
			missing[k] = v
		}
	}
	return missing
}

// capacity is what the machine has: every node of a local cluster shares
// the same CPUs and memory, as kind's nodes do.
func capacity() corev1.ResourceList {
	rl := corev1.ResourceList{
		corev1.ResourceCPU:  *resource.NewQuantity(int64(goruntime.NumCPU()), resource.DecimalSI),
		corev1.ResourcePods: *resource.NewQuantity(maxPods, resource.DecimalSI),
	}
	if mem, err := memTotal(); err == nil {
		rl[corev1.ResourceMemory] = *resource.NewQuantity(mem, resource.BinarySI)
	}
	return rl
}

// memTotal reads MemTotal from /proc/meminfo, in bytes.
func memTotal() (int64, error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		var kb int64
		if _, err := fmt.Sscanf(line, "MemTotal: %d kB", &kb); err == nil {
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("no MemTotal in /proc/meminfo")
}

func systemInfo() corev1.NodeSystemInfo {
	v := version.Info().GitVersion
	return corev1.NodeSystemInfo{
		MachineID:               readTrim("/etc/machine-id"),
		BootID:                  readTrim("/proc/sys/kernel/random/boot_id"),
		KernelVersion:           readTrim("/proc/sys/kernel/osrelease"),
		OSImage:                 osImage(),
		ContainerRuntimeVersion: "portway://" + version.Portway,
		KubeletVersion:          v,
		OperatingSystem:         goruntime.GOOS,
		Architecture:            goruntime.GOARCH,
	}
}

func readTrim(path string) string {
	b, _ := os.ReadFile(path)
	return strings.TrimSpace(string(b))
}

// osImage is PRETTY_NAME from os-release, as the kubelet reports it.
func osImage() string {
	for line := range strings.SplitSeq(readTrim("/etc/os-release"), "\n") {
		if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return "Linux"
}

package scheduler

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/events"
	testingclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

type nodeOpt func(*corev1.Node)

func node(name string, opts ...nodeOpt) *corev1.Node {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelHostname: name}},
		Status: corev1.NodeStatus{
			Allocatable: corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse("4"),
				corev1.ResourceMemory: resource.MustParse("8Gi"),
				corev1.ResourcePods:   resource.MustParse("110"),
			},
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
		},
	}
	for _, o := range opts {
		o(n)
	}
	return n
}

func taint(key, value string, effect corev1.TaintEffect) nodeOpt {
	return func(n *corev1.Node) {
		n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: key, Value: value, Effect: effect})
	}
}

func ready(s corev1.ConditionStatus) nodeOpt {
	return func(n *corev1.Node) { n.Status.Conditions[0].Status = s }
}

func allocatable(name corev1.ResourceName, q string) nodeOpt {
	return func(n *corev1.Node) { n.Status.Allocatable[name] = resource.MustParse(q) }
}

func label(k, v string) nodeOpt {
	return func(n *corev1.Node) { n.Labels[k] = v }
}

type podOpt func(*corev1.Pod)

func pod(name string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name), Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{SchedulerName: corev1.DefaultSchedulerName, Containers: []corev1.Container{{Name: "c"}},
			PreemptionPolicy: ptr.To(corev1.PreemptLowerPriority)},
		Status: corev1.PodStatus{Phase: corev1.PodPending},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func owner(uid string) podOpt {
	return func(p *corev1.Pod) {
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: uid, UID: types.UID(uid), Controller: ptr.To(true)}}
	}
}

func on(node string) podOpt { return func(p *corev1.Pod) { p.Spec.NodeName = node } }

func requests(cpu, mem string) podOpt {
	return func(p *corev1.Pod) {
		p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)}
	}
}

func selector(k, v string) podOpt {
	return func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{k: v} }
}

func tolerate(t corev1.Toleration) podOpt {
	return func(p *corev1.Pod) { p.Spec.Tolerations = append(p.Spec.Tolerations, t) }
}

func affinity(terms ...corev1.NodeSelectorTerm) podOpt {
	return func(p *corev1.Pod) {
		p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: terms}}}
	}
}

func hostPort(port int32) podOpt {
	return func(p *corev1.Pod) {
		p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, corev1.ContainerPort{ContainerPort: 80, HostPort: port})
	}
}

func infosOf(nodes []*corev1.Node, pods ...*corev1.Pod) []*nodeInfo {
	var infos []*nodeInfo
	for _, n := range nodes {
		ni := newNodeInfo(n)
		for _, p := range pods {
			if p.Spec.NodeName == n.Name {
				ni.add(p)
			}
		}
		infos = append(infos, ni)
	}
	return infos
}

// TestFitErrorMessages checks the FailedScheduling text word for word
// against what kube-scheduler 1.32 prints in the same cluster.
func TestFitErrorMessages(t *testing.T) {
	unreachable := taint(corev1.TaintNodeUnreachable, "", corev1.TaintEffectNoSchedule)
	for _, tc := range []struct {
		name  string
		nodes []*corev1.Node
		pods  []*corev1.Pod // already bound
		pod   *corev1.Pod
		want  string
	}{
		{
			name:  "no nodes",
			pod:   pod("p"),
			want:  "no nodes available to schedule pods",
			nodes: nil,
		},
		{
			name:  "selector and taints",
			nodes: []*corev1.Node{node("a"), node("b", unreachable, ready(corev1.ConditionUnknown)), node("c", unreachable, ready(corev1.ConditionUnknown))},
			pod:   pod("p", selector("disk", "ssd")),
			want: "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, " +
				"2 node(s) had untolerated taint {node.kubernetes.io/unreachable: }. " +
				"preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
		},
		{
			name:  "not ready before the lifecycle controller taints it",
			nodes: []*corev1.Node{node("a", ready(corev1.ConditionFalse)), node("b", ready(corev1.ConditionUnknown))},
			pod:   pod("p"),
			want: "0/2 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, " +
				"1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }. " +
				"preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.",
		},
		{
			name: "resources, pod count and cordon",
			nodes: []*corev1.Node{node("a", allocatable(corev1.ResourcePods, "1")),
				node("b", func(n *corev1.Node) { n.Spec.Unschedulable = true }), node("c")},
			pods: []*corev1.Pod{pod("x", on("a"), requests("3", "1Gi")), pod("y", on("c"), requests("3", "7Gi"))},
			pod:  pod("p", requests("2", "2Gi")),
			want: "0/3 nodes are available: 1 Insufficient memory, 1 Too many pods, 1 node(s) were unschedulable, 2 Insufficient cpu. " +
				"preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.",
		},
		{
			name:  "preemptionPolicy Never",
			nodes: []*corev1.Node{node("a", allocatable(corev1.ResourceCPU, "1"))},
			pod:   pod("p", requests("2", "1Gi"), func(p *corev1.Pod) { p.Spec.PreemptionPolicy = ptr.To(corev1.PreemptNever) }),
			want:  "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never.",
		},
		{
			name:  "host port taken",
			nodes: []*corev1.Node{node("a"), node("b", taint("dedicated", "db", corev1.TaintEffectNoExecute))},
			pods:  []*corev1.Pod{pod("x", on("a"), hostPort(8080))},
			pod:   pod("p", hostPort(8080)),
			want: "0/2 nodes are available: 1 node(s) didn't have free ports for the requested pod ports, " +
				"1 node(s) had untolerated taint {dedicated: db}. " +
				"preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling.",
		},
		{
			name:  "affinity to one node by name",
			nodes: []*corev1.Node{node("a"), node("b", taint("dedicated", "db", corev1.TaintEffectNoSchedule)), node("c")},
			pod: pod("p", affinity(corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{
				{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"b"}}}})),
			want: "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: db}, 2 node(s) didn't satisfy plugin(s) [NodeAffinity]. " +
				"preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
		},
		{
			name:  "affinity names no node",
			nodes: []*corev1.Node{node("a"), node("b")},
			pod: pod("p", affinity(corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{
				{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"a"}},
				{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"b"}}}})),
			want: "0/2 nodes are available: pod affinity terms conflict. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, d := schedule(tc.pod, infosOf(tc.nodes, tc.pods...))
			if got != nil {
				t.Fatalf("scheduled to %s, want no fit", got.node.Name)
			}
			if msg := d.message(); msg != tc.want {
				t.Errorf("message\n got: %s\nwant: %s", msg, tc.want)
			}
		})
	}
}

// TestFilters checks which node each pod lands on when only some fit.
func TestFilters(t *testing.T) {
	nodes := []*corev1.Node{
		node("a", taint("dedicated", "db", corev1.TaintEffectNoSchedule), label("disk", "ssd"), label("cores", "8")),
		node("b", func(n *corev1.Node) { n.Spec.Unschedulable = true }, label("cores", "2")),
		node("c", taint("team", "x", corev1.TaintEffectPreferNoSchedule), allocatable(corev1.ResourceMemory, "1Gi")),
		node("d", ready(corev1.ConditionFalse)),
	}
	expr := func(key string, op corev1.NodeSelectorOperator, values ...string) corev1.NodeSelectorTerm {
		return corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: key, Operator: op, Values: values}}}
	}
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
		want string // "" for none
	}{
		{"PreferNoSchedule does not keep pods off", pod("p"), "c"},
		{"too big for c", pod("p", requests("1", "2Gi")), ""},
		{"tolerating the taint", pod("p", requests("1", "2Gi"), tolerate(corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "db"})), "a"},
		{"toleration of another value", pod("p", requests("1", "2Gi"), tolerate(corev1.Toleration{Key: "dedicated", Value: "web"})), ""},
		{"tolerating cordoned nodes", pod("p", requests("1", "2Gi"), tolerate(corev1.Toleration{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists})), "b"},
		{"tolerating everything includes not ready", pod("p", selector(corev1.LabelHostname, "d"), tolerate(corev1.Toleration{Operator: corev1.TolerationOpExists})), "d"},
		{"not ready", pod("p", selector(corev1.LabelHostname, "d")), ""},
		{"affinity Gt", pod("p", tolerate(corev1.Toleration{Operator: corev1.TolerationOpExists}), affinity(expr("cores", corev1.NodeSelectorOpGt, "4"))), "a"},
		{"affinity terms are ORed", pod("p", tolerate(corev1.Toleration{Operator: corev1.TolerationOpExists}),
			affinity(expr("cores", corev1.NodeSelectorOpLt, "1"), expr("cores", corev1.NodeSelectorOpIn, "2"))), "b"},
		{"a term that does not parse matches nothing", pod("p", tolerate(corev1.Toleration{Operator: corev1.TolerationOpExists}),
			affinity(expr("cores", corev1.NodeSelectorOpGt, "many"))), ""},
		{"DoesNotExist", pod("p", tolerate(corev1.Toleration{Operator: corev1.TolerationOpExists}), affinity(expr("cores", corev1.NodeSelectorOpDoesNotExist)), requests("1", "2Gi")), "d"},
		{"sidecar requests add up", pod("p", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "s", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways),
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("600Mi")}}}}
			p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("600Mi")}
		}), ""},
		{"init container requests are a maximum", pod("p", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "i",
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("600Mi")}}}}
			p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("600Mi")}
		}), "c"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, d := schedule(tc.pod, infosOf(nodes))
			switch {
			case got == nil && tc.want != "":
				t.Errorf("no fit (%s), want %s", d.message(), tc.want)
			case got != nil && got.node.Name != tc.want:
				t.Errorf("scheduled to %s, want %q", got.node.Name, tc.want)
			}
		})
	}
}

type harness struct {
	s      *Scheduler
	client *fake.Clientset
	rec    *events.FakeRecorder
	clock  *testingclock.FakeClock
}

// newHarness runs the scheduler's informers on informerClient and sends its
// writes to writeClient, whose bindings succeed.
func newHarness(t *testing.T, informerClient, writeClient *fake.Clientset) *harness {
	t.Helper()
	podsGVR := corev1.SchemeGroupVersion.WithResource("pods")
	writeClient.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		ca, ok := a.(k8stesting.CreateAction)
		if !ok || ca.GetSubresource() != "binding" {
			return false, nil, nil
		}
		b := ca.GetObject().(*corev1.Binding)
		obj, err := writeClient.Tracker().Get(podsGVR, b.Namespace, b.Name)
		if err != nil {
			return true, nil, err
		}
		p := obj.(*corev1.Pod).DeepCopy()
		if p.Spec.NodeName != "" {
			return true, nil, apierrors.NewConflict(corev1.Resource("pods/binding"), p.Name,
				fmt.Errorf("pod %v is already assigned to node %q", p.Name, p.Spec.NodeName))
		}
		p.Spec.NodeName = b.Target.Name
		return true, &metav1.Status{Status: metav1.StatusSuccess}, writeClient.Tracker().Update(podsGVR, p, b.Namespace)
	})
	factory := informers.NewSharedInformerFactory(informerClient, 0)
	h := &harness{s: New(writeClient, factory), client: writeClient, rec: events.NewFakeRecorder(100),
		clock: testingclock.NewFakeClock(time.Date(2026, 11, 21, 7, 0, 0, 0, time.UTC))}
	h.s.recorder, h.s.clock = h.rec, h.clock
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	t.Cleanup(h.s.queue.ShutDown)
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	return h
}

func (h *harness) sync(t *testing.T, key string) time.Duration {
	t.Helper()
	again, err := h.s.sync(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return again
}

func (h *harness) events() []string {
	var out []string
	for {
		select {
		case e := <-h.rec.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

// TestSpreadsPodsCreatedTogether schedules six pods of one ReplicaSet and
// two unowned pods while the informer never shows a binding: the pods the
// scheduler bound itself must count, so they spread over the three nodes.
func TestSpreadsPodsCreatedTogether(t *testing.T) {
	objs := []runtime.Object{node("node-a"), node("node-b"), node("node-c"),
		pod("old", on("node-a"), owner("other")), pod("done", on("node-b"), owner("rs-1"), func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded })}
	var keys []string
	for i := range 6 {
		p := pod(fmt.Sprintf("web-%d", i), owner("rs-1"))
		objs = append(objs, p)
		keys = append(keys, "default/"+p.Name)
	}
	for _, name := range []string{"solo-0", "solo-1"} {
		objs = append(objs, pod(name, func(p *corev1.Pod) { p.Labels = map[string]string{"app": "solo"} }))
		keys = append(keys, "default/"+name)
	}
	h := newHarness(t, fake.NewClientset(objs...), fake.NewClientset(objs...))
	for _, key := range keys {
		h.sync(t, key)
	}
	byNode := map[string][]string{}
	for _, key := range keys {
		name := strings.TrimPrefix(key, "default/")
		p, err := h.client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		byNode[p.Spec.NodeName] = append(byNode[p.Spec.NodeName], name)
	}
	// web-0 avoids node-a (it has a pod already) and the finished pod on
	// node-b does not count; the solo pods spread among themselves.
	want := map[string][]string{
		"node-a": {"web-2", "web-5"},
		"node-b": {"solo-0", "web-0", "web-3"},
		"node-c": {"solo-1", "web-1", "web-4"},
	}
	for n, names := range byNode {
		sort.Strings(names)
		if strings.Join(names, " ") != strings.Join(want[n], " ") {
			t.Errorf("%s has %v, want %v", n, names, want[n])
		}
	}
	if got := h.events(); len(got) != 8 || got[0] != "Normal Scheduled Successfully assigned default/web-0 to node-b" {
		t.Errorf("events = %q, want 8 starting with web-0's", got)
	}
}

// TestUnschedulableThenRetried: a pod with no Ready node gets the
// FailedScheduling event and PodScheduled=False, is not written again for
// the same failure, and is queued again when its node becomes Ready.
func TestUnschedulableThenRetried(t *testing.T) {
	n := node("node-a", ready(corev1.ConditionFalse))
	p := pod("web")
	client := fake.NewClientset(n, p)
	h := newHarness(t, client, client)
	if again := h.sync(t, "default/web"); again != unschedulableRetry {
		t.Errorf("again = %v, want %v", again, unschedulableRetry)
	}
	wantMsg := "0/1 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }. " +
		"preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
	if got := h.events(); len(got) != 1 || got[0] != "Warning FailedScheduling "+wantMsg {
		t.Errorf("events = %q", got)
	}
	ctx := context.Background()
	got, err := client.CoreV1().Pods("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Status.Conditions) != 1 || got.Status.Conditions[0].Type != corev1.PodScheduled ||
		got.Status.Conditions[0].Status != corev1.ConditionFalse || got.Status.Conditions[0].Reason != "Unschedulable" ||
		got.Status.Conditions[0].Message != wantMsg {
		t.Fatalf("conditions = %+v", got.Status.Conditions)
	}
	// Once the informer has the condition, the same failure writes nothing.
	if err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 5*time.Second, true, func(context.Context) (bool, error) {
		cached, err := h.s.pods.Pods("default").Get("web")
		return err == nil && len(cached.Status.Conditions) == 1, nil
	}); err != nil {
		t.Fatal(err)
	}
	client.ClearActions()
	h.sync(t, "default/web")
	for _, a := range client.Actions() {
		if a.GetVerb() == "patch" {
			t.Errorf("unexpected %s %s/%s", a.GetVerb(), a.GetResource().Resource, a.GetSubresource())
		}
	}
	h.events()

	// The node becomes Ready: the pod is queued once its backoff is over.
	h.clock.Step(maxBackoff)
	for h.s.queue.Len() > 0 { // what the informer queued for the pod's own changes
		key, _ := h.s.queue.Get()
		h.s.queue.Done(key)
	}
	n = n.DeepCopy()
	n.Status.Conditions[0].Status = corev1.ConditionTrue
	if _, err := client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 5*time.Second, true, func(context.Context) (bool, error) {
		return h.s.queue.Len() == 1, nil
	}); err != nil {
		t.Fatal("pod not queued again after its node became Ready")
	}
	// The informer must show the Ready node before the retry fits.
	if err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 5*time.Second, true, func(context.Context) (bool, error) {
		cached, err := h.s.nodes.Get("node-a")
		return err == nil && cached.Status.Conditions[0].Status == corev1.ConditionTrue, nil
	}); err != nil {
		t.Fatal(err)
	}
	key, _ := h.s.queue.Get()
	h.sync(t, key)
	h.s.queue.Done(key)
	if got, _ := client.CoreV1().Pods("default").Get(ctx, "web", metav1.GetOptions{}); got.Spec.NodeName != "node-a" {
		t.Errorf("nodeName = %q, want node-a", got.Spec.NodeName)
	}
}

// TestLeavesOtherPodsAlone: bound, finished, deleting and other schedulers'
// pods are not bound.
func TestLeavesOtherPodsAlone(t *testing.T) {
	now := metav1.Now()
	pods := []*corev1.Pod{
		pod("bound", on("node-a")),
		pod("finished", func(p *corev1.Pod) { p.Status.Phase = corev1.PodFailed }),
		pod("other", func(p *corev1.Pod) { p.Spec.SchedulerName = "my-scheduler" }),
		pod("gated", func(p *corev1.Pod) { p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "g"}} }),
		pod("deleting", func(p *corev1.Pod) { p.DeletionTimestamp = &now; p.Finalizers = []string{"x/y"} }),
	}
	objs := []runtime.Object{node("node-a")}
	for _, p := range pods {
		objs = append(objs, p)
	}
	client := fake.NewClientset(objs...)
	h := newHarness(t, client, client)
	client.ClearActions()
	for _, p := range pods {
		h.sync(t, "default/"+p.Name)
	}
	for _, a := range client.Actions() {
		if a.GetVerb() != "get" && a.GetVerb() != "list" && a.GetVerb() != "watch" {
			t.Errorf("unexpected %s %s/%s", a.GetVerb(), a.GetResource().Resource, a.GetSubresource())
		}
	}
	if got := h.events(); len(got) != 1 || got[0] != "Warning FailedScheduling skip schedule deleting pod: default/deleting" {
		t.Errorf("events = %q", got)
	}
}

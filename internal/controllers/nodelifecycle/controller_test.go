package nodelifecycle

import (
	"context"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	coordlisters "k8s.io/client-go/listers/coordination/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	testingclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

var t0 = time.Date(2026, 11, 21, 7, 0, 0, 0, time.UTC)

func readyNode(name string, heartbeat time.Time) *corev1.Node {
	hb := metav1.NewTime(heartbeat)
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-" + name), CreationTimestamp: metav1.NewTime(t0.Add(-time.Hour))}}
	for _, c := range []struct {
		t      corev1.NodeConditionType
		status corev1.ConditionStatus
		reason string
	}{
		{corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory"},
		{corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure"},
		{corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID"},
		{corev1.NodeReady, corev1.ConditionTrue, "KubeletReady"},
	} {
		n.Status.Conditions = append(n.Status.Conditions, corev1.NodeCondition{Type: c.t, Status: c.status, Reason: c.reason,
			LastHeartbeatTime: hb, LastTransitionTime: metav1.NewTime(t0.Add(-time.Hour))})
	}
	return n
}

func lease(node string, renew time.Time) *coordinationv1.Lease {
	return &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: node, Namespace: corev1.NamespaceNodeLease},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(node), RenewTime: ptr.To(metav1.NewMicroTime(renew))}}
}

func runningPod(name, node string, tolerations ...corev1.Toleration) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name)},
		Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c"}}, Tolerations: tolerations},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{
			{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(t0.Add(-time.Hour))}}},
	}
}

// defaultTolerations are what every pod gets at admission.
var defaultTolerations = []corev1.Toleration{
	{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)},
	{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)},
}

// harness drives the controller by hand: its listers show what refresh
// copied from the fake API server, as an informer would once caught up.
type harness struct {
	t                   *testing.T
	c                   *Controller
	client              *fake.Clientset
	clock               *testingclock.FakeClock
	rec                 *record.FakeRecorder
	nodes, pods, leases cache.Indexer
}

func newHarness(t *testing.T, objs ...runtime.Object) *harness {
	client := fake.NewClientset(objs...)
	clk := testingclock.NewFakeClock(t0)
	c := New(client, informers.NewSharedInformerFactory(client, 0), Config{Clock: clk})
	t.Cleanup(c.nodeQueue.ShutDown)
	t.Cleanup(c.podQueue.ShutDown)
	h := &harness{t: t, c: c, client: client, clock: clk, rec: record.NewFakeRecorder(100),
		nodes:  cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{}),
		pods:   cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{}),
		leases: cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc}),
	}
	c.nodes, c.pods, c.leases = corelisters.NewNodeLister(h.nodes), corelisters.NewPodLister(h.pods), coordlisters.NewLeaseLister(h.leases)
	c.recorder, c.evictionRecorder = h.rec, h.rec
	h.refresh()
	return h
}

func (h *harness) refresh() {
	h.t.Helper()
	ctx := context.Background()
	nodes, err := h.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	pods, err := h.client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	leases, err := h.client.CoordinationV1().Leases("").List(ctx, metav1.ListOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	var items []any
	for i := range nodes.Items {
		items = append(items, &nodes.Items[i])
	}
	_ = h.nodes.Replace(items, "")
	items = nil
	for i := range pods.Items {
		items = append(items, &pods.Items[i])
	}
	_ = h.pods.Replace(items, "")
	items = nil
	for i := range leases.Items {
		items = append(items, &leases.Items[i])
	}
	_ = h.leases.Replace(items, "")
}

// pass runs one monitor pass and lets the listers catch up.
func (h *harness) pass() {
	h.t.Helper()
	if err := h.c.monitor(context.Background()); err != nil {
		h.t.Fatal(err)
	}
	h.refresh()
}

// renew renews the named nodes' leases now.
func (h *harness) renew(nodes ...string) {
	h.t.Helper()
	for _, n := range nodes {
		if _, err := h.client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Update(context.Background(), lease(n, h.clock.Now()), metav1.UpdateOptions{}); err != nil {
			h.t.Fatal(err)
		}
	}
	h.refresh()
}

func (h *harness) node(name string) *corev1.Node {
	h.t.Helper()
	n, err := h.client.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return n
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

func taintsOf(n *corev1.Node) string {
	var out []string
	for _, t := range n.Spec.Taints {
		s := t.ToString()
		if t.TimeAdded == nil {
			s += "(no timeAdded)"
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

// TestNodeGoesAwayAndComesBack follows node-a through a lapse: its lease and
// heartbeat stop, it is marked Unknown after the grace period with its pods
// not ready, tainted, its pods evicted as their tolerations run out, and
// untainted when it reports Ready again.
func TestNodeGoesAwayAndComesBack(t *testing.T) {
	objs := []runtime.Object{
		readyNode("node-a", t0), readyNode("node-b", t0), readyNode("node-c", t0),
		lease("node-a", t0), lease("node-b", t0), lease("node-c", t0),
		runningPod("web", "node-a", defaultTolerations...),
		runningPod("bare", "node-a"),
		runningPod("stays", "node-a", corev1.Toleration{Operator: corev1.TolerationOpExists}),
		runningPod("elsewhere", "node-b", defaultTolerations...),
	}
	h := newHarness(t, objs...)
	ctx := context.Background()
	h.pass()
	if got := h.events(); len(got) != 3 || got[0] != "Normal RegisteredNode Node node-a event: Registered Node node-a in Controller" {
		t.Errorf("events = %q, want three RegisteredNode", got)
	}

	// 39 s: within the grace period.
	h.clock.Step(39 * time.Second)
	h.renew("node-b", "node-c")
	h.pass()
	if r := condition(&h.node("node-a").Status, corev1.NodeReady); r.Status != corev1.ConditionTrue {
		t.Fatalf("Ready = %s within the grace period", r.Status)
	}

	// 41 s: node-a is Unknown.
	h.clock.Step(2 * time.Second)
	h.renew("node-b", "node-c")
	h.pass()
	lapse := metav1.NewTime(h.clock.Now())
	a := h.node("node-a")
	for _, cond := range a.Status.Conditions {
		if cond.Status != corev1.ConditionUnknown || cond.Reason != "NodeStatusUnknown" || cond.Message != "Kubelet stopped posting node status." ||
			!cond.LastTransitionTime.Equal(&lapse) || !cond.LastHeartbeatTime.Equal(ptr.To(metav1.NewTime(t0))) {
			t.Errorf("condition %+v, want Unknown NodeStatusUnknown since %v, heartbeat kept", cond, lapse)
		}
	}
	for _, name := range []string{"web", "bare", "stays"} {
		p, _ := h.client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if c := p.Status.Conditions[0]; c.Status != corev1.ConditionFalse || !c.LastTransitionTime.Equal(&lapse) {
			t.Errorf("pod %s Ready = %+v, want False since %v", name, c, lapse)
		}
	}
	if p, _ := h.client.CoreV1().Pods("default").Get(ctx, "elsewhere", metav1.GetOptions{}); p.Status.Conditions[0].Status != corev1.ConditionTrue {
		t.Errorf("pod on node-b marked not ready")
	}
	got := h.events()
	if len(got) != 4 || got[0] != "Normal NodeNotReady Node node-a status is now: NodeNotReady" || got[1] != "Warning NodeNotReady Node is not ready" {
		t.Errorf("events = %q", got)
	}

	// The node update makes the NoSchedule pass taint it; the next monitor
	// pass queues and taints it NoExecute (the zone is not disrupted: two
	// of three nodes are fine).
	if err := h.c.syncNoScheduleTaints(ctx, "node-a"); err != nil {
		t.Fatal(err)
	}
	h.clock.Step(5 * time.Second)
	h.renew("node-b", "node-c")
	h.pass()
	if got, want := taintsOf(h.node("node-a")), "node.kubernetes.io/unreachable:NoSchedule node.kubernetes.io/unreachable:NoExecute"; got != want {
		t.Errorf("taints = %s, want %s", got, want)
	}

	// Next pass: the pod tolerating nothing goes at once, the one with the
	// default tolerations is due in 300 s, the one tolerating all stays.
	h.clock.Step(5 * time.Second)
	h.renew("node-b", "node-c")
	h.pass()
	remaining := func() string {
		list, _ := h.client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		var names []string
		for _, p := range list.Items {
			names = append(names, p.Name)
		}
		return strings.Join(names, " ")
	}
	if got := remaining(); got != "elsewhere stays web" {
		t.Errorf("pods = %s, want bare evicted", got)
	}
	if got := h.events(); len(got) != 1 || got[0] != "Normal TaintManagerEviction Marking for deletion Pod default/bare" {
		t.Errorf("events = %q", got)
	}
	h.clock.Step(299 * time.Second)
	h.renew("node-b", "node-c")
	h.pass()
	if got := remaining(); got != "elsewhere stays web" {
		t.Errorf("pods = %s, want web kept until 300 s", got)
	}
	h.clock.Step(time.Second)
	h.renew("node-b", "node-c")
	h.pass()
	if got := remaining(); got != "elsewhere stays" {
		t.Errorf("pods = %s, want web evicted after 300 s", got)
	}
	h.events()

	// node-a is back: Ready posted, lease renewed. The taints come off.
	a = h.node("node-a")
	for i := range a.Status.Conditions {
		c := &a.Status.Conditions[i]
		c.Status, c.Reason, c.Message = corev1.ConditionFalse, "KubeletHasSufficientMemory", ""
		if c.Type == corev1.NodeReady {
			c.Status, c.Reason = corev1.ConditionTrue, "KubeletReady"
		}
		c.LastHeartbeatTime, c.LastTransitionTime = metav1.NewTime(h.clock.Now()), metav1.NewTime(h.clock.Now())
	}
	if _, err := h.client.CoreV1().Nodes().UpdateStatus(ctx, a, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.renew("node-a", "node-b", "node-c")
	if err := h.c.syncNoScheduleTaints(ctx, "node-a"); err != nil {
		t.Fatal(err)
	}
	h.pass()
	if got := taintsOf(h.node("node-a")); got != "" {
		t.Errorf("taints = %s, want none", got)
	}
}

// TestEveryNodeDown: with all nodes down the controller blames itself, as
// Kubernetes does: conditions go Unknown but no NoExecute taint is added.
func TestEveryNodeDown(t *testing.T) {
	h := newHarness(t, readyNode("node-a", t0), lease("node-a", t0), runningPod("web", "node-a", defaultTolerations...))
	h.pass()
	for range 3 {
		h.clock.Step(30 * time.Second)
		h.pass()
	}
	n := h.node("node-a")
	if r := condition(&n.Status, corev1.NodeReady); r.Status != corev1.ConditionUnknown {
		t.Errorf("Ready = %s, want Unknown", r.Status)
	}
	if got := taintsOf(n); got != "" {
		t.Errorf("taints = %s, want none while every node is down", got)
	}
}

// TestNeverPosted: a node that never posted status has the startup grace
// period, then gets Kubernetes' "never updated" conditions.
func TestNeverPosted(t *testing.T) {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-a", CreationTimestamp: metav1.NewTime(t0)}}
	h := newHarness(t, n, readyNode("node-b", t0), lease("node-b", t0))
	h.pass()
	h.clock.Step(50 * time.Second)
	h.renew("node-b")
	h.pass()
	if len(h.node("node-a").Status.Conditions) != 0 {
		t.Fatal("conditions set within the startup grace period")
	}
	h.clock.Step(11 * time.Second)
	h.renew("node-b")
	h.pass()
	conds := h.node("node-a").Status.Conditions
	if len(conds) != 4 {
		t.Fatalf("conditions = %+v, want four", conds)
	}
	for _, c := range conds {
		if c.Status != corev1.ConditionUnknown || c.Reason != "NodeStatusNeverUpdated" || c.Message != "Kubelet never posted node status." ||
			!c.LastHeartbeatTime.Equal(ptr.To(metav1.NewTime(t0))) {
			t.Errorf("condition %+v", c)
		}
	}
}

// TestNotReadyTaints: a node reporting Ready=False gets the not-ready
// taints, swapped in for unreachable ones, and a cordoned node the
// unschedulable taint.
func TestNotReadyTaints(t *testing.T) {
	a := readyNode("node-a", t0)
	condition(&a.Status, corev1.NodeReady).Status = corev1.ConditionFalse
	a.Spec.Unschedulable = true
	a.Spec.Taints = []corev1.Taint{
		{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute},
		{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoSchedule},
		{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule},
	}
	h := newHarness(t, a, lease("node-a", t0), readyNode("node-b", t0), lease("node-b", t0), readyNode("node-c", t0), lease("node-c", t0))
	ctx := context.Background()
	if err := h.c.syncNoScheduleTaints(ctx, "node-a"); err != nil {
		t.Fatal(err)
	}
	h.refresh()
	h.pass() // first sight: NoExecute taints come off until the node is judged
	h.pass()
	got := taintsOf(h.node("node-a"))
	for _, want := range []string{"dedicated=db:NoSchedule(no timeAdded)", "node.kubernetes.io/not-ready:NoSchedule", "node.kubernetes.io/unschedulable:NoSchedule", "node.kubernetes.io/not-ready:NoExecute"} {
		if !strings.Contains(got, want) {
			t.Errorf("taints = %s, want %s", got, want)
		}
	}
	if strings.Contains(got, "unreachable") {
		t.Errorf("taints = %s, want no unreachable ones", got)
	}

	// A pod bound to the node afterwards is marked not ready too.
	if _, err := h.client.CoreV1().Pods("default").Create(ctx, runningPod("late", "node-a"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.refresh()
	if err := h.c.syncPod(ctx, "default/late"); err != nil {
		t.Fatal(err)
	}
	if p, _ := h.client.CoreV1().Pods("default").Get(ctx, "late", metav1.GetOptions{}); p.Status.Conditions[0].Status != corev1.ConditionFalse {
		t.Errorf("pod on a not-ready node: Ready = %s, want False", p.Status.Conditions[0].Status)
	}
}

func TestTolerationTime(t *testing.T) {
	unreachable := []corev1.Taint{{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute}}
	for _, tc := range []struct {
		name        string
		taints      []corev1.Taint
		tolerations []corev1.Toleration
		want        time.Duration
		ok          bool
	}{
		{"not tolerated", unreachable, nil, 0, false},
		{"default tolerations", unreachable, defaultTolerations, 300 * time.Second, true},
		{"for ever", unreachable, []corev1.Toleration{{Operator: corev1.TolerationOpExists}}, -1, true},
		{"zero means now", unreachable, []corev1.Toleration{{Operator: corev1.TolerationOpExists, TolerationSeconds: ptr.To[int64](0)}}, 0, true},
		{"one of two untolerated", append(unreachable, corev1.Taint{Key: "x", Effect: corev1.TaintEffectNoExecute}), defaultTolerations, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := tolerationTime(tc.taints, tc.tolerations)
			if got != tc.want || ok != tc.ok {
				t.Errorf("tolerationTime = %v, %v; want %v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestZoneState(t *testing.T) {
	cond := func(s corev1.ConditionStatus) *corev1.NodeCondition { return &corev1.NodeCondition{Status: s} }
	T, F := cond(corev1.ConditionTrue), cond(corev1.ConditionFalse)
	for _, tc := range []struct {
		conds []*corev1.NodeCondition
		want  zoneState
	}{
		{[]*corev1.NodeCondition{T, F}, stateNormal},
		{[]*corev1.NodeCondition{F, nil}, stateFullDisruption},
		{[]*corev1.NodeCondition{T, F, F}, stateNormal},
		{[]*corev1.NodeCondition{T, F, F, F}, statePartialDisruption},
		{[]*corev1.NodeCondition{T, T, F, F, F, T, T}, stateNormal},
	} {
		if got := computeZoneState(tc.conds); got != tc.want {
			t.Errorf("computeZoneState(%d conditions) = %s, want %s", len(tc.conds), got, tc.want)
		}
	}
}

package replicaset

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	testingclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

const ns = "rsdemo"

var t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// harness drives the controller by hand: refresh copies the fake API
// server's objects into the listers and calls the pod handlers for the
// pods that appeared or went, as the informers would.
type harness struct {
	t          testing.TB
	c          *Controller
	client     *fake.Clientset
	clock      *testingclock.FakeClock
	rec        *record.FakeRecorder
	sets, pods cache.Indexer
	creates    atomic.Int32
}

func newHarness(t testing.TB, objs ...runtime.Object) *harness {
	client := fake.NewClientset(objs...)
	clk := testingclock.NewFakeClock(t0)
	c := New(client, informers.NewSharedInformerFactory(client, 0), clk)
	t.Cleanup(c.queue.ShutDown)
	h := &harness{t: t, c: c, client: client, clock: clk, rec: record.NewFakeRecorder(1000),
		sets: cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{
			cache.NamespaceIndex: cache.MetaNamespaceIndexFunc,
			controllerUIDIndex: func(obj any) ([]string, error) {
				if ref := metav1.GetControllerOf(obj.(metav1.Object)); ref != nil {
					return []string{string(ref.UID)}, nil
				}
				return nil, nil
			}}),
		pods: cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc}),
	}
	c.sets, c.setIndex, c.pods = appslisters.NewReplicaSetLister(h.sets), h.sets, corelisters.NewPodLister(h.pods)
	c.recorder = h.rec
	// The fake API server neither generates names nor sets UIDs and
	// creation times; the real one does.
	client.PrependReactor("create", "*", func(a clienttesting.Action) (bool, runtime.Object, error) {
		obj := a.(clienttesting.CreateAction).GetObject().(metav1.Object)
		if obj.GetName() == "" {
			obj.SetName(obj.GetGenerateName() + rand.String(5))
		}
		obj.SetUID(types.UID("uid-" + obj.GetName()))
		obj.SetCreationTimestamp(metav1.NewTime(clk.Now()))
		if a.GetResource().Resource == "pods" {
			h.creates.Add(1)
		}
		return false, nil, nil
	})
	h.refresh()
	return h
}

func (h *harness) refresh() {
	h.t.Helper()
	ctx := context.Background()
	sets, err := h.client.AppsV1().ReplicaSets("").List(ctx, metav1.ListOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	pods, err := h.client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	var items []any
	for i := range sets.Items {
		items = append(items, &sets.Items[i])
	}
	_ = h.sets.Replace(items, "")
	before := map[string]*corev1.Pod{}
	for _, o := range h.pods.List() {
		before[o.(*corev1.Pod).Name] = o.(*corev1.Pod)
	}
	items = nil
	for i := range pods.Items {
		items = append(items, &pods.Items[i])
	}
	_ = h.pods.Replace(items, "")
	for i := range pods.Items {
		p := &pods.Items[i]
		if before[p.Name] == nil {
			h.c.addPod(p)
		}
		delete(before, p.Name)
	}
	for _, p := range before {
		h.c.deletePod(p)
	}
}

func (h *harness) sync(name string) time.Duration {
	h.t.Helper()
	again, err := h.c.sync(context.Background(), ns+"/"+name)
	if err != nil {
		h.t.Fatalf("sync: %v", err)
	}
	return again
}

func (h *harness) rs(name string) *appsv1.ReplicaSet {
	h.t.Helper()
	rs, err := h.client.AppsV1().ReplicaSets(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return rs
}

func (h *harness) podList() []corev1.Pod {
	h.t.Helper()
	l, err := h.client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return l.Items
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

func replicaSet(name string, replicas int32) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: types.UID("uid-" + name), Generation: 1},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web", "tier": "front"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "agnhost"}}},
			},
		},
	}
}

type podOpt func(*corev1.Pod)

func ownedBy(rs *appsv1.ReplicaSet) podOpt {
	return func(p *corev1.Pod) { p.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(rs, Kind)} }
}

func onNode(n string) podOpt { return func(p *corev1.Pod) { p.Spec.NodeName = n } }

func phase(ph corev1.PodPhase) podOpt { return func(p *corev1.Pod) { p.Status.Phase = ph } }

func readyAt(t time.Time) podOpt {
	return func(p *corev1.Pod) {
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(t)}}
	}
}

func labeled(l map[string]string) podOpt { return func(p *corev1.Pod) { p.Labels = l } }

func pod(name string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: types.UID("uid-" + name),
			Labels: map[string]string{"app": "web", "tier": "front"}, CreationTimestamp: metav1.NewTime(t0.Add(-time.Hour))},
		Status: corev1.PodStatus{Phase: corev1.PodPending},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func TestScaleUpCreatesOwnedPods(t *testing.T) {
	rs := replicaSet("web", 3)
	h := newHarness(t, rs)
	h.sync("web")
	pods := h.podList()
	if len(pods) != 3 {
		t.Fatalf("got %d pods, want 3", len(pods))
	}
	var want []string
	for _, p := range pods {
		if !strings.HasPrefix(p.Name, "web-") || p.GenerateName != "web-" {
			t.Errorf("pod %s: generateName %q", p.Name, p.GenerateName)
		}
		ref := metav1.GetControllerOf(&p)
		if ref == nil || ref.UID != rs.UID || ref.Kind != "ReplicaSet" || ref.APIVersion != "apps/v1" ||
			!ptr.Deref(ref.BlockOwnerDeletion, false) {
			t.Errorf("pod %s: ownerReferences %+v", p.Name, p.OwnerReferences)
		}
		if p.Labels["tier"] != "front" || p.Spec.Containers[0].Image != "agnhost" {
			t.Errorf("pod %s not from the template: %+v", p.Name, p)
		}
		want = append(want, "Normal SuccessfulCreate Created pod: "+p.Name)
	}
	got := h.events()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
	st := h.rs("web").Status
	// The cache has not shown the pods yet: status still says 0.
	if st.Replicas != 0 || st.ObservedGeneration != 1 {
		t.Errorf("status %+v", st)
	}

	// Expectations: until the cache shows the 3 creates, another sync
	// creates nothing.
	h.sync("web")
	if n := len(h.podList()); n != 3 {
		t.Fatalf("sync with a stale cache made %d pods, want 3", n)
	}
	h.refresh()
	h.sync("web")
	if st := h.rs("web").Status; st.Replicas != 3 || st.FullyLabeledReplicas != 3 || st.ReadyReplicas != 0 {
		t.Errorf("status %+v", st)
	}
}

func TestScaleDownDeletesByRank(t *testing.T) {
	rs := replicaSet("web", 2)
	h := newHarness(t, rs,
		pod("ready-old", ownedBy(rs), onNode("n1"), phase(corev1.PodRunning), readyAt(t0.Add(-50*time.Minute))),
		pod("ready-new", ownedBy(rs), onNode("n2"), phase(corev1.PodRunning), readyAt(t0.Add(-time.Minute))),
		pod("running-notready", ownedBy(rs), onNode("n1"), phase(corev1.PodRunning)),
		pod("pending", ownedBy(rs), onNode("n2")),
		pod("unscheduled", ownedBy(rs)),
	)
	h.sync("web")
	var left []string
	for _, p := range h.podList() {
		left = append(left, p.Name)
	}
	slices.Sort(left)
	if want := []string{"ready-new", "ready-old"}; !slices.Equal(left, want) {
		t.Fatalf("pods left %v, want %v", left, want)
	}
	got := h.events()
	slices.Sort(got)
	want := []string{"Normal SuccessfulDelete Deleted pod: pending", "Normal SuccessfulDelete Deleted pod: running-notready",
		"Normal SuccessfulDelete Deleted pod: unscheduled"}
	if !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
	// One more down: of two ready pods, the one ready for less time goes.
	h.refresh()
	rs = h.rs("web")
	rs.Spec.Replicas = ptr.To[int32](1)
	if _, err := h.client.AppsV1().ReplicaSets(ns).Update(context.Background(), rs, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.refresh()
	h.sync("web")
	if pods := h.podList(); len(pods) != 1 || pods[0].Name != "ready-old" {
		t.Errorf("pods left %v, want ready-old", pods)
	}
}

func TestRanking(t *testing.T) {
	now := t0
	cases := []struct {
		name        string
		first, then *corev1.Pod
	}{
		{"unscheduled first", pod("a"), pod("b", onNode("n"))},
		{"pending before running", pod("a", onNode("n")), pod("b", onNode("n"), phase(corev1.PodRunning))},
		{"not ready before ready", pod("a", onNode("n"), phase(corev1.PodRunning)),
			pod("b", onNode("n"), phase(corev1.PodRunning), readyAt(now.Add(-time.Hour)))},
		{"lower deletion cost first",
			pod("a", onNode("n"), func(p *corev1.Pod) { p.Annotations = map[string]string{corev1.PodDeletionCost: "-5"} }),
			pod("b", onNode("n"))},
		{"more restarts first",
			pod("a", onNode("n"), func(p *corev1.Pod) { p.Status.ContainerStatuses = []corev1.ContainerStatus{{RestartCount: 3}} }),
			pod("b", onNode("n"))},
		{"ready more recently first (log scale)",
			pod("a", onNode("n"), phase(corev1.PodRunning), readyAt(now.Add(-time.Minute))),
			pod("b", onNode("n"), phase(corev1.PodRunning), readyAt(now.Add(-time.Hour)))},
		{"newer first", pod("a", onNode("n"), func(p *corev1.Pod) { p.CreationTimestamp = metav1.NewTime(now.Add(-time.Second)) }),
			pod("b", onNode("n"))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, order := range [][]*corev1.Pod{{tc.first, tc.then}, {tc.then, tc.first}} {
				got := podsToDelete(slices.Clone(order), nil, 1, now)
				if got[0] != tc.first {
					t.Errorf("deleted %s first, want %s", got[0].Name, tc.first.Name)
				}
			}
		})
	}
	// Doubled up: of two otherwise equal pods, the one sharing its node
	// with more related pods goes first.
	a, b := pod("a", onNode("busy")), pod("b", onNode("quiet"))
	related := []*corev1.Pod{a, b, pod("c", onNode("busy"))}
	if got := podsToDelete([]*corev1.Pod{b, a}, related, 1, now); got[0] != a {
		t.Errorf("deleted %s first, want a (doubled up)", got[0].Name)
	}
}

func TestAdoptAndRelease(t *testing.T) {
	rs := replicaSet("web", 2)
	other := replicaSet("other", 1)
	h := newHarness(t, rs, other,
		pod("orphan"),
		pod("owned", ownedBy(rs)),
		pod("relabeled", ownedBy(rs), labeled(map[string]string{"app": "api"})),
		pod("others", ownedBy(other)),
	)
	h.sync("web")
	got := map[string]string{}
	for _, p := range h.podList() {
		ref := metav1.GetControllerOf(&p)
		got[p.Name] = "-"
		if ref != nil {
			got[p.Name] = ref.Name
		}
	}
	want := map[string]string{"orphan": "web", "owned": "web", "relabeled": "-", "others": "other"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("controllers %v, want %v", got, want)
	}
	for _, p := range h.podList() {
		if p.Name == "orphan" && !ptr.Deref(p.OwnerReferences[0].BlockOwnerDeletion, false) {
			t.Errorf("adopted pod's reference %+v", p.OwnerReferences)
		}
	}
	if h.creates.Load() != 0 {
		t.Errorf("created %d pods; adoption should make 2", h.creates.Load())
	}

	// A ReplicaSet being deleted adopts nothing.
	dying := replicaSet("dying", 1)
	dying.DeletionTimestamp = ptr.To(metav1.NewTime(t0))
	dying.Finalizers = []string{metav1.FinalizerDeleteDependents}
	dying.Spec.Selector.MatchLabels = map[string]string{"app": "lonely"}
	if _, err := h.client.AppsV1().ReplicaSets(ns).Create(context.Background(), dying, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.client.CoreV1().Pods(ns).Create(context.Background(), pod("lonely", labeled(map[string]string{"app": "lonely"})), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.refresh()
	h.sync("dying")
	if p, _ := h.client.CoreV1().Pods(ns).Get(context.Background(), "lonely", metav1.GetOptions{}); len(p.OwnerReferences) != 0 {
		t.Errorf("a deleted ReplicaSet adopted %s", p.Name)
	}
	if h.creates.Load() != 1 { // the test's own pod "lonely"
		t.Errorf("a deleted ReplicaSet created pods")
	}
}

func TestStatusAvailability(t *testing.T) {
	rs := replicaSet("web", 3)
	rs.Spec.MinReadySeconds = 10
	h := newHarness(t, rs,
		pod("a", ownedBy(rs), onNode("n"), phase(corev1.PodRunning), readyAt(t0.Add(-time.Minute))),
		pod("b", ownedBy(rs), onNode("n"), phase(corev1.PodRunning), readyAt(t0.Add(-5*time.Second))),
		pod("c", ownedBy(rs), onNode("n"), phase(corev1.PodRunning), readyAt(t0.Add(-time.Second)), labeled(map[string]string{"app": "web"})),
		pod("done", ownedBy(rs), onNode("n"), phase(corev1.PodSucceeded)),
	)
	again := h.sync("web")
	st := h.rs("web").Status
	if st.Replicas != 3 || st.FullyLabeledReplicas != 2 || st.ReadyReplicas != 3 || st.AvailableReplicas != 1 || st.ObservedGeneration != 1 {
		t.Errorf("status %+v", st)
	}
	if again != 10*time.Second {
		t.Errorf("looks again after %v, want minReadySeconds", again)
	}
	h.clock.Step(10 * time.Second)
	h.refresh()
	if again := h.sync("web"); again != 0 {
		t.Errorf("looks again after %v with all available", again)
	}
	if st := h.rs("web").Status; st.AvailableReplicas != 3 {
		t.Errorf("status after 10s %+v", st)
	}
}

func TestCreateFailureSlowStartAndCondition(t *testing.T) {
	h := newHarness(t, replicaSet("web", 10))
	var attempts atomic.Int32
	h.client.PrependReactor("create", "pods", func(clienttesting.Action) (bool, runtime.Object, error) {
		attempts.Add(1)
		return true, nil, errors.New(`pods "web-" is forbidden: exceeded quota`)
	})
	if _, err := h.c.sync(context.Background(), ns+"/web"); err == nil {
		t.Fatal("sync succeeded with failing creates")
	}
	if n := attempts.Load(); n != 1 {
		t.Errorf("%d creates attempted; slow start stops after the first batch of 1", n)
	}
	if got := h.events(); len(got) != 1 || got[0] != `Warning FailedCreate Error creating: pods "web-" is forbidden: exceeded quota` {
		t.Errorf("events %q", got)
	}
	c := condition(h.rs("web").Status, appsv1.ReplicaSetReplicaFailure)
	if c == nil || c.Status != corev1.ConditionTrue || c.Reason != "FailedCreate" || c.Message != `pods "web-" is forbidden: exceeded quota` {
		t.Fatalf("ReplicaFailure condition %+v", c)
	}
	// The skipped creates were not expected: the next sync tries again.
	if !h.c.expect.satisfied(ns + "/web") {
		t.Error("expectations wait for creates never sent")
	}
	h.client.ReactionChain = h.client.ReactionChain[1:]
	h.refresh()
	h.sync("web")
	if n := len(h.podList()); n != 10 {
		t.Errorf("%d pods, want 10", n)
	}
	if c := condition(h.rs("web").Status, appsv1.ReplicaSetReplicaFailure); c != nil {
		t.Errorf("ReplicaFailure stays after success: %+v", c)
	}
}

func TestSlowStartBatches(t *testing.T) {
	var calls atomic.Int32
	n, err := slowStart(10, 1, func() error {
		if calls.Add(1) > 4 {
			return errors.New("full")
		}
		return nil
	})
	// Batches 1, 2, 4: calls 5 to 7 of the third batch fail, so 1+2+1
	// succeed and no fourth batch starts.
	if n != 4 || err == nil || calls.Load() != 7 {
		t.Errorf("slowStart: %d succeeded, %d calls, err %v", n, calls.Load(), err)
	}
}

package deployment

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
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

	"github.com/portway/portway/internal/controllers/replicaset"
)

const ns = "deploydemo"

var t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// cluster runs the Deployment controller against a fake API server,
// syncing by hand: each round copies the API server's objects into the
// controller's listers (as informers would), syncs every Deployment, then
// plays the ReplicaSet controller (replicaSets below). No node runs pods:
// the test makes them ready itself.
type cluster struct {
	t                testing.TB
	client           *fake.Clientset
	clock            *testingclock.FakeClock
	dc               *Controller
	rec              *record.FakeRecorder
	deps, sets, pods cache.Indexer
}

func newCluster(t testing.TB, objs ...runtime.Object) *cluster {
	client := fake.NewClientset(objs...)
	clk := testingclock.NewFakeClock(t0)
	c := &cluster{t: t, client: client, clock: clk, rec: record.NewFakeRecorder(10000)}
	client.PrependReactor("create", "*", func(a clienttesting.Action) (bool, runtime.Object, error) {
		obj := a.(clienttesting.CreateAction).GetObject().(metav1.Object)
		if obj.GetName() == "" {
			obj.SetName(obj.GetGenerateName() + rand.String(5))
		}
		obj.SetUID(types.UID("uid-" + obj.GetName()))
		obj.SetCreationTimestamp(metav1.NewTime(clk.Now()))
		obj.SetGeneration(1)
		return false, nil, nil
	})
	// The API server bumps metadata.generation on spec changes.
	client.PrependReactor("update", "*", func(a clienttesting.Action) (bool, runtime.Object, error) {
		u := a.(clienttesting.UpdateAction)
		if u.GetSubresource() != "" {
			return false, nil, nil
		}
		var oldSpec, newSpec any
		switch obj := u.GetObject().(type) {
		case *appsv1.Deployment:
			old, err := client.Tracker().Get(a.GetResource(), a.GetNamespace(), obj.Name)
			if err != nil {
				return false, nil, nil
			}
			oldSpec, newSpec = old.(*appsv1.Deployment).Spec, obj.Spec
			obj.Generation = old.(*appsv1.Deployment).Generation
		case *appsv1.ReplicaSet:
			old, err := client.Tracker().Get(a.GetResource(), a.GetNamespace(), obj.Name)
			if err != nil {
				return false, nil, nil
			}
			oldSpec, newSpec = old.(*appsv1.ReplicaSet).Spec, obj.Spec
			obj.Generation = old.(*appsv1.ReplicaSet).Generation
		default:
			return false, nil, nil
		}
		if fmt.Sprint(oldSpec) != fmt.Sprint(newSpec) {
			u.GetObject().(metav1.Object).SetGeneration(u.GetObject().(metav1.Object).GetGeneration() + 1)
		}
		return false, nil, nil
	})
	c.dc = New(client, informers.NewSharedInformerFactory(client, 0), clk)
	t.Cleanup(c.dc.queue.ShutDown)
	c.deps = cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	c.sets = cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	c.pods = cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	c.dc.deployments, c.dc.sets, c.dc.pods = appslisters.NewDeploymentLister(c.deps), appslisters.NewReplicaSetLister(c.sets), corelisters.NewPodLister(c.pods)
	c.dc.recorder = c.rec
	return c
}

// refresh copies the API server's objects into the listers.
func (c *cluster) refresh() {
	c.t.Helper()
	ctx := context.Background()
	ds, err := c.client.AppsV1().Deployments("").List(ctx, metav1.ListOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	rss, err := c.client.AppsV1().ReplicaSets("").List(ctx, metav1.ListOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	pods, err := c.client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	var items []any
	for i := range ds.Items {
		items = append(items, &ds.Items[i])
	}
	_ = c.deps.Replace(items, "")
	items = nil
	for i := range rss.Items {
		items = append(items, &rss.Items[i])
	}
	_ = c.sets.Replace(items, "")
	items = nil
	for i := range pods.Items {
		items = append(items, &pods.Items[i])
	}
	_ = c.pods.Replace(items, "")
}

// round syncs every Deployment, then every ReplicaSet, and reports
// whether anything was written.
func (c *cluster) round() bool {
	c.t.Helper()
	ctx := context.Background()
	c.client.ClearActions()
	c.refresh()
	for _, key := range c.deps.ListKeys() {
		if _, err := c.dc.sync(ctx, key); err != nil {
			c.t.Fatalf("deployment sync %s: %v", key, err)
		}
	}
	c.runReplicaSets()
	for _, a := range c.client.Actions() {
		switch a.GetVerb() {
		case "create", "update", "patch", "delete":
			return true
		}
	}
	return false
}

// runReplicaSets does what the ReplicaSet controller (tested on its own)
// does, at once: pods from each ReplicaSet's template up to spec.replicas,
// the not ready and newest deleted first beyond it, and the status.
func (c *cluster) runReplicaSets() {
	c.t.Helper()
	ctx := context.Background()
	pods := c.podList()
	for _, rs := range c.replicaSets() {
		var owned []corev1.Pod
		for _, p := range pods {
			if metav1.IsControlledBy(&p, rs) {
				owned = append(owned, p)
			}
		}
		for len(owned) < int(*rs.Spec.Replicas) {
			p := &corev1.Pod{ObjectMeta: *rs.Spec.Template.ObjectMeta.DeepCopy(), Spec: *rs.Spec.Template.Spec.DeepCopy()}
			p.GenerateName, p.Namespace = rs.Name+"-", ns
			p.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(rs, replicaset.Kind)}
			created, err := c.client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
			if err != nil {
				c.t.Fatal(err)
			}
			c.clock.Step(time.Millisecond) // creation times differ
			owned = append(owned, *created)
		}
		slices.SortStableFunc(owned, func(a, b corev1.Pod) int {
			if isReady(&a) != isReady(&b) {
				if isReady(&a) {
					return 1
				}
				return -1
			}
			return b.CreationTimestamp.Compare(a.CreationTimestamp.Time)
		})
		for len(owned) > int(*rs.Spec.Replicas) {
			if err := c.client.CoreV1().Pods(ns).Delete(ctx, owned[0].Name, metav1.DeleteOptions{}); err != nil {
				c.t.Fatal(err)
			}
			owned = owned[1:]
		}
		st := appsv1.ReplicaSetStatus{Replicas: int32(len(owned)), FullyLabeledReplicas: int32(len(owned)), ObservedGeneration: rs.Generation}
		for _, p := range owned {
			if isReady(&p) {
				st.ReadyReplicas++
				st.AvailableReplicas++
			}
		}
		if !reflect.DeepEqual(st, rs.Status) {
			rs.Status = st
			if _, err := c.client.AppsV1().ReplicaSets(ns).UpdateStatus(ctx, rs, metav1.UpdateOptions{}); err != nil {
				c.t.Fatal(err)
			}
		}
	}
}

// settle runs rounds until nothing changes, calling check after each.
func (c *cluster) settle(check func()) {
	c.t.Helper()
	for range 50 {
		changed := c.round()
		if check != nil {
			check()
		}
		if !changed {
			return
		}
	}
	c.t.Fatal("controllers did not settle in 50 rounds")
}

// makeReady marks up to n not-ready pods Running and Ready (all if n < 0).
func (c *cluster) makeReady(n int) int {
	c.t.Helper()
	done := 0
	for _, p := range c.podList() {
		if n >= 0 && done >= n {
			break
		}
		if isReady(&p) {
			continue
		}
		p.Spec.NodeName = "node1"
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(c.clock.Now())}}
		if _, err := c.client.CoreV1().Pods(ns).UpdateStatus(context.Background(), &p, metav1.UpdateOptions{}); err != nil {
			c.t.Fatal(err)
		}
		done++
	}
	return done
}

func isReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func (c *cluster) podList() []corev1.Pod {
	c.t.Helper()
	l, err := c.client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	slices.SortFunc(l.Items, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	return l.Items
}

func (c *cluster) deployment(name string) *appsv1.Deployment {
	c.t.Helper()
	d, err := c.client.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	return d
}

func (c *cluster) update(d *appsv1.Deployment) {
	c.t.Helper()
	if _, err := c.client.AppsV1().Deployments(ns).Update(context.Background(), d, metav1.UpdateOptions{}); err != nil {
		c.t.Fatal(err)
	}
}

// replicaSets is the ReplicaSets as "name=replicas", oldest first.
func (c *cluster) replicaSets() []*appsv1.ReplicaSet {
	c.t.Helper()
	l, err := c.client.AppsV1().ReplicaSets(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	var out []*appsv1.ReplicaSet
	for i := range l.Items {
		out = append(out, &l.Items[i])
	}
	slices.SortFunc(out, func(a, b *appsv1.ReplicaSet) int {
		ra, _ := revision(a)
		rb, _ := revision(b)
		return int(ra - rb)
	})
	return out
}

func (c *cluster) events() []string {
	var out []string
	for {
		select {
		case e := <-c.rec.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func deployment(name string, replicas int32, mod func(*appsv1.Deployment)) *appsv1.Deployment {
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: types.UID("uid-" + name), Generation: 1},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "agnhost:2.39"}}},
			},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: ptr.To(intstr.FromString("25%")), MaxUnavailable: ptr.To(intstr.FromString("25%"))}},
			RevisionHistoryLimit:    ptr.To[int32](10),
			ProgressDeadlineSeconds: ptr.To[int32](600),
		},
	}
	if mod != nil {
		mod(d)
	}
	return d
}

func setImage(d *appsv1.Deployment, image string) {
	d.Spec.Template.Spec.Containers[0].Image = image
}

func condition(d *appsv1.Deployment, t appsv1.DeploymentConditionType) string {
	c := getCondition(d.Status, t)
	if c == nil {
		return "<none>"
	}
	return fmt.Sprintf("%s %s %s", c.Status, c.Reason, c.Message)
}

func TestCreateDeployment(t *testing.T) {
	c := newCluster(t, deployment("web", 3, nil))
	c.settle(nil)
	sets := c.replicaSets()
	if len(sets) != 1 {
		t.Fatalf("%d ReplicaSets, want 1", len(sets))
	}
	rs := sets[0]
	hash := templateHash(&deployment("web", 3, nil).Spec.Template, nil)
	if rs.Name != "web-"+hash || rs.Labels[appsv1.DefaultDeploymentUniqueLabelKey] != hash ||
		rs.Spec.Selector.MatchLabels[appsv1.DefaultDeploymentUniqueLabelKey] != hash ||
		rs.Spec.Template.Labels[appsv1.DefaultDeploymentUniqueLabelKey] != hash {
		t.Errorf("ReplicaSet %s labels %v selector %v", rs.Name, rs.Labels, rs.Spec.Selector)
	}
	if ref := metav1.GetControllerOf(rs); ref == nil || ref.Name != "web" || ref.Kind != "Deployment" || !ptr.Deref(ref.BlockOwnerDeletion, false) {
		t.Errorf("ReplicaSet owner %+v", rs.OwnerReferences)
	}
	wantAnn := map[string]string{RevisionAnnotation: "1", DesiredReplicasAnnotation: "3", MaxReplicasAnnotation: "4"}
	if fmt.Sprint(rs.Annotations) != fmt.Sprint(wantAnn) {
		t.Errorf("ReplicaSet annotations %v, want %v", rs.Annotations, wantAnn)
	}
	pods := c.podList()
	if len(pods) != 3 {
		t.Fatalf("%d pods", len(pods))
	}
	for _, p := range pods {
		if p.Labels[appsv1.DefaultDeploymentUniqueLabelKey] != hash || metav1.GetControllerOf(&p).Name != rs.Name {
			t.Errorf("pod %s labels %v owners %v", p.Name, p.Labels, p.OwnerReferences)
		}
	}
	d := c.deployment("web")
	if d.Annotations[RevisionAnnotation] != "1" {
		t.Errorf("deployment revision %q", d.Annotations[RevisionAnnotation])
	}
	st := d.Status
	if st.ObservedGeneration != 1 || st.Replicas != 3 || st.UpdatedReplicas != 3 || st.ReadyReplicas != 0 || st.AvailableReplicas != 0 || st.UnavailableReplicas != 3 {
		t.Errorf("status %+v", st)
	}
	if got, want := condition(d, appsv1.DeploymentAvailable), "False MinimumReplicasUnavailable Deployment does not have minimum availability."; got != want {
		t.Errorf("Available: %s, want %s", got, want)
	}
	if got, want := condition(d, appsv1.DeploymentProgressing), fmt.Sprintf("True ReplicaSetUpdated ReplicaSet %q is progressing.", rs.Name); got != want {
		t.Errorf("Progressing: %s, want %s", got, want)
	}
	if got := c.events(); !slices.Contains(got, "Normal ScalingReplicaSet Scaled up replica set "+rs.Name+" from 0 to 3") {
		t.Errorf("events %q", got)
	}

	c.makeReady(-1)
	c.settle(nil)
	d = c.deployment("web")
	if st := d.Status; st.ReadyReplicas != 3 || st.AvailableReplicas != 3 || st.UnavailableReplicas != 0 {
		t.Errorf("status %+v", st)
	}
	if got, want := condition(d, appsv1.DeploymentAvailable), "True MinimumReplicasAvailable Deployment has minimum availability."; got != want {
		t.Errorf("Available: %s, want %s", got, want)
	}
	if got, want := condition(d, appsv1.DeploymentProgressing), fmt.Sprintf("True NewReplicaSetAvailable ReplicaSet %q has successfully progressed.", rs.Name); got != want {
		t.Errorf("Progressing: %s, want %s", got, want)
	}

	// kubectl scale: the one ReplicaSet follows.
	d.Spec.Replicas = ptr.To[int32](5)
	c.update(d)
	c.settle(nil)
	if sets := c.replicaSets(); len(sets) != 1 || *sets[0].Spec.Replicas != 5 || len(c.podList()) != 5 {
		t.Errorf("after scaling to 5: %d ReplicaSets, %d pods", len(sets), len(c.podList()))
	}
	if got := c.events(); !slices.Contains(got, "Normal ScalingReplicaSet Scaled up replica set "+rs.Name+" from 3 to 5") {
		t.Errorf("events %q", got)
	}
}

// TestRollingUpdateBounds rolls a template change over 10 ready pods, one
// pod becoming ready per round, and checks after every round that there
// are never more than replicas+maxSurge pods nor fewer than
// replicas-maxUnavailable ready ones.
func TestRollingUpdateBounds(t *testing.T) {
	for _, tc := range []struct{ surge, unavailable intstr.IntOrString }{
		{intstr.FromString("25%"), intstr.FromString("25%")}, // 3 and 2 of 10
		{intstr.FromInt32(0), intstr.FromInt32(1)},
		{intstr.FromInt32(1), intstr.FromInt32(0)},
		{intstr.FromInt32(10), intstr.FromInt32(0)},
	} {
		t.Run(fmt.Sprintf("surge=%s,unavailable=%s", tc.surge.String(), tc.unavailable.String()), func(t *testing.T) {
			const replicas = 10
			d := deployment("web", replicas, func(d *appsv1.Deployment) {
				d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: &tc.surge, MaxUnavailable: &tc.unavailable}
			})
			surge, unavailable := fenceposts(d)
			c := newCluster(t, d)
			c.settle(nil)
			c.makeReady(-1)
			c.settle(nil)

			d = c.deployment("web")
			setImage(d, "agnhost:2.40")
			c.update(d)
			minReady, maxPods := replicas, 0
			check := func() {
				pods := c.podList()
				ready := 0
				for _, p := range pods {
					if isReady(&p) {
						ready++
					}
				}
				minReady, maxPods = min(minReady, ready), max(maxPods, len(pods))
			}
			for round := 0; ; round++ {
				if round > 100 {
					t.Fatal("rollout did not finish in 100 rounds")
				}
				c.settle(check)
				if c.makeReady(1) == 0 {
					break
				}
				check()
			}
			if maxPods > replicas+int(surge) {
				t.Errorf("%d pods at once, more than %d+%d", maxPods, replicas, surge)
			}
			if minReady < replicas-int(unavailable) {
				t.Errorf("%d ready pods at one point, fewer than %d-%d", minReady, replicas, unavailable)
			}
			sets := c.replicaSets()
			if len(sets) != 2 || *sets[0].Spec.Replicas != 0 || *sets[1].Spec.Replicas != replicas || sets[1].Annotations[RevisionAnnotation] != "2" {
				t.Fatalf("ReplicaSets after the rollout: %v", describe(sets))
			}
			for _, p := range c.podList() {
				if p.Spec.Containers[0].Image != "agnhost:2.40" {
					t.Errorf("pod %s still runs %s", p.Name, p.Spec.Containers[0].Image)
				}
			}
			d = c.deployment("web")
			if st := d.Status; st.UpdatedReplicas != replicas || st.AvailableReplicas != replicas || st.Replicas != replicas || st.ObservedGeneration != d.Generation {
				t.Errorf("status %+v (generation %d)", st, d.Generation)
			}
			if got, want := condition(d, appsv1.DeploymentProgressing), fmt.Sprintf("True NewReplicaSetAvailable ReplicaSet %q has successfully progressed.", sets[1].Name); got != want {
				t.Errorf("Progressing: %s", got)
			}
			if d.Annotations[RevisionAnnotation] != "2" {
				t.Errorf("deployment revision %q", d.Annotations[RevisionAnnotation])
			}
			ev := strings.Join(c.events(), "\n")
			if !strings.Contains(ev, "Scaled down replica set "+sets[0].Name+" from ") || !strings.Contains(ev, "Scaled up replica set "+sets[1].Name+" from 0 to ") {
				t.Errorf("events:\n%s", ev)
			}
		})
	}
}

func describe(sets []*appsv1.ReplicaSet) string {
	var out []string
	for _, rs := range sets {
		out = append(out, fmt.Sprintf("%s(rev %s)=%d/%d", rs.Name, rs.Annotations[RevisionAnnotation], *rs.Spec.Replicas, rs.Status.Replicas))
	}
	return strings.Join(out, " ")
}

func TestRollbackAndHistory(t *testing.T) {
	c := newCluster(t, deployment("web", 2, func(d *appsv1.Deployment) { d.Spec.RevisionHistoryLimit = ptr.To[int32](1) }))
	c.settle(nil)
	c.makeReady(-1)
	c.settle(nil)
	rollout := func(image string) {
		d := c.deployment("web")
		setImage(d, image)
		c.update(d)
		for c.settle(nil); c.makeReady(-1) > 0; c.settle(nil) {
		}
	}
	rollout("agnhost:2.40")
	sets := c.replicaSets()
	if got := describe(sets); !strings.Contains(got, "(rev 1)=0/0") || !strings.Contains(got, "(rev 2)=2/2") {
		t.Fatalf("after the rollout: %s", got)
	}
	first := sets[0]

	// kubectl rollout undo: the template of revision 1, without its hash.
	d := c.deployment("web")
	d.Spec.Template = *first.Spec.Template.DeepCopy()
	delete(d.Spec.Template.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	c.update(d)
	for c.settle(nil); c.makeReady(-1) > 0; c.settle(nil) {
	}
	sets = c.replicaSets()
	last := sets[len(sets)-1]
	if last.Name != first.Name || last.Annotations[RevisionAnnotation] != "3" || last.Annotations[RevisionHistoryAnnotation] != "1" || *last.Spec.Replicas != 2 {
		t.Fatalf("after undo: %s, annotations %v", describe(sets), last.Annotations)
	}
	if rev := c.deployment("web").Annotations[RevisionAnnotation]; rev != "3" {
		t.Errorf("deployment revision %s after undo", rev)
	}

	// A third template: revisionHistoryLimit 1 keeps one old ReplicaSet.
	rollout("agnhost:2.41")
	c.settle(nil)
	if got := describe(c.replicaSets()); len(c.replicaSets()) != 2 || !strings.Contains(got, "(rev 3)=0/0") || !strings.Contains(got, "(rev 4)=2/2") {
		t.Errorf("history beyond the limit: %s", got)
	}
}

func TestRestartMakesNewReplicaSet(t *testing.T) {
	c := newCluster(t, deployment("web", 2, nil))
	c.settle(nil)
	c.makeReady(-1)
	c.settle(nil)
	d := c.deployment("web")
	d.Spec.Template.Annotations = map[string]string{"kubectl.kubernetes.io/restartedAt": "2026-11-21T10:00:00Z"}
	c.update(d)
	for c.settle(nil); c.makeReady(-1) > 0; c.settle(nil) {
	}
	if got := describe(c.replicaSets()); !strings.Contains(got, "(rev 1)=0/0") || !strings.Contains(got, "(rev 2)=2/2") {
		t.Errorf("after restart: %s", got)
	}
	for _, p := range c.podList() {
		if p.Annotations["kubectl.kubernetes.io/restartedAt"] == "" {
			t.Errorf("pod %s is not from the restarted template", p.Name)
		}
	}
}

func TestRecreate(t *testing.T) {
	c := newCluster(t, deployment("web", 3, func(d *appsv1.Deployment) {
		d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	}))
	c.settle(nil)
	c.makeReady(-1)
	c.settle(nil)
	d := c.deployment("web")
	setImage(d, "agnhost:2.40")
	c.update(d)
	mixed := false
	c.settle(func() {
		images := map[string]bool{}
		for _, p := range c.podList() {
			images[p.Spec.Containers[0].Image] = true
		}
		mixed = mixed || len(images) > 1
	})
	if mixed {
		t.Error("old and new pods ran together")
	}
	if got := describe(c.replicaSets()); !strings.Contains(got, "(rev 1)=0/0") || !strings.Contains(got, "(rev 2)=3/3") {
		t.Errorf("after recreate: %s", got)
	}
}

func TestProportionalScaling(t *testing.T) {
	c := newCluster(t, deployment("web", 10, func(d *appsv1.Deployment) {
		d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: ptr.To(intstr.FromInt32(3)), MaxUnavailable: ptr.To(intstr.FromInt32(2))}
	}))
	c.settle(nil)
	c.makeReady(-1)
	c.settle(nil)
	d := c.deployment("web")
	setImage(d, "agnhost:2.40")
	c.update(d)
	c.settle(nil) // the new pods never become ready: the rollout stalls
	sets := c.replicaSets()
	if *sets[0].Spec.Replicas != 8 || *sets[1].Spec.Replicas != 5 {
		t.Fatalf("stalled rollout: %s", describe(sets))
	}
	// Scale 10 → 20 mid-rollout: 13 → 23 replicas, spread 8:5.
	d = c.deployment("web")
	d.Spec.Replicas = ptr.To[int32](20)
	c.update(d)
	c.round()
	sets = c.replicaSets()
	if *sets[0].Spec.Replicas != 14 || *sets[1].Spec.Replicas != 9 {
		t.Errorf("after scaling to 20: %s, want 14 old and 9 new", describe(sets))
	}
	for _, rs := range sets {
		if rs.Annotations[DesiredReplicasAnnotation] != "20" || rs.Annotations[MaxReplicasAnnotation] != "23" {
			t.Errorf("%s annotations %v", rs.Name, rs.Annotations)
		}
	}
}

func TestPausedAndDeadline(t *testing.T) {
	c := newCluster(t, deployment("web", 2, nil))
	c.settle(nil)
	d := c.deployment("web")
	d.Spec.Paused = true
	setImage(d, "agnhost:2.40")
	c.update(d)
	c.settle(nil)
	d = c.deployment("web")
	if len(c.replicaSets()) != 1 {
		t.Errorf("a paused deployment rolled out: %s", describe(c.replicaSets()))
	}
	if got, want := condition(d, appsv1.DeploymentProgressing), "Unknown DeploymentPaused Deployment is paused"; got != want {
		t.Errorf("Progressing: %s, want %s", got, want)
	}
	d.Spec.Paused = false
	c.update(d)
	c.settle(nil)
	d = c.deployment("web")
	if len(c.replicaSets()) != 2 {
		t.Errorf("resumed deployment did not roll out: %s", describe(c.replicaSets()))
	}
	newRS := c.replicaSets()[1].Name
	if got, want := condition(d, appsv1.DeploymentProgressing), fmt.Sprintf("True ReplicaSetUpdated ReplicaSet %q is progressing.", newRS); got != want {
		t.Errorf("Progressing: %s, want %s", got, want)
	}
	// No pod ever becomes ready: 600 s later the rollout has timed out.
	again, err := c.dc.sync(context.Background(), ns+"/web")
	if err != nil || again < 599*time.Second || again > 601*time.Second {
		t.Errorf("deadline check in %v (%v), want about 600s", again, err)
	}
	c.clock.Step(601 * time.Second)
	c.settle(nil)
	d = c.deployment("web")
	if got, want := condition(d, appsv1.DeploymentProgressing), fmt.Sprintf("False ProgressDeadlineExceeded ReplicaSet %q has timed out progressing.", newRS); got != want {
		t.Errorf("Progressing: %s, want %s", got, want)
	}
}

func TestTemplateHash(t *testing.T) {
	tmpl := &deployment("web", 1, nil).Spec.Template
	h := templateHash(tmpl, nil)
	if h != templateHash(tmpl.DeepCopy(), nil) {
		t.Error("hash is not stable")
	}
	if h == templateHash(tmpl, ptr.To[int32](1)) || templateHash(tmpl, ptr.To[int32](1)) == templateHash(tmpl, ptr.To[int32](2)) {
		t.Error("collisionCount does not change the hash")
	}
	for _, r := range h {
		if strings.ContainsRune("aeiou0131", r) && !strings.ContainsRune("bcdfghjklmnpqrstvwxz2456789", r) {
			t.Errorf("hash %q has %q, not in SafeEncodeString's alphabet", h, r)
		}
	}
	other := tmpl.DeepCopy()
	setImage(&appsv1.Deployment{Spec: appsv1.DeploymentSpec{Template: *other}}, "x")
	other.Spec.Containers[0].Image = "x"
	if templateHash(other, nil) == h {
		t.Error("a different template hashes the same")
	}
}

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/portway/portway/internal/podinfo"
)

// TestWorkloads runs the ReplicaSet and Deployment controllers and the
// garbage collector of `portway server` with the real kubectl. With no
// node, pods stay Pending; the test makes them ready itself, as a kubelet
// would, to drive rollouts.
func TestWorkloads(t *testing.T) {
	s := startServer(t)
	s.ok("create", "namespace", "wl")
	c := s.client()
	t.Run("create and scale", func(t *testing.T) { testWorkloadCreate(t, s, c) })
	t.Run("rolling update", func(t *testing.T) { testRollingUpdate(t, s, c) })
	t.Run("undo and restart", func(t *testing.T) { testUndoRestart(t, s, c) })
	t.Run("garbage collection", func(t *testing.T) { testCascade(t, s, c) })
}

// livePods is the namespace's pods with the label app=app that are not being
// deleted.
func livePods(t *testing.T, c kubernetes.Interface, app string) []corev1.Pod {
	t.Helper()
	l, err := c.CoreV1().Pods("wl").List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		t.Fatal(err)
	}
	var out []corev1.Pod
	for _, p := range l.Items {
		if p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out
}

func replicaSetsOf(t *testing.T, c kubernetes.Interface, app string) []appsv1.ReplicaSet {
	t.Helper()
	l, err := c.AppsV1().ReplicaSets("wl").List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		t.Fatal(err)
	}
	return l.Items
}

// makeReady marks up to n of app's pods that are not ready Running and
// Ready (all when n < 0) and returns how many it marked; a pod written
// meanwhile is left for the next call.
func makeReady(t *testing.T, c kubernetes.Interface, app string, n int) int {
	t.Helper()
	done := 0
	for _, p := range livePods(t, c, app) {
		if podinfo.Ready(&p) || (n >= 0 && done >= n) {
			continue
		}
		now := metav1.Now()
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{
			{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
		}
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: p.Spec.Containers[0].Name, Image: p.Spec.Containers[0].Image,
			Ready: true, Started: ptr.To(true), State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}}}
		_, err := c.CoreV1().Pods("wl").UpdateStatus(context.Background(), &p, metav1.UpdateOptions{})
		switch {
		case apierrors.IsConflict(err) || apierrors.IsNotFound(err):
			continue // written meanwhile (the scheduler) or deleted: next time
		case err != nil:
			t.Fatal(err)
		}
		done++
	}
	return done
}

// finishRollout makes the Deployment's pods ready as they come until its
// status says the rollout is complete.
func finishRollout(t *testing.T, c kubernetes.Interface, name string) {
	t.Helper()
	waitFor(t, name+"'s rollout", func() bool {
		makeReady(t, c, name, -1)
		d, err := c.AppsV1().Deployments("wl").Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want := *d.Spec.Replicas
		st := d.Status
		return st.ObservedGeneration == d.Generation && st.UpdatedReplicas == want && st.Replicas == want && st.AvailableReplicas == want
	})
}

func testWorkloadCreate(t *testing.T, s *server, c kubernetes.Interface) {
	s.ok("create", "deployment", "web", "-n", "wl", "--image=registry.k8s.io/e2e-test-images/agnhost:2.40",
		"--replicas=3", "--", "/agnhost", "serve-hostname")
	waitFor(t, "3 pods", func() bool { return len(livePods(t, c, "web")) == 3 })
	d, err := c.AppsV1().Deployments("wl").Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sets := replicaSetsOf(t, c, "web")
	if len(sets) != 1 {
		t.Fatalf("%d ReplicaSets", len(sets))
	}
	rs := sets[0]
	hash := rs.Labels[appsv1.DefaultDeploymentUniqueLabelKey]
	if hash == "" || rs.Name != "web-"+hash || rs.Spec.Selector.MatchLabels[appsv1.DefaultDeploymentUniqueLabelKey] != hash {
		t.Errorf("ReplicaSet %s: labels %v, selector %v", rs.Name, rs.Labels, rs.Spec.Selector)
	}
	if ref := metav1.GetControllerOf(&rs); ref == nil || ref.UID != d.UID || !ptr.Deref(ref.BlockOwnerDeletion, false) {
		t.Errorf("ReplicaSet owners %+v", rs.OwnerReferences)
	}
	for _, p := range livePods(t, c, "web") {
		ref := metav1.GetControllerOf(&p)
		if p.Labels[appsv1.DefaultDeploymentUniqueLabelKey] != hash || ref == nil || ref.UID != rs.UID || ref.Kind != "ReplicaSet" ||
			!strings.HasPrefix(p.Name, rs.Name+"-") {
			t.Errorf("pod %s: labels %v, owners %+v", p.Name, p.Labels, p.OwnerReferences)
		}
	}
	waitFor(t, "the ScalingReplicaSet event", func() bool {
		return strings.Contains(s.ok("get", "events", "-n", "wl", "--field-selector", "reason=ScalingReplicaSet", "-o", "jsonpath={.items[*].message}"),
			"Scaled up replica set "+rs.Name+" from 0 to 3")
	})
	created := s.ok("get", "events", "-n", "wl", "--field-selector", "reason=SuccessfulCreate,involvedObject.name="+rs.Name, "-o", "jsonpath={.items[*].message}")
	if !strings.Contains(created, "Created pod: "+rs.Name+"-") {
		t.Errorf("SuccessfulCreate events: %q", created)
	}
	r := s.kubectl("rollout", "status", "deploy/web", "-n", "wl", "--timeout=1s")
	if r.code == 0 || !strings.Contains(r.stdout, `Waiting for deployment "web" rollout to finish: 0 of 3 updated replicas are available...`) {
		t.Errorf("rollout status with no pod ready: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}

	s.ok("scale", "deploy/web", "-n", "wl", "--replicas=5")
	waitFor(t, "5 pods", func() bool { return len(livePods(t, c, "web")) == 5 })
	s.ok("scale", "deploy/web", "-n", "wl", "--replicas=4")
	waitFor(t, "4 pods", func() bool { return len(livePods(t, c, "web")) == 4 })
	if n := len(replicaSetsOf(t, c, "web")); n != 1 {
		t.Errorf("scaling made %d ReplicaSets", n)
	}
	makeReady(t, c, "web", -1)
	expect(t, "rollout status", s.ok("rollout", "status", "deploy/web", "-n", "wl", "--timeout=60s"),
		`deployment "web" successfully rolled out`+"\n")
	expect(t, "status", s.ok("get", "deploy", "web", "-n", "wl", "-o",
		"jsonpath={.status.replicas} {.status.updatedReplicas} {.status.readyReplicas} {.status.availableReplicas} {.status.unavailableReplicas}"),
		"4 4 4 4 ")
}

// testRollingUpdate sets a new image on 4 ready replicas (maxSurge and
// maxUnavailable 25%: 1 each) and makes one new pod ready at a time: there
// are never more than 5 pods nor fewer than 3 ready ones.
func testRollingUpdate(t *testing.T, s *server, c kubernetes.Interface) {
	old := replicaSetsOf(t, c, "web")[0].Name
	s.ok("set", "image", "deploy/web", "-n", "wl", "agnhost=registry.k8s.io/e2e-test-images/agnhost:2.39")
	maxPods, minReady := 0, 4
	deadline := time.Now().Add(60 * time.Second)
	for {
		pods := livePods(t, c, "web")
		ready, updated := 0, 0
		for _, p := range pods {
			if podinfo.Ready(&p) {
				ready++
			}
			if p.Spec.Containers[0].Image == "registry.k8s.io/e2e-test-images/agnhost:2.39" {
				updated++
			}
		}
		maxPods, minReady = max(maxPods, len(pods)), min(minReady, ready)
		if updated == 4 && ready == 4 && len(pods) == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rollout did not finish: %d pods, %d updated, %d ready", len(pods), updated, ready)
		}
		makeReady(t, c, "web", 1)
		time.Sleep(200 * time.Millisecond) // let the controllers act between readiness changes
	}
	if maxPods > 5 || minReady < 3 {
		t.Errorf("during the rollout: up to %d pods (max 5), down to %d ready (min 3)", maxPods, minReady)
	}
	expect(t, "rollout status", s.ok("rollout", "status", "deploy/web", "-n", "wl", "--timeout=60s"),
		`deployment "web" successfully rolled out`+"\n")
	hist := s.ok("rollout", "history", "deploy/web", "-n", "wl")
	if !strings.Contains(hist, "1         <none>") || !strings.Contains(hist, "2         <none>") {
		t.Errorf("rollout history:\n%s", hist)
	}
	events := s.ok("get", "events", "-n", "wl", "--field-selector", "reason=ScalingReplicaSet", "-o", "jsonpath={.items[*].message}")
	if !strings.Contains(events, "Scaled down replica set "+old+" from 4 to 3") {
		t.Errorf("ScalingReplicaSet events: %s", events)
	}
}

func testUndoRestart(t *testing.T, s *server, c kubernetes.Interface) {
	first := ""
	for _, rs := range replicaSetsOf(t, c, "web") {
		if rs.Annotations["deployment.kubernetes.io/revision"] == "1" {
			first = rs.Name
		}
	}
	expect(t, "undo", s.ok("rollout", "undo", "deploy/web", "-n", "wl"), "deployment.apps/web rolled back\n")
	waitFor(t, "revision 1's ReplicaSet to become revision 3", func() bool {
		for _, rs := range replicaSetsOf(t, c, "web") {
			if rs.Name == first {
				return rs.Annotations["deployment.kubernetes.io/revision"] == "3" && rs.Annotations["deployment.kubernetes.io/revision-history"] == "1"
			}
		}
		return false
	})
	finishRollout(t, c, "web")
	expect(t, "rollout status after undo", s.ok("rollout", "status", "deploy/web", "-n", "wl", "--timeout=60s"),
		`deployment "web" successfully rolled out`+"\n")

	expect(t, "restart", s.ok("rollout", "restart", "deploy/web", "-n", "wl"), "deployment.apps/web restarted\n")
	waitFor(t, "a third ReplicaSet", func() bool { return len(replicaSetsOf(t, c, "web")) == 3 })
	finishRollout(t, c, "web")
	for _, p := range livePods(t, c, "web") {
		if p.Annotations["kubectl.kubernetes.io/restartedAt"] == "" {
			t.Errorf("pod %s is not from the restarted template", p.Name)
		}
	}
	expect(t, "rollout status after restart", s.ok("rollout", "status", "deploy/web", "-n", "wl", "--timeout=60s"),
		`deployment "web" successfully rolled out`+"\n")
}

func testCascade(t *testing.T, s *server, c kubernetes.Interface) {
	// Background, kubectl's default: the Deployment goes at once, then
	// the garbage collector deletes its ReplicaSets, then their pods.
	expect(t, "delete", s.ok("delete", "deploy", "web", "-n", "wl"), `deployment.apps "web" deleted`+"\n")
	waitFor(t, "web's ReplicaSets and pods deleted", func() bool {
		return len(replicaSetsOf(t, c, "web")) == 0 && len(livePods(t, c, "web")) == 0
	})

	for _, cascade := range []string{"orphan", "foreground"} {
		name := "del-" + cascade
		s.ok("create", "deployment", name, "-n", "wl", "--image=registry.k8s.io/e2e-test-images/agnhost:2.40", "--replicas=2")
		waitFor(t, name+" pods", func() bool { return len(livePods(t, c, name)) == 2 })
		expect(t, "delete --cascade="+cascade, s.ok("delete", "deploy", name, "-n", "wl", "--cascade="+cascade),
			fmt.Sprintf("deployment.apps %q deleted\n", name))
		switch cascade {
		case "orphan":
			// kubectl waited for the Deployment to go: the collector had
			// already removed the references to it.
			sets := replicaSetsOf(t, c, name)
			if len(sets) != 1 || len(sets[0].OwnerReferences) != 0 {
				t.Fatalf("orphaned ReplicaSets: %+v", sets)
			}
			for _, p := range livePods(t, c, name) {
				if ref := metav1.GetControllerOf(&p); ref == nil || ref.UID != sets[0].UID {
					t.Errorf("orphaned ReplicaSet's pod %s owners %+v", p.Name, p.OwnerReferences)
				}
			}
			// Still a working ReplicaSet.
			s.ok("scale", "rs", sets[0].Name, "-n", "wl", "--replicas=3")
			waitFor(t, "the orphan ReplicaSet's 3 pods", func() bool { return len(livePods(t, c, name)) == 3 })
		case "foreground":
			// kubectl waited until the Deployment was gone, which happens
			// only after its ReplicaSets and their pods are.
			if sets, pods := replicaSetsOf(t, c, name), livePods(t, c, name); len(sets) != 0 || len(pods) != 0 {
				t.Errorf("after a foreground delete: %d ReplicaSets, %d pods", len(sets), len(pods))
			}
		}
	}
}

package e2e

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// TestDeploymentOnCluster is issue 5's scenario with real pods: a
// Deployment over 3 nodes, exec across nodes and through its Service,
// scaling that the endpoints follow, rollouts that never go below the
// allowed number of ready endpoints, and deletion of everything it owns.
func TestDeploymentOnCluster(t *testing.T) {
	c := startCluster(t, 3)
	client := c.client()
	ctx := context.Background()

	c.ok("create", "deployment", "web", "--image=registry.k8s.io/e2e-test-images/agnhost:2.40", "--replicas=6", "--", "/agnhost", "serve-hostname")
	pods := waitPodsReady(t, client, "default", "app=web", 6)
	perNode := map[string]int{}
	for _, p := range pods {
		perNode[p.Spec.NodeName]++
	}
	if len(perNode) != 3 {
		t.Errorf("pods per node %v: want the 6 pods over all 3 nodes", perNode)
	}
	c.ok("expose", "deployment", "web", "--port", "80", "--target-port", "9376")
	svc, err := client.CoreV1().Services("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "6 ready endpoints", func() bool { return readyEndpoints(t, client, "web") == 6 })

	t.Run("exec across nodes and through the Service", func(t *testing.T) {
		from, to := pods[0], pods[0]
		for _, p := range pods {
			if p.Spec.NodeName != from.Spec.NodeName {
				to = p
			}
		}
		out := c.ok("exec", from.Name, "--", "curl", "-s", "--max-time", "5", "http://"+net.JoinHostPort(to.Status.PodIP, "9376"))
		if out != to.Name {
			t.Errorf("exec %s (%s) -- curl %s (%s): %q, want %q", from.Name, from.Spec.NodeName, to.Name, to.Spec.NodeName, out, to.Name)
		}
		out = c.ok("exec", from.Name, "--", "curl", "-s", "--max-time", "5", "http://"+net.JoinHostPort(svc.Spec.ClusterIP, "80"))
		if !strings.HasPrefix(out, "web-") {
			t.Errorf("exec %s -- curl the Service's clusterIP: %q, want a web pod's name", from.Name, out)
		}
		if r := c.kubectlIn("hi\n", "exec", "-i", from.Name, "--", "cat"); r.code != 0 || r.stdout != "hi\n" {
			t.Errorf("exec -i cat: exit %d, %q, %s", r.code, r.stdout, r.stderr)
		}
		if r := c.kubectl("exec", from.Name, "--", "sh", "-c", "exit 3"); r.code != 3 {
			t.Errorf("exec sh -c 'exit 3': exit %d, want 3", r.code)
		}
	})

	t.Run("scale", func(t *testing.T) {
		for _, n := range []int{2, 4} {
			c.ok("scale", "deployment", "web", fmt.Sprintf("--replicas=%d", n))
			waitPodsReady(t, client, "default", "app=web", n)
			waitFor(t, fmt.Sprintf("%d ready endpoints", n), func() bool { return readyEndpoints(t, client, "web") == n })
		}
	})

	// With 4 replicas and the default 25% maxUnavailable, a rollout may
	// have 1 pod unavailable: at least 3 ready endpoints at every moment.
	for _, rollout := range [][]string{
		{"rollout", "restart", "deployment", "web"},
		{"set", "image", "deployment/web", "agnhost=registry.k8s.io/e2e-test-images/agnhost:2.39"},
	} {
		t.Run(strings.Join(rollout[:2], " "), func(t *testing.T) {
			before := replicaSetNames(t, client)
			least := watchReadyEndpoints(t, client, "web", func() {
				c.ok(rollout...)
				c.ok("rollout", "status", "deployment/web", "--timeout=2m")
			})
			if least < 3 {
				t.Errorf("%s: %d ready endpoints at the lowest, want at least 3 (4 replicas, maxUnavailable 1)", strings.Join(rollout, " "), least)
			}
			after := replicaSetNames(t, client)
			if len(after) != len(before)+1 {
				t.Errorf("ReplicaSets before %v, after %v: want one new", before, after)
			}
			waitPodsReady(t, client, "default", "app=web", 4)
		})
	}

	t.Run("delete", func(t *testing.T) {
		c.ok("delete", "deployment", "web")
		pods := func() []corev1.Pod {
			p, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
			if err != nil {
				t.Fatal(err)
			}
			return p.Items
		}
		// serve-hostname, as the real one, keeps serving after SIGTERM
		// until it is killed: its pods take their whole grace period
		// (30 s), so first every pod is terminating, then gone.
		waitFor(t, "the ReplicaSets to go and the pods to terminate", func() bool {
			rs, err := client.AppsV1().ReplicaSets("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
			if err != nil || len(rs.Items) > 0 {
				return false
			}
			for _, p := range pods() {
				if p.DeletionTimestamp == nil {
					return false
				}
			}
			return true
		})
		waitForWithin(t, time.Minute, "the pods to go", func() bool { return len(pods()) == 0 })
	})
}

// readyEndpoints counts the ready endpoints of a Service.
func readyEndpoints(t *testing.T, client kubernetes.Interface, service string) int {
	t.Helper()
	n, err := countReadyEndpoints(client, service)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func countReadyEndpoints(client kubernetes.Interface, service string) (int, error) {
	l, err := client.DiscoveryV1().EndpointSlices("default").List(context.Background(),
		metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=" + service})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, s := range l.Items {
		for _, e := range s.Endpoints {
			if e.Conditions.Ready != nil && *e.Conditions.Ready {
				n++
			}
		}
	}
	return n, nil
}

// watchReadyEndpoints runs fn and returns the fewest ready endpoints the
// Service had while it ran, looking every 20 ms.
func watchReadyEndpoints(t *testing.T, client kubernetes.Interface, service string, fn func()) int {
	t.Helper()
	least := readyEndpoints(t, client, service)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if n, err := countReadyEndpoints(client, service); err == nil {
				least = min(least, n)
			}
		}
	}()
	fn()
	close(done)
	wg.Wait()
	return least
}

func replicaSetNames(t *testing.T, client kubernetes.Interface) []string {
	t.Helper()
	l, err := client.AppsV1().ReplicaSets("default").List(context.Background(), metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, rs := range l.Items {
		out = append(out, rs.Name)
	}
	return out
}

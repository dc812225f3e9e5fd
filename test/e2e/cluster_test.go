package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	upcmd "github.com/portway/portway/internal/cluster"
	"github.com/portway/portway/internal/namespaces"
	"github.com/portway/portway/internal/nodeinfo"
	"github.com/portway/portway/internal/podinfo"
)

// cluster is a `portway up` running inside a throwaway network namespace
// of the test's own: its bridge, nodes and pods never touch the host's
// network.
type cluster struct {
	*server
	name string
	args []string
	up   *exec.Cmd
	out  *lockedBuffer
	done chan error
}

// startCluster runs `portway up --nodes N` in a new network namespace and
// waits until it says its nodes are Ready. Cleanup stops it and checks
// that nothing of it is left.
func startCluster(t *testing.T, nodes int, extra ...string) *cluster {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("portway up needs root (network namespaces and links)")
	}
	name := fmt.Sprintf("pwt%d", os.Getpid()%10000)
	testNS := name + "-test"
	if err := namespaces.Create(testNS); err != nil {
		t.Fatalf("creating the test's network namespace: %v", err)
	}
	t.Cleanup(func() {
		if err := namespaces.Delete(testNS); err != nil {
			t.Errorf("removing the test's network namespace: %v", err)
		}
	})
	setLoopbackUp(t, testNS)

	c := &cluster{server: &server{t: t, dataDir: t.TempDir(), netns: testNS}, name: name,
		args: append([]string{"up", "--name", name, "--nodes", fmt.Sprint(nodes), "--unsafe-no-fsync"}, extra...)}
	c.kubeconfig = filepath.Join(c.dataDir, "kubeconfig")
	c.start()
	t.Cleanup(c.down)
	return c
}

// start runs `up` and waits until its nodes are Ready.
func (c *cluster) start() {
	t := c.t
	t.Helper()
	c.out, c.done = &lockedBuffer{}, make(chan error, 1)
	c.up = exec.Command(portwayBin, append(c.args, "--data-dir", c.dataDir)...)
	stdout, err := c.up.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c.up.Stderr = c.out
	if err := c.server.inNetns(c.up.Start); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			fmt.Fprintln(c.out, sc.Text())
			if strings.HasPrefix(sc.Text(), "export KUBECONFIG=") {
				close(ready)
			}
		}
		c.done <- c.up.Wait()
	}()
	select {
	case <-ready:
	case err := <-c.done:
		c.done <- err
		t.Fatalf("portway up exited: %v\n%s", err, c.out.String())
	case <-time.After(2 * time.Minute):
		t.Fatalf("portway up did not get ready:\n%s", c.out.String())
	}
}

// down stops `up` as Ctrl-C does and checks that it removed everything:
// namespaces, links, processes.
func (c *cluster) down() {
	t := c.t
	_ = c.up.Process.Signal(syscall.SIGINT)
	select {
	case err := <-c.done:
		if err != nil {
			t.Errorf("portway up after Ctrl-C: %v\n%s", err, tail(c.out.String(), 40))
		}
	case <-time.After(time.Minute):
		_ = c.up.Process.Kill()
		t.Errorf("portway up did not stop within a minute after Ctrl-C")
	}
	entries, _ := os.ReadDir(namespaces.Dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), c.name+"-node") {
			t.Errorf("network namespace %s left behind", e.Name())
		}
	}
	_ = c.inNetns(func() error {
		links, err := netlink.LinkList()
		if err != nil {
			return err
		}
		for _, l := range links {
			if l.Attrs().Name != "lo" {
				t.Errorf("link %s left behind in the test's namespace", l.Attrs().Name)
			}
		}
		return nil
	})
	if pids := processesMentioning(c.dataDir); len(pids) > 0 {
		t.Errorf("processes left behind: %v", pids)
	}
	if t.Failed() {
		t.Logf("portway up output:\n%s", tail(c.out.String(), 60))
		for _, f := range []string{"node1", "node2", "node3"} {
			if b, err := os.ReadFile(filepath.Join(c.dataDir, "logs", c.name+"-"+f+".log")); err == nil {
				t.Logf("%s agent log:\n%s", f, tail(string(b), 30))
			}
		}
	}
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// processesMentioning lists processes whose command line names dir: the
// agents, shims and containers of a cluster whose data directory it is.
func processesMentioning(dir string) []string {
	entries, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || e.Name() == fmt.Sprint(os.Getpid()) {
			continue
		}
		if cmd := strings.ReplaceAll(string(b), "\x00", " "); strings.Contains(cmd, dir) {
			out = append(out, e.Name()+": "+cmd)
		}
	}
	return out
}

func setLoopbackUp(t *testing.T, ns string) {
	t.Helper()
	if err := namespaces.LoopbackUp(ns); err != nil {
		t.Fatal(err)
	}
}

// podNetns is the network namespace the agent made for a pod.
func (c *cluster) podNetns(p *corev1.Pod) string {
	return fmt.Sprintf("%s_%s_%s_%s", p.Spec.NodeName, p.Namespace, p.Name, string(p.UID)[:8])
}

// dialFrom connects from inside network namespace ns to addr and returns
// what the other end says before closing (serve-hostname's TCP answer).
func dialFrom(ns, addr string) (string, error) {
	var conn net.Conn
	err := namespaces.Do(namespaces.Path(ns), func() (err error) {
		conn, err = net.DialTimeout("tcp", addr, 5*time.Second)
		return err
	})
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(conn)
	return strings.TrimSpace(string(b)), err
}

const hostnamesManifest = `apiVersion: v1
kind: Service
metadata:
  name: hostnames
spec:
  selector: {app: hostnames}
  ports:
  - {name: http, port: 80, targetPort: serve}
---
`

func hostnamesPod(i int, readyFile string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: hostnames-%d
  labels: {app: hostnames}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: serve-hostname
    image: registry.k8s.io/e2e-test-images/agnhost:2.40
    command: [/agnhost, serve-hostname, --tcp, --http=false]
    ports: [{name: serve, containerPort: 9376}]
    readinessProbe:
      exec: {command: [test, -e, %s]}
      periodSeconds: 1
      failureThreshold: 1
---
`, i, readyFile)
}

// applyHostnames applies the hostnames Service and n of its pods, each
// ready while its file in the returned directory exists (an exec probe, run
// in the pod's namespaces on the node's filesystem).
func applyHostnames(t *testing.T, c *cluster, n int) (readyDir string) {
	t.Helper()
	readyDir = t.TempDir()
	manifest := hostnamesManifest
	for i := range n {
		f := filepath.Join(readyDir, fmt.Sprint(i))
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		manifest += hostnamesPod(i, f)
	}
	c.applyStdin(manifest)
	return readyDir
}

// TestCluster is issue 4's scenario: nodes Ready, pods spread and running,
// pod-to-pod across nodes, endpoints that follow readiness and node
// health, logs, deletion, and nothing left after Ctrl-C.
func TestCluster(t *testing.T) {
	c := startCluster(t, 3, "--node-monitor-grace-period", "6s")
	client := c.client()
	ctx := context.Background()

	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var ips []string
	for _, n := range nodes.Items {
		if !nodeinfo.Ready(&n) {
			t.Errorf("node %s is not Ready", n.Name)
		}
		ips = append(ips, nodeinfo.InternalIP(&n))
	}
	slices.Sort(ips)
	if want := []string{"172.18.0.2", "172.18.0.3", "172.18.0.4"}; !slices.Equal(ips, want) {
		t.Errorf("node InternalIPs %v, want %v", ips, want)
	}

	readyDir := applyHostnames(t, c, 6)
	var pods []corev1.Pod
	waitFor(t, "6 ready pods", func() bool {
		l, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=hostnames"})
		if err != nil {
			return false
		}
		pods = l.Items
		for _, p := range pods {
			if !podinfo.RunningAndReady(&p) {
				return false
			}
		}
		return len(pods) == 6
	})
	perNode := map[string]int{}
	for _, p := range pods {
		perNode[p.Spec.NodeName]++
	}
	if len(perNode) != 3 {
		t.Errorf("pods per node %v: want the 6 pods spread over all 3 nodes", perNode)
	}
	wide := c.ok("get", "pods", "-o", "wide")
	for _, p := range pods {
		if !strings.Contains(wide, p.Status.PodIP) || !strings.Contains(wide, p.Spec.NodeName) {
			t.Errorf("kubectl get pods -o wide lacks %s's IP %s or node:\n%s", p.Name, p.Status.PodIP, wide)
		}
	}

	t.Run("pod to pod across nodes", func(t *testing.T) {
		from := pods[0]
		for _, to := range pods {
			if to.Spec.NodeName == from.Spec.NodeName {
				continue
			}
			got, err := dialFrom(c.podNetns(&from), net.JoinHostPort(to.Status.PodIP, "9376"))
			if err != nil || got != to.Name {
				t.Errorf("from %s (%s) to %s (%s): got %q, %v; want the pod's name", from.Name, from.Spec.NodeName, to.Name, to.Spec.NodeName, got, err)
			}
		}
	})

	endpointIPs := func(ready bool) []string {
		ep, err := client.CoreV1().Endpoints("default").Get(ctx, "hostnames", metav1.GetOptions{})
		if err != nil {
			return nil
		}
		var out []string
		for _, ss := range ep.Subsets {
			if len(ss.Ports) != 1 || ss.Ports[0].Port != 9376 || ss.Ports[0].Name != "http" {
				t.Errorf("endpoints ports %+v, want http 9376", ss.Ports)
			}
			addrs := ss.Addresses
			if !ready {
				addrs = ss.NotReadyAddresses
			}
			for _, a := range addrs {
				out = append(out, a.IP)
			}
		}
		slices.Sort(out)
		return out
	}
	podIPs := func(keep func(corev1.Pod) bool) []string {
		var out []string
		for _, p := range pods {
			if keep(p) {
				out = append(out, p.Status.PodIP)
			}
		}
		slices.Sort(out)
		return out
	}
	all := podIPs(func(corev1.Pod) bool { return true })
	waitFor(t, "endpoints with the 6 pods", func() bool { return slices.Equal(endpointIPs(true), all) })

	t.Run("readiness", func(t *testing.T) {
		p := pods[1]
		if err := os.Remove(filepath.Join(readyDir, "1")); err != nil {
			t.Fatal(err)
		}
		others := podIPs(func(q corev1.Pod) bool { return q.Name != p.Name })
		waitFor(t, p.Name+" to leave the ready endpoints", func() bool {
			return slices.Equal(endpointIPs(true), others) && slices.Equal(endpointIPs(false), []string{p.Status.PodIP})
		})
		if err := os.WriteFile(filepath.Join(readyDir, "1"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		waitFor(t, p.Name+" to come back", func() bool { return slices.Equal(endpointIPs(true), all) })
	})

	t.Run("logs", func(t *testing.T) {
		out := c.ok("logs", pods[0].Name)
		if !strings.Contains(out, "Serving on port 9376") {
			t.Errorf("kubectl logs %s:\n%s", pods[0].Name, out)
		}
		if r := c.kubectl("logs", pods[0].Name, "-c", "nope"); r.code == 0 || !strings.Contains(r.stderr, "container nope is not valid for pod "+pods[0].Name) {
			t.Errorf("kubectl logs -c nope: exit %d, %s", r.code, r.stderr)
		}
	})

	t.Run("liveness", func(t *testing.T) {
		alive := filepath.Join(readyDir, "alive")
		if err := os.WriteFile(alive, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		c.applyStdin(fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: liveness}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox
    command: [sh, -c, "echo started; exec sleep 3600"]
    livenessProbe:
      exec: {command: [test, -e, %s]}
      periodSeconds: 1
      failureThreshold: 1
`, alive))
		restarts := func() int32 {
			p, err := client.CoreV1().Pods("default").Get(ctx, "liveness", metav1.GetOptions{})
			if err != nil || len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].State.Running == nil {
				return -1
			}
			return p.Status.ContainerStatuses[0].RestartCount
		}
		waitFor(t, "the liveness pod to run", func() bool { return restarts() == 0 })
		if err := os.Remove(alive); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "a restart after the liveness probe failed", func() bool { return restarts() >= 1 })
		if err := os.WriteFile(alive, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if out := c.ok("logs", "liveness", "--previous"); out != "started\n" {
			t.Errorf("kubectl logs --previous: %q, want the previous instance's output", out)
		}
		c.ok("delete", "pod", "liveness")
	})

	t.Run("delete pod", func(t *testing.T) {
		p := pods[5]
		c.ok("delete", "pod", p.Name)
		if _, err := os.Stat(namespaces.Path(c.podNetns(&p))); !os.IsNotExist(err) {
			t.Errorf("pod network namespace %s still there after delete: %v", c.podNetns(&p), err)
		}
		ipFile := filepath.Join(c.dataDir, "nodes", p.Spec.NodeName, "agent", "cni", "networks", "portway", p.Status.PodIP)
		if _, err := os.Stat(ipFile); !os.IsNotExist(err) {
			t.Errorf("pod IP %s still reserved after delete (%s): %v", p.Status.PodIP, ipFile, err)
		}
		if left := processesMentioning(string(p.UID)); len(left) > 0 {
			t.Errorf("processes of the deleted pod left: %v", left)
		}
		pods = slices.DeleteFunc(pods, func(q corev1.Pod) bool { return q.Name == p.Name })
		all = podIPs(func(corev1.Pod) bool { return true })
		waitFor(t, "endpoints without the deleted pod", func() bool { return slices.Equal(endpointIPs(true), all) })
	})

	t.Run("node agent killed", func(t *testing.T) {
		victim := pods[0].Spec.NodeName
		killAgent(t, victim)
		onVictim := podIPs(func(q corev1.Pod) bool { return q.Spec.NodeName == victim })
		rest := podIPs(func(q corev1.Pod) bool { return q.Spec.NodeName != victim })
		waitFor(t, victim+" NotReady and its pods' endpoints not ready", func() bool {
			n, err := client.CoreV1().Nodes().Get(ctx, victim, metav1.GetOptions{})
			return err == nil && !nodeinfo.Ready(n) &&
				slices.Equal(endpointIPs(true), rest) && slices.Equal(endpointIPs(false), onVictim)
		})
	})
}

// TestClusterCrash: an up that was killed leaves its nodes and pods
// running; the next up removes them and brings the cluster back, pods
// included.
func TestClusterCrash(t *testing.T) {
	c := startCluster(t, 1)
	client := c.client()
	ctx := context.Background()
	c.applyStdin(hostnamesManifest + hostnamesPod(0, "/"))
	podUp := func() *corev1.Pod {
		p, err := client.CoreV1().Pods("default").Get(ctx, "hostnames-0", metav1.GetOptions{})
		if err != nil || !podinfo.Ready(p) {
			return nil
		}
		got, err := dialFrom(c.netns, net.JoinHostPort(p.Status.PodIP, "9376"))
		if err != nil || got != p.Name {
			return nil
		}
		return p
	}
	waitFor(t, "the pod to answer", func() bool { return podUp() != nil })

	if err := c.up.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-c.done
	if _, err := os.Stat(namespaces.Path(c.name + "-node1")); err != nil {
		t.Fatalf("after a crash the node namespace should still be there for the next up to clean: %v", err)
	}
	c.start()
	client = c.client()
	waitFor(t, "the pod to answer again after the new up", func() bool { return podUp() != nil })
}

// killAgent kills the agent of a node of the cluster (its pods live on).
func killAgent(t *testing.T, node string) {
	t.Helper()
	pid, _, err := upcmd.AgentProcess(node)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
}

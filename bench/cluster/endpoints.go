package main

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"

	"github.com/portway/portway/bench/internal/figures"
	"github.com/portway/portway/bench/internal/upcluster"
)

const (
	bigPods  = 1000
	flips    = 50
	fakeNode = "bench-node"
	// fakeNodeIP is the status-only node's InternalIP: nothing answers there.
	fakeNodeIP = "172.18.255.254"
)

// benchEndpoints measures the control plane's endpoint controllers with
// 1000 pods behind one Service. The pods are status-only: bound to a Node
// no agent serves, their status written here as an agent would, so no
// process runs for them.
func benchEndpoints(ctx context.Context, cfg config, root string, rep *report) (err error) {
	s, err := startServer(ctx, cfg, filepath.Join(root, "endpoints1000"))
	if err != nil {
		return err
	}
	defer s.stop()
	kc, err := clientcmd.BuildConfigFromFlags("", filepath.Join(s.dataDir, "kubeconfig"))
	if err != nil {
		return err
	}
	cs, err := upcluster.NewClient(kc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	if err := fakeNodeUp(ctx, cs); err != nil {
		return fmt.Errorf("node %s: %w", fakeNode, err)
	}
	const ns, svc, app = "big", "big", "big"
	t, err := setupNamespace(ctx, cs, ns, svc, app)
	if err != nil {
		return err
	}

	figures.Logf("endpoints1000: creating %d pods bound to %s", bigPods, fakeNode)
	pods := make([]*corev1.Pod, bigPods)
	start := time.Now()
	err = parallel(ctx, bigPods, func(i int) error {
		p := agnhostPod(fmt.Sprintf("big-%04d", i), app)
		p.Spec.NodeName = fakeNode // bound: the scheduler leaves it alone
		p, err := cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
		pods[i] = p
		return err
	})
	if err != nil {
		return err
	}
	rep.epFill.Add("create 1000 pods", secs(time.Since(start)), fmt.Sprintf("%d concurrent clients", creators))

	figures.Logf("endpoints1000: setting their status Running and Ready")
	// Registered first, so that the time is the event's, not this call's.
	w := t.when(allEndpointsReady(bigPods))
	start = time.Now()
	var lastMu sync.Mutex
	var last time.Time
	err = parallel(ctx, bigPods, func(i int) error {
		ip := fmt.Sprintf("10.244.%d.%d", i/250, i%250+1)
		p, err := updateStatus(ctx, cs, pods[i], func(p *corev1.Pod) {
			now := metav1.Now()
			// QOSClass (set at creation, immutable) is kept.
			p.Status = corev1.PodStatus{
				QOSClass: p.Status.QOSClass, Phase: corev1.PodRunning, HostIP: fakeNodeIP, HostIPs: []corev1.HostIP{{IP: fakeNodeIP}},
				PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}, StartTime: &now,
				Conditions: []corev1.PodCondition{
					{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
					{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: now},
					{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
					{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
				},
				ContainerStatuses: []corev1.ContainerStatus{{
					Name: "serve-hostname", Image: agnhostImage, ImageID: agnhostImage, Ready: true, Started: ptr.To(true),
					ContainerID: fmt.Sprintf("portway://%064d", i),
					State:       corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
				}},
			}
		})
		if err != nil {
			return err
		}
		pods[i] = p
		lastMu.Lock()
		last = time.Now()
		lastMu.Unlock()
		return nil
	})
	if err != nil {
		return err
	}
	rep.epFill.Add("set 1000 pod statuses Running+Ready", secs(last.Sub(start)), "UpdateStatus, as an agent does")
	at, err := w.wait(ctx, 5*time.Minute)
	if err != nil {
		var n int
		t.locked(func() { n = t.readyEndpoints() })
		return fmt.Errorf("%d ready endpoints in the slices of Service %s, want %d: %w%s", n, svc, bigPods, err, s.logTail())
	}
	var nSlices int
	t.locked(func() { nSlices = len(t.slices) })
	rep.epFill.Add("last status update → 1000 ready in slices", secs(max(0, at.Sub(last))),
		fmt.Sprintf("%d EndpointSlices", nSlices))

	figures.Logf("endpoints1000: %d readiness flips", flips)
	var toFalse, toTrue []time.Duration
	defer func() {
		rep.endpoints.Dist("Ready True→False → endpoint ready=false", toFalse)
		rep.endpoints.Dist("Ready False→True → endpoint ready=true", toTrue)
	}()
	for range flips {
		i := rand.IntN(bigPods)
		for _, ready := range []bool{false, true} {
			w := t.when(endpointIs(pods[i].Name, ready))
			p, err := setReady(ctx, cs, pods[i], ready)
			if err != nil {
				return err
			}
			returned := time.Now()
			pods[i] = p
			at, err := w.wait(ctx, time.Minute)
			if err != nil {
				return fmt.Errorf("pod %s Ready=%v: endpoint not updated: %w%s", p.Name, ready, err, s.logTail())
			}
			d := max(0, at.Sub(returned))
			if ready {
				toTrue = append(toTrue, d)
			} else {
				toFalse = append(toFalse, d)
			}
		}
	}
	return nil
}

// setReady sets the pod's Ready and ContainersReady conditions and its
// container's ready flag, as an agent does when a readiness probe changes.
func setReady(ctx context.Context, cs kubernetes.Interface, p *corev1.Pod, ready bool) (*corev1.Pod, error) {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	return updateStatus(ctx, cs, p, func(p *corev1.Pod) {
		now := metav1.Now()
		for i := range p.Status.Conditions {
			if c := &p.Status.Conditions[i]; c.Type == corev1.PodReady || c.Type == corev1.ContainersReady {
				c.Status, c.LastTransitionTime = status, now
			}
		}
		for i := range p.Status.ContainerStatuses {
			p.Status.ContainerStatuses[i].Ready = ready
		}
	})
}

// updateStatus applies mutate to a copy of p and writes its status; on a
// conflict (someone else wrote the pod) it starts again from theirs.
func updateStatus(ctx context.Context, cs kubernetes.Interface, p *corev1.Pod, mutate func(*corev1.Pod)) (*corev1.Pod, error) {
	for {
		p = p.DeepCopy()
		mutate(p)
		out, err := cs.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{})
		if !apierrors.IsConflict(err) {
			return out, err
		}
		if p, err = cs.CoreV1().Pods(p.Namespace).Get(ctx, p.Name, metav1.GetOptions{}); err != nil {
			return nil, err
		}
	}
}

// fakeNodeUp creates a Ready Node and keeps its Lease renewed until ctx
// ends, so the node lifecycle controller never marks it (and its pods)
// not ready.
func fakeNodeUp(ctx context.Context, cs kubernetes.Interface) error {
	n, err := cs.CoreV1().Nodes().Create(ctx, &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: fakeNode, Labels: map[string]string{corev1.LabelHostname: fakeNode}},
	}, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	// Controllers (node IPAM, taints) write the new Node too: retry on
	// conflict from the latest.
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if n, err = cs.CoreV1().Nodes().Get(ctx, fakeNode, metav1.GetOptions{}); err != nil {
			return err
		}
		now := metav1.Now()
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue,
			Reason: "KubeletReady", Message: "status-only node of the benchmark", LastHeartbeatTime: now, LastTransitionTime: now}}
		n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: fakeNodeIP}}
		n.Status.Capacity = corev1.ResourceList{corev1.ResourcePods: *resource.NewQuantity(bigPods+10, resource.DecimalSI)}
		n.Status.Allocatable = n.Status.Capacity
		_, err := cs.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return err
	}
	leases := cs.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	renew := metav1.NewMicroTime(time.Now())
	l, err := leases.Create(ctx, &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: fakeNode,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: n.Name, UID: n.UID}}},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(fakeNode), LeaseDurationSeconds: ptr.To(int32(40)), RenewTime: &renew},
	}, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	go func() {
		for sleep(ctx, 10*time.Second) == nil {
			renew := metav1.NewMicroTime(time.Now())
			l.Spec.RenewTime = &renew
			nl, err := leases.Update(ctx, l, metav1.UpdateOptions{})
			if err != nil {
				if ctx.Err() == nil {
					figures.Logf("renewing the Lease of %s: %v", fakeNode, err)
				}
				if nl, err = leases.Get(ctx, fakeNode, metav1.GetOptions{}); err != nil {
					continue
				}
			}
			l = nl
		}
	}()
	return nil
}

// parallel runs fn(0..n-1) on `creators` goroutines and returns the first
// error.
func parallel(ctx context.Context, n int, fn func(i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	errc := make(chan error, creators)
	var wg sync.WaitGroup
	for range creators {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(i); err != nil {
					errc <- err
					cancel()
					return
				}
			}
		}()
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
		return ctx.Err()
	}
}

// server is a plain `portway server` on loopback: no nodes, no network.
type server struct {
	dataDir string
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{}
}

func startServer(ctx context.Context, cfg config, dataDir string) (*server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	s := &server{dataDir: dataDir, logPath: dataDir + ".server.log", exited: make(chan struct{})}
	logFile, err := os.Create(s.logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child holds its own descriptor
	s.cmd = exec.Command(cfg.portway, "server", "--data-dir", dataDir, "--listen", addr, "--unsafe-no-fsync")
	s.cmd.Stderr = logFile
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // Ctrl-C reaches only the benchmark
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "export KUBECONFIG=") {
				close(ready)
			}
		}
		_ = s.cmd.Wait()
		close(s.exited)
	}()
	select {
	case <-ready:
		return s, nil
	case <-s.exited:
		err = fmt.Errorf("portway server exited before it was ready%s", s.logTail())
	case <-time.After(2 * time.Minute):
		err = fmt.Errorf("portway server not ready after 2 min%s", s.logTail())
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.stop()
	return nil, err
}

// stop ends the server with SIGTERM (SIGKILL after 30 s) and waits.
func (s *server) stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		figures.Logf("portway server did not stop within 30 s of SIGTERM; killing it")
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
}

func (s *server) logTail() string { return upcluster.TailOf(s.logPath, "portway server stderr", 20) }

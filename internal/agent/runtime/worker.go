package runtime

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"

	"github.com/portway/portway/internal/agent/shim"
	"github.com/portway/portway/internal/mounts"
)

// The kubelet's container restart back-off: 10 s, doubling up to 5 min,
// forgotten after a container has run for 10 min.
const (
	initialBackoff = 10 * time.Second
	maxBackoff     = 5 * time.Minute
	backoffReset   = 10 * time.Minute
	// resync is how often a pod is looked at with nothing happening.
	resync = 10 * time.Second
)

// podWorker brings one pod to its desired state, one sync at a time.
type podWorker struct {
	r   *Runtime
	dir string

	mu  sync.Mutex
	pod *corev1.Pod // the latest seen; nil once the Pod is gone
	// first is the Pod as first seen: it names the pod after the Pod is gone.
	first *corev1.Pod
	wake  chan struct{}

	// Owned by run's goroutine; state guards what others read of
	// containers (log lookups).
	state      sync.Mutex
	sb         *sandbox
	sbErr      string
	containers map[string]*ctr
	startTime  *metav1.Time
	dnsWarned  bool
	tokens     map[string]token // service account tokens, by volume/path
	// mounted: every volume has been set up once, so containers may
	// start; volumeRetry backs off while they fail, until volumeNotBefore.
	mounted         bool
	volumeRetry     time.Duration
	volumeNotBefore time.Time
}

// ctr is one container of the pod across its restarts.
type ctr struct {
	name     string
	init     bool
	cur      *instance // the latest instance, running or ended
	prev     *instance // the one before, for lastState and --previous
	restarts int32
	// waiting is why the container is not running now, when it is not.
	waitingReason, waitingMessage string
	backoff                       time.Duration
	notBefore                     time.Time
	probes                        *probeSet
}

func newPodWorker(r *Runtime, pod *corev1.Pod) *podWorker {
	w := &podWorker{r: r, dir: r.podDir(pod.UID), first: pod, wake: make(chan struct{}, 1), containers: map[string]*ctr{},
		tokens: map[string]token{}}
	w.adopt()
	return w
}

func (w *podWorker) update(pod *corev1.Pod) {
	w.mu.Lock()
	w.pod = pod
	w.mu.Unlock()
	w.poke()
}

func (w *podWorker) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *podWorker) latest() *corev1.Pod {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pod
}

// run syncs the pod whenever something happens to it, until it is gone
// and torn down or ctx ends.
func (w *podWorker) run(ctx context.Context) {
	log := klog.FromContext(ctx).WithValues("pod", klog.KObj(w.first))
	ctx = klog.NewContext(ctx, log)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			w.stopProbes()
			return
		case <-w.wake:
		case <-t.C:
		}
		again, done := w.sync(ctx)
		if done {
			return
		}
		t.Reset(again)
	}
}

// sync does one step towards the pod's desired state and says when to look
// again, or that the pod is finished here.
func (w *podWorker) sync(ctx context.Context) (time.Duration, bool) {
	pod := w.latest()
	if pod == nil || pod.DeletionTimestamp != nil {
		w.terminate(ctx, pod)
		return 0, true
	}
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		// A finished pod keeps its status and logs but not its processes,
		// address and memory-backed volumes.
		w.stopAll(0)
		w.teardownNetwork(ctx, pod)
		if w.mounted {
			if err := mounts.UnmountUnder(w.volumeDir("")); err != nil {
				klog.FromContext(ctx).Error(err, "unmounting the volumes of a finished pod")
			}
			w.mounted = false
		}
		return resync, false
	}
	if w.startTime == nil {
		w.startTime = ptr.To(apiTime(time.Now()))
	}
	again := resync
	// As the kubelet, volumes come first: until they are set up the pod
	// has no sandbox, so no IP, and no container runs. Once they are, a
	// failure to update them (a token renewal, say) is reported and the
	// pod goes on. Failures back off to 2 minutes, as the kubelet's do,
	// with a FailedMount event for each volume at each try.
	if left := time.Until(w.volumeNotBefore); left > 0 {
		again = min(again, left)
	} else {
		renew, errs := w.syncVolumes(ctx, pod)
		for _, err := range errs {
			w.r.recorder.Event(pod, corev1.EventTypeWarning, "FailedMount", err.Error())
		}
		if len(errs) > 0 {
			w.volumeRetry = min(max(2*w.volumeRetry, 500*time.Millisecond), 2*time.Minute)
			w.volumeNotBefore = time.Now().Add(w.volumeRetry)
			again = min(again, w.volumeRetry)
		} else {
			w.mounted, w.volumeRetry = true, 0
		}
		if renew > 0 && renew < again {
			again = renew
		}
	}
	if w.mounted && w.sb == nil {
		if err := w.setUpSandbox(ctx, pod); err != nil {
			w.sbErr = err.Error()
			w.r.recorder.Eventf(pod, corev1.EventTypeWarning, "FailedCreatePodSandBox", "Failed to create pod sandbox: %v", err)
			again = min(again, 5*time.Second)
		} else {
			w.sbErr = ""
		}
	}
	if w.mounted && w.sb != nil {
		if next := w.syncContainers(ctx, pod); next > 0 && next < again {
			again = next
		}
	}
	w.postStatus(ctx, pod)
	return again, false
}

// syncContainers starts what should run: init containers one at a time
// until each has succeeded, then all containers. It returns how soon a
// back-off ends, if one is pending.
func (w *podWorker) syncContainers(ctx context.Context, pod *corev1.Pod) time.Duration {
	var soonest time.Duration
	wakeAt := func(d time.Duration) {
		if d > 0 && (soonest == 0 || d < soonest) {
			soonest = d
		}
	}
	for i := range pod.Spec.InitContainers {
		c := w.container(pod.Spec.InitContainers[i].Name, true)
		if c.cur != nil && c.cur.done() && c.cur.exit.ExitCode == 0 {
			continue
		}
		if c.cur != nil && !c.cur.done() {
			return soonest // running: the next one waits
		}
		if c.cur != nil && pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
			return soonest // failed for good: the pod fails
		}
		wakeAt(w.ensureRunning(ctx, pod, &pod.Spec.InitContainers[i], c))
		return soonest
	}
	for i := range pod.Spec.Containers {
		spec := &pod.Spec.Containers[i]
		c := w.container(spec.Name, false)
		if c.cur != nil && c.cur.done() && !shouldRestart(pod.Spec.RestartPolicy, c.cur.exit.ExitCode) {
			c.waitingReason = ""
			continue
		}
		wakeAt(w.ensureRunning(ctx, pod, spec, c))
	}
	return soonest
}

func shouldRestart(policy corev1.RestartPolicy, exitCode int32) bool {
	switch policy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return exitCode != 0
	}
	return true
}

func (w *podWorker) container(name string, init bool) *ctr {
	c := w.containers[name]
	if c == nil {
		c = &ctr{name: name, init: init}
		w.state.Lock()
		w.containers[name] = c
		w.state.Unlock()
	}
	return c
}

// ensureRunning starts c unless it is running or backing off; it returns
// the time left of a back-off.
func (w *podWorker) ensureRunning(ctx context.Context, pod *corev1.Pod, spec *corev1.Container, c *ctr) time.Duration {
	if c.cur != nil && !c.cur.done() {
		return 0
	}
	if c.cur != nil {
		// It ended: restart at once the first time, then back off.
		e := c.cur.exit
		if e.FinishedAt.Sub(e.StartedAt) > backoffReset {
			c.backoff = 0
		}
		if c.backoff > 0 {
			if c.notBefore.IsZero() {
				c.notBefore = e.FinishedAt.Add(c.backoff)
			}
			if left := time.Until(c.notBefore); left > 0 {
				c.waitingReason = "CrashLoopBackOff"
				c.waitingMessage = fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", c.backoff, c.name, pod.Name, pod.Namespace, pod.UID)
				w.r.recorder.Eventf(pod, corev1.EventTypeWarning, "BackOff", "Back-off restarting failed container %s in pod %s_%s(%s)", c.name, pod.Name, pod.Namespace, pod.UID)
				return left
			}
			c.backoff = min(2*c.backoff, maxBackoff)
		} else {
			c.backoff = initialBackoff
		}
		c.notBefore = time.Time{}
	}
	argv, reason, msg := w.r.command(spec)
	if reason != "" {
		c.waitingReason, c.waitingMessage = reason, msg
		w.r.recorder.Eventf(pod, corev1.EventTypeWarning, "Failed", "Error: %s", msg)
		return 0
	}
	env, err := w.r.environment(pod, spec, w.sb.IP)
	if err != nil {
		c.waitingReason, c.waitingMessage = "CreateContainerConfigError", err.Error()
		w.r.recorder.Eventf(pod, corev1.EventTypeWarning, "Failed", "Error: %v", err)
		return 5 * time.Second
	}
	args := expandArgs(argv, env)
	volumes, err := w.volumeMounts(pod, spec, env)
	if err != nil {
		c.waitingReason, c.waitingMessage = "CreateContainerConfigError", err.Error()
		w.r.recorder.Eventf(pod, corev1.EventTypeWarning, "Failed", "Error: %v", err)
		return 5 * time.Second
	}
	mounts := append([]shim.Mount{
		{Source: filepath.Join(w.dir, "etc-hosts"), Target: "/etc/hosts"},
		{Source: filepath.Join(w.dir, "resolv.conf"), Target: "/etc/resolv.conf"},
	}, volumes...)
	sortMounts(mounts)
	restart := int32(0)
	if c.cur != nil {
		restart = c.cur.Restart + 1
	}
	if restart == 0 {
		w.r.recorder.Eventf(pod, corev1.EventTypeNormal, "Pulled", "Container image %q already present on machine", spec.Image)
	}
	workDir := spec.WorkingDir
	if workDir == "" {
		workDir = "/"
	}
	dir := filepath.Join(w.dir, "containers", spec.Name, strconv.Itoa(int(restart))+"_"+newID())
	inst, err := startInstance(w.r.cfg.Self, dir, w.sb.path(), restart, &shim.Spec{
		Argv: args, Env: envList(env), Dir: workDir, Hostname: hostname(pod),
		Mounts: mounts,
	})
	if err != nil {
		c.waitingReason, c.waitingMessage = "CreateContainerError", err.Error()
		w.r.recorder.Eventf(pod, corev1.EventTypeWarning, "Failed", "Error: %v", err)
		return 5 * time.Second
	}
	w.r.recorder.Eventf(pod, corev1.EventTypeNormal, "Created", "Created container: %s", spec.Name)
	w.r.recorder.Eventf(pod, corev1.EventTypeNormal, "Started", "Started container %s", spec.Name)
	w.state.Lock()
	c.prev, c.cur = c.cur, inst
	w.state.Unlock()
	c.restarts = restart
	c.waitingReason, c.waitingMessage = "", ""
	w.watchExit(inst)
	w.startProbes(ctx, pod, spec, c)
	return 0
}

// watchExit wakes the worker when the instance ends.
func (w *podWorker) watchExit(i *instance) {
	go func() {
		<-i.exited
		w.poke()
	}()
}

func hostname(pod *corev1.Pod) string {
	if pod.Spec.Hostname != "" {
		return pod.Spec.Hostname
	}
	return pod.Name
}

// setUpSandbox creates the pod's network namespace and files, in the pod's
// directory, which syncVolumes made and recorded the pod in. The sandbox
// is recorded once it is whole; a namespace of its name that is not
// recorded (an agent died, or a set-up failed, before) is removed first.
func (w *podWorker) setUpSandbox(ctx context.Context, pod *corev1.Pod) (err error) {
	s := &sandbox{Netns: netnsName(w.r.cfg.NodeName, pod)}
	if _, err := os.Stat(s.path()); err == nil {
		if err := w.r.net.del(ctx, pod, s); err != nil {
			return err
		}
	}
	if err := w.r.net.add(ctx, pod, s); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = w.r.net.del(context.WithoutCancel(ctx), pod, s)
		}
	}()
	if err := os.WriteFile(filepath.Join(w.dir, "etc-hosts"), hostsFile(pod, s.IP), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(w.dir, "resolv.conf"), resolvConf(pod), 0o644); err != nil {
		return err
	}
	if err := writeRecord(w.dir, &podRecord{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID, Sandbox: s}); err != nil {
		return err
	}
	if pod.Spec.DNSPolicy == corev1.DNSClusterFirst && !w.dnsWarned {
		w.dnsWarned = true
		w.r.recorder.Eventf(pod, corev1.EventTypeWarning, "MissingClusterDNS",
			"pod: %q. kubelet does not have ClusterDNS IP configured and cannot create Pod using %q policy. Falling back to %q policy.",
			fmt.Sprintf("%s_%s(%s)", pod.Name, pod.Namespace, pod.UID), corev1.DNSClusterFirst, corev1.DNSDefault)
	}
	w.sb = s
	return nil
}

// netnsName names a pod's network namespace after its node, namespace and
// name, so `ip netns list` reads as a list of pods; the UID's start keeps a
// pod that replaces one of the same name apart.
func netnsName(node string, pod *corev1.Pod) string {
	name := fmt.Sprintf("%s_%s_%s", node, pod.Namespace, pod.Name)
	if len(name) > 200 {
		name = name[:200]
	}
	return name + "_" + string(pod.UID)[:min(8, len(pod.UID))]
}

// terminate stops the pod's containers within its grace period, releases
// its network and state and, if the Pod still exists, reports it finished
// and deletes it for good, as the kubelet completes a graceful deletion.
func (w *podWorker) terminate(ctx context.Context, pod *corev1.Pod) {
	grace := time.Duration(0)
	if pod != nil {
		grace = 30 * time.Second
		if pod.DeletionGracePeriodSeconds != nil {
			grace = time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
		} else if pod.Spec.TerminationGracePeriodSeconds != nil {
			grace = time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
		}
		for name, c := range w.containers {
			if c.cur != nil && !c.cur.done() {
				w.r.recorder.Eventf(pod, corev1.EventTypeNormal, "Killing", "Stopping container %s", name)
			}
		}
	}
	w.stopAll(grace)
	ref := pod
	if ref == nil {
		ref = w.first
	}
	w.teardownNetwork(ctx, ref)
	if pod != nil {
		w.postStatus(ctx, pod)
		err := w.r.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
			GracePeriodSeconds: ptr.To[int64](0),
			Preconditions:      &metav1.Preconditions{UID: &pod.UID},
		})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			klog.FromContext(ctx).Error(err, "deleting terminated pod")
		}
	}
	if err := removePodDir(w.dir); err != nil {
		klog.FromContext(ctx).Error(err, "removing pod state")
	}
}

// stopAll stops every running container, all at once.
func (w *podWorker) stopAll(grace time.Duration) {
	w.stopProbes()
	var wg sync.WaitGroup
	for _, c := range w.containers {
		if c.cur != nil && !c.cur.done() {
			wg.Add(1)
			go func(i *instance) { defer wg.Done(); i.stop(grace) }(c.cur)
		}
	}
	wg.Wait()
}

func (w *podWorker) teardownNetwork(ctx context.Context, pod *corev1.Pod) {
	s := w.sb
	if s == nil {
		// A namespace that an agent made, and died before recording,
		// bears the pod's name.
		s = &sandbox{Netns: netnsName(w.r.cfg.NodeName, pod)}
		if _, err := os.Stat(s.path()); err != nil {
			return
		}
	}
	if err := w.r.net.del(ctx, pod, s); err != nil {
		klog.FromContext(ctx).Error(err, "tearing down pod network")
	}
	w.sb = nil
	rec := &podRecord{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID}
	if _, err := os.Stat(w.dir); err == nil {
		_ = writeRecord(w.dir, rec)
	}
}

// adopt picks up what an earlier agent left for this pod: its sandbox and
// container instances, running or ended.
func (w *podWorker) adopt() {
	rec, err := readRecord(w.dir)
	if err != nil {
		return
	}
	if rec.Sandbox != nil {
		if _, err := os.Stat(rec.Sandbox.path()); err == nil {
			w.sb = rec.Sandbox
		}
	}
	names, _ := os.ReadDir(filepath.Join(w.dir, "containers"))
	for _, n := range names {
		dirs, _ := os.ReadDir(filepath.Join(w.dir, "containers", n.Name()))
		type found struct {
			restart int
			dir     string
		}
		var all []found
		for _, d := range dirs {
			r, _, ok := strings.Cut(d.Name(), "_")
			if i, err := strconv.Atoi(r); ok && err == nil {
				all = append(all, found{i, filepath.Join(w.dir, "containers", n.Name(), d.Name())})
			}
		}
		slices.SortFunc(all, func(a, b found) int { return a.restart - b.restart })
		if len(all) == 0 {
			continue
		}
		c := &ctr{name: n.Name()}
		last := all[len(all)-1]
		c.cur = adoptInstance(last.dir, int32(last.restart))
		c.restarts = int32(last.restart)
		if len(all) > 1 {
			p := all[len(all)-2]
			c.prev = adoptInstance(p.dir, int32(p.restart))
		}
		w.watchExit(c.cur)
		w.containers[c.name] = c
		w.mounted = true // its volumes were set up before it started
	}
	if w.sb == nil {
		// Without its network namespace nothing of the pod can run on.
		for _, c := range w.containers {
			if c.cur != nil && !c.cur.done() {
				c.cur.stop(0)
			}
		}
	}
}

// log is the log of a container's latest instance, or the one before.
func (w *podWorker) log(container string, previous bool) (Log, error) {
	w.state.Lock()
	defer w.state.Unlock()
	c := w.containers[container]
	if c == nil || c.cur == nil {
		return Log{}, fmt.Errorf("container %q in pod %q is waiting to start", container, w.first.Name)
	}
	i := c.cur
	if previous {
		if c.prev == nil {
			return Log{}, fmt.Errorf("previous terminated container %q in pod %q not found", container, w.first.Name)
		}
		i = c.prev
	}
	return Log{Path: i.logPath(), Done: i.exited}, nil
}

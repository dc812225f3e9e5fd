// Package scheduler is portway's kube-scheduler: it binds each pending pod
// that names the default scheduler to a node, through the pods/binding
// subresource, one pod at a time.
//
// A node fits when kube-scheduler 1.32's default filters for what portway
// serves pass, in their order: NodeUnschedulable, TaintToleration (NoSchedule
// and NoExecute taints; a node whose Ready condition is not True counts as
// carrying the not-ready or unreachable NoSchedule taint even before the
// node lifecycle controller puts it there), NodeAffinity (nodeSelector and
// required node affinity), NodePorts and NodeResourcesFit (the "pods" count
// and every requested resource against allocatable, counting the pods bound
// to the node that have not finished). When none fits, the pod gets
// kube-scheduler's FailedScheduling event and PodScheduled=False condition,
// with its message word for word.
//
// Where kube-scheduler scores nodes with a dozen plugins, this one prefers
// the node with the fewest of the pod's siblings (pods of the same
// controller; without one, pods of the namespace with the same labels),
// then the fewest pods, then the first by name. Pods it has just bound
// count at once, before the informer shows them, so pods created together
// spread.
//
// Not done: preemption (the message says no victims were found), inter-pod
// affinity, topology spread constraints, volume filters, preferred node
// affinity, priority order in the queue, and other scheduler names.
package scheduler

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/portway/portway/internal/controllers"
)

const (
	// unschedulableRetry is how long a pod nothing fits waits before it is
	// tried again even if nothing it depends on changed (kube-scheduler's
	// podMaxInUnschedulablePodsDuration).
	unschedulableRetry = 5 * time.Minute
	// A pod tried again because something changed waits out a backoff
	// that doubles per attempt (podInitialBackoff, podMaxBackoff).
	initialBackoff = time.Second
	maxBackoff     = 10 * time.Second
	// assumedTTL bounds how long a binding this scheduler made counts
	// without the informer showing it.
	assumedTTL = 30 * time.Second
	// noteLengthLimit is the longest events.k8s.io Event note.
	noteLengthLimit = 1024
)

// Scheduler binds pending pods to nodes.
type Scheduler struct {
	client      kubernetes.Interface
	pods        corelisters.PodLister
	nodes       corelisters.NodeLister
	synced      []cache.InformerSynced
	queue       workqueue.TypedRateLimitingInterface[string]
	broadcaster events.EventBroadcaster
	recorder    events.EventRecorder
	clock       clock.Clock

	mu sync.Mutex
	// assumed are the pods this scheduler bound that the informer still
	// shows unbound, by UID.
	assumed map[types.UID]assumedPod
	// unschedulable are the pods nothing fitted at their last attempt.
	unschedulable map[string]attempt
}

type assumedPod struct {
	pod     *corev1.Pod // with spec.nodeName set
	expires time.Time
}

type attempt struct {
	count int
	last  time.Time
}

// New creates the scheduler; Run starts it. Its events go to the
// events.k8s.io API as kube-scheduler's do (reportingController
// default-scheduler).
func New(client kubernetes.Interface, factory informers.SharedInformerFactory) *Scheduler {
	podInf := factory.Core().V1().Pods()
	nodeInf := factory.Core().V1().Nodes()
	b := events.NewBroadcaster(&events.EventSinkImpl{Interface: client.EventsV1()})
	s := &Scheduler{
		client:        client,
		pods:          podInf.Lister(),
		nodes:         nodeInf.Lister(),
		synced:        []cache.InformerSynced{podInf.Informer().HasSynced, nodeInf.Informer().HasSynced},
		queue:         controllers.NewQueue("scheduler"),
		broadcaster:   b,
		recorder:      b.NewRecorder(scheme.Scheme, corev1.DefaultSchedulerName),
		clock:         clock.RealClock{},
		assumed:       map[types.UID]assumedPod{},
		unschedulable: map[string]attempt{},
	}
	_, _ = podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { s.podChanged(nil, obj) },
		UpdateFunc: s.podChanged,
		DeleteFunc: s.podDeleted,
	})
	_, _ = nodeInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { s.retryUnschedulable() },
		UpdateFunc: func(old, cur any) {
			o, ok1 := old.(*corev1.Node)
			n, ok2 := cur.(*corev1.Node)
			if ok1 && ok2 && nodeChangeMatters(o, n) {
				s.retryUnschedulable()
			}
		},
	})
	return s
}

// Run works until ctx ends.
func (s *Scheduler) Run(ctx context.Context) {
	if err := s.broadcaster.StartRecordingToSinkWithContext(ctx); err != nil {
		klog.FromContext(ctx).Error(err, "Cannot record events")
	}
	defer s.broadcaster.Shutdown()
	w := &controllers.Worker{Name: "scheduler", Queue: s.queue, Sync: s.sync, Workers: 1}
	w.Run(ctx, s.synced, nil)
}

// responsible says whether the pod waits for this scheduler.
func responsible(p *corev1.Pod) bool {
	return p.Spec.NodeName == "" && (p.Spec.SchedulerName == "" || p.Spec.SchedulerName == corev1.DefaultSchedulerName) &&
		p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed
}

func (s *Scheduler) podChanged(old, cur any) {
	p, ok := cur.(*corev1.Pod)
	if !ok {
		return
	}
	key := p.Namespace + "/" + p.Name
	if responsible(p) {
		// A pending pod is looked at when it appears and when what it asks
		// for changes, not on the status writes this scheduler makes.
		o, _ := old.(*corev1.Pod)
		if o == nil || !responsible(o) || !apiequality.Semantic.DeepEqual(o.Spec, p.Spec) ||
			!apiequality.Semantic.DeepEqual(o.Labels, p.Labels) {
			s.forgetUnschedulable(key)
			s.queue.Add(key)
		}
		return
	}
	s.forgetUnschedulable(key)
	if o, _ := old.(*corev1.Pod); o != nil && o.Spec.NodeName != "" && !terminal(o) && terminal(p) {
		s.retryUnschedulable() // a finished pod frees its node
	}
}

func (s *Scheduler) podDeleted(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	s.mu.Lock()
	delete(s.assumed, p.UID)
	s.mu.Unlock()
	if p.Spec.NodeName != "" {
		s.retryUnschedulable()
	}
}

func terminal(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// nodeChangeMatters says whether a node update can change what fits it.
func nodeChangeMatters(old, cur *corev1.Node) bool {
	ready := func(n *corev1.Node) corev1.ConditionStatus {
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady {
				return c.Status
			}
		}
		return ""
	}
	return old.Spec.Unschedulable != cur.Spec.Unschedulable ||
		!apiequality.Semantic.DeepEqual(old.Spec.Taints, cur.Spec.Taints) ||
		!apiequality.Semantic.DeepEqual(old.Labels, cur.Labels) ||
		!apiequality.Semantic.DeepEqual(old.Status.Allocatable, cur.Status.Allocatable) ||
		ready(old) != ready(cur)
}

func (s *Scheduler) forgetUnschedulable(key string) {
	s.mu.Lock()
	delete(s.unschedulable, key)
	s.mu.Unlock()
}

// retryUnschedulable queues every pod nothing fitted, each once its backoff
// has passed.
func (s *Scheduler) retryUnschedulable() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	for key, a := range s.unschedulable {
		backoff := initialBackoff
		for i := 1; i < a.count && backoff < maxBackoff; i++ {
			backoff *= 2
		}
		backoff = min(backoff, maxBackoff)
		if wait := a.last.Add(backoff).Sub(now); wait > 0 {
			s.queue.AddAfter(key, wait)
		} else {
			s.queue.Add(key)
		}
	}
}

// sync makes one attempt to schedule one pod.
func (s *Scheduler) sync(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	p, err := s.pods.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		s.forgetUnschedulable(key)
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if !responsible(p) || len(p.Spec.SchedulingGates) > 0 || s.isAssumed(p.UID) {
		s.forgetUnschedulable(key)
		return 0, nil
	}
	if p.DeletionTimestamp != nil {
		s.recorder.Eventf(p, nil, corev1.EventTypeWarning, "FailedScheduling", "Scheduling",
			"skip schedule deleting pod: %v/%v", p.Namespace, p.Name)
		s.forgetUnschedulable(key)
		return 0, nil
	}
	log := klog.FromContext(ctx).WithValues("pod", klog.KObj(p))
	infos, err := s.snapshot()
	if err != nil {
		return 0, err
	}
	node, diag := schedule(p, infos)
	if node == nil {
		msg := diag.message()
		log.V(2).Info("Unable to schedule pod; no fit; waiting", "err", msg)
		s.fail(ctx, p, corev1.PodReasonUnschedulable, msg)
		s.mu.Lock()
		a := s.unschedulable[key]
		s.unschedulable[key] = attempt{count: a.count + 1, last: s.clock.Now()}
		s.mu.Unlock()
		return unschedulableRetry, nil
	}
	s.forgetUnschedulable(key)
	assumed := p.DeepCopy()
	assumed.Spec.NodeName = node.node.Name
	s.mu.Lock()
	s.assumed[p.UID] = assumedPod{pod: assumed, expires: s.clock.Now().Add(assumedTTL)}
	s.mu.Unlock()
	binding := &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: p.Name, UID: p.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: node.node.Name},
	}
	if err := s.client.CoreV1().Pods(p.Namespace).Bind(ctx, binding, metav1.CreateOptions{}); err != nil {
		s.mu.Lock()
		delete(s.assumed, p.UID)
		s.mu.Unlock()
		if apierrors.IsNotFound(err) {
			return 0, nil
		}
		s.fail(ctx, p, corev1.PodReasonSchedulerError, fmt.Sprintf("running Bind plugin %q: %v", "DefaultBinder", err))
		return 0, err
	}
	log.V(2).Info("Successfully bound pod to node", "node", node.node.Name)
	s.recorder.Eventf(p, nil, corev1.EventTypeNormal, "Scheduled", "Binding",
		"Successfully assigned %v/%v to %v", p.Namespace, p.Name, node.node.Name)
	return 0, nil
}

func (s *Scheduler) isAssumed(uid types.UID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.assumed[uid]
	return ok
}

// snapshot is every node with the pods that count on it: from the
// informer, plus the pods this scheduler bound that it does not show bound
// yet.
func (s *Scheduler) snapshot() ([]*nodeInfo, error) {
	nodes, err := s.nodes.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	pods, err := s.pods.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	byName := make(map[string]*nodeInfo, len(nodes))
	infos := make([]*nodeInfo, 0, len(nodes))
	for _, n := range nodes {
		ni := newNodeInfo(n)
		byName[n.Name] = ni
		infos = append(infos, ni)
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].node.Name < infos[j].node.Name })
	for _, p := range pods {
		if p.Spec.NodeName == "" || terminal(p) {
			continue
		}
		if ni := byName[p.Spec.NodeName]; ni != nil {
			ni.add(p)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	for uid, a := range s.assumed {
		// The informer shows the pod bound (or gone): it counts from there.
		if cur, err := s.pods.Pods(a.pod.Namespace).Get(a.pod.Name); err != nil || cur.UID != uid || cur.Spec.NodeName != "" ||
			now.After(a.expires) {
			delete(s.assumed, uid)
			continue
		}
		if ni := byName[a.pod.Spec.NodeName]; ni != nil {
			ni.add(a.pod)
		}
	}
	return infos, nil
}

// schedule picks the node for p, or says why there is none.
func schedule(p *corev1.Pod, infos []*nodeInfo) (*nodeInfo, *diagnosis) {
	d := &diagnosis{numNodes: len(infos), failed: map[string]nodeFailure{},
		neverPreempts: p.Spec.PreemptionPolicy != nil && *p.Spec.PreemptionPolicy == corev1.PreemptNever}
	if len(infos) == 0 {
		return nil, d
	}
	names, all := nodeNames(p)
	if !all && len(names) == 0 {
		d.preFilter = reasonAffinityConfict
		return nil, d
	}
	fit := newPodFit(p)
	var fits []*nodeInfo
	for _, ni := range infos {
		if !all && !names[ni.node.Name] {
			d.skipped++
			continue
		}
		reasons, resolvable := fit.filter(ni)
		if reasons != nil {
			d.failed[ni.node.Name] = nodeFailure{reasons: reasons, resolvable: resolvable}
			continue
		}
		fits = append(fits, ni)
	}
	if len(fits) == 0 {
		return nil, d
	}
	return score(p, fits), nil
}

// fail reports a failed attempt as kube-scheduler does: a FailedScheduling
// event and the PodScheduled condition set False, written as a status patch
// (only when the condition changes).
func (s *Scheduler) fail(ctx context.Context, p *corev1.Pod, reason, msg string) {
	s.recorder.Eventf(p, nil, corev1.EventTypeWarning, "FailedScheduling", "Scheduling", "%s", truncate(msg))
	status := p.Status.DeepCopy()
	if !controllers.SetPodCondition(status, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: reason, Message: msg}, s.clock.Now()) {
		return
	}
	if err := patchStatus(ctx, s.client, p, status); err != nil && !apierrors.IsNotFound(err) {
		klog.FromContext(ctx).Error(err, "Error updating pod", "pod", klog.KObj(p))
	}
}

func truncate(msg string) string {
	if len(msg) <= noteLengthLimit {
		return msg
	}
	const suffix = " ..."
	return msg[:noteLengthLimit-len(suffix)] + suffix
}

// patchStatus writes a pod's new status as the strategic merge patch from
// its old one, on pods/status, as kube-scheduler's PatchPodStatus does.
func patchStatus(ctx context.Context, client kubernetes.Interface, p *corev1.Pod, status *corev1.PodStatus) error {
	oldData, err := json.Marshal(corev1.Pod{Status: p.Status})
	if err != nil {
		return err
	}
	newData, err := json.Marshal(corev1.Pod{Status: *status})
	if err != nil {
		return err
	}
	patch, err := strategicpatch.CreateTwoWayMergePatch(oldData, newData, &corev1.Pod{})
	if err != nil {
		return err
	}
	if string(patch) == "{}" {
		return nil
	}
	_, err = client.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
	return err
}

// Package nodelifecycle is the node lifecycle controller of
// kube-controller-manager 1.32 (pkg/controller/nodelifecycle), lease-based
// monitoring only, together with the taint eviction controller
// (pkg/controller/tainteviction) it starts by default.
//
// Every 5 s (nodeMonitorPeriod) it looks at each Node. A node shows life when
// its Lease in kube-node-lease is renewed or its Ready condition's heartbeat
// changes; one that has not for the grace period (--node-monitor-grace-period,
// 40 s; 60 s for a node that never posted status) gets its Ready,
// MemoryPressure, DiskPressure and PIDPressure conditions set to Unknown
// ("NodeStatusUnknown", "Kubelet stopped posting node status."), a
// NodeNotReady event, and its pods' Ready conditions set False.
//
// Taints follow the conditions as in Kubernetes: on every node change the
// NoSchedule taints not-ready, unreachable, memory-pressure, disk-pressure,
// pid-pressure, network-unavailable and unschedulable are set or removed; a
// node whose Ready is False or Unknown also gets the not-ready or
// unreachable NoExecute taint (with timeAdded), at most one node per zone
// every 10 s (--node-eviction-rate 0.1), none in a zone of at most 50
// nodes where more than two and at least 55% are down, and none anywhere
// when every node is down. They are removed when the node is
// Ready again.
//
// Pods on a node with NoExecute taints are deleted (after a DisruptionTarget
// condition, with TaintManagerEviction events) once they do not tolerate a
// taint, or when the shortest tolerationSeconds of the tolerations they use
// has passed since the controller saw the taints (300 s for the tolerations
// every pod gets by default).
//
// Differences from Kubernetes: the NoExecute tainting and eviction run at
// the end of each 5 s monitor pass, not every 100 ms and on every pod and
// node event, so they may come up to 5 s later; pods already being deleted
// are not deleted again; DaemonSet pods get no special treatment (there
// are no DaemonSets); the beta os/arch label reconciliation is not done.
package nodelifecycle

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	coordlisters "k8s.io/client-go/listers/coordination/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/retry"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/portway/portway/internal/controllers"
)

// Kubernetes' defaults.
const (
	// DefaultGracePeriod is --node-monitor-grace-period.
	DefaultGracePeriod = 40 * time.Second
	// startupGracePeriod is --node-startup-grace-period: how long a node
	// that never posted a Ready condition has.
	startupGracePeriod = time.Minute
	// monitorPeriod is --node-monitor-period.
	monitorPeriod = 5 * time.Second
	// evictionQPS is --node-eviction-rate, secondaryEvictionQPS
	// --secondary-node-eviction-rate, for zones in partial disruption in
	// clusters above largeClusterThreshold nodes.
	evictionQPS           = 0.1
	secondaryEvictionQPS  = 0.01
	largeClusterThreshold = 50
	// unhealthyZoneThreshold is --unhealthy-zone-threshold.
	unhealthyZoneThreshold = 0.55
	// healthUpdateRetries is NodeHealthUpdateRetry.
	healthUpdateRetries = 5

	// labelExcludeDisruption keeps a node out of the zone health counts.
	labelExcludeDisruption = "node.kubernetes.io/exclude-disruption"
)

var (
	unreachableNoExecute = corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute}
	notReadyNoExecute    = corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute}

	// conditionTaints maps a condition and status to the NoSchedule taint
	// that stands for it.
	conditionTaints = map[corev1.NodeConditionType]map[corev1.ConditionStatus]string{
		corev1.NodeReady:              {corev1.ConditionFalse: corev1.TaintNodeNotReady, corev1.ConditionUnknown: corev1.TaintNodeUnreachable},
		corev1.NodeMemoryPressure:     {corev1.ConditionTrue: corev1.TaintNodeMemoryPressure},
		corev1.NodeDiskPressure:       {corev1.ConditionTrue: corev1.TaintNodeDiskPressure},
		corev1.NodeNetworkUnavailable: {corev1.ConditionTrue: corev1.TaintNodeNetworkUnavailable},
		corev1.NodePIDPressure:        {corev1.ConditionTrue: corev1.TaintNodePIDPressure},
	}
	// taintConditions are the taint keys conditionTaints sets.
	taintConditions = map[string]bool{
		corev1.TaintNodeNotReady: true, corev1.TaintNodeUnreachable: true, corev1.TaintNodeMemoryPressure: true,
		corev1.TaintNodeDiskPressure: true, corev1.TaintNodeNetworkUnavailable: true, corev1.TaintNodePIDPressure: true,
	}
)

// Config tunes the controller; zero values take Kubernetes' defaults.
type Config struct {
	// GracePeriod is how long a node may go without renewing its Lease or
	// posting status before it is marked Unknown.
	GracePeriod time.Duration
	// Clock is the controller's time (tests step a fake one).
	Clock clock.Clock
}

// Controller is the node lifecycle controller.
type Controller struct {
	client kubernetes.Interface
	nodes  corelisters.NodeLister
	pods   corelisters.PodLister
	leases coordlisters.LeaseLister
	synced []cache.InformerSynced
	clock  clock.Clock
	grace  time.Duration

	broadcaster, evictionBroadcaster record.EventBroadcaster
	recorder, evictionRecorder       record.EventRecorder

	nodeQueue workqueue.TypedRateLimitingInterface[string] // NoSchedule tainting
	podQueue  workqueue.TypedRateLimitingInterface[string] // pods assigned to nodes

	mu       sync.Mutex
	health   map[string]*nodeHealth
	retry    map[string]bool // nodes whose pods still need marking not ready
	known    map[string]*corev1.Node
	zones    map[string]zoneState
	tainters map[string]*tainter
	// evictions are the pending pod deletions, by namespace/name.
	evictions map[string]eviction
}

// nodeHealth is what the controller last saw of a node.
type nodeHealth struct {
	probe      time.Time // when the node last showed life
	transition time.Time // when its Ready condition last changed
	status     *corev1.NodeStatus
	lease      *coordinationv1.Lease
}

// New creates the controller; Run starts it.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, cfg Config) *Controller {
	if cfg.GracePeriod <= 0 {
		cfg.GracePeriod = DefaultGracePeriod
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	nodeInf := factory.Core().V1().Nodes()
	podInf := factory.Core().V1().Pods()
	leaseInf := factory.Coordination().V1().Leases()
	c := &Controller{
		client: client,
		nodes:  nodeInf.Lister(),
		pods:   podInf.Lister(),
		leases: leaseInf.Lister(),
		synced: []cache.InformerSynced{nodeInf.Informer().HasSynced, podInf.Informer().HasSynced, leaseInf.Informer().HasSynced},
		clock:  cfg.Clock,
		grace:  cfg.GracePeriod,

		broadcaster:         record.NewBroadcaster(),
		evictionBroadcaster: record.NewBroadcaster(),

		nodeQueue: controllers.NewQueue("node_lifecycle_controller"),
		podQueue:  controllers.NewQueue("node_lifecycle_controller_pods"),

		health:    map[string]*nodeHealth{},
		retry:     map[string]bool{},
		known:     map[string]*corev1.Node{},
		zones:     map[string]zoneState{},
		tainters:  map[string]*tainter{},
		evictions: map[string]eviction{},
	}
	c.recorder = c.broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "node-controller"})
	c.evictionRecorder = c.evictionBroadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "taint-eviction-controller"})
	_, _ = nodeInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueNode,
		UpdateFunc: func(_, obj any) { c.enqueueNode(obj) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if n, ok := obj.(*corev1.Node); ok {
				c.mu.Lock()
				delete(c.retry, n.Name)
				c.mu.Unlock()
			}
		},
	})
	_, _ = podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { c.podUpdated(nil, obj) },
		UpdateFunc: func(old, obj any) {
			c.podUpdated(old, obj)
		},
	})
	return c
}

func (c *Controller) enqueueNode(obj any) {
	if n, ok := obj.(*corev1.Node); ok {
		c.nodeQueue.Add(n.Name)
	}
}

// podUpdated queues a pod that was just assigned to a node: if the node is
// not ready, the pod is marked not ready too.
func (c *Controller) podUpdated(old, obj any) {
	p, ok := obj.(*corev1.Pod)
	if !ok || p.Spec.NodeName == "" {
		return
	}
	if o, ok := old.(*corev1.Pod); ok && o.Spec.NodeName == p.Spec.NodeName {
		return
	}
	c.podQueue.Add(p.Namespace + "/" + p.Name)
}

// Run works until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	defer utilruntime.HandleCrash()
	defer controllers.StartEvents(c.broadcaster, c.client)()
	c.evictionBroadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.client.CoreV1().Events("")})
	defer c.evictionBroadcaster.Shutdown()

	nodeWorker := &controllers.Worker{Name: "node-lifecycle-taints", Queue: c.nodeQueue, Workers: 8,
		Sync: controllers.Once(c.syncNoScheduleTaints)}
	podWorker := &controllers.Worker{Name: "node-lifecycle-pods", Queue: c.podQueue, Workers: 4,
		Sync: controllers.Once(c.syncPod)}
	var workers sync.WaitGroup
	defer workers.Wait()
	workers.Go(func() { nodeWorker.Run(ctx, c.synced, nil) })
	workers.Go(func() { podWorker.Run(ctx, c.synced, nil) })
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return
	}
	wait.UntilWithContext(ctx, func(ctx context.Context) {
		if err := c.monitor(ctx); err != nil {
			klog.FromContext(ctx).Error(err, "Error monitoring node health")
		}
	}, monitorPeriod)
}

// monitor is one pass of monitorNodeHealth: every node's health is brought
// up to date, then the zones' states, then the NoExecute taints and the
// evictions they cause.
func (c *Controller) monitor(ctx context.Context) error {
	log := klog.FromContext(ctx)
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return err
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	c.mu.Lock()
	var added, deleted []*corev1.Node
	present := map[string]bool{}
	for _, n := range nodes {
		present[n.Name] = true
		if _, ok := c.known[n.Name]; !ok {
			added = append(added, n)
		}
		c.addZone(zoneKey(n))
	}
	for name, n := range c.known {
		if !present[name] {
			deleted = append(deleted, n)
		}
	}
	c.mu.Unlock()
	for _, n := range added {
		log.V(1).Info("Controller observed a new Node", "node", klog.KObj(n))
		c.recordNodeEvent(n, "RegisteredNode", fmt.Sprintf("Registered Node %v in Controller", n.Name))
		c.mu.Lock()
		c.known[n.Name] = n
		c.mu.Unlock()
		if _, err := c.markReachable(ctx, n); err != nil {
			log.Error(err, "Failed to remove taints from node", "node", klog.KObj(n))
		}
	}
	for _, n := range deleted {
		log.V(1).Info("Controller observed a Node deletion", "node", klog.KObj(n))
		c.recordNodeEvent(n, "RemovingNode", fmt.Sprintf("Removing Node %v from Controller", n.Name))
		c.mu.Lock()
		delete(c.known, n.Name)
		delete(c.health, n.Name)
		c.mu.Unlock()
	}

	zoneConditions := map[string][]*corev1.NodeCondition{}
	for _, n := range nodes {
		node := n.DeepCopy()
		observed, current, err := c.updateHealthWithRetries(ctx, node)
		if err != nil {
			log.Error(err, "Update health of Node from Controller error, Skipping - no pods will be evicted", "node", klog.KObj(n))
			continue
		}
		if _, excluded := node.Labels[labelExcludeDisruption]; !excluded {
			zoneConditions[zoneKey(node)] = append(zoneConditions[zoneKey(node)], current)
		}
		if current == nil {
			continue
		}
		c.processTaintBaseEviction(ctx, node, observed)
		c.mu.Lock()
		needsRetry := c.retry[node.Name]
		c.mu.Unlock()
		if (current.Status != corev1.ConditionTrue && observed.Status == corev1.ConditionTrue) ||
			(needsRetry && observed.Status != corev1.ConditionTrue) {
			if current.Status != corev1.ConditionTrue && observed.Status == corev1.ConditionTrue {
				c.recordStatusChange(node, "NodeNotReady")
			}
			if err := c.markPodsNotReady(ctx, c.podsOn(node.Name), node.Name); err != nil {
				utilruntime.HandleError(fmt.Errorf("unable to mark all pods NotReady on node %v: %w; queuing for retry", node.Name, err))
				c.mu.Lock()
				c.retry[node.Name] = true
				c.mu.Unlock()
				continue
			}
		}
		c.mu.Lock()
		delete(c.retry, node.Name)
		c.mu.Unlock()
	}
	c.handleDisruption(ctx, zoneConditions, nodes)
	c.taintNoExecute(ctx)
	c.evict(ctx)
	return nil
}

// updateHealthWithRetries runs updateHealth, reading the node again after a
// failed write.
func (c *Controller) updateHealthWithRetries(ctx context.Context, node *corev1.Node) (corev1.NodeCondition, *corev1.NodeCondition, error) {
	var errs []error
	for range healthUpdateRetries {
		observed, current, err := c.updateHealth(ctx, node)
		if err == nil {
			return observed, current, nil
		}
		errs = append(errs, err)
		if node, err = c.client.CoreV1().Nodes().Get(ctx, node.Name, metav1.GetOptions{}); err != nil {
			return corev1.NodeCondition{}, nil, err
		}
	}
	return corev1.NodeCondition{}, nil, utilerrors.NewAggregate(errs)
}

// updateHealth is tryUpdateNodeHealth: it notes whether the node showed
// life since the last pass and, when it has not for the grace period,
// marks its conditions Unknown. It returns the Ready condition as it was
// (a stand-in Unknown one when the node never posted any) and as it is now
// (nil when the node has none).
func (c *Controller) updateHealth(ctx context.Context, node *corev1.Node) (corev1.NodeCondition, *corev1.NodeCondition, error) {
	log := klog.FromContext(ctx)
	now := c.clock.Now()
	c.mu.Lock()
	var nh *nodeHealth
	if saved := c.health[node.Name]; saved != nil {
		cp := *saved
		nh = &cp
	}
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.health[node.Name] = nh
		c.mu.Unlock()
	}()

	grace := c.grace
	var observed corev1.NodeCondition
	current := condition(&node.Status, corev1.NodeReady)
	if current == nil {
		observed = corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionUnknown,
			LastHeartbeatTime: node.CreationTimestamp, LastTransitionTime: node.CreationTimestamp}
		grace = startupGracePeriod
		if nh != nil {
			nh.status = &node.Status
		} else {
			nh = &nodeHealth{status: &node.Status, probe: node.CreationTimestamp.Time, transition: node.CreationTimestamp.Time}
		}
	} else {
		observed = *current
	}

	var saved *corev1.NodeCondition
	var savedLease *coordinationv1.Lease
	if nh != nil {
		saved = condition(nh.status, corev1.NodeReady)
		savedLease = nh.lease
	}
	switch {
	case nh == nil:
		log.Info("Missing timestamp for Node. Assuming now as a timestamp", "node", klog.KObj(node))
		nh = &nodeHealth{status: &node.Status, probe: now, transition: now}
	case saved == nil && current != nil:
		log.V(1).Info("Creating timestamp entry for newly observed Node", "node", klog.KObj(node))
		nh = &nodeHealth{status: &node.Status, probe: now, transition: now}
	case saved != nil && current == nil:
		log.Error(nil, "ReadyCondition was removed from Status of Node", "node", klog.KObj(node))
		nh = &nodeHealth{status: &node.Status, probe: now, transition: now}
	case saved != nil && current != nil && !saved.LastHeartbeatTime.Equal(&current.LastHeartbeatTime):
		transition := nh.transition
		if !saved.LastTransitionTime.Equal(&current.LastTransitionTime) {
			transition = now
		}
		nh = &nodeHealth{status: &node.Status, probe: now, transition: transition}
	}
	// A renewed lease is life too, even from a node that never posted
	// status.
	lease, _ := c.leases.Leases(corev1.NamespaceNodeLease).Get(node.Name)
	if lease != nil && (savedLease == nil || savedLease.Spec.RenewTime.Before(lease.Spec.RenewTime)) {
		nh.lease = lease
		nh.probe = now
	}

	if !now.After(nh.probe.Add(grace)) {
		return observed, current, nil
	}
	stamp := metav1.NewTime(now)
	for _, t := range []corev1.NodeConditionType{corev1.NodeReady, corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure} {
		cond := condition(&node.Status, t)
		switch {
		case cond == nil:
			log.V(2).Info("Condition of node was never updated by kubelet", "nodeConditionType", t, "node", klog.KObj(node))
			node.Status.Conditions = append(node.Status.Conditions, corev1.NodeCondition{
				Type: t, Status: corev1.ConditionUnknown, Reason: "NodeStatusNeverUpdated", Message: "Kubelet never posted node status.",
				LastHeartbeatTime: node.CreationTimestamp, LastTransitionTime: stamp,
			})
		case cond.Status != corev1.ConditionUnknown:
			log.V(2).Info("Node hasn't been updated", "node", klog.KObj(node), "duration", now.Sub(nh.probe), "nodeConditionType", t)
			cond.Status = corev1.ConditionUnknown
			cond.Reason = "NodeStatusUnknown"
			cond.Message = "Kubelet stopped posting node status."
			cond.LastTransitionTime = stamp
		}
	}
	current = condition(&node.Status, corev1.NodeReady)
	if apiequality.Semantic.DeepEqual(current, &observed) {
		return observed, current, nil
	}
	if _, err := c.client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		log.Error(err, "Error updating node", "node", klog.KObj(node))
		return observed, current, err
	}
	nh = &nodeHealth{status: &node.Status, probe: nh.probe, transition: now, lease: lease}
	return observed, current, nil
}

func condition(status *corev1.NodeStatus, t corev1.NodeConditionType) *corev1.NodeCondition {
	if status == nil {
		return nil
	}
	for i := range status.Conditions {
		if status.Conditions[i].Type == t {
			return &status.Conditions[i]
		}
	}
	return nil
}

// processTaintBaseEviction queues a node that is not Ready for its NoExecute
// taint (swapping not-ready and unreachable at once when it has the other),
// and takes the taints off a Ready one.
func (c *Controller) processTaintBaseEviction(ctx context.Context, node *corev1.Node, observed corev1.NodeCondition) {
	log := klog.FromContext(ctx)
	switch observed.Status {
	case corev1.ConditionFalse:
		if hasTaint(node, unreachableNoExecute) {
			if err := c.swapTaints(ctx, node.Name, []corev1.Taint{notReadyNoExecute}, []corev1.Taint{unreachableNoExecute}); err != nil {
				log.Error(err, "Failed to instantly swap UnreachableTaint to NotReadyTaint. Will try again in the next cycle")
			}
		} else if c.markForTainting(node, corev1.ConditionFalse) {
			log.V(2).Info("Node is NotReady. Adding it to the Taint queue", "node", klog.KObj(node))
		}
	case corev1.ConditionUnknown:
		if hasTaint(node, notReadyNoExecute) {
			if err := c.swapTaints(ctx, node.Name, []corev1.Taint{unreachableNoExecute}, []corev1.Taint{notReadyNoExecute}); err != nil {
				log.Error(err, "Failed to instantly swap NotReadyTaint to UnreachableTaint. Will try again in the next cycle")
			}
		} else if c.markForTainting(node, corev1.ConditionUnknown) {
			log.V(2).Info("Node is unresponsive. Adding it to the Taint queue", "node", klog.KObj(node))
		}
	case corev1.ConditionTrue:
		removed, err := c.markReachable(ctx, node)
		if err != nil {
			log.Error(err, "Failed to remove taints from node. Will retry in next iteration", "node", klog.KObj(node))
		}
		if removed {
			log.V(2).Info("Node is healthy again, removed all taints", "node", klog.KObj(node))
		}
	}
}

func hasTaint(n *corev1.Node, t corev1.Taint) bool {
	for i := range n.Spec.Taints {
		if n.Spec.Taints[i].MatchTaint(&t) {
			return true
		}
	}
	return false
}

// markForTainting puts the node in its zone's NoExecute queue; it is taken
// out first if it lacks the taint its condition calls for, so that a taint
// someone removed comes back.
func (c *Controller) markForTainting(node *corev1.Node, status corev1.ConditionStatus) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	zone := c.addZone(zoneKey(node))
	if status == corev1.ConditionFalse && !hasTaint(node, notReadyNoExecute) {
		zone.remove(node.Name)
	}
	if status == corev1.ConditionUnknown && !hasTaint(node, unreachableNoExecute) {
		zone.remove(node.Name)
	}
	return zone.add(node.Name)
}

// markReachable takes the NoExecute taints off a node and out of the queue.
func (c *Controller) markReachable(ctx context.Context, node *corev1.Node) (bool, error) {
	if hasTaint(node, unreachableNoExecute) || hasTaint(node, notReadyNoExecute) {
		if err := c.swapTaints(ctx, node.Name, nil, []corev1.Taint{unreachableNoExecute, notReadyNoExecute}); err != nil {
			return false, err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.addZone(zoneKey(node)).remove(node.Name), nil
}

// markPodsNotReady is Kubernetes' MarkPodsNotReady: each pod's Ready
// condition becomes False (reason and message kept), one status write per
// pod that changes, and a NodeNotReady event on the pod.
func (c *Controller) markPodsNotReady(ctx context.Context, pods []*corev1.Pod, nodeName string) error {
	klog.FromContext(ctx).V(2).Info("Update ready status of pods on node", "node", klog.KRef("", nodeName))
	var errs []error
	for _, p := range pods {
		if p.Spec.NodeName != nodeName {
			continue
		}
		pod := p.DeepCopy()
		for i := range pod.Status.Conditions {
			cond := pod.Status.Conditions[i]
			if cond.Type != corev1.PodReady {
				continue
			}
			if cond.Status == corev1.ConditionFalse {
				break
			}
			cond.Status = corev1.ConditionFalse
			cond.LastTransitionTime = metav1.NewTime(c.clock.Now())
			pod.Status.Conditions[i] = cond
			if _, err := c.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
				if apierrors.IsNotFound(err) {
					break
				}
				klog.FromContext(ctx).Info("Failed to update status for pod", "pod", klog.KObj(pod), "err", err)
				errs = append(errs, err)
			}
			c.recorder.Event(pod, corev1.EventTypeWarning, "NodeNotReady", "Node is not ready")
			break
		}
	}
	return utilerrors.NewAggregate(errs)
}

// podsOn lists the pods bound to a node.
func (c *Controller) podsOn(node string) []*corev1.Pod {
	all, err := c.pods.List(labels.Everything())
	if err != nil {
		return nil
	}
	var out []*corev1.Pod
	for _, p := range all {
		if p.Spec.NodeName == node {
			out = append(out, p)
		}
	}
	return out
}

// syncPod marks a pod just assigned to a node not ready when the node is not.
func (c *Controller) syncPod(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	p, err := c.pods.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	c.mu.Lock()
	nh := c.health[p.Spec.NodeName]
	var ready *corev1.NodeCondition
	if nh != nil {
		ready = condition(nh.status, corev1.NodeReady)
	}
	c.mu.Unlock()
	if nh == nil || ready == nil {
		return nil // the next monitor pass sees to it
	}
	if _, err := c.nodes.Get(p.Spec.NodeName); err != nil {
		return err
	}
	if ready.Status != corev1.ConditionTrue {
		return c.markPodsNotReady(ctx, []*corev1.Pod{p}, p.Spec.NodeName)
	}
	return nil
}

// syncNoScheduleTaints is doNoScheduleTaintingPass: the node's NoSchedule
// taints for conditions and cordoning are made to match them.
func (c *Controller) syncNoScheduleTaints(ctx context.Context, name string) error {
	node, err := c.nodes.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for _, cond := range node.Status.Conditions {
		if key, ok := conditionTaints[cond.Type][cond.Status]; ok {
			want[key] = true
		}
	}
	if node.Spec.Unschedulable {
		want[corev1.TaintNodeUnschedulable] = true
	}
	have := map[string]bool{}
	for _, t := range node.Spec.Taints {
		if t.Effect == corev1.TaintEffectNoSchedule && (t.Key == corev1.TaintNodeUnschedulable || taintConditions[t.Key]) {
			have[t.Key] = true
		}
	}
	var add, remove []corev1.Taint
	for key := range want {
		if !have[key] {
			add = append(add, corev1.Taint{Key: key, Effect: corev1.TaintEffectNoSchedule})
		}
	}
	for key := range have {
		if !want[key] {
			remove = append(remove, corev1.Taint{Key: key, Effect: corev1.TaintEffectNoSchedule})
		}
	}
	if len(add) == 0 && len(remove) == 0 {
		return nil
	}
	if err := c.swapTaints(ctx, name, add, remove); err != nil {
		return fmt.Errorf("failed to swap taints of node %s: %w", name, err)
	}
	return nil
}

// swapTaints adds (or replaces: same key and effect) and removes taints on
// a node, as SwapNodeControllerTaint does: added taints carry timeAdded, and
// the write is a patch of spec.taints that fails if the node changed since
// it was read.
func (c *Controller) swapTaints(ctx context.Context, name string, add, remove []corev1.Taint) error {
	now := metav1.NewTime(c.clock.Now())
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		node, err := c.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		var taints []corev1.Taint
		changed := false
		for _, t := range node.Spec.Taints {
			drop := false
			for i := range remove {
				if remove[i].MatchTaint(&t) {
					drop = true
				}
			}
			if drop {
				changed = true
				continue
			}
			taints = append(taints, t)
		}
		for _, t := range add {
			t.TimeAdded = &now
			replaced := false
			for i := range taints {
				if taints[i].MatchTaint(&t) {
					replaced = true
					if !apiequality.Semantic.DeepEqual(taints[i], t) {
						taints[i], changed = t, true
					}
				}
			}
			if !replaced {
				taints, changed = append(taints, t), true
			}
		}
		if !changed {
			return nil
		}
		patch, err := json.Marshal(map[string]any{
			"metadata": map[string]any{"resourceVersion": node.ResourceVersion},
			"spec":     map[string]any{"taints": taints},
		})
		if err != nil {
			return err
		}
		_, err = c.client.CoreV1().Nodes().Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
		return err
	})
}

// recordNodeEvent is RecordNodeEvent.
func (c *Controller) recordNodeEvent(n *corev1.Node, reason, event string) {
	ref := &corev1.ObjectReference{APIVersion: "v1", Kind: "Node", Name: n.Name, UID: n.UID}
	c.recorder.Eventf(ref, corev1.EventTypeNormal, reason, "Node %s event: %s", n.Name, event)
}

// recordStatusChange is RecordNodeStatusChange.
func (c *Controller) recordStatusChange(n *corev1.Node, status string) {
	ref := &corev1.ObjectReference{APIVersion: "v1", Kind: "Node", Name: n.Name, UID: n.UID}
	c.recorder.Eventf(ref, corev1.EventTypeNormal, status, "Node %s status is now: %s", n.Name, status)
}

package nodelifecycle

import (
	"context"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/klog/v2"
)

// zoneState is how much of a zone is down.
type zoneState string

const (
	stateInitial           zoneState = "Initial"
	stateNormal            zoneState = "Normal"
	stateFullDisruption    zoneState = "FullDisruption"
	statePartialDisruption zoneState = "PartialDisruption"
)

// zoneKey is the zone a node is in, as Kubernetes keys it: region and zone
// labels (stable, else beta) joined, or "" without either.
func zoneKey(n *corev1.Node) string {
	get := func(stable, beta string) string {
		if v, ok := n.Labels[stable]; ok {
			return v
		}
		return n.Labels[beta]
	}
	zone := get(corev1.LabelTopologyZone, corev1.LabelFailureDomainBetaZone)
	region := get(corev1.LabelTopologyRegion, corev1.LabelFailureDomainBetaRegion)
	if region == "" && zone == "" {
		return ""
	}
	return region + ":\x00:" + zone
}

// tainter is a zone's queue of nodes waiting for their NoExecute taint, as
// Kubernetes' RateLimitedTimedQueue: a node stays known after it is tainted,
// so it is not queued again until remove, and taints are rate limited.
type tainter struct {
	queue   []string
	known   map[string]bool
	limiter flowcontrol.RateLimiter // nil: no tainting at all
}

// addZone returns the zone's tainter, creating it (at the normal rate) for
// a zone seen for the first time. c.mu must be held.
func (c *Controller) addZone(zone string) *tainter {
	t := c.tainters[zone]
	if t == nil {
		t = &tainter{known: map[string]bool{}}
		t.setRate(evictionQPS, c)
		c.tainters[zone] = t
		c.zones[zone] = stateInitial
	}
	return t
}

func (t *tainter) setRate(qps float32, c *Controller) {
	if qps <= 0 {
		t.limiter = nil
		return
	}
	t.limiter = flowcontrol.NewTokenBucketRateLimiterWithClock(qps, 1, c.clock)
}

func (t *tainter) add(name string) bool {
	if t.known[name] {
		return false
	}
	t.known[name] = true
	t.queue = append(t.queue, name)
	return true
}

func (t *tainter) remove(name string) bool {
	if !t.known[name] {
		return false
	}
	delete(t.known, name)
	t.queue = slices.DeleteFunc(t.queue, func(n string) bool { return n == name })
	return true
}

// computeZoneState says how a zone is: fully disrupted with no Ready node,
// partially with more than two down making up at least 55%, else normal.
func computeZoneState(conditions []*corev1.NodeCondition) zoneState {
	ready, notReady := 0, 0
	for _, c := range conditions {
		if c != nil && c.Status == corev1.ConditionTrue {
			ready++
		} else {
			notReady++
		}
	}
	switch {
	case ready == 0 && notReady > 0:
		return stateFullDisruption
	case notReady > 2 && float32(notReady)/float32(notReady+ready) >= unhealthyZoneThreshold:
		return statePartialDisruption
	}
	return stateNormal
}

// setZoneRate is setLimiterInZone. c.mu must be held.
func (c *Controller) setZoneRate(zone string, size int, state zoneState) {
	t := c.addZone(zone)
	switch state {
	case stateNormal, stateFullDisruption:
		t.setRate(evictionQPS, c)
	case statePartialDisruption:
		if size > largeClusterThreshold {
			t.setRate(secondaryEvictionQPS, c)
		} else {
			t.setRate(0, c)
		}
	}
}

// handleDisruption is Kubernetes' handleDisruption: each zone's tainting
// rate follows its state, and when every node of every zone is down the
// control plane, not the nodes, is taken to be at fault: all NoExecute
// taints come off and no more are added until some node is back.
func (c *Controller) handleDisruption(ctx context.Context, zoneConditions map[string][]*corev1.NodeCondition, nodes []*corev1.Node) {
	log := klog.FromContext(ctx)
	c.mu.Lock()
	newStates := map[string]zoneState{}
	allFully := true
	for zone, conds := range zoneConditions {
		state := computeZoneState(conds)
		if state != stateFullDisruption {
			allFully = false
		}
		newStates[zone] = state
		c.addZone(zone)
	}
	allWereFully := true
	for zone, state := range c.zones {
		if _, ok := zoneConditions[zone]; !ok {
			delete(c.zones, zone)
			continue
		}
		if state != stateFullDisruption {
			allWereFully = false
		}
	}
	if allFully && allWereFully {
		c.mu.Unlock()
		return
	}
	switch {
	case allFully:
		log.Info("Controller detected that all Nodes are not-Ready. Entering master disruption mode")
		for zone := range c.zones {
			c.tainters[zone].setRate(0, c)
			c.zones[zone] = stateFullDisruption
		}
		c.mu.Unlock()
		for _, n := range nodes {
			if _, err := c.markReachable(ctx, n); err != nil {
				log.Error(err, "Failed to remove taints from Node", "node", klog.KObj(n))
			}
		}
		return
	case allWereFully:
		log.Info("Controller detected that some Nodes are Ready. Exiting master disruption mode")
		now := c.clock.Now()
		for _, n := range nodes {
			if nh := c.health[n.Name]; nh != nil {
				cp := *nh
				cp.probe, cp.transition = now, now
				c.health[n.Name] = &cp
			}
		}
		for zone := range c.zones {
			c.setZoneRate(zone, len(zoneConditions[zone]), newStates[zone])
			c.zones[zone] = newStates[zone]
		}
	default:
		for zone, state := range c.zones {
			if state == newStates[zone] {
				continue
			}
			log.Info("Controller detected that zone is now in new state", "zone", zone, "newState", newStates[zone])
			c.setZoneRate(zone, len(zoneConditions[zone]), newStates[zone])
			c.zones[zone] = newStates[zone]
		}
	}
	c.mu.Unlock()
}

// taintNoExecute is doNoExecuteTaintingPass: each zone taints the nodes in
// its queue as fast as its rate allows, with the taint the node's Ready
// condition calls for now (and without the other one).
func (c *Controller) taintNoExecute(ctx context.Context) {
	log := klog.FromContext(ctx)
	c.mu.Lock()
	zones := make([]*tainter, 0, len(c.tainters))
	for _, t := range c.tainters {
		zones = append(zones, t)
	}
	c.mu.Unlock()
	for _, t := range zones {
		for {
			c.mu.Lock()
			if len(t.queue) == 0 || t.limiter == nil || !t.limiter.TryAccept() {
				c.mu.Unlock()
				break
			}
			name := t.queue[0]
			c.mu.Unlock()
			done := c.taintOne(ctx, name)
			c.mu.Lock()
			if len(t.queue) > 0 && t.queue[0] == name {
				t.queue = t.queue[1:]
				if !done { // try again next pass
					t.queue = append(t.queue, name)
				}
			}
			c.mu.Unlock()
			if !done {
				log.V(4).Info("Failed to taint node, will retry", "node", klog.KRef("", name))
				break
			}
		}
	}
}

func (c *Controller) taintOne(ctx context.Context, name string) bool {
	node, err := c.nodes.Get(name)
	if apierrors.IsNotFound(err) {
		return true
	}
	if err != nil {
		return false
	}
	ready := condition(&node.Status, corev1.NodeReady)
	if ready == nil {
		return false
	}
	var add, opposite corev1.Taint
	switch ready.Status {
	case corev1.ConditionFalse:
		add, opposite = notReadyNoExecute, unreachableNoExecute
	case corev1.ConditionUnknown:
		add, opposite = unreachableNoExecute, notReadyNoExecute
	default:
		return true // Ready again: nothing to do
	}
	if err := c.swapTaints(ctx, name, []corev1.Taint{add}, []corev1.Taint{opposite}); err != nil {
		klog.FromContext(ctx).Error(err, "Unable to taint unresponsive node", "node", klog.KRef("", name))
		return false
	}
	return true
}

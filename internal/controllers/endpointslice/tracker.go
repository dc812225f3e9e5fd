package endpointslice

import (
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/portway/portway/internal/podinfo"
)

const deletionExpected = -1

// SliceTracker remembers the generation of every EndpointSlice a controller
// wrote, per Service, so that the controller can ignore the informer events
// of its own writes and notice when its cache is behind them.
type SliceTracker struct {
	mu  sync.Mutex
	gen map[types.NamespacedName]map[types.UID]int64
}

// NewSliceTracker returns an empty tracker.
func NewSliceTracker() *SliceTracker {
	return &SliceTracker{gen: map[types.NamespacedName]map[types.UID]int64{}}
}

func serviceNN(s *discoveryv1.EndpointSlice) types.NamespacedName {
	return types.NamespacedName{Namespace: s.Namespace, Name: s.Labels[discoveryv1.LabelServiceName]}
}

// Has reports whether the slice is tracked.
func (t *SliceTracker) Has(s *discoveryv1.EndpointSlice) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.gen[serviceNN(s)][s.UID]
	return ok
}

// ShouldSync reports whether the slice changed since the controller wrote it.
func (t *SliceTracker) ShouldSync(s *discoveryv1.EndpointSlice) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	g, ok := t.gen[serviceNN(s)][s.UID]
	return !ok || s.Generation > g
}

// Stale reports whether the listed slices are older than what the controller
// wrote or deleted for the Service.
func (t *SliceTracker) Stale(svc *corev1.Service, slices []*discoveryv1.EndpointSlice) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	gens, ok := t.gen[types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}]
	if !ok {
		return false
	}
	listed := map[types.UID]bool{}
	for _, s := range slices {
		listed[s.UID] = true
		if g, ok := gens[s.UID]; ok && (g == deletionExpected || g > s.Generation) {
			return true
		}
	}
	for uid, g := range gens {
		if g != deletionExpected && !listed[uid] {
			return true
		}
	}
	return false
}

// Update records a slice as written.
func (t *SliceTracker) Update(s *discoveryv1.EndpointSlice) { t.set(s, s.Generation) }

// ExpectDeletion records a slice as deleted by the controller.
func (t *SliceTracker) ExpectDeletion(s *discoveryv1.EndpointSlice) { t.set(s, deletionExpected) }

func (t *SliceTracker) set(s *discoveryv1.EndpointSlice, g int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	nn := serviceNN(s)
	if t.gen[nn] == nil {
		t.gen[nn] = map[types.UID]int64{}
	}
	t.gen[nn][s.UID] = g
}

// HandleDeletion forgets a deleted slice. It reports whether the controller
// expected the deletion.
func (t *SliceTracker) HandleDeletion(s *discoveryv1.EndpointSlice) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	gens, ok := t.gen[serviceNN(s)]
	if !ok {
		return true
	}
	g, ok := gens[s.UID]
	delete(gens, s.UID)
	return !ok || g == deletionExpected
}

// DeleteService forgets a Service.
func (t *SliceTracker) DeleteService(namespace, name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.gen, types.NamespacedName{Namespace: namespace, Name: name})
}

// TriggerTimeTracker computes the endpoints.kubernetes.io/last-change-trigger-time
// annotation as Kubernetes does: the Service's creation time on the first
// sync of a Service, afterwards the earliest pod Ready-condition transition
// seen since the previous sync, and nothing (annotation removed) when none
// changed.
type TriggerTimeTracker struct {
	mu     sync.Mutex
	states map[types.NamespacedName]triggerState
}

type triggerState struct {
	service time.Time
	pods    map[string]time.Time
}

// NewTriggerTimeTracker returns an empty tracker.
func NewTriggerTimeTracker() *TriggerTimeTracker {
	return &TriggerTimeTracker{states: map[types.NamespacedName]triggerState{}}
}

// Compute returns the trigger time for this sync and records the state seen.
func (t *TriggerTimeTracker) Compute(svc *corev1.Service, pods []*corev1.Pod) time.Time {
	key := types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}
	t.mu.Lock()
	state, known := t.states[key]
	t.mu.Unlock()

	var earliest time.Time
	older := func(ts time.Time) {
		if earliest.IsZero() || ts.Before(earliest) {
			earliest = ts
		}
	}
	// Made on the first pod with a Ready transition: thousands of Services
	// without ready pods would otherwise each keep an empty map.
	var podTimes map[string]time.Time
	for _, pod := range pods {
		c := podinfo.ReadyCondition(pod)
		if c == nil || c.LastTransitionTime.IsZero() {
			continue
		}
		ts := c.LastTransitionTime.Time
		if podTimes == nil {
			podTimes = map[string]time.Time{}
		}
		podTimes[pod.Name] = ts
		if ts.After(state.pods[pod.Name]) {
			older(ts)
		}
	}
	svcTime := svc.CreationTimestamp.Time
	if svcTime.After(state.service) {
		older(svcTime)
	}
	t.mu.Lock()
	t.states[key] = triggerState{service: svcTime, pods: podTimes}
	t.mu.Unlock()
	if !known {
		return svcTime
	}
	return earliest
}

// DeleteService forgets a Service.
func (t *TriggerTimeTracker) DeleteService(namespace, name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.states, types.NamespacedName{Namespace: namespace, Name: name})
}

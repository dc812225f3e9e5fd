package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	"github.com/portway/portway/internal/podinfo"
)

// tracker keeps what the pod and EndpointSlice informers of one namespace
// show, and wakes waiters when a condition on it first holds, noting the
// time the event that made it hold arrived: no polling, so the figures are
// not rounded up to a poll interval.
type tracker struct {
	service string // the Service whose slices are kept

	mu      sync.Mutex
	pods    map[string]*corev1.Pod
	slices  map[string]*discoveryv1.EndpointSlice
	waiters []*waiter
	// readyMax is the most pods seen Running and Ready at once, first
	// reached at readyMaxAt: a fill that stops growing has stalled.
	readyMax   int
	readyMaxAt time.Time
	// readyLow is the fewest ready endpoints seen since lowFrom armed it.
	readyLow    int
	watchingLow bool
}

// waiter is a condition on the tracker's state and when it first held.
type waiter struct {
	cond func(*tracker) bool
	at   time.Time
	done chan struct{}
}

// newTracker starts informers on namespace ns and returns once they have
// synced. They stop when ctx ends.
func newTracker(ctx context.Context, f informers.SharedInformerFactory, service string) (*tracker, error) {
	t := &tracker{service: service, pods: map[string]*corev1.Pod{}, slices: map[string]*discoveryv1.EndpointSlice{}}
	podInf := f.Core().V1().Pods().Informer()
	sliceInf := f.Discovery().V1().EndpointSlices().Informer()
	_, err := podInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { t.setPod(o) },
		UpdateFunc: func(_, o any) { t.setPod(o) },
		DeleteFunc: func(o any) { t.deletePod(o) },
	})
	if err != nil {
		return nil, err
	}
	_, err = sliceInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { t.setSlice(o) },
		UpdateFunc: func(_, o any) { t.setSlice(o) },
		DeleteFunc: func(o any) { t.deleteSlice(o) },
	})
	if err != nil {
		return nil, err
	}
	f.Start(ctx.Done())
	for typ, ok := range f.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return nil, fmt.Errorf("informer for %v did not sync", typ)
		}
	}
	return t, nil
}

func (t *tracker) setPod(o any) {
	now := time.Now()
	p, ok := o.(*corev1.Pod)
	if !ok {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pods[p.Name] = p
	if n := t.runningAndReady(); n > t.readyMax {
		t.readyMax, t.readyMaxAt = n, now
	}
	t.check(now)
}

func (t *tracker) deletePod(o any) {
	now := time.Now()
	if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o = d.Obj
	}
	p, ok := o.(*corev1.Pod)
	if !ok {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.pods, p.Name)
	t.check(now)
}

func (t *tracker) setSlice(o any) {
	now := time.Now()
	s, ok := o.(*discoveryv1.EndpointSlice)
	if !ok || s.Labels[discoveryv1.LabelServiceName] != t.service {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.slices[s.Name] = s
	t.check(now)
}

func (t *tracker) deleteSlice(o any) {
	now := time.Now()
	if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o = d.Obj
	}
	s, ok := o.(*discoveryv1.EndpointSlice)
	if !ok {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.slices, s.Name)
	t.check(now)
}

// lowFrom starts tracking the fewest ready endpoints, from now on.
func (t *tracker) lowFrom() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.readyLow, t.watchingLow = t.readyEndpoints(), true
}

// low is the fewest ready endpoints seen since lowFrom.
func (t *tracker) low() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.readyLow
}

// check wakes the waiters whose condition holds now, and notes the fewest
// ready endpoints when asked to. t.mu is held.
func (t *tracker) check(now time.Time) {
	if t.watchingLow {
		t.readyLow = min(t.readyLow, t.readyEndpoints())
	}
	kept := t.waiters[:0]
	for _, w := range t.waiters {
		if w.cond(t) {
			w.at = now
			close(w.done)
		} else {
			kept = append(kept, w)
		}
	}
	clear(t.waiters[len(kept):])
	t.waiters = kept
}

// when registers cond; it may hold at once.
func (t *tracker) when(cond func(*tracker) bool) *waiter {
	w := &waiter{cond: cond, done: make(chan struct{})}
	t.mu.Lock()
	defer t.mu.Unlock()
	if cond(t) {
		w.at = time.Now()
		close(w.done)
	} else {
		t.waiters = append(t.waiters, w)
	}
	return w
}

// wait returns when the condition first held.
func (w *waiter) wait(ctx context.Context, timeout time.Duration) (time.Time, error) {
	select {
	case <-w.done:
		return w.at, nil
	case <-ctx.Done():
		return time.Time{}, ctx.Err()
	case <-time.After(timeout):
		return time.Time{}, fmt.Errorf("not within %s", timeout)
	}
}

// cancel forgets a waiter that will not be waited for any more.
func (t *tracker) cancel(w *waiter) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, x := range t.waiters {
		if x == w {
			t.waiters = append(t.waiters[:i], t.waiters[i+1:]...)
			return
		}
	}
}

// Conditions on the tracker's state, called with t.mu held.

func podRunning(name string) func(*tracker) bool {
	return func(t *tracker) bool {
		p := t.pods[name]
		return p != nil && p.Status.Phase == corev1.PodRunning
	}
}

func podReady(name string) func(*tracker) bool {
	return func(t *tracker) bool {
		p := t.pods[name]
		return p != nil && podinfo.Ready(p)
	}
}

// endpointIs holds when the pod's endpoint (found by its targetRef, with
// the pod's IP as the pod informer shows it) is in the Service's slices
// with conditions.ready = ready, and nowhere with the other value (an
// endpoint may briefly be in two slices while it moves).
func endpointIs(name string, ready bool) func(*tracker) bool {
	return func(t *tracker) bool {
		p := t.pods[name]
		if p == nil || p.Status.PodIP == "" {
			return false
		}
		seen, other := false, false
		for _, s := range t.slices {
			for _, ep := range s.Endpoints {
				if ep.TargetRef == nil || ep.TargetRef.Name != name || !slices.Contains(ep.Addresses, p.Status.PodIP) {
					continue
				}
				if endpointReady(ep) == ready {
					seen = true
				} else {
					other = true
				}
			}
		}
		return seen && !other
	}
}

// endpointReady reads conditions.ready; nil means ready, as the API says.
func endpointReady(ep discoveryv1.Endpoint) bool {
	return ep.Conditions.Ready == nil || *ep.Conditions.Ready
}

// readyEndpoints counts distinct pods ready in the Service's slices.
func (t *tracker) readyEndpoints() int {
	ready := map[string]bool{}
	for _, s := range t.slices {
		for _, ep := range s.Endpoints {
			if ep.TargetRef != nil && endpointReady(ep) {
				ready[ep.TargetRef.Name] = true
			}
		}
	}
	return len(ready)
}

func allEndpointsReady(n int) func(*tracker) bool {
	return func(t *tracker) bool { return t.readyEndpoints() >= n }
}

// runningAndReady counts pods with phase Running and Ready True.
func (t *tracker) runningAndReady() int {
	n := 0
	for _, p := range t.pods {
		if podinfo.RunningAndReady(p) {
			n++
		}
	}
	return n
}

func (t *tracker) locked(fn func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fn()
}

// describePod says where a pod stands, for pods that did not get Ready.
func describePod(p *corev1.Pod) string {
	if p == nil {
		return "not seen"
	}
	s := fmt.Sprintf("%s, node %q", p.Status.Phase, p.Spec.NodeName)
	for _, c := range p.Status.Conditions {
		s += fmt.Sprintf(", %s=%s", c.Type, c.Status)
	}
	if len(p.Status.ContainerStatuses) == 0 {
		s += ", no container status"
	}
	for _, c := range p.Status.ContainerStatuses {
		switch {
		case c.State.Waiting != nil:
			s += fmt.Sprintf(", container waiting (%s)", c.State.Waiting.Reason)
		case c.State.Running != nil:
			s += fmt.Sprintf(", container running, ready=%v", c.Ready)
		case c.State.Terminated != nil:
			s += fmt.Sprintf(", container terminated (%s, exit %d)", c.State.Terminated.Reason, c.State.Terminated.ExitCode)
		}
	}
	return s
}

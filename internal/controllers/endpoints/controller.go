// Package endpoints is the Endpoints controller of Kubernetes 1.32
// (pkg/controller/endpoint): an Endpoints object, named after the Service,
// for every Service with a selector, listing the selected pods' addresses
// per resolved port. It deletes the Endpoints when the Service goes.
package endpoints

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	netutils "k8s.io/utils/net"

	"github.com/portway/portway/internal/controllers"
	"github.com/portway/portway/internal/controllers/endpointslice"
	"github.com/portway/portway/internal/podinfo"
)

const (
	// MaxCapacity is the number of addresses an Endpoints object keeps; the
	// rest are truncated and the object is annotated over-capacity.
	MaxCapacity = 1000

	workers    = 5 // --concurrent-endpoint-syncs
	maxRetries = 15
)

// Controller is the Endpoints controller.
type Controller struct {
	client    kubernetes.Interface
	services  corelisters.ServiceLister
	pods      corelisters.PodLister
	endpoints corelisters.EndpointsLister
	synced    []cache.InformerSynced
	queue     workqueue.TypedRateLimitingInterface[string]
	triggers  *endpointslice.TriggerTimeTracker
	stale     *staleTracker
}

// New creates the controller; Run starts it.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory) *Controller {
	svcInf := factory.Core().V1().Services()
	podInf := factory.Core().V1().Pods()
	epInf := factory.Core().V1().Endpoints()
	c := &Controller{
		client:    client,
		services:  svcInf.Lister(),
		pods:      podInf.Lister(),
		endpoints: epInf.Lister(),
		synced:    []cache.InformerSynced{svcInf.Informer().HasSynced, podInf.Informer().HasSynced, epInf.Informer().HasSynced},
		queue:     controllers.NewQueue("endpoint"),
		triggers:  endpointslice.NewTriggerTimeTracker(),
		stale:     &staleTracker{rv: map[types.NamespacedName]string{}},
	}
	_, _ = svcInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj any) { c.enqueue(obj) },
		DeleteFunc: c.enqueue,
	})
	_, _ = podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.addPod,
		UpdateFunc: func(old, cur any) {
			for key := range endpointslice.ServicesToUpdateOnPodChange(c.services, old, cur) {
				c.queue.Add(key)
			}
		},
		DeleteFunc: func(obj any) {
			if pod := endpointslice.PodFromDeleteAction(obj); pod != nil {
				c.addPod(pod)
			}
		},
	})
	_, _ = epInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{DeleteFunc: c.enqueue})
	return c
}

func (c *Controller) enqueue(obj any) { controllers.Enqueue(c.queue, obj) }

func (c *Controller) addPod(obj any) {
	endpointslice.QueuePodServices(c.services, c.queue, obj.(*corev1.Pod))
}

// Run works until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	c.worker().Run(ctx, c.synced, func() {
		// Endpoints left behind by Services deleted while the controller was
		// down are deleted once, at start, as in Kubernetes.
		if list, err := c.endpoints.List(labels.Everything()); err == nil {
			for _, ep := range list {
				if _, ok := ep.Annotations[resourcelock.LeaderElectionRecordAnnotationKey]; !ok {
					c.enqueue(ep)
				}
			}
		}
	})
}

func (c *Controller) worker() *controllers.Worker {
	return &controllers.Worker{Name: "endpoint", Queue: c.queue, Workers: workers, MaxRetries: maxRetries,
		Sync: controllers.Once(c.sync)}
}

func (c *Controller) sync(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return err
	}
	svc, err := c.services.Services(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		err := c.client.CoreV1().Endpoints(namespace).Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		c.triggers.DeleteService(namespace, name)
		c.stale.forget(namespace, name)
		return nil
	}
	if err != nil {
		return err
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName || svc.Spec.Selector == nil {
		return nil // Endpoints of such Services are the user's
	}
	pods, err := c.pods.Pods(namespace).List(labels.Set(svc.Spec.Selector).AsSelectorPreValidated())
	if err != nil {
		return err
	}
	// Computed before the comparison, so that the tracker sees every sync.
	trigger := c.triggers.Compute(svc, pods)
	subsets := DesiredSubsets(klog.FromContext(ctx), svc, pods)

	cur, err := c.endpoints.Endpoints(namespace).Get(name)
	switch {
	case apierrors.IsNotFound(err):
		cur = &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: svc.Labels}}
	case err != nil:
		return err
	case c.stale.isStale(cur):
		return fmt.Errorf("endpoints informer cache is out of date, resource version %s already processed for endpoints %s",
			cur.ResourceVersion, key)
	}
	create := cur.ResourceVersion == ""

	compareLabels := cur.Labels
	if _, ok := cur.Labels[corev1.IsHeadlessService]; ok {
		compareLabels = without(cur.Labels, corev1.IsHeadlessService)
	}
	if !create && endpointslice.EqualIgnoreResourceVersion(cur.Subsets, subsets) &&
		apiequality.Semantic.DeepEqual(compareLabels, svc.Labels) && capacityAnnotationCorrect(cur) {
		return nil
	}

	ep := cur.DeepCopy()
	ep.Subsets = subsets
	ep.Labels = svc.Labels
	if ep.Annotations == nil {
		ep.Annotations = map[string]string{}
	}
	if trigger.IsZero() {
		delete(ep.Annotations, corev1.EndpointsLastChangeTriggerTime)
	} else {
		ep.Annotations[corev1.EndpointsLastChangeTriggerTime] = trigger.UTC().Format(time.RFC3339Nano)
	}
	if Truncate(ep) {
		ep.Annotations[corev1.EndpointsOverCapacity] = "truncated"
	} else {
		delete(ep.Annotations, corev1.EndpointsOverCapacity)
	}
	if svc.Spec.ClusterIP == corev1.ClusterIPNone || svc.Spec.ClusterIP == "" {
		ep.Labels = with(ep.Labels, corev1.IsHeadlessService, "")
	} else {
		ep.Labels = without(ep.Labels, corev1.IsHeadlessService)
	}

	endpoints := c.client.CoreV1().Endpoints(namespace)
	if create {
		_, err = endpoints.Create(ctx, ep, metav1.CreateOptions{})
		if apierrors.IsForbidden(err) && apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return nil // the namespace is going away
		}
		return err
	}
	updated, err := endpoints.Update(ctx, ep, metav1.UpdateOptions{})
	if err != nil {
		return err
	}
	if updated.ResourceVersion != cur.ResourceVersion {
		c.stale.mark(cur)
	}
	return nil
}

// DesiredSubsets computes a Service's Endpoints subsets from its pods.
func DesiredSubsets(logger klog.Logger, svc *corev1.Service, pods []*corev1.Pod) []corev1.EndpointSubset {
	var subsets []corev1.EndpointSubset
	publishNotReady := svc.Spec.PublishNotReadyAddresses
	for _, pod := range pods {
		if !endpointslice.ShouldPodBeInEndpoints(pod, publishNotReady) {
			continue
		}
		addr, ok := podAddress(svc, pod)
		if !ok {
			logger.V(2).Info("Failed to find endpoint for service with ClusterIP on pod", "service", klog.KObj(svc), "pod", klog.KObj(pod))
			continue
		}
		if endpointslice.ShouldSetHostname(pod, svc) {
			addr.Hostname = pod.Spec.Hostname
		}
		ready := publishNotReady || podinfo.Ready(pod)
		if len(svc.Spec.Ports) == 0 {
			// A headless Service may have no ports.
			if svc.Spec.ClusterIP == corev1.ClusterIPNone {
				subsets = append(subsets, subset(addr, nil, ready))
			}
			continue
		}
		for i := range svc.Spec.Ports {
			sp := &svc.Spec.Ports[i]
			num, ok := endpointslice.FindPort(pod, sp, true)
			if !ok {
				continue
			}
			subsets = append(subsets, subset(addr, &corev1.EndpointPort{
				Name: sp.Name, Port: int32(num), Protocol: sp.Protocol, AppProtocol: sp.AppProtocol}, ready))
		}
	}
	return RepackSubsets(subsets)
}

func subset(addr corev1.EndpointAddress, port *corev1.EndpointPort, ready bool) corev1.EndpointSubset {
	ss := corev1.EndpointSubset{Ports: []corev1.EndpointPort{}}
	if port != nil {
		ss.Ports = append(ss.Ports, *port)
	}
	if ready {
		ss.Addresses = []corev1.EndpointAddress{addr}
	} else {
		ss.NotReadyAddresses = []corev1.EndpointAddress{addr}
	}
	return ss
}

// podAddress picks the pod IP of the Service's (first) IP family.
func podAddress(svc *corev1.Service, pod *corev1.Pod) (corev1.EndpointAddress, bool) {
	ipv6 := false
	switch {
	case len(svc.Spec.IPFamilies) > 0:
		ipv6 = svc.Spec.IPFamilies[0] == corev1.IPv6Protocol
	case svc.Spec.ClusterIP != "" && svc.Spec.ClusterIP != corev1.ClusterIPNone:
		ipv6 = netutils.IsIPv6String(svc.Spec.ClusterIP)
	default:
		ipv6 = netutils.IsIPv6String(pod.Status.PodIP)
	}
	for _, ip := range pod.Status.PodIPs {
		if netutils.IsIPv6String(ip.IP) == ipv6 {
			return corev1.EndpointAddress{
				IP:        ip.IP,
				NodeName:  &pod.Spec.NodeName,
				TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
			}, true
		}
	}
	return corev1.EndpointAddress{}, false
}

func capacityAnnotationCorrect(ep *corev1.Endpoints) bool {
	n := 0
	for _, ss := range ep.Subsets {
		n += len(ss.Addresses) + len(ss.NotReadyAddresses)
	}
	if n > MaxCapacity {
		return false
	}
	_, ok := ep.Annotations[corev1.EndpointsOverCapacity]
	return !ok
}

// Truncate cuts the Endpoints down to MaxCapacity addresses, spreading the
// cut over the subsets in proportion and dropping not-ready addresses
// first. It reports whether it cut anything.
func Truncate(ep *corev1.Endpoints) bool {
	ready, notReady := 0, 0
	for _, ss := range ep.Subsets {
		ready += len(ss.Addresses)
		notReady += len(ss.NotReadyAddresses)
	}
	if ready+notReady <= MaxCapacity {
		return false
	}
	truncateReady := ready > MaxCapacity
	limit, total := MaxCapacity-ready, notReady
	if truncateReady {
		limit, total = MaxCapacity, ready
	}
	left := limit
	for i := range ep.Subsets {
		ss := &ep.Subsets[i]
		n := len(ss.NotReadyAddresses)
		if truncateReady {
			n = len(ss.Addresses)
		}
		take := min(int(math.Ceil(float64(n)/float64(total)*float64(limit))), left)
		if truncateReady {
			ss.Addresses = ss.Addresses[:min(take, len(ss.Addresses))]
			ss.NotReadyAddresses = []corev1.EndpointAddress{}
			left -= len(ss.Addresses)
		} else {
			ss.NotReadyAddresses = ss.NotReadyAddresses[:min(take, len(ss.NotReadyAddresses))]
			left -= len(ss.NotReadyAddresses)
		}
	}
	return true
}

func with(m map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for key, val := range m {
		out[key] = val
	}
	out[k] = v
	return out
}

func without(m map[string]string, k string) map[string]string {
	out := make(map[string]string, len(m))
	for key, val := range m {
		if key != k {
			out[key] = val
		}
	}
	return out
}

// staleTracker remembers the resourceVersion an Endpoints had before our
// last update, to notice an informer that has not caught up.
type staleTracker struct {
	mu sync.Mutex
	rv map[types.NamespacedName]string
}

func (t *staleTracker) mark(ep *corev1.Endpoints) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rv[types.NamespacedName{Namespace: ep.Namespace, Name: ep.Name}] = ep.ResourceVersion
}

func (t *staleTracker) isStale(ep *corev1.Endpoints) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	rv, ok := t.rv[types.NamespacedName{Namespace: ep.Namespace, Name: ep.Name}]
	return ok && rv == ep.ResourceVersion
}

func (t *staleTracker) forget(namespace, name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.rv, types.NamespacedName{Namespace: namespace, Name: name})
}

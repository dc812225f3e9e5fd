// Package endpointslice is the EndpointSlice controller of Kubernetes 1.32
// (pkg/controller/endpointslice with the k8s.io/endpointslice reconciler):
// for every Service with a selector it keeps EndpointSlices listing the
// selected pods. With no garbage collector in this control plane, it also
// deletes a Service's slices when the Service goes, which Kubernetes leaves
// to the ownerReference.
package endpointslice

import (
	"context"
	"errors"
	"time"

	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/portway/portway/internal/controllers"
)

const (
	// ControllerName is the endpointslice.kubernetes.io/managed-by value.
	ControllerName = "endpointslice-controller.k8s.io"
	// MaxEndpointsPerSlice is kube-controller-manager's default.
	MaxEndpointsPerSlice = 100

	workers    = 5 // --concurrent-service-endpoint-syncs
	maxRetries = 15
	// A change to a slice made by someone else is acted on after this delay.
	sliceChangeDelay = time.Second
)

// errStale is returned when the informer has not seen our last writes yet.
var errStale = errors.New("EndpointSlice informer cache is out of date")

// Controller is the EndpointSlice controller.
type Controller struct {
	client   kubernetes.Interface
	services corelisters.ServiceLister
	pods     corelisters.PodLister
	slices   cache.Indexer // EndpointSlices, indexed ByService
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
	tracker  *SliceTracker
	triggers *TriggerTimeTracker
	rec      *reconciler
}

// NewRateLimiter is the work queue rate limiter of the EndpointSlice and
// mirroring controllers: per-item exponential backoff from 1s to 1000s,
// and 10 retries a second overall.
func NewRateLimiter() workqueue.TypedRateLimiter[string] {
	return workqueue.NewTypedMaxOfRateLimiter(
		workqueue.NewTypedItemExponentialFailureRateLimiter[string](time.Second, 1000*time.Second),
		&workqueue.TypedBucketRateLimiter[string]{Limiter: rate.NewLimiter(rate.Limit(10), 100)},
	)
}

// New creates the controller; Run starts it.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory) *Controller {
	svcInf := factory.Core().V1().Services()
	podInf := factory.Core().V1().Pods()
	nodeInf := factory.Core().V1().Nodes()
	sliceInf := factory.Discovery().V1().EndpointSlices()
	if err := IndexByService(sliceInf.Informer()); err != nil {
		panic(err) // only if the informer already runs: a wiring mistake
	}
	c := &Controller{
		client:   client,
		services: svcInf.Lister(),
		pods:     podInf.Lister(),
		slices:   sliceInf.Informer().GetIndexer(),
		synced: []cache.InformerSynced{svcInf.Informer().HasSynced, podInf.Informer().HasSynced,
			nodeInf.Informer().HasSynced, sliceInf.Informer().HasSynced},
		queue:    controllers.NewQueueWithLimiter("endpoint_slice", NewRateLimiter()),
		tracker:  NewSliceTracker(),
		triggers: NewTriggerTimeTracker(),
	}
	c.rec = &reconciler{client: client, nodes: nodeInf.Lister(), maxPerSlice: MaxEndpointsPerSlice, tracker: c.tracker}

	_, _ = svcInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj any) { c.enqueue(obj) },
		DeleteFunc: c.enqueue,
	})
	_, _ = podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.addPod,
		UpdateFunc: func(old, cur any) {
			for key := range ServicesToUpdateOnPodChange(c.services, old, cur) {
				c.queue.Add(key)
			}
		},
		DeleteFunc: func(obj any) {
			if pod := PodFromDeleteAction(obj); pod != nil {
				c.addPod(pod)
			}
		},
	})
	_, _ = sliceInf.Informer().AddEventHandler(SliceEventHandler(ControllerName, c.tracker, c.enqueueForSlice))
	return c
}

func managed(s *discoveryv1.EndpointSlice) bool {
	return s.Labels[discoveryv1.LabelManagedBy] == ControllerName
}

func (c *Controller) enqueue(obj any) { controllers.Enqueue(c.queue, obj) }

func (c *Controller) enqueueForSlice(s *discoveryv1.EndpointSlice) {
	if key, ok := ServiceKey(s); ok {
		c.queue.AddAfter(key, sliceChangeDelay)
	}
}

func (c *Controller) addPod(obj any) {
	QueuePodServices(c.services, c.queue, obj.(*corev1.Pod))
}

// Run works until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	c.worker().Run(ctx, c.synced, func() {
		// Slices of Services deleted while the control plane was down: the
		// garbage collector's job in Kubernetes.
		for _, o := range c.slices.List() {
			if s := o.(*discoveryv1.EndpointSlice); managed(s) {
				if key, ok := ServiceKey(s); ok {
					c.queue.Add(key)
				}
			}
		}
	})
}

func (c *Controller) worker() *controllers.Worker {
	return &controllers.Worker{Name: "endpoint_slice", Queue: c.queue, Workers: workers, MaxRetries: maxRetries,
		Sync: controllers.Once(c.sync)}
}

func (c *Controller) sync(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return err
	}
	svc, err := c.services.Services(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		c.triggers.DeleteService(namespace, name)
		c.tracker.DeleteService(namespace, name)
		return c.deleteOrphans(ctx, namespace, name)
	}
	if err != nil {
		return err
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName || svc.Spec.Selector == nil {
		return nil
	}
	pods, err := c.pods.Pods(namespace).List(labels.Set(svc.Spec.Selector).AsSelectorPreValidated())
	if err != nil {
		return err
	}
	slices, err := SlicesOf(c.slices, namespace, name, ControllerName)
	if err != nil {
		return err
	}
	live := slices[:0:0]
	for _, s := range slices {
		if s.DeletionTimestamp == nil {
			live = append(live, s)
		}
	}
	if c.tracker.Stale(svc, live) {
		return errStale
	}
	trigger := c.triggers.Compute(svc, pods)
	return c.rec.reconcile(ctx, svc, pods, live, trigger)
}

// deleteOrphans deletes the slices a deleted Service owned.
func (c *Controller) deleteOrphans(ctx context.Context, namespace, name string) error {
	slices, err := SlicesOf(c.slices, namespace, name, ControllerName)
	if err != nil {
		return err
	}
	var errs []error
	for _, s := range slices {
		if s.DeletionTimestamp != nil || !ownedByService(s) {
			continue
		}
		err := c.client.DiscoveryV1().EndpointSlices(namespace).Delete(ctx, s.Name,
			metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &s.UID}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func ownedByService(s *discoveryv1.EndpointSlice) bool {
	ref := metav1.GetControllerOf(s)
	return ref != nil && ref.Kind == "Service" && ref.APIVersion == "v1"
}

// Package endpointslicemirroring is the EndpointSlice mirroring controller
// of Kubernetes 1.32 (pkg/controller/endpointslicemirroring): Endpoints that
// users write for Services without a selector are mirrored into
// EndpointSlices owned by the Endpoints.
package endpointslicemirroring

import (
	"context"
	"errors"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/util/workqueue"

	"github.com/portway/portway/internal/controllers"
	"github.com/portway/portway/internal/controllers/endpointslice"
)

const (
	// ControllerName is the endpointslice.kubernetes.io/managed-by value.
	ControllerName = "endpointslicemirroring-controller.k8s.io"
	// MaxEndpointsPerSubset is kube-controller-manager's default
	// --mirroring-max-endpoints-per-subset.
	MaxEndpointsPerSubset = 1000

	workers    = 5 // --mirroring-concurrent-service-endpoint-syncs
	maxRetries = 15
)

var errStale = errors.New("EndpointSlice informer cache is out of date")

// Controller is the EndpointSlice mirroring controller.
type Controller struct {
	client    kubernetes.Interface
	endpoints corelisters.EndpointsLister
	services  corelisters.ServiceLister
	slices    cache.Indexer // EndpointSlices, indexed ByService
	synced    []cache.InformerSynced
	queue     workqueue.TypedRateLimitingInterface[string]
	tracker   *endpointslice.SliceTracker
	rec       *reconciler
}

// New creates the controller; Run starts it.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory) *Controller {
	epInf := factory.Core().V1().Endpoints()
	svcInf := factory.Core().V1().Services()
	sliceInf := factory.Discovery().V1().EndpointSlices()
	if err := endpointslice.IndexByService(sliceInf.Informer()); err != nil {
		panic(err) // only if the informer already runs: a wiring mistake
	}
	c := &Controller{
		client:    client,
		endpoints: epInf.Lister(),
		services:  svcInf.Lister(),
		slices:    sliceInf.Informer().GetIndexer(),
		synced:    []cache.InformerSynced{epInf.Informer().HasSynced, svcInf.Informer().HasSynced, sliceInf.Informer().HasSynced},
		queue:     controllers.NewQueueWithLimiter("endpoint_slice_mirroring", endpointslice.NewRateLimiter()),
		tracker:   endpointslice.NewSliceTracker(),
	}
	c.rec = &reconciler{client: client, tracker: c.tracker, maxPerSubset: MaxEndpointsPerSubset}

	_, _ = epInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if shouldMirror(obj.(*corev1.Endpoints)) {
				c.enqueue(obj)
			}
		},
		UpdateFunc: func(old, obj any) {
			if shouldMirror(obj.(*corev1.Endpoints)) || shouldMirror(old.(*corev1.Endpoints)) {
				c.enqueue(obj)
			}
		},
		DeleteFunc: func(obj any) {
			ep := obj
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				ep = t.Obj
			}
			if e, ok := ep.(*corev1.Endpoints); ok && shouldMirror(e) {
				c.enqueue(obj)
			}
		},
	})
	_, _ = svcInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if obj.(*corev1.Service).Spec.Selector == nil {
				c.enqueue(obj)
			}
		},
		UpdateFunc: func(old, obj any) {
			if (obj.(*corev1.Service).Spec.Selector == nil) != (old.(*corev1.Service).Spec.Selector == nil) {
				c.enqueue(obj)
			}
		},
		DeleteFunc: func(obj any) {
			svc := obj
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				svc = t.Obj
			}
			if s, ok := svc.(*corev1.Service); ok && s.Spec.Selector == nil {
				c.enqueue(obj)
			}
		},
	})
	_, _ = sliceInf.Informer().AddEventHandler(endpointslice.SliceEventHandler(ControllerName, c.tracker, c.enqueueForSlice))
	return c
}

// shouldMirror leaves out the Endpoints labelled
// endpointslice.kubernetes.io/skip-mirror=true (the apiserver's own) and
// leader-election records.
func shouldMirror(ep *corev1.Endpoints) bool {
	if ep.Labels[discoveryv1.LabelSkipMirror] == "true" {
		return false
	}
	_, leader := ep.Annotations[resourcelock.LeaderElectionRecordAnnotationKey]
	return !leader
}

func (c *Controller) enqueue(obj any) { controllers.Enqueue(c.queue, obj) }

func (c *Controller) enqueueForSlice(s *discoveryv1.EndpointSlice) {
	if key, ok := endpointslice.ServiceKey(s); ok {
		c.queue.Add(key)
	}
}

// Run works until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	c.worker().Run(ctx, c.synced, nil)
}

func (c *Controller) worker() *controllers.Worker {
	return &controllers.Worker{Name: "endpoint_slice_mirroring", Queue: c.queue, Workers: workers, MaxRetries: maxRetries,
		Sync: controllers.Once(c.sync)}
}

func (c *Controller) sync(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return err
	}
	ep, err := c.endpoints.Endpoints(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		return c.deleteMirrored(ctx, namespace, name)
	}
	if err != nil {
		return err
	}
	if !shouldMirror(ep) {
		return c.deleteMirrored(ctx, namespace, name)
	}
	svc, err := c.services.Services(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		return c.deleteMirrored(ctx, namespace, name)
	}
	if err != nil {
		return err
	}
	if svc.Spec.Selector != nil {
		return c.deleteMirrored(ctx, namespace, name)
	}
	slices, err := endpointslice.SlicesOf(c.slices, namespace, name, ControllerName)
	if err != nil {
		return err
	}
	if c.tracker.Stale(svc, slices) {
		return errStale
	}
	return c.rec.reconcile(ctx, ep, slices)
}

func (c *Controller) deleteMirrored(ctx context.Context, namespace, name string) error {
	c.tracker.DeleteService(namespace, name)
	slices, err := endpointslice.SlicesOf(c.slices, namespace, name, ControllerName)
	if err != nil {
		return err
	}
	var errs []error
	for _, s := range slices {
		err := c.client.DiscoveryV1().EndpointSlices(namespace).Delete(ctx, s.Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

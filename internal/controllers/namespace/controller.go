// Package namespace empties terminating namespaces: it deletes every
// namespaced object in them and then clears the "kubernetes" finalizer, after
// which the API server removes the namespace.
package namespace

import (
	"context"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/portway/portway/internal/controllers"
)

// deletionGracePeriod is how long a namespace stays Terminating before its
// content goes, as in Kubernetes: other API servers see the deletion first
// and objects created at the last moment are caught too.
const deletionGracePeriod = 5 * time.Second

// Controller is the namespace deletion controller.
type Controller struct {
	client    kubernetes.Interface
	dynamic   dynamic.Interface
	discovery discovery.DiscoveryInterface
	lister    corelisters.NamespaceLister
	synced    cache.InformerSynced
	queue     workqueue.TypedRateLimitingInterface[string]
}

// New creates the controller; Run starts it.
func New(client kubernetes.Interface, dyn dynamic.Interface, factory informers.SharedInformerFactory) *Controller {
	inf := factory.Core().V1().Namespaces()
	c := &Controller{
		client:    client,
		dynamic:   dyn,
		discovery: client.Discovery(),
		lister:    inf.Lister(),
		synced:    inf.Informer().HasSynced,
		queue:     controllers.NewQueue("namespace"),
	}
	enqueue := func(obj any) {
		if ns, ok := obj.(*corev1.Namespace); ok && ns.DeletionTimestamp != nil {
			c.queue.AddAfter(ns.Name, deletionGracePeriod)
		}
	}
	_, _ = inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
	})
	return c
}

// Run works until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	w := &controllers.Worker{Name: "namespace", Queue: c.queue, Sync: c.sync, Workers: 1}
	w.Run(ctx, []cache.InformerSynced{c.synced}, nil)
}

// sync deletes what is left in a terminating namespace. While objects remain
// (held by finalizers, or still terminating) it asks to look again soon.
func (c *Controller) sync(ctx context.Context, name string) (time.Duration, error) {
	ns, err := c.lister.Get(name)
	if apierrors.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if ns.DeletionTimestamp == nil || !slices.Contains(ns.Spec.Finalizers, corev1.FinalizerKubernetes) {
		return 0, nil
	}
	resources, err := c.deletable()
	if err != nil {
		return 0, err
	}
	remaining := false
	for _, gvr := range resources {
		r := c.dynamic.Resource(gvr).Namespace(name)
		err := r.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return 0, fmt.Errorf("deleting %s: %w", gvr.Resource, err)
		}
		left, err := r.List(ctx, metav1.ListOptions{Limit: 1})
		if err != nil && !apierrors.IsNotFound(err) {
			return 0, fmt.Errorf("listing %s: %w", gvr.Resource, err)
		}
		if err == nil && len(left.Items) > 0 {
			remaining = true
		}
	}
	if remaining {
		return 2 * time.Second, nil
	}
	ns = ns.DeepCopy()
	ns.Spec.Finalizers = slices.DeleteFunc(ns.Spec.Finalizers, func(f corev1.FinalizerName) bool {
		return f == corev1.FinalizerKubernetes
	})
	_, err = c.client.CoreV1().Namespaces().Finalize(ctx, ns, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return 0, nil
	}
	return 0, err
}

// deletable lists the namespaced resources that support deletecollection.
func (c *Controller) deletable() ([]schema.GroupVersionResource, error) {
	lists, err := c.discovery.ServerPreferredNamespacedResources()
	if err != nil {
		return nil, err
	}
	var out []schema.GroupVersionResource
	for _, list := range lists {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			return nil, err
		}
		for _, r := range list.APIResources {
			if slices.Contains(r.Verbs, "deletecollection") && slices.Contains(r.Verbs, "list") {
				out = append(out, gv.WithResource(r.Name))
			}
		}
	}
	return out, nil
}

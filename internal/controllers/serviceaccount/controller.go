// Package serviceaccount gives every active namespace a ServiceAccount
// named "default", and gives it back when it is deleted, as
// kube-controller-manager's serviceaccount controller does. Pods that name
// no service account run as it.
package serviceaccount

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/portway/portway/internal/controllers"
)

// Default is the service account every namespace gets.
const Default = "default"

// Controller is the serviceaccount controller. Its queue holds namespace
// names.
type Controller struct {
	client     kubernetes.Interface
	namespaces corelisters.NamespaceLister
	accounts   corelisters.ServiceAccountLister
	synced     []cache.InformerSynced
	queue      workqueue.TypedRateLimitingInterface[string]
}

// New creates the controller; Run starts it.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory) *Controller {
	ns := factory.Core().V1().Namespaces()
	sa := factory.Core().V1().ServiceAccounts()
	c := &Controller{
		client:     client,
		namespaces: ns.Lister(),
		accounts:   sa.Lister(),
		synced:     []cache.InformerSynced{ns.Informer().HasSynced, sa.Informer().HasSynced},
		queue:      controllers.NewQueue("serviceaccount"),
	}
	_, _ = ns.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { controllers.Enqueue(c.queue, obj) },
		UpdateFunc: func(_, obj any) { controllers.Enqueue(c.queue, obj) },
	})
	_, _ = sa.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		DeleteFunc: func(obj any) { controllers.EnqueueNamespaceIfNamed(c.queue, obj, Default) },
	})
	return c
}

// Run works until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	w := &controllers.Worker{Name: "serviceaccount", Queue: c.queue, Sync: controllers.Once(c.sync), Workers: 1}
	w.Run(ctx, c.synced, nil)
}

// sync creates the namespace's default ServiceAccount if it is missing and
// the namespace is active.
func (c *Controller) sync(ctx context.Context, namespace string) error {
	ns, err := c.namespaces.Get(namespace)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil || ns.Status.Phase != corev1.NamespaceActive {
		return err
	}
	switch _, err := c.accounts.ServiceAccounts(namespace).Get(Default); {
	case err == nil:
		return nil
	case !apierrors.IsNotFound(err):
		return err
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: Default}}
	_, err = c.client.CoreV1().ServiceAccounts(namespace).Create(ctx, sa, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) || apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
		return nil
	}
	return err
}

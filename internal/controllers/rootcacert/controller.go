// Package rootcacert publishes the cluster's CA certificate in every
// namespace as the ConfigMap kube-root-ca.crt, and puts it back when it is
// changed or deleted, as kube-controller-manager's root-ca-cert-publisher
// does. Pods read it through their service account volume to verify the API
// server.
package rootcacert

import (
	"context"
	"maps"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/portway/portway/internal/controllers"
)

const (
	// Name is the ConfigMap's name.
	Name = "kube-root-ca.crt"
	// Key is its data key.
	Key = "ca.crt"

	descriptionKey = "kubernetes.io/description"
	description    = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. " +
		"No other usage is guaranteed across distributions of Kubernetes clusters."
)

// Controller is the root CA publisher. Its queue holds namespace names.
type Controller struct {
	client     kubernetes.Interface
	rootCA     string
	namespaces corelisters.NamespaceLister
	configMaps corelisters.ConfigMapLister
	synced     []cache.InformerSynced
	queue      workqueue.TypedRateLimitingInterface[string]
}

// Factory returns the informers New needs for ConfigMaps: only those named
// kube-root-ca.crt, so that the controller does not hold a copy of every
// ConfigMap (kube-controller-manager's shared informer does).
func Factory(client kubernetes.Interface) informers.SharedInformerFactory {
	return informers.NewSharedInformerFactoryWithOptions(client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", Name).String()
		}))
}

// New creates the controller; Run starts it. rootCA is the PEM of the CA
// that signed the API server's certificate; configMaps comes from Factory.
func New(client kubernetes.Interface, factory, configMaps informers.SharedInformerFactory, rootCA []byte) *Controller {
	ns := factory.Core().V1().Namespaces()
	cm := configMaps.Core().V1().ConfigMaps()
	c := &Controller{
		client:     client,
		rootCA:     string(rootCA),
		namespaces: ns.Lister(),
		configMaps: cm.Lister(),
		synced:     []cache.InformerSynced{ns.Informer().HasSynced, cm.Informer().HasSynced},
		queue:      controllers.NewQueue("root-ca-cert-publisher"),
	}
	_, _ = ns.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { controllers.Enqueue(c.queue, obj) },
		// A terminating namespace takes no new objects.
		UpdateFunc: func(_, obj any) {
			if ns, ok := obj.(*corev1.Namespace); ok && ns.Status.Phase == corev1.NamespaceActive {
				c.queue.Add(ns.Name)
			}
		},
	})
	requeueNamespace := func(obj any) { controllers.EnqueueNamespaceIfNamed(c.queue, obj, Name) }
	_, _ = cm.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, obj any) { requeueNamespace(obj) },
		DeleteFunc: requeueNamespace,
	})
	return c
}

// Run works until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	w := &controllers.Worker{Name: "root-ca-cert-publisher", Queue: c.queue, Sync: controllers.Once(c.sync), Workers: 1}
	w.Run(ctx, c.synced, nil)
}

// sync creates or mends the namespace's kube-root-ca.crt.
func (c *Controller) sync(ctx context.Context, namespace string) error {
	if _, err := c.namespaces.Get(namespace); apierrors.IsNotFound(err) {
		return nil
	}
	data := map[string]string{Key: c.rootCA}
	cm, err := c.configMaps.ConfigMaps(namespace).Get(Name)
	switch {
	case apierrors.IsNotFound(err):
		_, err = c.client.CoreV1().ConfigMaps(namespace).Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: Name, Annotations: map[string]string{descriptionKey: description}},
			Data:       data,
		}, metav1.CreateOptions{})
		// No retry when the namespace is gone or going.
		if apierrors.IsNotFound(err) || apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return nil
		}
		return err
	case err != nil:
		return err
	}
	if maps.Equal(cm.Data, data) && cm.Annotations[descriptionKey] != "" {
		return nil
	}
	cm = cm.DeepCopy()
	cm.Data = data
	if cm.Annotations == nil {
		cm.Annotations = map[string]string{}
	}
	cm.Annotations[descriptionKey] = description
	_, err = c.client.CoreV1().ConfigMaps(namespace).Update(ctx, cm, metav1.UpdateOptions{})
	return err
}

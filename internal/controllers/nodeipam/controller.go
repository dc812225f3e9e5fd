// Package nodeipam gives every Node a pod CIDR: the lowest free subnet of the
// cluster CIDR (10.244.0.0/24, 10.244.1.0/24, ...), as kube-controller-
// manager's range allocator does. The node agent hands pod IPs out of it.
package nodeipam

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/portway/portway/internal/allocator"
	"github.com/portway/portway/internal/controllers"
)

// Controller is the node IPAM controller.
type Controller struct {
	client  kubernetes.Interface
	nodes   corelisters.NodeLister
	synced  cache.InformerSynced
	queue   workqueue.TypedRateLimitingInterface[string]
	subnets *allocator.SubnetRange
	// given records what this controller patched onto a node, until the
	// informer shows it: one worker, so no two nodes get the same subnet.
	given map[string]int
}

// New creates the controller; Run starts it.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, subnets *allocator.SubnetRange) *Controller {
	inf := factory.Core().V1().Nodes()
	c := &Controller{
		client:  client,
		nodes:   inf.Lister(),
		synced:  inf.Informer().HasSynced,
		queue:   controllers.NewQueue("nodeipam"),
		subnets: subnets,
		given:   map[string]int{},
	}
	enqueue := func(obj any) {
		if n, ok := obj.(*corev1.Node); ok && n.Spec.PodCIDR == "" {
			c.queue.Add(n.Name)
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
	w := &controllers.Worker{Name: "nodeipam", Queue: c.queue, Sync: c.sync, Workers: 1}
	w.Run(ctx, []cache.InformerSynced{c.synced}, nil)
}

func (c *Controller) sync(ctx context.Context, name string) (time.Duration, error) {
	node, err := c.nodes.Get(name)
	if apierrors.IsNotFound(err) {
		delete(c.given, name)
		return 0, nil
	}
	if err != nil || node.Spec.PodCIDR != "" {
		return 0, err
	}
	i, err := c.subnets.Next(c.inUse())
	if err != nil {
		return 0, fmt.Errorf("no pod CIDR left for node %s: %w", name, err)
	}
	cidr := c.subnets.Subnet(i).String()
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"podCIDR": cidr, "podCIDRs": []string{cidr}}})
	if err != nil {
		return 0, err
	}
	if _, err := c.client.CoreV1().Nodes().Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return 0, nil
		}
		return 0, err
	}
	c.given[name] = i
	return 0, nil
}

// inUse reports the subnets nodes hold or were just given.
func (c *Controller) inUse() func(int) bool {
	used := map[int]bool{}
	nodes, _ := c.nodes.List(labels.Everything())
	present := map[string]bool{}
	for _, n := range nodes {
		present[n.Name] = true
		if i, ok := c.subnets.Index(n.Spec.PodCIDR); ok {
			used[i] = true
			delete(c.given, n.Name) // the cache shows it now
		}
	}
	for name, i := range c.given {
		if present[name] {
			used[i] = true
		} else {
			delete(c.given, name)
		}
	}
	return func(i int) bool { return used[i] }
}

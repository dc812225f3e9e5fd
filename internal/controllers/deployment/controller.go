// Package deployment is the Deployment controller of Kubernetes 1.32
// (pkg/controller/deployment). A Deployment owns one ReplicaSet per pod
// template it has had, named DEPLOYMENT-HASH where HASH is the template's
// pod-template-hash (also a label on the ReplicaSet, its selector and its
// pods). Changing the template creates a new ReplicaSet and rolls pods over
// to it: RollingUpdate never has more than spec.replicas+maxSurge pods nor
// fewer than spec.replicas-maxUnavailable available ones; Recreate deletes
// all old pods first. Changing only spec.replicas resizes the ReplicaSets
// in proportion. The controller keeps the revision annotations
// (deployment.kubernetes.io/revision, revision-history, desired-replicas,
// max-replicas), deletes old ReplicaSets beyond spec.revisionHistoryLimit,
// and writes the status and the Available and Progressing conditions that
// `kubectl rollout status` reads, with Kubernetes' reasons and messages.
//
// `kubectl rollout undo` (kubectl 1.32 copies the old ReplicaSet's template
// into the Deployment itself) and `kubectl rollout restart` (a new template
// annotation) are ordinary template changes here.
//
// Not done: the deprecated rollback annotation
// (deprecated.deployment.rollback.to, set only by the extensions/v1beta1 and
// apps/v1beta1 rollback subresource, which is not served); metrics.
package deployment

import (
	"context"
	"fmt"
	"reflect"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/portway/portway/internal/controllers"
	"github.com/portway/portway/internal/controllers/replicaset"
)

const (
	workers    = 5 // --concurrent-deployment-syncs
	maxRetries = 15
)

// Kind is the Deployment's group, version and kind, as owner references
// name it.
var Kind = appsv1.SchemeGroupVersion.WithKind("Deployment")

// Controller is the Deployment controller.
type Controller struct {
	client      kubernetes.Interface
	deployments appslisters.DeploymentLister
	sets        appslisters.ReplicaSetLister
	pods        corelisters.PodLister
	synced      []cache.InformerSynced
	queue       workqueue.TypedRateLimitingInterface[string]
	clock       clock.Clock
	broadcaster record.EventBroadcaster
	recorder    record.EventRecorder
}

// New creates the controller; Run starts it. clk is its time (nil: the
// real clock).
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, clk clock.Clock) *Controller {
	if clk == nil {
		clk = clock.RealClock{}
	}
	dInf := factory.Apps().V1().Deployments()
	rsInf := factory.Apps().V1().ReplicaSets()
	podInf := factory.Core().V1().Pods()
	c := &Controller{
		client:      client,
		deployments: dInf.Lister(),
		sets:        rsInf.Lister(),
		pods:        podInf.Lister(),
		synced:      []cache.InformerSynced{dInf.Informer().HasSynced, rsInf.Informer().HasSynced, podInf.Informer().HasSynced},
		queue:       controllers.NewQueue("deployment"),
		clock:       clk,
		broadcaster: record.NewBroadcaster(),
	}
	c.recorder = c.broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "deployment-controller"})
	_, _ = dInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, cur any) { c.enqueue(cur) },
		DeleteFunc: c.enqueue,
	})
	_, _ = rsInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addRS,
		UpdateFunc: c.updateRS,
		DeleteFunc: c.deleteRS,
	})
	_, _ = podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{DeleteFunc: c.deletePod})
	return c
}

// Run works until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	defer controllers.StartEvents(c.broadcaster, c.client)()
	w := &controllers.Worker{Name: "deployment", Queue: c.queue, Workers: workers, MaxRetries: maxRetries, Sync: c.sync}
	w.Run(ctx, c.synced, nil)
}

func (c *Controller) enqueue(obj any) { controllers.Enqueue(c.queue, obj) }

// owner is the Deployment a controller reference points to, if cached with
// that UID.
func (c *Controller) owner(namespace string, ref *metav1.OwnerReference) *appsv1.Deployment {
	if ref == nil || ref.Kind != Kind.Kind {
		return nil
	}
	d, err := c.deployments.Deployments(namespace).Get(ref.Name)
	if err != nil || d.UID != ref.UID {
		return nil
	}
	return d
}

// enqueueSelecting queues the Deployments whose selectors match an orphan
// ReplicaSet, which may adopt it.
func (c *Controller) enqueueSelecting(rs *appsv1.ReplicaSet) {
	if len(rs.Labels) == 0 {
		return
	}
	list, err := c.deployments.Deployments(rs.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	for _, d := range list {
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(rs.Labels)) {
			continue
		}
		c.enqueue(d)
	}
}

func (c *Controller) addRS(obj any) {
	rs := obj.(*appsv1.ReplicaSet)
	if rs.DeletionTimestamp != nil {
		c.deleteRS(rs)
		return
	}
	if ref := metav1.GetControllerOfNoCopy(rs); ref != nil {
		if d := c.owner(rs.Namespace, ref); d != nil {
			c.enqueue(d)
		}
		return
	}
	c.enqueueSelecting(rs)
}

func (c *Controller) updateRS(old, cur any) {
	o, rs := old.(*appsv1.ReplicaSet), cur.(*appsv1.ReplicaSet)
	if o.ResourceVersion == rs.ResourceVersion {
		return
	}
	oldRef, ref := metav1.GetControllerOfNoCopy(o), metav1.GetControllerOfNoCopy(rs)
	refChanged := !reflect.DeepEqual(oldRef, ref)
	if refChanged && oldRef != nil {
		if d := c.owner(o.Namespace, oldRef); d != nil {
			c.enqueue(d)
		}
	}
	if ref != nil {
		if d := c.owner(rs.Namespace, ref); d != nil {
			c.enqueue(d)
		}
		return
	}
	if refChanged || !reflect.DeepEqual(o.Labels, rs.Labels) {
		c.enqueueSelecting(rs)
	}
}

func (c *Controller) deleteRS(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	rs, ok := obj.(*appsv1.ReplicaSet)
	if !ok {
		return
	}
	if d := c.owner(rs.Namespace, metav1.GetControllerOfNoCopy(rs)); d != nil {
		c.enqueue(d)
	}
}

// deletePod wakes a Recreate Deployment waiting for its last old pod to go.
func (c *Controller) deletePod(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	ref := metav1.GetControllerOfNoCopy(p)
	if ref == nil || ref.Kind != replicaset.Kind.Kind {
		return
	}
	rs, err := c.sets.ReplicaSets(p.Namespace).Get(ref.Name)
	if err != nil || rs.UID != ref.UID {
		return
	}
	d := c.owner(rs.Namespace, metav1.GetControllerOfNoCopy(rs))
	if d == nil || d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		return
	}
	sets, err := c.ownedSets(d)
	if err != nil {
		return
	}
	podMap, err := c.podMap(d, sets)
	if err != nil {
		return
	}
	for _, pods := range podMap {
		if len(pods) > 0 {
			return
		}
	}
	c.enqueue(d)
}

// ownedSets is the cached ReplicaSets d controls and its selector matches.
func (c *Controller) ownedSets(d *appsv1.Deployment) ([]*appsv1.ReplicaSet, error) {
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, err
	}
	list, err := c.sets.ReplicaSets(d.Namespace).List(sel)
	if err != nil {
		return nil, err
	}
	var owned []*appsv1.ReplicaSet
	for _, rs := range list {
		if metav1.IsControlledBy(rs, d) {
			owned = append(owned, rs)
		}
	}
	return owned, nil
}

// podMap is the cached pods of each of the ReplicaSets, by ReplicaSet UID.
func (c *Controller) podMap(d *appsv1.Deployment, sets []*appsv1.ReplicaSet) (map[types.UID][]*corev1.Pod, error) {
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, err
	}
	pods, err := c.pods.Pods(d.Namespace).List(sel)
	if err != nil {
		return nil, err
	}
	m := make(map[types.UID][]*corev1.Pod, len(sets))
	for _, rs := range sets {
		m[rs.UID] = []*corev1.Pod{}
	}
	for _, p := range pods {
		if ref := metav1.GetControllerOfNoCopy(p); ref != nil {
			if _, ok := m[ref.UID]; ok {
				m[ref.UID] = append(m[ref.UID], p)
			}
		}
	}
	return m, nil
}

func (c *Controller) sync(ctx context.Context, key string) (time.Duration, error) {
	again, err := c.syncDeployment(ctx, key)
	if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
		return 0, nil // nothing more can be created there
	}
	return again, err
}

func (c *Controller) syncDeployment(ctx context.Context, key string) (time.Duration, error) {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, err
	}
	cached, err := c.deployments.Deployments(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		return 0, nil // its ReplicaSets go with it (garbage collector)
	}
	if err != nil {
		return 0, err
	}
	d := cached.DeepCopy()
	if reflect.DeepEqual(d.Spec.Selector, &metav1.LabelSelector{}) {
		c.recorder.Eventf(d, corev1.EventTypeWarning, "SelectingAll", "This deployment is selecting all pods. A non-empty selector is required.")
		if d.Status.ObservedGeneration < d.Generation {
			d.Status.ObservedGeneration = d.Generation
			_, _ = c.client.AppsV1().Deployments(namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{})
		}
		return 0, nil
	}
	sets, err := c.claimSets(ctx, d)
	if err != nil {
		return 0, err
	}
	podMap, err := c.podMap(d, sets)
	if err != nil {
		return 0, err
	}
	if d.DeletionTimestamp != nil {
		return 0, c.syncStatusOnly(ctx, d, sets)
	}
	if err := c.checkPausedConditions(ctx, d); err != nil {
		return 0, err
	}
	if d.Spec.Paused {
		return 0, c.syncScale(ctx, d, sets)
	}
	scaling, err := c.isScalingEvent(ctx, d, sets)
	if err != nil {
		return 0, err
	}
	if scaling {
		return 0, c.syncScale(ctx, d, sets)
	}
	switch d.Spec.Strategy.Type {
	case appsv1.RecreateDeploymentStrategyType:
		return c.rolloutRecreate(ctx, d, sets, podMap)
	case appsv1.RollingUpdateDeploymentStrategyType:
		return c.rolloutRolling(ctx, d, sets)
	}
	return 0, fmt.Errorf("unexpected deployment strategy type: %s", d.Spec.Strategy.Type)
}

// claimSets adopts and releases ReplicaSets by d's selector and returns
// those d controls.
func (c *Controller) claimSets(ctx context.Context, d *appsv1.Deployment) ([]*appsv1.ReplicaSet, error) {
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("deployment %s/%s has invalid label selector: %w", d.Namespace, d.Name, err)
	}
	all, err := c.sets.ReplicaSets(d.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	claimer := &replicaset.Claimer{Owner: d, Kind: Kind, Selector: sel,
		Fresh: func(ctx context.Context) (metav1.Object, error) {
			return c.client.AppsV1().Deployments(d.Namespace).Get(ctx, d.Name, metav1.GetOptions{})
		},
		Patch: func(ctx context.Context, namespace, name string, patch []byte) error {
			_, err := c.client.AppsV1().ReplicaSets(namespace).Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
			return err
		},
	}
	owned, err := replicaset.Claim(ctx, claimer, all)
	if err != nil {
		klog.FromContext(ctx).V(2).Info("Claiming ReplicaSets failed", "deployment", klog.KObj(d), "err", err)
	}
	return owned, err
}

// Package replicaset is the ReplicaSet controller of Kubernetes 1.32
// (pkg/controller/replicaset): it keeps spec.replicas pods running for every
// ReplicaSet, made from its template and owned by it, adopts orphan pods its
// selector matches and releases owned pods that no longer match, and writes
// the ReplicaSet's status (replicas, fullyLabeledReplicas, readyReplicas,
// availableReplicas, observedGeneration, the ReplicaFailure condition).
//
// Pods are created in slow-start batches (1, 2, 4, ...; a failure stops the
// rest) and at most 500 per sync; which pods go when scaling down follows
// Kubernetes' ranking (rank.go). Expectations keep a sync that runs before
// the pod cache shows the last creates and deletes from doing them again.
//
// Not done: the ReplicationController flavour of this controller (core/v1
// replicationcontrollers is not served), and its metrics.
package replicaset

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
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
)

const (
	// burstReplicas caps the pods one sync creates or deletes.
	burstReplicas = 500
	// slowStartInitialBatch is the first batch of pod creates.
	slowStartInitialBatch = 1
	workers               = 5 // --concurrent-replicaset-syncs
	controllerUIDIndex    = "controllerUID"
)

// Kind is the ReplicaSet's group, version and kind, as owner references
// name it.
var Kind = appsv1.SchemeGroupVersion.WithKind("ReplicaSet")

// Controller is the ReplicaSet controller.
type Controller struct {
	client      kubernetes.Interface
	sets        appslisters.ReplicaSetLister
	setIndex    cache.Indexer
	pods        corelisters.PodLister
	synced      []cache.InformerSynced
	queue       workqueue.TypedRateLimitingInterface[string]
	expect      *expectations
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
	rsInf := factory.Apps().V1().ReplicaSets()
	podInf := factory.Core().V1().Pods()
	c := &Controller{
		client:      client,
		sets:        rsInf.Lister(),
		setIndex:    rsInf.Informer().GetIndexer(),
		pods:        podInf.Lister(),
		synced:      []cache.InformerSynced{rsInf.Informer().HasSynced, podInf.Informer().HasSynced},
		queue:       controllers.NewQueue("replicaset"),
		expect:      newExpectations(clk),
		clock:       clk,
		broadcaster: record.NewBroadcaster(),
	}
	c.recorder = c.broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "replicaset-controller"})
	utilruntime.Must(rsInf.Informer().AddIndexers(cache.Indexers{controllerUIDIndex: func(obj any) ([]string, error) {
		if ref := metav1.GetControllerOfNoCopy(obj.(metav1.Object)); ref != nil {
			return []string{string(ref.UID)}, nil
		}
		return nil, nil
	}}))
	_, _ = rsInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.enqueue,
		UpdateFunc: func(old, cur any) {
			if o, n := old.(*appsv1.ReplicaSet), cur.(*appsv1.ReplicaSet); o.UID != n.UID {
				c.deleteSet(o)
			}
			c.enqueue(cur)
		},
		DeleteFunc: c.deleteSet,
	})
	_, _ = podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addPod,
		UpdateFunc: c.updatePod,
		DeleteFunc: c.deletePod,
	})
	return c
}

// Run works until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	defer controllers.StartEvents(c.broadcaster, c.client)()
	w := &controllers.Worker{Name: "replicaset", Queue: c.queue, Workers: workers, Sync: c.sync}
	w.Run(ctx, c.synced, nil)
}

func (c *Controller) enqueue(obj any) { controllers.Enqueue(c.queue, obj) }

func (c *Controller) deleteSet(obj any) {
	if key, ok := controllers.Key(obj); ok {
		c.expect.forget(key)
		c.queue.Add(key)
	}
}

// owner is the ReplicaSet a controller reference points to, if it is in
// the cache with that UID.
func (c *Controller) owner(namespace string, ref *metav1.OwnerReference) *appsv1.ReplicaSet {
	if ref == nil || ref.Kind != Kind.Kind {
		return nil
	}
	rs, err := c.sets.ReplicaSets(namespace).Get(ref.Name)
	if err != nil || rs.UID != ref.UID {
		return nil
	}
	return rs
}

// enqueueSelecting queues the ReplicaSets whose selectors match an orphan
// pod, which may adopt it.
func (c *Controller) enqueueSelecting(p *corev1.Pod) {
	sets, err := c.sets.GetPodReplicaSets(p)
	if err != nil {
		return
	}
	for _, rs := range sets {
		c.enqueue(rs)
	}
}

func (c *Controller) addPod(obj any) {
	p := obj.(*corev1.Pod)
	if p.DeletionTimestamp != nil {
		// Seen for the first time already being deleted (e.g. after a
		// relist): it counts as a deletion, not a creation.
		c.deletePod(p)
		return
	}
	if ref := metav1.GetControllerOfNoCopy(p); ref != nil {
		if rs := c.owner(p.Namespace, ref); rs != nil {
			key := cache.MetaObjectToName(rs).String()
			c.expect.creationObserved(key)
			c.queue.Add(key)
		}
		return
	}
	c.enqueueSelecting(p)
}

func (c *Controller) updatePod(old, cur any) {
	o, p := old.(*corev1.Pod), cur.(*corev1.Pod)
	if o.ResourceVersion == p.ResourceVersion {
		return // a resync
	}
	labelsChanged := !reflect.DeepEqual(o.Labels, p.Labels)
	if p.DeletionTimestamp != nil {
		// A pod being deleted (gracefully) is as good as gone to its
		// ReplicaSet, which makes a replacement at once; the old owner, if
		// the labels changed, learns it too.
		c.deletePod(p)
		if labelsChanged {
			c.deletePod(o)
		}
		return
	}
	oldRef, ref := metav1.GetControllerOfNoCopy(o), metav1.GetControllerOfNoCopy(p)
	refChanged := !reflect.DeepEqual(oldRef, ref)
	if refChanged && oldRef != nil {
		if rs := c.owner(o.Namespace, oldRef); rs != nil {
			c.enqueue(rs)
		}
	}
	if ref != nil {
		rs := c.owner(p.Namespace, ref)
		if rs == nil {
			return
		}
		c.enqueue(rs)
		// A pod that just became ready becomes available minReadySeconds
		// later: look again then.
		if readySince(o) == nil && readySince(p) != nil && rs.Spec.MinReadySeconds > 0 {
			c.queue.AddAfter(cache.MetaObjectToName(rs).String(), time.Duration(rs.Spec.MinReadySeconds)*time.Second+time.Second)
		}
		return
	}
	if labelsChanged || refChanged {
		c.enqueueSelecting(p)
	}
}

func (c *Controller) deletePod(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	rs := c.owner(p.Namespace, metav1.GetControllerOfNoCopy(p))
	if rs == nil {
		return
	}
	key := cache.MetaObjectToName(rs).String()
	c.expect.deletionObserved(key, cache.MetaObjectToName(p).String())
	c.queue.Add(key)
}

func (c *Controller) sync(ctx context.Context, key string) (time.Duration, error) {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, err
	}
	rs, err := c.sets.ReplicaSets(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		c.expect.forget(key)
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	needsSync := c.expect.satisfied(key)
	selector, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
	if err != nil {
		// Validation rejects such selectors; nothing to do until it changes.
		utilruntime.HandleError(fmt.Errorf("ReplicaSet %s has an invalid selector: %w", key, err))
		return 0, nil
	}
	// All pods, not only selected ones: owned pods whose labels no longer
	// match are released.
	all, err := c.pods.Pods(namespace).List(labels.Everything())
	if err != nil {
		return 0, err
	}
	var live []*corev1.Pod
	for _, p := range all {
		if active(p) {
			live = append(live, p)
		}
	}
	claimer := &Claimer{Owner: rs, Kind: Kind, Selector: selector,
		Fresh: func(ctx context.Context) (metav1.Object, error) {
			return c.client.AppsV1().ReplicaSets(namespace).Get(ctx, name, metav1.GetOptions{})
		},
		Patch: func(ctx context.Context, namespace, name string, patch []byte) error {
			_, err := c.client.CoreV1().Pods(namespace).Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
			return err
		},
	}
	pods, err := Claim(ctx, claimer, live)
	if err != nil {
		return 0, err
	}
	var manageErr error
	if needsSync && rs.DeletionTimestamp == nil {
		manageErr = c.manage(ctx, key, rs, pods)
	}
	updated, err := c.updateStatus(ctx, rs.DeepCopy(), c.status(rs, pods, manageErr))
	if err != nil {
		return 0, errors.Join(manageErr, err)
	}
	// Pods ready but not yet available become available minReadySeconds
	// later; look again then in case no pod event comes.
	if manageErr == nil && updated.Spec.MinReadySeconds > 0 &&
		updated.Status.ReadyReplicas == *updated.Spec.Replicas && updated.Status.AvailableReplicas != *updated.Spec.Replicas {
		return time.Duration(updated.Spec.MinReadySeconds) * time.Second, nil
	}
	return 0, manageErr
}

// manage creates or deletes pods so that rs has spec.replicas of them.
func (c *Controller) manage(ctx context.Context, key string, rs *appsv1.ReplicaSet, pods []*corev1.Pod) error {
	log := klog.FromContext(ctx)
	diff := len(pods) - int(*rs.Spec.Replicas)
	switch {
	case diff < 0:
		n := min(-diff, burstReplicas)
		c.expect.expectCreations(key, n)
		log.V(2).Info("Too few replicas", "replicaSet", klog.KObj(rs), "need", *rs.Spec.Replicas, "creating", n)
		created, err := slowStart(n, slowStartInitialBatch, func() error { return c.createPod(ctx, rs) })
		// Creates never attempted will not show in the cache.
		for range n - created {
			c.expect.creationObserved(key)
		}
		return err
	case diff > 0:
		n := min(diff, burstReplicas)
		log.V(2).Info("Too many replicas", "replicaSet", klog.KObj(rs), "need", *rs.Spec.Replicas, "deleting", n)
		victims := podsToDelete(pods, c.relatedPods(rs), n, c.clock.Now())
		podKeys := make([]string, len(victims))
		for i, p := range victims {
			podKeys[i] = cache.MetaObjectToName(p).String()
		}
		c.expect.expectDeletions(key, podKeys)
		errs := make([]error, len(victims))
		var wg sync.WaitGroup
		for i, p := range victims {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := c.deletePodOf(ctx, rs, p.Name); err != nil {
					c.expect.deletionObserved(key, podKeys[i])
					if !apierrors.IsNotFound(err) {
						errs[i] = err
					}
				}
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return err // they are likely all the same
			}
		}
	}
	return nil
}

// relatedPods are the pods of all ReplicaSets controlled by rs's owner
// (e.g. every ReplicaSet of one Deployment): deleting a pod doubled up on a
// node with its siblings is preferred.
func (c *Controller) relatedPods(rs *appsv1.ReplicaSet) []*corev1.Pod {
	ref := metav1.GetControllerOfNoCopy(rs)
	if ref == nil {
		return nil
	}
	objs, err := c.setIndex.ByIndex(controllerUIDIndex, string(ref.UID))
	if err != nil {
		return nil
	}
	seen := map[types.UID]bool{}
	var related []*corev1.Pod
	for _, o := range objs {
		other := o.(*appsv1.ReplicaSet)
		sel, err := metav1.LabelSelectorAsSelector(other.Spec.Selector)
		if err != nil {
			continue
		}
		pods, err := c.pods.Pods(other.Namespace).List(sel)
		if err != nil {
			continue
		}
		for _, p := range pods {
			if !seen[p.UID] {
				seen[p.UID] = true
				related = append(related, p)
			}
		}
	}
	return related
}

// createPod creates one pod from rs's template, named rs.Name-XXXXX by the
// API server, and records the event Kubernetes records.
func (c *Controller) createPod(ctx context.Context, rs *appsv1.ReplicaSet) error {
	t := &rs.Spec.Template
	if len(t.Labels) == 0 {
		return errors.New("unable to create pods, no labels")
	}
	prefix := rs.Name + "-"
	if len(apivalidation.NameIsDNSSubdomain(prefix, true)) != 0 {
		prefix = rs.Name
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    prefix,
			Labels:          clone(t.Labels),
			Annotations:     clone(t.Annotations),
			Finalizers:      append([]string(nil), t.Finalizers...),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(rs, Kind)},
		},
		Spec: *t.Spec.DeepCopy(),
	}
	created, err := c.client.CoreV1().Pods(rs.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return nil // the namespace is going; no pod will be made
		}
		c.recorder.Eventf(rs, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
		return err
	}
	c.recorder.Eventf(rs, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %v", created.Name)
	return nil
}

func (c *Controller) deletePodOf(ctx context.Context, rs *appsv1.ReplicaSet, name string) error {
	err := c.client.CoreV1().Pods(rs.Namespace).Delete(ctx, name, metav1.DeleteOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return err
	case err != nil:
		c.recorder.Eventf(rs, corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
		return fmt.Errorf("unable to delete pods: %w", err)
	}
	c.recorder.Eventf(rs, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %v", name)
	return nil
}

// slowStart calls fn count times, in batches of initial, then twice as
// many each time a whole batch succeeds; after a batch with a failure it
// stops. It returns how many calls succeeded and the first error.
func slowStart(count, initial int, fn func() error) (int, error) {
	done := 0
	for batch := min(count, initial); batch > 0; batch = min(2*batch, count-done) {
		errs := make(chan error, batch)
		var wg sync.WaitGroup
		for range batch {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := fn(); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		done += batch - len(errs)
		if len(errs) > 0 {
			return done, <-errs
		}
	}
	return done, nil
}

func clone(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

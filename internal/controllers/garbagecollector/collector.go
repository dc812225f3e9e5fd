// Package garbagecollector is the garbage collector of Kubernetes 1.32
// (pkg/controller/garbagecollector): it deletes objects whose owners are
// gone, and carries out the foreground and orphan deletion propagation the
// API server starts by adding a finalizer.
//
//   - Background: an object all of whose ownerReferences point to owners
//     that no longer exist (looked up by UID) is deleted; an owner that
//     still exists but is not the referenced UID counts as gone. References
//     to gone owners are removed from an object that has an owner left.
//   - Foreground: an owner with deletionTimestamp and the foregroundDeletion
//     finalizer has its dependents deleted (a dependent that has dependents
//     of its own is itself deleted in the foreground); once no dependent
//     with blockOwnerDeletion=true remains, the finalizer is removed and the
//     API server deletes the owner.
//   - Orphan: an owner with deletionTimestamp and the orphan finalizer has
//     its ownerReference removed from every dependent, then the finalizer.
//
// It watches every resource the API server serves that can be listed,
// watched and deleted, through the informers the other controllers run
// where there is one and metadata-only informers otherwise, and asks
// discovery again every 30 seconds so that resources served later are
// covered too. Events are ignored, as in Kubernetes. Owners are found in
// those caches by kind, namespace and name, then UID; an owner not in them
// is looked up on the API server before anything is deleted.
//
// Not done, compared with Kubernetes: the validation of references between
// namespaces and scopes is only partial (an owner is looked up in the
// dependent's namespace, and a cluster-scoped dependent's reference to a
// namespaced owner counts as a gone owner; no OwnerRefInvalidNamespace
// event is recorded); the cache of owners known to be absent; the
// strategic-merge form of the owner reference patches (JSON merge patches
// with resourceVersion are used for every resource); dependents of
// resources discovery does not list (their owner's foreground deletion
// does not wait for them); the /debug graph dump and metrics.
package garbagecollector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	"github.com/portway/portway/internal/controllers"
)

const (
	// discoveryPeriod is how often the collector looks for new resources.
	discoveryPeriod = 30 * time.Second
	deleteWorkers   = 20 // --concurrent-gc-syncs
	orphanWorkers   = 1
)

// Collector is the garbage collector.
type Collector struct {
	meta      metadata.Interface
	discovery discovery.DiscoveryInterface
	shared    map[schema.GroupVersionKind]cache.SharedIndexInformer

	mu       sync.RWMutex
	monitors map[schema.GroupResource]*monitor
	mapper   meta.RESTMapper
	// informers counts the monitors' own informers still running.
	informers sync.WaitGroup

	deleteQueue workqueue.TypedRateLimitingInterface[string]
	orphanQueue workqueue.TypedRateLimitingInterface[string]
}

// New creates the collector; Run starts it. meta reads and writes object
// metadata of any resource; disc finds the resources; shared are running
// informers, by kind, the collector watches their resources through.
func New(metaClient metadata.Interface, disc discovery.DiscoveryInterface, shared map[schema.GroupVersionKind]cache.SharedIndexInformer) *Collector {
	return &Collector{
		meta:        metaClient,
		discovery:   disc,
		shared:      shared,
		monitors:    map[schema.GroupResource]*monitor{},
		mapper:      meta.NewDefaultRESTMapper(nil),
		deleteQueue: controllers.NewQueue("garbage_collector_attempt_to_delete"),
		orphanQueue: controllers.NewQueue("garbage_collector_attempt_to_orphan"),
	}
}

// Run works until ctx ends. The workers start once the caches of the
// resources found at start have synced. It returns once its workers and
// informers have stopped.
func (c *Collector) Run(ctx context.Context) {
	synced := c.resync(ctx)
	var loops sync.WaitGroup
	loops.Go(func() { c.discoveryLoop(ctx, discoveryPeriod) })
	loops.Go(func() {
		(&controllers.Worker{Name: "garbagecollector-orphan", Queue: c.orphanQueue, Workers: orphanWorkers,
			Sync: controllers.Once(c.orphan)}).Run(ctx, synced, nil)
	})
	(&controllers.Worker{Name: "garbagecollector", Queue: c.deleteQueue, Workers: deleteWorkers,
		Sync: controllers.Once(c.attemptToDelete)}).Run(ctx, synced, nil)
	loops.Wait() // the discovery loop has ended every monitor
	c.informers.Wait()
}

func hasFinalizer(obj metav1.Object, f string) bool {
	return slices.Contains(obj.GetFinalizers(), f)
}

// deletingDependents: a foreground deletion is under way.
func deletingDependents(obj metav1.Object) bool {
	return obj.GetDeletionTimestamp() != nil && hasFinalizer(obj, metav1.FinalizerDeleteDependents)
}

// observe is the informers' add and update handler.
func (c *Collector) observe(gvr schema.GroupVersionResource, oldObj, obj any) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return
	}
	var old metav1.Object
	if oldObj != nil {
		if old, err = meta.Accessor(oldObj); err != nil {
			return
		}
	}
	it := itemOf(gvr, m)
	refsChanged := old == nil || !equalRefs(old.GetOwnerReferences(), m.GetOwnerReferences())
	if len(m.GetOwnerReferences()) > 0 && refsChanged {
		c.deleteQueue.Add(it.key())
	}
	if m.GetDeletionTimestamp() != nil && hasFinalizer(m, metav1.FinalizerOrphanDependents) {
		c.orphanQueue.Add(it.key())
	}
	if deletingDependents(m) {
		c.deleteQueue.Add(it.key())
		if old == nil || !deletingDependents(old) {
			for _, d := range c.dependents(m.GetUID()) {
				c.deleteQueue.Add(itemOf(d.gvr, d.obj).key())
			}
		}
	}
	if old != nil && refsChanged {
		// A reference dropped or made non-blocking may be the last one a
		// foreground deletion waits for.
		c.wakeOwners(old)
	}
}

// gone is the informers' delete handler: the object's dependents may now
// have no owner left, and its owners may be waiting for it.
func (c *Collector) gone(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return
	}
	for _, d := range c.dependents(m.GetUID()) {
		c.deleteQueue.Add(itemOf(d.gvr, d.obj).key())
	}
	c.wakeOwners(m)
}

// wakeOwners queues dependent's owners that are deleting in the foreground.
func (c *Collector) wakeOwners(dependent metav1.Object) {
	for _, ref := range dependent.GetOwnerReferences() {
		if o := c.cachedOwner(dependent, ref); o != nil && deletingDependents(o.obj) {
			c.deleteQueue.Add(itemOf(o.gvr, o.obj).key())
		}
	}
}

func equalRefs(a, b []metav1.OwnerReference) bool {
	return slices.EqualFunc(a, b, func(x, y metav1.OwnerReference) bool {
		return x.UID == y.UID && x.Name == y.Name && x.Kind == y.Kind && x.APIVersion == y.APIVersion &&
			ptrBool(x.BlockOwnerDeletion) == ptrBool(y.BlockOwnerDeletion) && ptrBool(x.Controller) == ptrBool(y.Controller)
	})
}

func ptrBool(b *bool) bool { return b != nil && *b }

// attemptToDelete decides the fate of one object with owners, or of an
// owner being deleted in the foreground.
func (c *Collector) attemptToDelete(ctx context.Context, key string) error {
	it, err := parseItem(key)
	if err != nil {
		return nil // never retried: it cannot get better
	}
	cached := c.get(it)
	if cached == nil {
		return nil // gone already; its delete event handled the rest
	}
	obj := cached.obj
	if obj.GetDeletionTimestamp() != nil {
		if deletingDependents(obj) {
			return c.deleteDependents(ctx, it)
		}
		return nil
	}
	if len(obj.GetOwnerReferences()) == 0 || c.ownersAlive(obj) {
		return nil
	}
	// Something may be missing: decide on the API server's state.
	live, err := c.live(ctx, it)
	if err != nil || live == nil {
		return err
	}
	solid, dangling, waiting, err := c.classify(ctx, live)
	if err != nil {
		return err
	}
	log := klog.FromContext(ctx).WithValues("item", it.String())
	switch {
	case len(solid) > 0:
		if len(dangling) == 0 && len(waiting) == 0 {
			return nil
		}
		log.V(2).Info("Removing references to owners that are gone or being deleted", "dangling", dangling, "waiting", waiting)
		drop := append(dangling, waiting...)
		return c.patchRefs(ctx, it, live, func(ref metav1.OwnerReference) (metav1.OwnerReference, bool) {
			return ref, !slices.ContainsFunc(drop, func(d metav1.OwnerReference) bool { return d.UID == ref.UID })
		})
	case len(waiting) > 0 && len(c.dependents(it.uid)) > 0:
		// An owner is deleted in the foreground and this object has
		// dependents of its own: it goes in the foreground too. If one of
		// those dependents is itself deleting dependents, blocking on it
		// could deadlock a cycle, so this object stops blocking first.
		for _, d := range c.dependents(it.uid) {
			if deletingDependents(d.obj) {
				log.V(2).Info("Unblocking owner references to avoid a deletion cycle")
				if err := c.patchRefs(ctx, it, live, func(ref metav1.OwnerReference) (metav1.OwnerReference, bool) {
					ref.BlockOwnerDeletion = nil
					return ref, true
				}); err != nil {
					return err
				}
				break
			}
		}
		return c.delete(ctx, it, metav1.DeletePropagationForeground)
	default:
		policy := metav1.DeletePropagationBackground
		switch {
		case hasFinalizer(live, metav1.FinalizerOrphanDependents):
			policy = metav1.DeletePropagationOrphan
		case hasFinalizer(live, metav1.FinalizerDeleteDependents):
			policy = metav1.DeletePropagationForeground
		}
		log.V(2).Info("Deleting object whose owners are gone", "propagationPolicy", policy)
		return c.delete(ctx, it, policy)
	}
}

// ownersAlive: every owner is in the caches, with the UID referenced, and
// none is being deleted in the foreground. Then there is nothing to do and
// no need to ask the API server.
func (c *Collector) ownersAlive(obj metav1.Object) bool {
	for _, ref := range obj.GetOwnerReferences() {
		if o := c.cachedOwner(obj, ref); o == nil || deletingDependents(o.obj) {
			return false
		}
	}
	return true
}

// live reads the object from the API server; nil when it is gone or was
// replaced by another of the same name.
func (c *Collector) live(ctx context.Context, it item) (metav1.Object, error) {
	obj, err := c.meta.Resource(it.gvr).Namespace(it.namespace).Get(ctx, it.name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, err
	case obj.UID != it.uid:
		return nil, nil
	}
	return obj, nil
}

// classify sorts obj's owner references: owners that exist (solid), that
// are gone (dangling), and that are being deleted in the foreground
// (waiting).
func (c *Collector) classify(ctx context.Context, obj metav1.Object) (solid, dangling, waiting []metav1.OwnerReference, err error) {
	for _, ref := range obj.GetOwnerReferences() {
		owner, err := c.owner(ctx, obj, ref)
		switch {
		case err != nil:
			return nil, nil, nil, err
		case owner == nil:
			dangling = append(dangling, ref)
		case deletingDependents(owner):
			waiting = append(waiting, ref)
		default:
			solid = append(solid, ref)
		}
	}
	return solid, dangling, waiting, nil
}

// ownerItem is the object ref points to, with the version ref names (the
// preferred one if that is not served). ok is
// false when ref cannot point to any object: a malformed apiVersion (which
// validation rejects), or a namespaced owner of a cluster-scoped
// dependent. An error means its kind is not served (yet).
func (c *Collector) ownerItem(dependent metav1.Object, ref metav1.OwnerReference) (it item, ok bool, err error) {
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return item{}, false, nil
	}
	gk := gv.WithKind(ref.Kind).GroupKind()
	c.mu.RLock()
	mapping, err := c.mapper.RESTMapping(gk, gv.Version)
	if err != nil {
		// A version no longer served still names the same objects.
		mapping, err = c.mapper.RESTMapping(gk)
	}
	c.mu.RUnlock()
	if err != nil {
		return item{}, false, fmt.Errorf("owner reference %s %s/%s: %w", ref.Kind, ref.APIVersion, ref.Name, err)
	}
	it = item{gvr: mapping.Resource, name: ref.Name, uid: ref.UID}
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		if dependent.GetNamespace() == "" {
			return item{}, false, nil
		}
		it.namespace = dependent.GetNamespace()
	}
	return it, true, nil
}

// owner is the object ref points to, from the API server; nil if there is
// none with that UID.
func (c *Collector) owner(ctx context.Context, dependent metav1.Object, ref metav1.OwnerReference) (metav1.Object, error) {
	it, ok, err := c.ownerItem(dependent, ref)
	if err != nil {
		// An unknown kind may be served later (a resource being added):
		// retry with backoff rather than delete.
		return nil, err
	}
	if !ok {
		return nil, nil // nothing can own it through ref
	}
	return c.live(ctx, it)
}

func (c *Collector) delete(ctx context.Context, it item, policy metav1.DeletionPropagation) error {
	err := c.meta.Resource(it.gvr).Namespace(it.namespace).Delete(ctx, it.name, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{UID: &it.uid}, PropagationPolicy: &policy})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil // gone, or replaced by a new object of the same name
	}
	return err
}

// deleteDependents moves a foreground deletion on: while dependents with
// blockOwnerDeletion remain, they are queued (and deleted, their owner
// being "waiting"); when none remain, the finalizer goes.
func (c *Collector) deleteDependents(ctx context.Context, it item) error {
	blocking := 0
	for _, d := range c.dependents(it.uid) {
		for _, ref := range d.obj.GetOwnerReferences() {
			if ref.UID == it.uid && ptrBool(ref.BlockOwnerDeletion) {
				blocking++
				if !deletingDependents(d.obj) {
					c.deleteQueue.Add(itemOf(d.gvr, d.obj).key())
				}
			}
		}
	}
	if blocking > 0 {
		return nil // their deletions wake this owner again
	}
	klog.FromContext(ctx).V(2).Info("Removing the foregroundDeletion finalizer", "item", it.String())
	return c.removeFinalizer(ctx, it, metav1.FinalizerDeleteDependents)
}

// orphan removes the references to an owner deleted with orphan
// propagation from its dependents, then the orphan finalizer.
func (c *Collector) orphan(ctx context.Context, key string) error {
	it, err := parseItem(key)
	if err != nil {
		return nil
	}
	owner := c.get(it)
	if owner == nil || owner.obj.GetDeletionTimestamp() == nil || !hasFinalizer(owner.obj, metav1.FinalizerOrphanDependents) {
		return nil
	}
	var errs []error
	for _, d := range c.dependents(it.uid) {
		dit := itemOf(d.gvr, d.obj)
		err := c.patchRefs(ctx, dit, d.obj, func(ref metav1.OwnerReference) (metav1.OwnerReference, bool) {
			return ref, ref.UID != it.uid
		})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("orphaning %s failed: %w", dit, err))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return c.removeFinalizer(ctx, it, metav1.FinalizerOrphanDependents)
}

// metaPatch is a JSON merge patch of metadata. uid and resourceVersion
// make it apply only to the object as read.
type metaPatch struct {
	Metadata struct {
		UID             types.UID                `json:"uid"`
		ResourceVersion string                   `json:"resourceVersion"`
		OwnerReferences *[]metav1.OwnerReference `json:"ownerReferences,omitempty"`
		Finalizers      *[]string                `json:"finalizers,omitempty"`
	} `json:"metadata"`
}

// patchRefs rewrites obj's owner references with edit (keep reports
// whether a reference stays).
func (c *Collector) patchRefs(ctx context.Context, it item, obj metav1.Object, edit func(metav1.OwnerReference) (ref metav1.OwnerReference, keep bool)) error {
	refs := []metav1.OwnerReference{}
	for _, ref := range obj.GetOwnerReferences() {
		if r, keep := edit(*ref.DeepCopy()); keep {
			refs = append(refs, r)
		}
	}
	var p metaPatch
	p.Metadata.UID, p.Metadata.ResourceVersion = it.uid, obj.GetResourceVersion()
	p.Metadata.OwnerReferences = &refs
	return c.patch(ctx, it, p)
}

func (c *Collector) removeFinalizer(ctx context.Context, it item, finalizer string) error {
	obj, err := c.live(ctx, it)
	if err != nil || obj == nil || !hasFinalizer(obj, finalizer) {
		return err
	}
	rest := []string{}
	for _, f := range obj.GetFinalizers() {
		if f != finalizer {
			rest = append(rest, f)
		}
	}
	var p metaPatch
	p.Metadata.UID, p.Metadata.ResourceVersion = it.uid, obj.GetResourceVersion()
	p.Metadata.Finalizers = &rest
	return c.patch(ctx, it, p)
}

func (c *Collector) patch(ctx context.Context, it item, p metaPatch) error {
	body, err := json.Marshal(p)
	if err != nil {
		return err
	}
	_, err = c.meta.Resource(it.gvr).Namespace(it.namespace).Patch(ctx, it.name, types.MergePatchType, body, metav1.PatchOptions{})
	return err
}

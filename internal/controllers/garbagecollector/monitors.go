package garbagecollector

import (
	"context"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"github.com/portway/portway/internal/trim"
)

// ownerIndex indexes cached objects by the UIDs of their owners. Its name
// is the collector's own, as it is added to informers others run.
const ownerIndex = "garbagecollector-owner-uid"

// ownerIndexers is a fresh map each time: an informer keeps the one it is
// given as its own.
func ownerIndexers() cache.Indexers {
	return cache.Indexers{ownerIndex: func(obj any) ([]string, error) {
		m, err := meta.Accessor(obj)
		if err != nil {
			return nil, err
		}
		var uids []string
		for _, ref := range m.GetOwnerReferences() {
			uids = append(uids, string(ref.UID))
		}
		return uids, nil
	}}
}

// ignored are the resources the collector does not watch, as in
// Kubernetes: events are many, short-lived and expire on their own.
var ignored = map[schema.GroupResource]bool{
	{Group: "", Resource: "events"}:              true,
	{Group: "events.k8s.io", Resource: "events"}: true,
}

// monitor watches one resource: through an informer another controller
// runs (shared), or through a metadata informer of its own (stop ends it).
type monitor struct {
	gvr      schema.GroupVersionResource
	informer cache.SharedIndexInformer
	handler  cache.ResourceEventHandlerRegistration
	stop     chan struct{}
}

// end stops the monitor: its own informer, or its handler on a shared one.
func (m *monitor) end() {
	if m.stop == nil {
		_ = m.informer.RemoveEventHandler(m.handler)
		return
	}
	close(m.stop)
}

// item names one object: its resource, namespace, name and UID. As a queue
// key it is "group/version/resource/namespace/name/uid" (none of these
// holds a slash).
type item struct {
	gvr             schema.GroupVersionResource
	namespace, name string
	uid             types.UID
}

func itemOf(gvr schema.GroupVersionResource, obj metav1.Object) item {
	return item{gvr: gvr, namespace: obj.GetNamespace(), name: obj.GetName(), uid: obj.GetUID()}
}

func (i item) key() string {
	return strings.Join([]string{i.gvr.Group, i.gvr.Version, i.gvr.Resource, i.namespace, i.name, string(i.uid)}, "/")
}

func parseItem(key string) (item, error) {
	f := strings.Split(key, "/")
	if len(f) != 6 {
		return item{}, fmt.Errorf("malformed garbage collector key %q", key)
	}
	return item{gvr: schema.GroupVersionResource{Group: f[0], Version: f[1], Resource: f[2]}, namespace: f[3], name: f[4], uid: types.UID(f[5])}, nil
}

func (i item) String() string {
	return fmt.Sprintf("%s %s/%s (%s)", i.gvr.GroupResource(), i.namespace, i.name, i.uid)
}

// deletable is every resource the API server serves (preferred version)
// that can be listed, watched and deleted, as kube-controller-manager's
// GetDeletableResources finds them.
func deletable(d discovery.DiscoveryInterface) (map[schema.GroupVersionResource]bool, error) {
	lists, err := discovery.ServerPreferredResources(d)
	if lists == nil {
		return nil, err
	}
	out := map[schema.GroupVersionResource]bool{}
	for _, l := range discovery.FilteredBy(discovery.SupportsAllVerbs{Verbs: []string{"delete", "list", "watch"}}, lists) {
		gv, perr := schema.ParseGroupVersion(l.GroupVersion)
		if perr != nil {
			continue
		}
		for _, r := range l.APIResources {
			gvr := gv.WithResource(r.Name)
			if !strings.Contains(r.Name, "/") && !ignored[gvr.GroupResource()] {
				out[gvr] = true
			}
		}
	}
	// A partial answer (a group failing discovery) still covers the rest.
	return out, err
}

// resync brings the monitors in line with what the API server serves now:
// informers for new resources, none for resources gone, and a fresh
// REST mapper for owner references. It returns the new monitors' HasSynced.
func (c *Collector) resync(ctx context.Context) []cache.InformerSynced {
	log := klog.FromContext(ctx)
	want, err := deletable(c.discovery)
	if err != nil {
		log.V(2).Info("Discovery incomplete", "err", err)
	}
	groups, gerr := restmapper.GetAPIGroupResources(c.discovery)
	c.mu.Lock()
	defer c.mu.Unlock()
	if gerr == nil || len(groups) > 0 {
		c.mapper = restmapper.NewDiscoveryRESTMapper(groups)
	}
	if want == nil {
		return nil
	}
	var synced []cache.InformerSynced
	for gvr := range want {
		if old := c.monitors[gvr.GroupResource()]; old != nil {
			if old.gvr == gvr {
				continue
			}
			// The preferred version changed: watch that one from now on.
			old.end()
			delete(c.monitors, gvr.GroupResource())
		}
		m, err := c.newMonitor(gvr)
		if err != nil {
			log.Error(err, "Garbage collector cannot watch", "resource", gvr.String())
			continue
		}
		c.monitors[gvr.GroupResource()] = m
		if m.stop != nil {
			c.informers.Go(func() { m.informer.Run(m.stop) })
		}
		synced = append(synced, m.handler.HasSynced)
		log.V(2).Info("Garbage collector watches", "resource", gvr.String(), "shared", m.stop == nil)
	}
	if err != nil {
		// Some groups failed: keep their monitors rather than drop them on
		// a transient error.
		return synced
	}
	for gr, m := range c.monitors {
		if !want[m.gvr] {
			m.end()
			delete(c.monitors, gr)
			log.V(2).Info("Garbage collector stops watching", "resource", m.gvr.String())
		}
	}
	return synced
}

// newMonitor watches gvr through the informer another controller runs for
// it, as kube-controller-manager's collector shares its typed informers,
// so that those objects are not cached and decoded twice. Other resources
// get a metadata informer of their own that keeps only what the collector
// reads: owner references, finalizers and deletion timestamps. c.mu is
// held.
func (c *Collector) newMonitor(gvr schema.GroupVersionResource) (*monitor, error) {
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.observe(gvr, nil, obj) },
		UpdateFunc: func(old, obj any) { c.observe(gvr, old, obj) },
		DeleteFunc: func(obj any) { c.gone(obj) },
	}
	m := &monitor{gvr: gvr}
	if gvk, err := c.mapper.KindFor(gvr); err == nil {
		m.informer = c.shared[gvk]
	}
	if m.informer == nil {
		m.informer = metadatainformer.NewFilteredMetadataInformer(c.meta, gvr, metav1.NamespaceAll, 0, ownerIndexers(), nil).Informer()
		_ = m.informer.SetTransform(func(obj any) (any, error) {
			if m, err := meta.Accessor(obj); err == nil {
				m.SetAnnotations(nil)
				m.SetLabels(nil)
			}
			return trim.ManagedFields(obj)
		})
		m.stop = make(chan struct{})
	} else if _, ok := m.informer.GetIndexer().GetIndexers()[ownerIndex]; !ok {
		// A shared informer keeps the index once added, also after
		// this monitor ends and a later one starts.
		if err := m.informer.AddIndexers(ownerIndexers()); err != nil {
			return nil, err
		}
	}
	// No resync: a shared informer's resyncs are its owner's business.
	reg, err := m.informer.AddEventHandlerWithResyncPeriod(handler, 0)
	if err != nil {
		return nil, err
	}
	m.handler = reg
	return m, nil
}

// discoveryLoop runs resync every period until ctx ends.
func (c *Collector) discoveryLoop(ctx context.Context, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			c.mu.Lock()
			for gr, m := range c.monitors {
				m.end()
				delete(c.monitors, gr)
			}
			c.mu.Unlock()
			return
		case <-t.C:
			c.resync(ctx)
		}
	}
}

// cached is an object of any watched resource, found by UID, with its
// resource.
type cached struct {
	gvr schema.GroupVersionResource
	obj metav1.Object
}

// get finds one object in the cache of its resource (any version).
func (c *Collector) get(it item) *cached {
	c.mu.RLock()
	m := c.monitors[it.gvr.GroupResource()]
	c.mu.RUnlock()
	if m == nil {
		return nil
	}
	key := it.name
	if it.namespace != "" {
		key = it.namespace + "/" + it.name
	}
	obj, ok, err := m.informer.GetIndexer().GetByKey(key)
	if err != nil || !ok {
		return nil
	}
	o, err := meta.Accessor(obj)
	if err != nil || o.GetUID() != it.uid {
		return nil
	}
	return &cached{gvr: m.gvr, obj: o}
}

// cachedOwner is the owner ref points to, from the caches; nil when it is
// not there (not cached, gone, or another object of that name).
func (c *Collector) cachedOwner(dependent metav1.Object, ref metav1.OwnerReference) *cached {
	it, ok, err := c.ownerItem(dependent, ref)
	if err != nil || !ok {
		return nil
	}
	return c.get(it)
}

// dependents is every cached object with an owner reference to uid.
func (c *Collector) dependents(uid types.UID) []cached {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []cached
	for _, m := range c.monitors {
		objs, err := m.informer.GetIndexer().ByIndex(ownerIndex, string(uid))
		if err != nil {
			continue
		}
		for _, obj := range objs {
			if o, err := meta.Accessor(obj); err == nil {
				out = append(out, cached{gvr: m.gvr, obj: o})
			}
		}
	}
	return out
}

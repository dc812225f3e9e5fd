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
)

const (
	uidIndex   = "uid"
	ownerIndex = "owner"
)

// ignored are the resources the collector does not watch, as in
// Kubernetes: events are many, short-lived and expire on their own.
var ignored = map[schema.GroupResource]bool{
	{Group: "", Resource: "events"}:              true,
	{Group: "events.k8s.io", Resource: "events"}: true,
}

// monitor is the metadata informer of one resource.
type monitor struct {
	informer cache.SharedIndexInformer
	stop     chan struct{}
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
		if c.monitors[gvr] != nil {
			continue
		}
		m := c.newMonitor(gvr)
		c.monitors[gvr] = m
		go m.informer.Run(m.stop)
		synced = append(synced, m.informer.HasSynced)
		log.V(2).Info("Garbage collector watches", "resource", gvr.String())
	}
	if err != nil {
		// Some groups failed: keep their monitors rather than drop them on
		// a transient error.
		return synced
	}
	for gvr, m := range c.monitors {
		if !want[gvr] {
			close(m.stop)
			delete(c.monitors, gvr)
			log.V(2).Info("Garbage collector stops watching", "resource", gvr.String())
		}
	}
	return synced
}

func (c *Collector) newMonitor(gvr schema.GroupVersionResource) *monitor {
	inf := metadatainformer.NewFilteredMetadataInformer(c.meta, gvr, metav1.NamespaceAll, 0, cache.Indexers{
		uidIndex: func(obj any) ([]string, error) {
			m, err := meta.Accessor(obj)
			if err != nil {
				return nil, err
			}
			return []string{string(m.GetUID())}, nil
		},
		ownerIndex: func(obj any) ([]string, error) {
			m, err := meta.Accessor(obj)
			if err != nil {
				return nil, err
			}
			var uids []string
			for _, ref := range m.GetOwnerReferences() {
				uids = append(uids, string(ref.UID))
			}
			return uids, nil
		},
	}, nil).Informer()
	// The collector reads owner references, finalizers and deletion
	// timestamps only.
	_ = inf.SetTransform(func(obj any) (any, error) {
		if m, err := meta.Accessor(obj); err == nil {
			m.SetManagedFields(nil)
			m.SetAnnotations(nil)
			m.SetLabels(nil)
		}
		return obj, nil
	})
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.observe(gvr, nil, obj) },
		UpdateFunc: func(old, obj any) { c.observe(gvr, old, obj) },
		DeleteFunc: func(obj any) { c.gone(obj) },
	})
	return &monitor{informer: inf, stop: make(chan struct{})}
}

// discoveryLoop runs resync every period until ctx ends.
func (c *Collector) discoveryLoop(ctx context.Context, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			c.mu.Lock()
			for gvr, m := range c.monitors {
				close(m.stop)
				delete(c.monitors, gvr)
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

// byUID finds an object in the caches by UID.
func (c *Collector) byUID(uid types.UID) *cached {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for gvr, m := range c.monitors {
		objs, err := m.informer.GetIndexer().ByIndex(uidIndex, string(uid))
		if err == nil && len(objs) > 0 {
			if o, err := meta.Accessor(objs[0]); err == nil {
				return &cached{gvr: gvr, obj: o}
			}
		}
	}
	return nil
}

// get finds one object in the cache of its resource.
func (c *Collector) get(it item) metav1.Object {
	c.mu.RLock()
	m := c.monitors[it.gvr]
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
	return o
}

// dependents is every cached object with an owner reference to uid.
func (c *Collector) dependents(uid types.UID) []cached {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []cached
	for gvr, m := range c.monitors {
		objs, err := m.informer.GetIndexer().ByIndex(ownerIndex, string(uid))
		if err != nil {
			continue
		}
		for _, obj := range objs {
			if o, err := meta.Accessor(obj); err == nil {
				out = append(out, cached{gvr: gvr, obj: o})
			}
		}
	}
	return out
}

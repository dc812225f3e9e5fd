package garbagecollector

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/metadata"
	metadatafake "k8s.io/client-go/metadata/fake"
	"k8s.io/client-go/metadata/metadatainformer"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

const ns = "gcdemo"

var (
	podsGVR        = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	replicaSetsGVR = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}
	configMapsGVR  = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
)

func apiResources(gv string, namespaced bool, names ...string) *metav1.APIResourceList {
	l := &metav1.APIResourceList{GroupVersion: gv}
	kinds := map[string]string{"pods": "Pod", "replicasets": "ReplicaSet", "deployments": "Deployment", "configmaps": "ConfigMap", "events": "Event", "nodes": "Node"}
	for _, n := range names {
		l.APIResources = append(l.APIResources, metav1.APIResource{Name: n, Kind: kinds[n], Namespaced: n != "nodes",
			Verbs: metav1.Verbs{"create", "delete", "get", "list", "patch", "update", "watch"}})
	}
	return l
}

type object struct {
	gv, kind, name string
	owners         []metav1.OwnerReference
	mod            func(*metav1.PartialObjectMetadata)
}

func (o object) build() *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{APIVersion: o.gv, Kind: o.kind},
		ObjectMeta: metav1.ObjectMeta{Name: o.name, Namespace: ns, UID: types.UID("uid-" + o.name), OwnerReferences: o.owners, ResourceVersion: "1"},
	}
	if o.kind == "Node" {
		m.Namespace = ""
	}
	if o.mod != nil {
		o.mod(m)
	}
	return m
}

func ref(kind, name string, block bool) metav1.OwnerReference {
	gv := "v1"
	if kind == "ReplicaSet" || kind == "Deployment" {
		gv = "apps/v1"
	}
	return metav1.OwnerReference{APIVersion: gv, Kind: kind, Name: name, UID: types.UID("uid-" + name), BlockOwnerDeletion: ptr.To(block)}
}

func beingDeleted(finalizer string) func(*metav1.PartialObjectMetadata) {
	return func(m *metav1.PartialObjectMetadata) {
		m.DeletionTimestamp = ptr.To(metav1.NewTime(time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)))
		m.Finalizers = []string{finalizer}
	}
}

func pod(name string, owners ...metav1.OwnerReference) object {
	return object{gv: "v1", kind: "Pod", name: name, owners: owners}
}

func rs(name string, owners ...metav1.OwnerReference) object {
	return object{gv: "apps/v1", kind: "ReplicaSet", name: name, owners: owners}
}

type harness struct {
	t      *testing.T
	client *metadatafake.FakeMetadataClient
	disc   *fakediscovery.FakeDiscovery
	gc     *Collector
	ctx    context.Context

	mu      sync.Mutex
	deletes map[string]metav1.DeletionPropagation // by name
}

// recording passes deletes on to the fake, which drops their options,
// after noting the propagation policy.
type recording struct {
	metadata.Interface
	h *harness
}

type recordingResource struct {
	metadata.ResourceInterface
	h *harness
}

func (r recording) Resource(gvr schema.GroupVersionResource) metadata.Getter {
	return recordingGetter{r.Interface.Resource(gvr), r.h}
}

type recordingGetter struct {
	metadata.Getter
	h *harness
}

func (g recordingGetter) Namespace(ns string) metadata.ResourceInterface {
	return recordingResource{g.Getter.Namespace(ns), g.h}
}

func (r recordingResource) Delete(ctx context.Context, name string, opts metav1.DeleteOptions, sub ...string) error {
	r.h.mu.Lock()
	r.h.deletes[name] = ptr.Deref(opts.PropagationPolicy, "")
	r.h.mu.Unlock()
	return r.ResourceInterface.Delete(ctx, name, opts, sub...)
}

// start runs a collector over a fake API server holding objs, which serves
// pods, replicasets, deployments and events (not configmaps, yet).
func start(t *testing.T, objs ...object) *harness { return startSharing(t, false, objs...) }

// startSharing is start; with share, the collector watches pods and
// replicasets through informers that "another controller" runs.
func startSharing(t *testing.T, share bool, objs ...object) *harness {
	h := newHarness(t, objs...)
	h.run(share)
	return h
}

// newHarness makes the fake API server; run starts the informers and the
// collector on it (reactors must be added before).
func newHarness(t *testing.T, objs ...object) *harness {
	scheme := runtime.NewScheme()
	metav1.AddMetaToScheme(scheme)
	var ros []runtime.Object
	for _, o := range objs {
		ros = append(ros, o.build())
	}
	client := metadatafake.NewSimpleMetadataClient(scheme, ros...)
	disc := &fakediscovery.FakeDiscovery{Fake: &clienttesting.Fake{}}
	disc.Resources = []*metav1.APIResourceList{
		apiResources("v1", true, "pods", "events"),
		apiResources("apps/v1", true, "replicasets", "deployments"),
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return &harness{t: t, client: client, disc: disc, ctx: ctx, deletes: map[string]metav1.DeletionPropagation{}}
}

func (h *harness) run(share bool) {
	t, client, ctx := h.t, h.client, h.ctx
	var shared map[schema.GroupVersionKind]cache.SharedIndexInformer
	if share {
		shared = map[schema.GroupVersionKind]cache.SharedIndexInformer{}
		byResource := map[schema.GroupResource]cache.SharedIndexInformer{}
		for gvr, kind := range map[schema.GroupVersionResource]string{podsGVR: "Pod", replicaSetsGVR: "ReplicaSet"} {
			inf := metadatainformer.NewFilteredMetadataInformer(client, gvr, metav1.NamespaceAll, 0, cache.Indexers{}, nil).Informer()
			go inf.Run(ctx.Done())
			shared[gvr.GroupVersion().WithKind(kind)] = inf
			byResource[gvr.GroupResource()] = inf
		}
		t.Cleanup(func() {
			h.gc.mu.RLock()
			defer h.gc.mu.RUnlock()
			for gr, inf := range byResource {
				if m := h.gc.monitors[gr]; m == nil || m.informer != inf || m.stop != nil {
					t.Errorf("%s: the collector does not watch through the shared informer", gr)
				}
			}
		})
	}
	h.gc = New(recording{client, h}, h.disc, shared)
	go h.gc.Run(ctx)
}

// sharingOrNot runs test with the collector's own informers, then sharing.
func sharingOrNot(t *testing.T, test func(t *testing.T, share bool)) {
	for _, share := range []bool{false, true} {
		t.Run(map[bool]string{false: "own informers", true: "shared informers"}[share], func(t *testing.T) { test(t, share) })
	}
}

// get is the object as the API server has it; nil when gone.
func (h *harness) get(gvr schema.GroupVersionResource, name string) *metav1.PartialObjectMetadata {
	h.t.Helper()
	m, err := h.client.Resource(gvr).Namespace(ns).Get(h.ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		h.t.Fatal(err)
	}
	return m
}

// eventually waits for cond, which the collector's workers make true
// asynchronously.
func (h *harness) eventually(what string, cond func() bool) {
	h.t.Helper()
	if err := wait.PollUntilContextTimeout(h.ctx, 5*time.Millisecond, 10*time.Second, true,
		func(context.Context) (bool, error) { return cond(), nil }); err != nil {
		h.t.Fatalf("%s: %v", what, err)
	}
}

func owners(m *metav1.PartialObjectMetadata) []string {
	var out []string
	for _, r := range m.OwnerReferences {
		out = append(out, r.Name)
	}
	return out
}

func TestBackground(t *testing.T) { sharingOrNot(t, testBackground) }

func testBackground(t *testing.T, share bool) {
	h := startSharing(t, share,
		// web-1's Deployment is gone: the ReplicaSet goes, then its pod.
		rs("web-1", ref("Deployment", "web", true)),
		pod("web-1-a", ref("ReplicaSet", "web-1", true)),
		// api-1 exists: its pod stays.
		rs("api-1"),
		pod("api-1-a", ref("ReplicaSet", "api-1", true)),
		// Two owners, one gone: only the reference goes.
		pod("shared", ref("ReplicaSet", "api-1", false), ref("ReplicaSet", "gone", false)),
		// An owner of that name exists, but not with that UID.
		pod("impostor", metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "api-1", UID: "uid-old-api-1"}),
	)
	h.eventually("web-1 and its pod deleted", func() bool {
		return h.get(replicaSetsGVR, "web-1") == nil && h.get(podsGVR, "web-1-a") == nil
	})
	h.eventually("the reference to the gone owner removed", func() bool {
		m := h.get(podsGVR, "shared")
		return m != nil && slices.Equal(owners(m), []string{"api-1"})
	})
	h.eventually("the pod of a replaced owner deleted", func() bool { return h.get(podsGVR, "impostor") == nil })
	// A reference may name a version no longer served: the owner is still
	// found in the cache, with no request to the API server.
	oldVersion := pod("old-version", metav1.OwnerReference{APIVersion: "apps/v1beta1", Kind: "ReplicaSet", Name: "api-1", UID: "uid-api-1"}).build()
	if !h.gc.ownersAlive(oldVersion) {
		t.Error("an owner referenced by a version no longer served is not found in the cache")
	}
	if h.get(replicaSetsGVR, "api-1") == nil || h.get(podsGVR, "api-1-a") == nil {
		t.Error("objects with live owners were deleted")
	}

	// Deleting an owner now deletes its dependents.
	if err := h.client.Resource(replicaSetsGVR).Namespace(ns).Delete(h.ctx, "api-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually("api-1's pods deleted", func() bool {
		return h.get(podsGVR, "api-1-a") == nil && h.get(podsGVR, "shared") == nil
	})
}

func TestForeground(t *testing.T) { sharingOrNot(t, testForeground) }

func testForeground(t *testing.T, share bool) {
	h := newHarness(t,
		object{gv: "apps/v1", kind: "Deployment", name: "web", mod: beingDeleted(metav1.FinalizerDeleteDependents)},
		rs("web-1", ref("Deployment", "web", true)),
		pod("web-1-a", ref("ReplicaSet", "web-1", true)),
		pod("web-1-b", ref("ReplicaSet", "web-1", false)),
		// Also owned by a live owner: only the reference goes.
		pod("kept", ref("Deployment", "web", true), ref("ReplicaSet", "other", false)),
		rs("other"),
	)
	// The finalizer goes only after the blocking dependents are gone. Only
	// the direct one, web-1, counts here: the fake deletes web-1 at once
	// rather than in the foreground, so its pod may outlive it.
	var early []string
	h.client.PrependReactor("patch", "deployments", func(clienttesting.Action) (bool, runtime.Object, error) {
		if _, err := h.client.Tracker().Get(replicaSetsGVR, ns, "web-1"); err == nil {
			h.mu.Lock()
			early = append(early, "web-1")
			h.mu.Unlock()
		}
		return false, nil, nil
	})
	h.run(share)
	// The ReplicaSet has dependents, so it is deleted in the foreground too:
	// the fake API server deletes at once, and its pods follow.
	h.eventually("dependents deleted", func() bool {
		return h.get(replicaSetsGVR, "web-1") == nil && h.get(podsGVR, "web-1-a") == nil && h.get(podsGVR, "web-1-b") == nil
	})
	h.mu.Lock()
	got := h.deletes["web-1"]
	h.mu.Unlock()
	if got != metav1.DeletePropagationForeground {
		t.Errorf("web-1, which has dependents, was deleted with propagation %q, want Foreground", got)
	}
	h.eventually("the finalizer removed once no blocking dependent is left", func() bool {
		m := h.get(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, "web")
		return m != nil && len(m.Finalizers) == 0
	})
	h.mu.Lock()
	if len(early) > 0 {
		t.Errorf("finalizer removed while blocking dependents %v existed", early)
	}
	h.mu.Unlock()
	if m := h.get(podsGVR, "kept"); m == nil || !slices.Equal(owners(m), []string{"other"}) {
		t.Errorf("pod with a live owner: %v", m)
	}
}

func TestOrphan(t *testing.T) { sharingOrNot(t, testOrphan) }

func testOrphan(t *testing.T, share bool) {
	h := startSharing(t, share,
		rs("web-1", ref("Deployment", "web", true)),
		object{gv: "apps/v1", kind: "Deployment", name: "web", mod: beingDeleted(metav1.FinalizerOrphanDependents)},
		pod("web-1-a", ref("ReplicaSet", "web-1", true)),
	)
	h.eventually("the reference removed and the finalizer with it", func() bool {
		m := h.get(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, "web")
		r := h.get(replicaSetsGVR, "web-1")
		return m != nil && len(m.Finalizers) == 0 && r != nil && len(r.OwnerReferences) == 0
	})
	if h.get(podsGVR, "web-1-a") == nil {
		t.Error("the orphaned ReplicaSet's pod was deleted")
	}
}

func TestNewResourcesAndScopes(t *testing.T) {
	h := start(t,
		object{gv: "v1", kind: "ConfigMap", name: "cm", owners: []metav1.OwnerReference{ref("Pod", "gone", false)}},
		// A node (cluster-scoped) cannot be owned by a pod (namespaced).
		object{gv: "v1", kind: "Node", name: "n1", owners: []metav1.OwnerReference{ref("Pod", "p", false)}},
		pod("p"),
	)
	// Configmaps are not served yet: the collector does not see them.
	h.eventually("the collector's caches synced", func() bool {
		h.gc.mu.RLock()
		defer h.gc.mu.RUnlock()
		m := h.gc.monitors[podsGVR.GroupResource()]
		return m != nil && m.informer.HasSynced()
	})
	h.gc.mu.RLock()
	_, events := h.gc.monitors[schema.GroupResource{Resource: "events"}]
	h.gc.mu.RUnlock()
	if events {
		t.Error("the collector watches events")
	}
	if h.get(configMapsGVR, "cm") == nil {
		t.Fatal("configmap deleted before its resource was discovered")
	}
	// Now served: the next discovery covers them.
	h.disc.Resources[0] = apiResources("v1", true, "pods", "events", "configmaps", "nodes")
	h.gc.resync(h.ctx)
	h.eventually("the configmap of a gone pod deleted", func() bool { return h.get(configMapsGVR, "cm") == nil })
	h.eventually("the node with an invalid owner reference deleted", func() bool {
		_, err := h.client.Resource(schema.GroupVersionResource{Version: "v1", Resource: "nodes"}).Get(h.ctx, "n1", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
	if h.get(podsGVR, "p") == nil {
		t.Error("pod deleted")
	}
}

func TestItemKey(t *testing.T) {
	it := item{gvr: replicaSetsGVR, namespace: ns, name: "web-1", uid: "u"}
	got, err := parseItem(it.key())
	if err != nil || got != it {
		t.Errorf("round trip %v → %q → %v, %v", it, it.key(), got, err)
	}
	core := item{gvr: podsGVR, name: "n"}
	if got, _ := parseItem(core.key()); got != core {
		t.Errorf("round trip %v → %v", core, got)
	}
	if _, err := parseItem("a/b"); err == nil {
		t.Error("malformed key accepted")
	}
}

func TestPreferredVersionChange(t *testing.T) {
	h := start(t, rs("web-1"))
	monitor := func() *monitor {
		h.gc.mu.RLock()
		defer h.gc.mu.RUnlock()
		return h.gc.monitors[replicaSetsGVR.GroupResource()]
	}
	h.eventually("replicasets watched", func() bool { m := monitor(); return m != nil && m.informer.HasSynced() })
	old := monitor()
	h.disc.Resources[1] = apiResources("apps/v1beta2", true, "replicasets", "deployments")
	h.gc.resync(h.ctx)
	if m := monitor(); m == nil || m.gvr.Version != "v1beta2" {
		t.Fatalf("after the preferred version changed, replicasets are watched as %v, want apps/v1beta2", m)
	}
	select {
	case <-old.stop:
	default:
		t.Error("the monitor of the old version still runs")
	}
}

// Run returns only once the informers it started have stopped: the control
// plane closes their connections after it.
func TestRunStopsItsInformers(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithCancel(h.ctx)
	h.gc = New(recording{h.client, h}, h.disc, nil)
	returned := make(chan struct{})
	go func() {
		h.gc.Run(ctx)
		close(returned)
	}()
	var informers []cache.SharedIndexInformer
	h.eventually("monitors started", func() bool {
		h.gc.mu.RLock()
		defer h.gc.mu.RUnlock()
		for _, m := range h.gc.monitors { // resync adds them all under the lock
			informers = append(informers, m.informer)
		}
		return len(informers) > 0
	})
	cancel()
	<-returned
	for _, inf := range informers {
		if !inf.IsStopped() {
			t.Error("an informer of the collector's still runs after Run returned")
		}
	}
}

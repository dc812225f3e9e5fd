package etcd_test

import (
	"context"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/storage"
	cachermetrics "k8s.io/apiserver/pkg/storage/cacher/metrics"
	etcdfeature "k8s.io/apiserver/pkg/storage/feature"
	"k8s.io/apiserver/pkg/storage/storagebackend"
	"k8s.io/component-base/metrics/testutil"

	"github.com/portway/portway/internal/registry"
	"github.com/portway/portway/internal/storage/etcd"
	"github.com/portway/portway/internal/storage/etcd/etcdtest"
)

// The watch-cached ConfigMap storage the API server builds, on the
// embedded etcd's in-process client: writes, reads and watches work
// without a connection of their own.
func TestBackendInProcess(t *testing.T) {
	client := etcdtest.Client(t)
	b := etcd.NewBackend(client)

	config := &storagebackend.ConfigForResource{
		Config:        storagebackend.Config{Prefix: "/registry", Codec: registry.Codecs.LegacyCodec(corev1.SchemeGroupVersion)},
		GroupResource: corev1.Resource("configmaps"),
	}
	newFunc := func() runtime.Object { return &corev1.ConfigMap{} }
	newListFunc := func() runtime.Object { return &corev1.ConfigMapList{} }
	keyFunc := func(obj runtime.Object) (string, error) { return storage.NamespaceKeyFunc("/configmaps", obj) }
	s, destroy, err := b.Decorate(config, "/configmaps", keyFunc, newFunc, newListFunc, storage.DefaultNamespaceScopedAttr, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(destroy)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The cache serves once it has listed etcd.
	for s.ReadinessCheck() != nil {
		select {
		case <-ctx.Done():
			t.Fatal("watch cache not ready:", s.ReadinessCheck())
		case <-time.After(10 * time.Millisecond):
		}
	}
	w, err := s.Watch(ctx, "/configmaps/", storage.ListOptions{ResourceVersion: "0", Predicate: storage.Everything, Recursive: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	in := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "default"}, Data: map[string]string{"k": "v"}}
	created := &corev1.ConfigMap{}
	if err := s.Create(ctx, "/configmaps/default/a", in, created, 0); err != nil {
		t.Fatal(err)
	}
	if created.ResourceVersion == "" {
		t.Fatal("created object has no resourceVersion")
	}
	select {
	case ev := <-w.ResultChan():
		// The cache hands out its objects wrapped, with their serializations.
		got, err := meta.Accessor(ev.Object)
		if err != nil || ev.Type != watch.Added || got.GetName() != "a" || got.GetResourceVersion() != created.ResourceVersion {
			t.Fatalf("watch event %s %#v, want ADDED a at %s", ev.Type, ev.Object, created.ResourceVersion)
		}
	case <-ctx.Done():
		t.Fatal("no watch event for the created ConfigMap")
	}

	// A consistent read (no resourceVersion), which the cache answers
	// itself, once it has caught up with etcd's current revision, only if
	// it knows that etcd answers watch progress requests.
	for !etcdfeature.DefaultFeatureSupportChecker.Supports(storage.RequestWatchProgress) {
		select {
		case <-ctx.Done():
			t.Fatal("the storage does not know that the in-process etcd answers watch progress requests")
		case <-time.After(10 * time.Millisecond):
		}
	}
	cachermetrics.Register()
	fromCache := cachermetrics.ConsistentReadTotal.WithLabelValues("/configmaps", "true", "false")
	before, err := testutil.GetCounterMetricValue(fromCache)
	if err != nil {
		t.Fatal(err)
	}
	list := &corev1.ConfigMapList{}
	if err := s.GetList(ctx, "/configmaps/", storage.ListOptions{Predicate: storage.Everything, Recursive: true}, list); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 || list.Items[0].Data["k"] != "v" || list.ResourceVersion != created.ResourceVersion {
		t.Fatalf("list = %d items at %s, want a at %s", len(list.Items), list.ResourceVersion, created.ResourceVersion)
	}
	if after, err := testutil.GetCounterMetricValue(fromCache); err != nil || after != before+1 {
		t.Fatalf("the consistent list was not answered by the watch cache (consistent reads from cache %v -> %v, %v)", before, after, err)
	}
}

// The watch cache keeps its consistent reads fresh with progress
// notifications, which the in-process client must pass through.
func TestBackendProgressNotify(t *testing.T) {
	client := etcdtest.Client(t)
	ctx, cancel := context.WithTimeout(clientv3.WithRequireLeader(context.Background()), 30*time.Second)
	defer cancel()
	put, err := client.Put(ctx, "/elsewhere", "x")
	if err != nil {
		t.Fatal(err)
	}
	w := client.Watch(ctx, "/registry/", clientv3.WithPrefix(), clientv3.WithRev(put.Header.Revision+1))
	if err := client.RequestProgress(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-w:
		if !r.IsProgressNotify() || r.Header.Revision != put.Header.Revision {
			t.Fatalf("got %+v, want a progress notification at revision %d", r, put.Header.Revision)
		}
	case <-ctx.Done():
		t.Fatal("no progress notification")
	}
}

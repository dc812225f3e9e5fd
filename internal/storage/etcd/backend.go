package etcd

import (
	"context"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/kubernetes"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/storage"
	cacherstorage "k8s.io/apiserver/pkg/storage/cacher"
	"k8s.io/apiserver/pkg/storage/etcd3"
	"k8s.io/apiserver/pkg/storage/storagebackend"
	"k8s.io/apiserver/pkg/storage/storagebackend/factory"
	"k8s.io/apiserver/pkg/storage/value/encrypt/identity"
	"k8s.io/client-go/tools/cache"
)

// Backend is the one etcd client that every resource's storage shares.
// k8s.io/apiserver's storage factory opens a client per resource: a gRPC
// connection each, with its goroutines and buffers on both ends. portway
// builds the same stores on one client instead; for the embedded etcd that
// client calls the server in process, without gRPC, TLS or a socket.
type Backend struct {
	client *kubernetes.Client
}

// NewBackend shares c. Closing c is the caller's.
func NewBackend(c *clientv3.Client) *Backend {
	// As the storage factory does: etcd request latency metrics.
	c.KV = etcd3.NewETCDLatencyTracker(c.KV)
	kc := &kubernetes.Client{Client: c}
	kc.Kubernetes = kc
	return &Backend{client: kc}
}

// Client is the shared client, for stores that also write etcd directly.
func (b *Backend) Client() *clientv3.Client { return b.client.Client }

// StartCompactor compacts etcd's history every interval until ctx ends, as
// the storage factory does for the clients it opens.
func (b *Backend) StartCompactor(ctx context.Context, interval time.Duration) {
	etcd3.StartCompactor(ctx, b.client.Client, interval)
}

// Raw is a resource's etcd storage as generic.NewRawStorage builds it, on
// the shared client.
func (b *Backend) Raw(c *storagebackend.ConfigForResource, newFunc, newListFunc func() runtime.Object, resourcePrefix string) storage.Interface {
	transformer := c.Transformer
	if transformer == nil {
		transformer = identity.NewEncryptCheckTransformer()
	}
	versioner := storage.APIObjectVersioner{}
	return etcd3.New(b.client, c.Codec, newFunc, newListFunc, c.Prefix, resourcePrefix, c.GroupResource,
		transformer, c.LeaseManagerConfig, etcd3.NewDefaultDecoder(c.Codec, versioner), versioner)
}

// Decorate is a generic.StorageDecorator: the resource's storage behind a
// watch cache, as genericregistry.StorageWithCacher builds it, on the
// shared client.
func (b *Backend) Decorate(c *storagebackend.ConfigForResource, resourcePrefix string,
	keyFunc func(obj runtime.Object) (string, error), newFunc, newListFunc func() runtime.Object,
	getAttrsFunc storage.AttrFunc, triggerFuncs storage.IndexerFuncs, indexers *cache.Indexers) (storage.Interface, factory.DestroyFunc, error) {
	cacher, err := Cached(b.Raw(c, newFunc, newListFunc, resourcePrefix), c, resourcePrefix,
		keyFunc, newFunc, newListFunc, getAttrsFunc, triggerFuncs, indexers)
	if err != nil {
		return nil, nil, err
	}
	return cacher, cacher.Stop, nil
}

// Cached puts a watch cache in front of s, a resource's storage.
func Cached(s storage.Interface, c *storagebackend.ConfigForResource, resourcePrefix string,
	keyFunc func(obj runtime.Object) (string, error), newFunc, newListFunc func() runtime.Object,
	getAttrsFunc storage.AttrFunc, triggerFuncs storage.IndexerFuncs, indexers *cache.Indexers) (*cacherstorage.Cacher, error) {
	return cacherstorage.NewCacherFromConfig(cacherstorage.Config{
		Storage: s, Versioner: storage.APIObjectVersioner{}, GroupResource: c.GroupResource,
		ResourcePrefix: resourcePrefix, KeyFunc: keyFunc, NewFunc: newFunc, NewListFunc: newListFunc,
		GetAttrsFunc: getAttrsFunc, IndexerFuncs: triggerFuncs, Indexers: indexers, Codec: c.Codec,
	})
}

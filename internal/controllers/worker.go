// Package controllers holds what the control plane's controllers share: the
// rate-limited queue of object keys each works from, and the workers that
// drain it. Each controller lives in a sub-package and is an ordinary
// client-go informer client of the API server.
package controllers

import (
	"context"
	"sync"
	"time"

	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
)

// SyncFunc brings one key's objects to their desired state. An error retries
// the key with backoff; a positive again asks to look at it once more later
// (something is still pending, such as objects held by finalizers).
type SyncFunc func(ctx context.Context, key string) (again time.Duration, err error)

// Once adapts a sync that never asks to look again.
func Once(sync func(ctx context.Context, key string) error) SyncFunc {
	return func(ctx context.Context, key string) (time.Duration, error) { return 0, sync(ctx, key) }
}

// Worker drains a queue with a SyncFunc.
type Worker struct {
	Name       string
	Queue      workqueue.TypedRateLimitingInterface[string]
	Sync       SyncFunc
	Workers    int
	MaxRetries int // 0: retry forever
}

// NewQueue returns a queue with client-go's default controller backoff.
func NewQueue(name string) workqueue.TypedRateLimitingInterface[string] {
	return NewQueueWithLimiter(name, workqueue.DefaultTypedControllerRateLimiter[string]())
}

// NewQueueWithLimiter returns a queue with the given backoff.
func NewQueueWithLimiter(name string, limiter workqueue.TypedRateLimiter[string]) workqueue.TypedRateLimitingInterface[string] {
	return workqueue.NewTypedRateLimitingQueueWithConfig(limiter, workqueue.TypedRateLimitingQueueConfig[string]{Name: name})
}

// Run waits for the caches to sync, calls started (if any) to queue initial
// work, and drains the queue until ctx ends. It returns once every worker
// has finished the key it was on, so that no request of theirs outlives it;
// the keys still queued are left.
func (w *Worker) Run(ctx context.Context, synced []cache.InformerSynced, started func()) {
	defer utilruntime.HandleCrash()
	defer w.Queue.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return
	}
	var workers sync.WaitGroup
	for range max(w.Workers, 1) {
		workers.Go(func() {
			wait.UntilWithContext(ctx, func(ctx context.Context) {
				for w.next(ctx) {
				}
			}, time.Second)
		})
	}
	if started != nil {
		started()
	}
	<-ctx.Done()
	w.Queue.ShutDown() // a worker waiting for a key wakes up
	workers.Wait()
}

func (w *Worker) next(ctx context.Context) bool {
	key, quit := w.Queue.Get()
	if quit {
		return false
	}
	defer w.Queue.Done(key)
	if ctx.Err() != nil {
		// A shut-down queue still hands out what it holds; a sync now
		// would only fail (and maybe record a Warning event saying so).
		return false
	}
	again, err := w.Sync(ctx, key)
	log := klog.FromContext(ctx).WithValues("controller", w.Name, "key", key)
	switch {
	case err == nil && again > 0:
		w.Queue.Forget(key)
		w.Queue.AddAfter(key, again)
	case err == nil:
		w.Queue.Forget(key)
	case w.MaxRetries == 0 || w.Queue.NumRequeues(key) < w.MaxRetries:
		log.V(2).Info("Sync failed, retrying", "err", err)
		w.Queue.AddRateLimited(key)
	default:
		log.Info("Sync failed too often, dropping the key", "err", err)
		w.Queue.Forget(key)
	}
	return true
}

// Key is obj's namespace/name, also for a deletion tombstone; a failure is
// reported and gives false.
func Key(obj any) (string, bool) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		utilruntime.HandleError(err)
		return "", false
	}
	return key, true
}

// Enqueue adds obj's key to q.
func Enqueue(q workqueue.TypedRateLimitingInterface[string], obj any) {
	if key, ok := Key(obj); ok {
		q.Add(key)
	}
}

// EnqueueNamespaceIfNamed adds obj's namespace to q when obj (or its
// deletion tombstone) is named name: for the controllers that keep one such
// object in every namespace.
func EnqueueNamespaceIfNamed(q workqueue.TypedRateLimitingInterface[string], obj any, name string) {
	key, ok := Key(obj)
	if !ok {
		return
	}
	if ns, n, err := cache.SplitMetaNamespaceKey(key); err == nil && n == name {
		q.Add(ns)
	}
}

package controllers

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// Run must not return while a worker is still syncing: the control plane
// closes the workers' connections once Run has returned.
func TestWorkerRunWaitsForSyncs(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	inSync := make(chan struct{})
	release := make(chan struct{})
	var finished atomic.Bool
	w := &Worker{Name: "test", Queue: NewQueue("test"), Workers: 2,
		Sync: Once(func(ctx context.Context, key string) error {
			close(inSync)
			<-release
			finished.Store(true)
			return nil
		})}
	returned := start(ctx, w, "a")
	<-inSync
	cancel()
	select {
	case <-returned:
		t.Fatal("Run returned while a sync was still running")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	<-returned
	if !finished.Load() {
		t.Fatal("Run returned before the sync finished")
	}
	if !w.Queue.ShuttingDown() {
		t.Error("queue not shut down")
	}
}

// Once ctx has ended, the keys still queued are not synced: each sync could
// only fail.
func TestWorkerRunLeavesQueuedKeys(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	inSync := make(chan struct{})
	var synced atomic.Int32
	w := &Worker{Name: "test", Queue: NewQueue("test"), Workers: 1,
		Sync: Once(func(ctx context.Context, key string) error {
			if synced.Add(1) == 1 {
				close(inSync)
				<-ctx.Done()
			}
			return ctx.Err()
		})}
	returned := start(ctx, w, "a", "b")
	<-inSync
	cancel()
	<-returned
	if n := synced.Load(); n != 1 {
		t.Errorf("%d syncs, want 1: keys queued when ctx ended were synced", n)
	}
}

// start queues keys and runs w; the channel closes when Run returns.
func start(ctx context.Context, w *Worker, keys ...string) <-chan struct{} {
	for _, k := range keys {
		w.Queue.Add(k)
	}
	returned := make(chan struct{})
	go func() {
		w.Run(ctx, nil, nil)
		close(returned)
	}()
	return returned
}

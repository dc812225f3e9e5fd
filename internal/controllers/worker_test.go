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
	w.Queue.Add("a")
	returned := make(chan struct{})
	go func() {
		w.Run(ctx, nil, nil)
		close(returned)
	}()
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

package replicaset

import (
	"context"
	"testing"
)

// BenchmarkCreate100Pods is one sync of a new ReplicaSet of 100 pods
// against the fake API server: the slow-start batches (1, 2, 4, ... 64)
// and the status write.
func BenchmarkCreate100Pods(b *testing.B) {
	for range b.N {
		b.StopTimer()
		h := newHarness(b, replicaSet("web", 100))
		b.StartTimer()
		if _, err := h.c.sync(context.Background(), ns+"/web"); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if n := len(h.podList()); n != 100 {
			b.Fatalf("%d pods", n)
		}
		h.c.queue.ShutDown()
	}
}

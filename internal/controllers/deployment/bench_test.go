package deployment

import (
	"testing"
)

// BenchmarkRollingUpdate20 rolls a new template over 20 ready pods
// (maxSurge and maxUnavailable 25%), the new pods becoming ready as soon
// as they exist: the controller's work per rollout, against the fake API
// server, with the harness's ReplicaSet stand-in.
func BenchmarkRollingUpdate20(b *testing.B) {
	for range b.N {
		b.StopTimer()
		c := newCluster(b, deployment("web", 20, nil))
		c.settle(nil)
		c.makeReady(-1)
		c.settle(nil)
		d := c.deployment("web")
		setImage(d, "agnhost:2.40")
		c.update(d)
		b.StartTimer()
		for c.settle(nil); c.makeReady(-1) > 0; c.settle(nil) {
		}
		b.StopTimer()
		if got := describe(c.replicaSets()); len(c.replicaSets()) != 2 || *c.replicaSets()[1].Spec.Replicas != 20 {
			b.Fatalf("rollout incomplete: %s", got)
		}
		c.dc.queue.ShutDown()
	}
}

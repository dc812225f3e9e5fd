package replicaset

import (
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// expectationsTTL is how long a ReplicaSet waits for the informer to show
// the creates and deletes it made before it acts again regardless, as in
// Kubernetes (ExpectationsTimeout).
const expectationsTTL = 5 * time.Minute

// expectations remembers, per ReplicaSet key, the pod creates and deletes
// sent but not yet seen in the pod cache, so that a sync running before the
// cache caught up does not create or delete the same pods again.
type expectations struct {
	clock clock.Clock
	mu    sync.Mutex
	m     map[string]*expected
}

type expected struct {
	adds    int
	deletes map[string]bool // pod namespace/name
	at      time.Time
}

func newExpectations(clk clock.Clock) *expectations {
	return &expectations{clock: clk, m: map[string]*expected{}}
}

// satisfied reports whether key's last creates and deletes were all seen
// (or are too old to wait for).
func (e *expectations) satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := e.m[key]
	return x == nil || (x.adds <= 0 && len(x.deletes) == 0) || e.clock.Since(x.at) > expectationsTTL
}

func (e *expectations) expectCreations(key string, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.m[key] = &expected{adds: n, at: e.clock.Now()}
}

func (e *expectations) expectDeletions(key string, podKeys []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := &expected{deletes: make(map[string]bool, len(podKeys)), at: e.clock.Now()}
	for _, k := range podKeys {
		x.deletes[k] = true
	}
	e.m[key] = x
}

func (e *expectations) creationObserved(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x := e.m[key]; x != nil {
		x.adds--
	}
}

func (e *expectations) deletionObserved(key, podKey string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x := e.m[key]; x != nil {
		delete(x.deletes, podKey)
	}
}

func (e *expectations) forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.m, key)
}

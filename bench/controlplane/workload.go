package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

// kind is one resource the benchmark fills a namespace with. Objects are
// numbered; object i is always named name(i).
type kind struct {
	resource string
	name     func(i int) string
	create   func(ctx context.Context, cs kubernetes.Interface, ns string, i int) error
	get      func(ctx context.Context, cs kubernetes.Interface, ns string, i int) error
	list     func(ctx context.Context, cs kubernetes.Interface, ns string, o metav1.ListOptions) (items int, rv string, err error)
	watch    func(ctx context.Context, cs kubernetes.Interface, ns string, o metav1.ListOptions) (watch.Interface, error)
}

// payload makes a ConfigMap of about 200 bytes as JSON on the wire.
var payload = strings.Repeat("x", 120)

func configMapName(i int) string { return fmt.Sprintf("cm-%06d", i) }

var configMaps = kind{
	resource: "configmaps",
	name:     configMapName,
	create: func(ctx context.Context, cs kubernetes.Interface, ns string, i int) error {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: configMapName(i)},
			Data: map[string]string{"payload": payload}}
		_, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{})
		return err
	},
	get: func(ctx context.Context, cs kubernetes.Interface, ns string, i int) error {
		_, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, configMapName(i), metav1.GetOptions{})
		return err
	},
	list: func(ctx context.Context, cs kubernetes.Interface, ns string, o metav1.ListOptions) (int, string, error) {
		l, err := cs.CoreV1().ConfigMaps(ns).List(ctx, o)
		if err != nil {
			return 0, "", err
		}
		return len(l.Items), l.ResourceVersion, nil
	},
	watch: func(ctx context.Context, cs kubernetes.Interface, ns string, o metav1.ListOptions) (watch.Interface, error) {
		return cs.CoreV1().ConfigMaps(ns).Watch(ctx, o)
	},
}

func serviceName(i int) string { return fmt.Sprintf("svc-%06d", i) }

var services = kind{
	resource: "services",
	name:     serviceName,
	create: func(ctx context.Context, cs kubernetes.Interface, ns string, i int) error {
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: serviceName(i)},
			Spec: corev1.ServiceSpec{
				Type:     corev1.ServiceTypeClusterIP,
				Selector: map[string]string{"app": serviceName(i)},
				Ports:    []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}},
			},
		}
		_, err := cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{})
		return err
	},
	get: func(ctx context.Context, cs kubernetes.Interface, ns string, i int) error {
		_, err := cs.CoreV1().Services(ns).Get(ctx, serviceName(i), metav1.GetOptions{})
		return err
	},
	list: func(ctx context.Context, cs kubernetes.Interface, ns string, o metav1.ListOptions) (int, string, error) {
		l, err := cs.CoreV1().Services(ns).List(ctx, o)
		if err != nil {
			return 0, "", err
		}
		return len(l.Items), l.ResourceVersion, nil
	},
	watch: func(ctx context.Context, cs kubernetes.Interface, ns string, o metav1.ListOptions) (watch.Interface, error) {
		return cs.CoreV1().Services(ns).Watch(ctx, o)
	},
}

// population is one namespace being filled with one kind: objects 0..n-1
// exist.
type population struct {
	kind
	ns string
	n  int
}

// createConcurrent creates count new objects with every client at once, each
// client on its own connection taking the next number, and returns the
// wall time.
func createConcurrent(ctx context.Context, clients []kubernetes.Interface, p *population, count int) (time.Duration, error) {
	first := p.n
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	t0 := time.Now()
	for _, cs := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1)) - 1
				if k >= count || ctx.Err() != nil {
					return
				}
				if err := p.create(ctx, cs, p.ns, first+k); err != nil {
					once.Do(func() { firstErr = fmt.Errorf("creating %s %s: %w", p.resource, p.name(first+k), err) })
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(t0)
	p.n += count
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return elapsed, firstErr
}

// measureGets GETs random existing objects one after the other.
func measureGets(ctx context.Context, cs kubernetes.Interface, p *population, samples int) ([]time.Duration, error) {
	d := make([]time.Duration, 0, samples)
	for range samples {
		i := rand.IntN(p.n)
		t0 := time.Now()
		if err := p.get(ctx, cs, p.ns, i); err != nil {
			return nil, fmt.Errorf("get %s %s: %w", p.resource, p.name(i), err)
		}
		d = append(d, time.Since(t0))
	}
	return d, nil
}

// measureLists lists the whole namespace in one request (no limit, default
// resourceVersion: a consistent read, as a client's first list is), times
// each full list including client-side decoding.
func measureLists(ctx context.Context, cs kubernetes.Interface, p *population, samples int) ([]time.Duration, int, error) {
	d := make([]time.Duration, 0, samples)
	items := 0
	for range samples {
		t0 := time.Now()
		n, _, err := p.list(ctx, cs, p.ns, metav1.ListOptions{})
		if err != nil {
			return nil, 0, fmt.Errorf("list %s: %w", p.resource, err)
		}
		d = append(d, time.Since(t0))
		items = n
	}
	return d, items, nil
}

// watchResult is what measureCreatesAndWatch saw.
type watchResult struct {
	create      []time.Duration // each sequential create call
	fromCall    []time.Duration // just before the create call → event on the watch
	afterReturn []time.Duration // create call returned → event (0 if the event came first)
}

// measureCreatesAndWatch creates objects one after the other with one client
// while a second client has a watch open on the namespace, as a controller
// would: the create figures are with one watcher attached, and each event's
// arrival is matched to its create by name.
func measureCreatesAndWatch(ctx context.Context, cs, watcher kubernetes.Interface, p *population, samples int) (watchResult, error) {
	var r watchResult
	// Watch from the current resourceVersion: without one, the watch would
	// first replay every existing object as ADDED.
	_, rv, err := p.list(ctx, watcher, p.ns, metav1.ListOptions{Limit: 1})
	if err != nil {
		return r, err
	}
	w, err := p.watch(ctx, watcher, p.ns, metav1.ListOptions{ResourceVersion: rv})
	if err != nil {
		return r, err
	}
	defer w.Stop()

	var mu sync.Mutex
	arrived := make(map[string]time.Time, samples)
	all := make(chan struct{})
	go func() {
		for ev := range w.ResultChan() {
			t := time.Now()
			if ev.Type != watch.Added {
				continue
			}
			m, err := meta.Accessor(ev.Object)
			if err != nil {
				continue
			}
			mu.Lock()
			arrived[m.GetName()] = t
			n := len(arrived)
			mu.Unlock()
			if n == samples {
				close(all)
			}
		}
	}()

	type call struct{ start, end time.Time }
	calls := make(map[string]call, samples)
	for range samples {
		i := p.n
		t0 := time.Now()
		if err := p.create(ctx, cs, p.ns, i); err != nil {
			return r, fmt.Errorf("create %s %s: %w", p.resource, p.name(i), err)
		}
		t1 := time.Now()
		p.n++
		calls[p.name(i)] = call{t0, t1}
		r.create = append(r.create, t1.Sub(t0))
	}

	select {
	case <-all:
	case <-time.After(30 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		return r, fmt.Errorf("watch delivered %d of %d ADDED events within 30s", len(arrived), samples)
	case <-ctx.Done():
		return r, ctx.Err()
	}
	mu.Lock()
	defer mu.Unlock()
	for name, c := range calls {
		t := arrived[name]
		r.fromCall = append(r.fromCall, t.Sub(c.start))
		r.afterReturn = append(r.afterReturn, max(0, t.Sub(c.end)))
	}
	return r, nil
}

package main

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/portway/portway/bench/internal/figures"
	"github.com/portway/portway/bench/internal/upcluster"
	"github.com/portway/portway/internal/podinfo"
)

const (
	// memFloorKB: below this much MemAvailable the fill stops, so that the
	// benchmark never pushes the machine into swapping or the OOM killer.
	memFloorKB = 3 << 20
	creators   = 8 // concurrent create calls
	fillLimit  = 10 * time.Minute
	stallLimit = time.Minute
)

// benchDensity fills a fresh cluster with -density pods per node at once,
// then reads what its processes cost: memory and CPU of the agents, the
// control plane, the shims and the containers.
func benchDensity(ctx context.Context, cfg config, root string, rep *report) (err error) {
	c, err := startCluster(ctx, cfg, cfg.name+"d", filepath.Join(root, "density"))
	if err != nil {
		return err
	}
	var pods int
	defer func() {
		took, serr := c.StopTimed()
		if serr != nil && err == nil {
			err = serr
		}
		if took > 0 {
			rep.up.Dist(fmt.Sprintf("SIGINT → exit with %d pods", pods), []time.Duration{took})
		}
	}()
	cs, err := c.Client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	const ns, app = "density", "density"
	t, err := setupNamespace(ctx, cs, ns, app, app)
	if err != nil {
		return err
	}
	total := cfg.density * nodes

	// The processes whose CPU is counted: agents and the control plane
	// (it runs inside `up`).
	type counted struct {
		name string
		pid  int
	}
	var watched []counted
	cp := findClusterProcs(c.DataDir())
	for _, node := range slices.Sorted(maps.Keys(cp.agents)) {
		watched = append(watched, counted{"agent " + node, cp.agents[node].PID})
	}
	if len(cp.agents) != nodes {
		figures.Logf("density: found %d agent processes, want %d", len(cp.agents), nodes)
	}
	watched = append(watched, counted{"control plane (portway up)", c.UpPID()})

	// Memory guard: polls MemAvailable during the fill and stops it below
	// the floor.
	memBefore := upcluster.MemAvailableKB()
	var memMin atomic.Int64
	memMin.Store(memBefore)
	lowMem := make(chan struct{})
	guardCtx, stopGuard := context.WithCancel(ctx)
	go func() {
		var once sync.Once
		for guardCtx.Err() == nil {
			m := upcluster.MemAvailableKB()
			if m < memMin.Load() {
				memMin.Store(m)
			}
			if m < memFloorKB {
				once.Do(func() { close(lowMem) })
			}
			_ = sleep(guardCtx, 200*time.Millisecond)
		}
	}()
	defer stopGuard()

	ticks0 := map[int]int64{}
	for _, w := range watched {
		ticks0[w.pid] = upcluster.TicksOf(w.pid)
	}
	figures.Logf("density: creating %d pods with %d concurrent clients", total, creators)
	createCtx, stopCreating := context.WithCancel(ctx)
	defer stopCreating()
	go func() {
		select {
		case <-lowMem:
			figures.Logf("density: MemAvailable below %s MiB: no more creates", mib(memFloorKB))
			stopCreating()
		case <-createCtx.Done():
		}
	}()
	start := time.Now()
	var created atomic.Int64
	var createErr error
	var errOnce sync.Once
	next := make(chan int)
	var wg sync.WaitGroup
	for range creators {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				_, err := cs.CoreV1().Pods(ns).Create(createCtx, agnhostPod(fmt.Sprintf("pod-%04d", i), app), metav1.CreateOptions{})
				if err != nil {
					if createCtx.Err() == nil {
						errOnce.Do(func() { createErr = err; stopCreating() })
					}
					continue
				}
				created.Add(1)
			}
		}()
	}
feed:
	for i := range total {
		select {
		case next <- i:
		case <-createCtx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	createTook := time.Since(start)
	pods = int(created.Load())
	if createErr != nil {
		return fmt.Errorf("creating pods: %w", createErr)
	}

	figures.Logf("density: %d pods created in %s; waiting until they are Running and Ready", pods, secs(createTook))
	w := t.when(func(t *tracker) bool { return t.runningAndReady() >= pods })
	// complete: the fill ended (all ready, or stalled) with memory to spare,
	// so the idle window is worth taking.
	outcome, complete := "all Running and Ready", false
	var fillErr error
	var fillEnd time.Time
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	deadline := time.After(fillLimit - time.Since(start))
	readyMax := func() (n int, at time.Time) {
		t.locked(func() { n, at = t.readyMax, t.readyMaxAt })
		return n, at
	}
wait:
	for {
		select {
		case <-w.done:
			fillEnd, complete = w.at, true
			if pods < total {
				outcome = fmt.Sprintf("creates stopped: MemAvailable < %s MiB; the created ones Running and Ready", mib(memFloorKB))
			}
			break wait
		case <-lowMem:
			fillEnd = time.Now()
			outcome = fmt.Sprintf("stopped waiting: MemAvailable < %s MiB", mib(memFloorKB))
			break wait
		case <-deadline:
			_, fillEnd = readyMax()
			outcome = fmt.Sprintf("timed out after %s", fillLimit)
			fillErr = fmt.Errorf("not every pod Running and Ready within %s", fillLimit)
			break wait
		case <-tick.C:
			// A pod that never starts would hold the fill up until the
			// deadline: when no more pods have been Running and Ready for
			// stallLimit, the fill ends at the last one that got there.
			if n, at := readyMax(); n > 0 && time.Since(at) > stallLimit {
				fillEnd, complete = at, true
				outcome = fmt.Sprintf("stalled: %d never Running and Ready (none more for %s)", pods-n, stallLimit)
				fillErr = fmt.Errorf("%d of %d pods never Running and Ready (see the notes under the fill table)", pods-n, pods)
				break wait
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	t.cancel(w)
	if fillEnd.IsZero() { // none got ready at all
		fillEnd = time.Now()
	}
	fill := fillEnd.Sub(start)
	readyNow, _ := readyMax()
	var running int
	var notReady []string
	t.locked(func() {
		for _, name := range slices.Sorted(maps.Keys(t.pods)) {
			p := t.pods[name]
			if p.Status.Phase == corev1.PodRunning {
				running++
			}
			if !podinfo.RunningAndReady(p) {
				notReady = append(notReady, "  "+name+": "+describePod(p))
			}
		}
	})
	stopGuard()
	memAfter := upcluster.MemAvailableKB()
	rep.fill.Add(strconv.Itoa(total), strconv.Itoa(pods), strconv.Itoa(readyNow), secs(createTook), secs(fill),
		fmt.Sprintf("%.1f", float64(readyNow)/fill.Seconds()),
		mib(memBefore), mib(memMin.Load()), mib(memAfter), outcome)
	figures.Logf("density: %d/%d Running and Ready after %s (%s)", readyNow, total, secs(fill), outcome)
	if len(notReady) > 0 {
		rep.fill.Notes = append(rep.fill.Notes, fmt.Sprintf("not Running and Ready at the end of the fill (%d):", len(notReady)))
		rep.fill.Notes = append(rep.fill.Notes, notReady[:min(len(notReady), 10)]...)
		if len(notReady) > 10 {
			rep.fill.Notes = append(rep.fill.Notes, fmt.Sprintf("  ... and %d more", len(notReady)-10))
		}
		rep.fill.Notes = append(rep.fill.Notes, "logs kept in "+c.KeepLogs("cluster", "density"))
	}

	// Memory and the fill's CPU, right after the fill.
	cp = findClusterProcs(c.DataDir())
	groups := []struct {
		name  string
		procs []upcluster.Proc
	}{{"shims (portway shim)", cp.shims}, {"containers (children of shims)", cp.containers}}
	procRows := make([][]string, len(watched))
	for i, w := range watched {
		cpu := float64(upcluster.TicksOf(w.pid)-ticks0[w.pid]) / clkTck
		procRows[i] = []string{w.name, mib(upcluster.RSSKB(w.pid)), mib(upcluster.PSSKB(w.pid)),
			fmt.Sprintf("%.1f", cpu), fmt.Sprintf("%.0f", 100*cpu/fill.Seconds())}
	}
	// One container per pod, so the pods that have processes are the
	// Running ones.
	per := int64(max(running, 1))
	groupRows := make([][]string, len(groups))
	for k, g := range groups {
		var rss, pss int64
		for _, p := range g.procs {
			rss += upcluster.RSSKB(p.PID)
			pss += upcluster.PSSKB(p.PID)
		}
		groupRows[k] = []string{g.name, strconv.Itoa(len(g.procs)), mib(rss), mib(rss / per), mib(pss), mib(pss / per)}
	}

	// The idle window: nothing is created; what the agents and shims spend
	// now is their steady cost (probes, status, leases). Skipped when the
	// fill did not finish: memory may be short, and the figure would
	// include pods still starting.
	groupTicks := func(ps []upcluster.Proc) (n int64) {
		for _, p := range ps {
			n += upcluster.TicksOf(p.PID)
		}
		return n
	}
	idlePct := make([]string, len(watched)+len(groups))
	for i := range idlePct {
		idlePct[i] = "-"
	}
	if complete {
		figures.Logf("density: %s idle window", cfg.idle)
		var before []int64
		for _, w := range watched {
			before = append(before, upcluster.TicksOf(w.pid))
		}
		for _, g := range groups {
			before = append(before, groupTicks(g.procs))
		}
		i0 := time.Now()
		if err := sleep(ctx, cfg.idle); err != nil {
			return err
		}
		idle := time.Since(i0).Seconds()
		pctOf := func(k int, now int64) string {
			return fmt.Sprintf("%.1f", 100*float64(now-before[k])/clkTck/idle)
		}
		for i, w := range watched {
			idlePct[i] = pctOf(i, upcluster.TicksOf(w.pid))
		}
		for k, g := range groups {
			idlePct[len(watched)+k] = pctOf(len(watched)+k, groupTicks(g.procs))
		}
	}
	for i, r := range procRows {
		rep.procs.Add(append(r, idlePct[i])...)
	}
	for k, r := range groupRows {
		rep.perPod.Add(append(r, idlePct[len(watched)+k])...)
	}
	return fillErr
}

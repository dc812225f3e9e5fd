// Command cluster measures a whole portway cluster (`portway up`) and prints
// the figures: time to all nodes Ready, pod create → Running → ready in an
// EndpointSlice, rollouts of a 20-pod Deployment (time, fewest ready
// endpoints), 100 pods per node (fill time, agent memory and CPU, per-pod
// memory), and EndpointSlice update latency with 1000 status-only pods behind
// one Service. It never asserts anything; see README.md for what each figure
// means. It needs root (portway up does).
//
//	go run ./bench/cluster [-portway BIN] [-only up|pods|rollout|density|endpoints1000] [-ups 3] [-pods 60] [-density 100] [-idle 30s]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/portway/portway/bench/internal/figures"
	"github.com/portway/portway/bench/internal/upcluster"
)

type config struct {
	portway       string // binary under test
	portwaySource string // where it came from, for the header
	only          string // one part, or "" for all
	ups           int
	pods          int
	density       int // pods per node
	idle          time.Duration
	flags         string
	name          string // prefix of the cluster names, unique to this run
}

// parts, in the order they run.
var parts = figures.Parts[step]{
	{Name: "up", Step: benchUp},
	{Name: "pods", Step: benchPods},
	{Name: "rollout", Step: benchRollout},
	{Name: "density", Step: benchDensity},
	{Name: "endpoints1000", Step: benchEndpoints},
}

// step takes one part's figures into the report.
type step func(ctx context.Context, cfg config, root string, rep *report) error

// nodes is the cluster size every part that runs `up` uses.
const nodes = 3

// report holds every table; it is printed at the end, also after an error
// or Ctrl-C, so figures already taken are not lost.
type report struct {
	up, pods, rollout, fill, procs, perPod, endpoints, epFill figures.Table
}

func newReport(cfg config) *report {
	dist := []string{"figure", "min", "p50", "p99", "max", "samples"}
	return &report{
		up: figures.Table{
			Title:  fmt.Sprintf("portway up --nodes %d (ms)", nodes),
			Header: dist,
			Notes: []string{"exec → export line: from just before exec to the `export KUBECONFIG=` line (every node Ready)",
				"each run in a fresh network namespace and data dir; SIGINT → exit: the teardown"},
		},
		pods: figures.Table{
			Title:  fmt.Sprintf("Pod startup, one pod at a time, %d nodes (ms from the create call returning)", nodes),
			Header: dist,
			Notes: []string{"seen through informers; each pod is ready in the Service's EndpointSlice before the next is created",
				"pods alternate: no readiness probe (ready when the container runs) and a tcpSocket readiness probe with periodSeconds 1"},
		},
		rollout: figures.Table{
			Title:  fmt.Sprintf("Rollout of a %d-pod Deployment behind a Service (as kubectl rollout restart starts it)", rolloutReplicas),
			Header: []string{"pods", "round", "seconds to rolled out", "fewest ready endpoints", "allowed fewest"},
			Notes: []string{"from the patch of the pod template to `kubectl rollout status`'s condition (all updated and available, none old); default strategy: maxSurge 25%, maxUnavailable 25%",
				"ready endpoints: distinct pods ready in the Service's EndpointSlices, seen through an informer at every event"},
		},
		fill: figures.Table{
			Title:  fmt.Sprintf("%d pods per node × %d nodes, created at once", cfg.density, nodes),
			Header: []string{"asked", "created", "running+ready", "create calls s", "fill s", "pods/s", "MemAvailable before MiB", "min during MiB", "after MiB", "outcome"},
			Notes:  []string{"fill: from the first create call to the last pod Running and Ready (informer)"},
		},
		procs: figures.Table{
			Title:  "Per process, after the fill",
			Header: []string{"process", "RSS MiB", "PSS MiB", "CPU s in fill", "CPU % in fill", "CPU % idle"},
			Notes:  []string{"CPU: utime+stime from /proc/PID/stat (CLK_TCK 100); 100% is one core; idle: over -idle after the fill"},
		},
		perPod: figures.Table{
			Title:  "Per pod, after the fill",
			Header: []string{"processes", "count", "total RSS MiB", "RSS MiB / pod", "total PSS MiB", "PSS MiB / pod", "CPU % idle, all"},
			Notes:  []string{"RSS counts the shared portway binary's pages in every process; PSS splits shared pages between their users"},
		},
		epFill: figures.Table{
			Title:  "1000 status-only pods behind one Service: setup (s)",
			Header: []string{"step", "seconds", "notes"},
		},
		endpoints: figures.Table{
			Title:  "1000 status-only pods behind one Service: EndpointSlice updates (ms)",
			Header: dist,
			Notes:  []string{"from the pod status update (UpdateStatus) returning to the EndpointSlice informer showing it; control plane only, no agent"},
		},
	}
}

func (r *report) print() {
	for _, t := range []*figures.Table{&r.up, &r.pods, &r.rollout, &r.fill, &r.procs, &r.perPod, &r.epFill, &r.endpoints} {
		t.Print(os.Stdout)
	}
}

func main() {
	cfg, err := parseFlags()
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(2)
	}
	figures.Main(func(ctx context.Context) error { return run(ctx, cfg) })
}

func parseFlags() (config, error) {
	var cfg config
	flag.StringVar(&cfg.portway, "portway", "", "portway binary to measure (default: go build ./cmd/portway into a temp dir; run from the repo)")
	flag.StringVar(&cfg.only, "only", "", "run one part only: "+strings.Join(parts.Names(), "|"))
	flag.IntVar(&cfg.ups, "ups", 3, "`portway up` runs to time")
	flag.IntVar(&cfg.pods, "pods", 60, "pods created one at a time for the pod startup figures")
	flag.IntVar(&cfg.density, "density", 100, "pods per node for the density figures")
	flag.DurationVar(&cfg.idle, "idle", 30*time.Second, "idle window after the density fill for the CPU % figures")
	flag.Parse()
	if flag.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", flag.Args())
	}
	cfg.flags = figures.Flags()
	if err := parts.Check(cfg.only); err != nil {
		return cfg, err
	}
	if cfg.ups < 1 || cfg.pods < 1 || cfg.density < 1 || cfg.idle <= 0 {
		return cfg, errors.New("-ups, -pods, -density and -idle must be positive")
	}
	if os.Geteuid() != 0 {
		return cfg, errors.New("needs root: portway up creates network namespaces and links")
	}
	// Cluster names prefix links (at most 10 characters); the pid keeps a
	// run's names apart from another run's and from the e2e tests' (pwt...).
	cfg.name = fmt.Sprintf("pwb%d", os.Getpid()%10000)
	return cfg, nil
}

func run(ctx context.Context, cfg config) error {
	root, err := os.MkdirTemp("", "portway-bench-cluster-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)

	if cfg.portway, cfg.portwaySource, err = figures.BuildPortway(ctx, cfg.portway, root); err != nil {
		return err
	}
	printHeader(os.Stdout, cfg, root)

	rep := newReport(cfg)
	defer rep.print()
	return parts.Run(ctx, cfg.only, func(ctx context.Context, f step) error { return f(ctx, cfg, root, rep) })
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// startCluster runs `portway up --nodes 3` named name on dataDir.
func startCluster(ctx context.Context, cfg config, name, dataDir string) (*upcluster.Cluster, error) {
	return upcluster.Start(ctx, upcluster.Options{Portway: cfg.portway, Name: name, DataDir: dataDir, Nodes: nodes})
}

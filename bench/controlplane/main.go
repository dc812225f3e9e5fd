// Command controlplane measures a portway control plane and prints the
// figures: startup time, request latency and create throughput with 1k and
// 10k ConfigMaps and Services existing, watch delivery latency, server memory
// and etcd size. It never asserts anything; see README.md for what each
// figure means.
//
//	go run ./bench/controlplane -quick
//	go run ./bench/controlplane [-portway BIN] [-startups 5] [-sizes 1000,10000] [-fsync]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"

	"github.com/portway/portway/bench/internal/figures"
)

type config struct {
	portway       string // binary under test
	portwaySource string // where it came from, for the header
	startups      int
	sizes         []int
	fsync         bool
	samples       int    // at most this many sequential creates and gets per size
	clients       int    // concurrent clients for the throughput figures
	gogc          string // GOGC for the server; "" leaves the server's own
	flags         string
}

// report holds every table; it is printed at the end, also after an error
// or Ctrl-C, so figures already taken are not lost.
type report struct {
	startup, restart, requests, watch, throughput, settle, memory figures.Table
}

func newReport(cfg config) *report {
	return &report{
		startup: figures.Table{
			Title:  fmt.Sprintf("Startup on a fresh data dir (ms from exec; runs: %d)", cfg.startups),
			Header: []string{"figure", "min", "p50", "max"},
		},
		restart: figures.Table{
			Title:  "Restart on an existing data dir (ms from exec)",
			Header: []string{"data dir", "objects", "ready line", "first /readyz", "server's own", "stop before (SIGTERM→exit)"},
		},
		requests: figures.Table{
			Title:  "Requests, one client, sequential (ms)",
			Header: []string{"kind", "existing", "create p50", "create p99", "get p50", "get p99", "list p50", "list items", "samples"},
			Notes:  []string{"create: with one watch open on the namespace; list: the whole namespace in one request, decoded by client-go"},
		},
		watch: figures.Table{
			Title:  "Watch delivery, one open watch (ms)",
			Header: []string{"kind", "existing", "call→event p50", "call→event p99", "return→event p50", "return→event p99", "events"},
			Notes:  []string{"call→event: from just before the create call; return→event: from the create call returning (0 if the event came first)"},
		},
		settle: figures.Table{
			Title:  "Endpoint controllers catching up after a Service fill (s)",
			Header: []string{"kind", "services", "endpointslices", "seconds"},
			Notes:  []string{"from the end of a fill (the last row: of the last throughput run) until every Service has its EndpointSlice; the latencies are sampled after it"},
		},
		throughput: figures.Table{
			Title:  fmt.Sprintf("Create throughput, %d concurrent clients", cfg.clients),
			Header: []string{"kind", "phase", "existing before", "created", "seconds", "objects/s"},
		},
		memory: figures.Table{
			Title:  "Server memory and etcd size",
			Header: []string{"kind", "when", "bench objects", "RSS MiB", "binary MiB", "RSS-binary MiB", "peak RSS MiB", "etcd dir MiB", "etcd db MiB"},
			Notes: []string{"RSS/peak: VmRSS/VmHWM of the portway process; binary: the part of RSS that is pages of the portway executable (varies with its page-cache state);",
				"etcd dir includes preallocated 64 MB WAL files"},
		},
	}
}

func (r *report) print() {
	for _, t := range []*figures.Table{&r.startup, &r.restart, &r.requests, &r.watch, &r.throughput, &r.settle, &r.memory} {
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
	var sizes string
	var quick bool
	flag.StringVar(&cfg.portway, "portway", "", "portway binary to measure (default: go build github.com/portway/portway/cmd/portway into a temp dir; run from the repo)")
	flag.IntVar(&cfg.startups, "startups", 5, "fresh-data-dir startups to time")
	flag.StringVar(&sizes, "sizes", "1000,10000", "comma-separated object counts to measure at")
	flag.BoolVar(&cfg.fsync, "fsync", false, "let etcd fsync (default: pass --unsafe-no-fsync)")
	flag.BoolVar(&quick, "quick", false, "smoke test: sizes 100 only, 1 startup")
	flag.IntVar(&cfg.samples, "samples", 1000, "at most this many sequential creates and gets per size")
	flag.IntVar(&cfg.clients, "clients", 8, "concurrent clients for create throughput")
	flag.StringVar(&cfg.gogc, "gogc", "", "GOGC for the server processes, e.g. 100 or off (default: the server's own)")
	flag.Parse()
	if flag.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", flag.Args())
	}
	cfg.flags = figures.Flags()
	if quick {
		sizes, cfg.startups = "100", 1
	}
	for _, s := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return cfg, fmt.Errorf("-sizes: bad size %q", s)
		}
		cfg.sizes = append(cfg.sizes, n)
	}
	// Namespaces only grow, so sizes are measured smallest first.
	slices.Sort(cfg.sizes)
	if cfg.startups < 1 || cfg.samples < 1 || cfg.clients < 1 {
		return cfg, errors.New("-startups, -samples and -clients must be at least 1")
	}
	return cfg, nil
}

func run(ctx context.Context, cfg config) (err error) {
	root, err := os.MkdirTemp("", "portway-bench-")
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
	if err := benchStartup(ctx, cfg, root, rep); err != nil {
		return err
	}
	for _, k := range []kind{configMaps, services} {
		if err := benchKind(ctx, cfg, root, k, rep); err != nil {
			return err
		}
	}
	return nil
}

// benchStartup times fresh starts, each on its own new data dir (PKI and
// etcd made from nothing), then one restart on the last one's data dir.
func benchStartup(ctx context.Context, cfg config, root string, rep *report) error {
	var line, readyz, self, stop []time.Duration
	var dir string
	for i := range cfg.startups {
		figures.Logf("startup %d/%d", i+1, cfg.startups)
		dir = filepath.Join(root, fmt.Sprintf("startup-%d", i+1))
		s, st, err := startServer(ctx, cfg, dir)
		if err != nil {
			return err
		}
		stop = append(stop, s.stop())
		line, readyz, self = append(line, st.readyLine), append(readyz, st.readyz), append(self, st.selfTold)
	}
	for _, f := range []struct {
		name string
		d    []time.Duration
	}{
		{"ready line on stdout", line},
		{"first /readyz 200", readyz},
		{"server's own \"ready in\"", self},
		{"stop (SIGTERM→exit)", stop},
	} {
		rep.startup.Add(f.name, ms(figures.Pct(f.d, 0)), ms(figures.Pct(f.d, 50)), ms(figures.Pct(f.d, 100)))
	}

	figures.Logf("restart on the data dir of startup %d", cfg.startups)
	s, st, err := startServer(ctx, cfg, dir)
	if err != nil {
		return err
	}
	rep.restart.Add("startup-N's (built-ins only)", "0", ms(st.readyLine), ms(st.readyz), ms(st.selfTold), ms(stop[len(stop)-1]))
	s.stop()
	return nil
}

// benchKind fills one namespace of a fresh server with one kind, size by
// size, and takes every figure at each size; then it restarts the server on
// the filled data dir. Each kind has its own server, so memory and etcd size
// are for that kind alone.
func benchKind(ctx context.Context, cfg config, root string, k kind, rep *report) error {
	dir := filepath.Join(root, k.resource)
	figures.Logf("%s: starting a fresh server", k.resource)
	s, _, err := startServer(ctx, cfg, dir)
	if err != nil {
		return err
	}
	defer func() { s.stop() }() // s changes on restart

	if err := sleep(ctx, 2*time.Second); err != nil {
		return err
	}
	addMemory(rep, s, k, "idle, 2 s after ready", 0)

	// One client for sequential requests, one for the watch, and cfg.clients
	// more for concurrent creates: each on its own connection.
	cs, err := s.client()
	if err != nil {
		return err
	}
	watcher, err := s.client()
	if err != nil {
		return err
	}
	clients := make([]kubernetes.Interface, cfg.clients)
	for i := range clients {
		if clients[i], err = s.client(); err != nil {
			return err
		}
	}
	p := &population{kind: k, ns: "bench"}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: p.ns}}, metav1.CreateOptions{}); err != nil {
		return err
	}

	for _, size := range cfg.sizes {
		if err := benchSize(ctx, cfg, s, cs, watcher, clients, p, size, rep); err != nil {
			return err
		}
	}
	// Memory compares only once the controllers have caught up with the
	// last creates.
	if k.resource == "services" {
		if err := waitForSlices(ctx, cs, p, rep); err != nil {
			return err
		}
	}
	if err := sleep(ctx, 2*time.Second); err != nil {
		return err
	}
	addMemory(rep, s, k, "after all of the above, 2 s later", p.n)
	// The server builds its OpenAPI documents when a client first asks,
	// as kubectl apply, explain and validation do: the index, then api/v1.
	paths, err := cs.Discovery().OpenAPIV3().Paths()
	if err != nil {
		return err
	}
	core, ok := paths["api/v1"]
	if !ok {
		return errors.New("/openapi/v3 does not list api/v1")
	}
	if _, err := core.Schema(runtime.ContentTypeJSON); err != nil {
		return err
	}
	if err := sleep(ctx, 2*time.Second); err != nil {
		return err
	}
	addMemory(rep, s, k, "then OpenAPI v3 read (as by kubectl apply), 2 s later", p.n)

	figures.Logf("%s: restart with %d objects", k.resource, p.n)
	stopped := s.stop()
	var st startTimes
	if s, st, err = startServer(ctx, cfg, dir); err != nil {
		return err
	}
	rep.restart.Add(k.resource, strconv.Itoa(p.n), ms(st.readyLine), ms(st.readyz), ms(st.selfTold), ms(stopped))
	return nil
}

// benchSize fills the namespace up to size objects and takes the figures
// there. The sequential creates and the throughput run add objects, so the
// next size starts from a little more than this one.
func benchSize(ctx context.Context, cfg config, s *server, cs, watcher kubernetes.Interface, clients []kubernetes.Interface, p *population, size int, rep *report) error {
	if size > p.n {
		before := p.n
		figures.Logf("%s: filling to %d", p.resource, size)
		d, err := createConcurrent(ctx, clients, p, size-p.n)
		if err != nil {
			return err
		}
		rep.throughput.Add(p.resource, "fill", strconv.Itoa(before), strconv.Itoa(size-before), fmt.Sprintf("%.2f", d.Seconds()), perSec(size-before, d))
		if p.resource == "services" {
			if err := waitForSlices(ctx, cs, p, rep); err != nil {
				return err
			}
		}
		if err := sleep(ctx, 2*time.Second); err != nil {
			return err
		}
	}
	addMemory(rep, s, p.kind, fmt.Sprintf("filled to %d, 2 s later", size), p.n)

	existing := strconv.Itoa(p.n)
	samples := min(size, cfg.samples)
	figures.Logf("%s @%d: %d gets", p.resource, p.n, samples)
	gets, err := measureGets(ctx, cs, p, samples)
	if err != nil {
		return err
	}
	lists := max(5, min(20, 20000/size))
	figures.Logf("%s @%d: %d lists", p.resource, p.n, lists)
	listDur, items, err := measureLists(ctx, cs, p, lists)
	if err != nil {
		return err
	}
	figures.Logf("%s @%d: %d sequential creates with a watch open", p.resource, p.n, samples)
	w, err := measureCreatesAndWatch(ctx, cs, watcher, p, samples)
	if err != nil {
		return err
	}
	rep.requests.Add(p.resource, existing, ms(figures.Pct(w.create, 50)), ms(figures.Pct(w.create, 99)),
		ms(figures.Pct(gets, 50)), ms(figures.Pct(gets, 99)), ms(figures.Pct(listDur, 50)), strconv.Itoa(items), strconv.Itoa(samples))
	rep.watch.Add(p.resource, existing, ms(figures.Pct(w.fromCall, 50)), ms(figures.Pct(w.fromCall, 99)),
		ms(figures.Pct(w.afterReturn, 50)), ms(figures.Pct(w.afterReturn, 99)), strconv.Itoa(len(w.fromCall)))

	// Throughput at this size: enough creates to last a while, starting with
	// about size objects existing.
	n, before := 2*samples, p.n
	figures.Logf("%s @%d: %d creates with %d clients", p.resource, p.n, n, len(clients))
	d, err := createConcurrent(ctx, clients, p, n)
	if err != nil {
		return err
	}
	rep.throughput.Add(p.resource, fmt.Sprintf("at %d", size), strconv.Itoa(before), strconv.Itoa(n), fmt.Sprintf("%.2f", d.Seconds()), perSec(n, d))
	return nil
}

// addMemory records the server's RSS and the etcd dir's size now.
func addMemory(rep *report, s *server, k kind, when string, objects int) {
	m, err := s.memory()
	if err != nil {
		figures.Logf("reading RSS: %v", err)
	}
	total, db := s.etcdSize()
	rep.memory.Add(k.resource, when, strconv.Itoa(objects), mib(m.rss<<10), mib(m.binary<<10), mib((m.rss-m.binary)<<10), mib(m.hwm<<10), mib(total), mib(db))
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// waitForSlices waits until the endpoint controllers have given every
// Service its EndpointSlice: they write two objects per new Service, and
// latencies sampled while they work through a fill measure that backlog,
// not the API.
func waitForSlices(ctx context.Context, cs kubernetes.Interface, p *population, rep *report) error {
	start := time.Now()
	for {
		list, err := cs.DiscoveryV1().EndpointSlices(p.ns).List(ctx, metav1.ListOptions{ResourceVersion: "0"})
		if err != nil {
			return err
		}
		if len(list.Items) >= p.n {
			rep.settle.Add(p.resource, strconv.Itoa(p.n), strconv.Itoa(len(list.Items)), fmt.Sprintf("%.2f", time.Since(start).Seconds()))
			return nil
		}
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
}

// Command proxy measures portway's data plane (the node agents' nftables
// proxy) in a real `portway up` cluster and prints the figures: requests per
// second and latency through a clusterIP and a nodePort against the same
// load sent straight to the pod, with keep-alive and with a new connection
// per request; time from creating a Service to its first successful
// connection with 10, 1,000 and 10,000 Services (5 endpoints each) already
// programmed; connection latency, agent memory, ruleset size, sync times
// and the cold start of a restarted agent at each of those scales. It never asserts anything. It needs root.
//
//	go run ./bench/proxy [-portway BIN] [-only throughput|scale] [-scales 10,1000,10000] [-samples 20] [-duration 5s] [-conns 8]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/portway/portway/bench/internal/figures"
)

type config struct {
	portway, portwaySource string
	only                   string
	scales                 []int
	samples                int
	duration               time.Duration
	conns                  int
	metrics                string
	flags                  string
	name                   string
}

var parts = figures.Parts[step]{
	{Name: "throughput", Step: benchThroughput},
	{Name: "scale", Step: benchScale},
}

// step takes one part's figures into the report.
type step func(ctx context.Context, cfg config, root string, rep *report) error

type report struct {
	throughput, apply, latency, cost, cold figures.Table
}

func newReport(cfg config) *report {
	dist := []string{"figure", "min", "p50", "p99", "max", "samples"}
	return &report{
		throughput: figures.Table{
			Title:  fmt.Sprintf("HTTP through the data plane: %d connections for %s per target and mode, in %d interleaved slices", cfg.conns, cfg.duration, rounds(cfg.duration)),
			Header: []string{"client in", "mode", "target", "req/s", "p50 ms", "p99 ms", "max ms", "> 200 ms", "errors", "req/s ÷ direct", "p99 ÷ direct"},
			Notes: []string{
				"serve-hostname pods on node 2, one per target (so targets do not share conntrack tuples); clusterIP and the pod IP are reached from node 1's network namespace (both cross the node network),",
				"the nodePort (on node 1, one hop more than direct; on node 2, the same path) and the pod IP from outside the cluster (the bridge side, as `curl NODE_IP:nodePort` would)",
				"keep-alive: each connection sends request after request; new-conn: a TCP connection per request (connect + GET + close)",
			},
		},
		apply: figures.Table{
			Title:  "Service create → first successful HTTP GET through its clusterIP (ms)",
			Header: dist,
			Notes: []string{
				"one node; 5 serve-hostname pods; N Services, each selecting the 5 pods, already programmed before the samples",
				"from just before the create call to the first 200 answer of GET clusterIP:80 from the node's network namespace (tried every 2 ms, 20 ms per try)",
				"each sample after 0.5 s without changes (and the previous sample's Service deleted)",
			},
		},
		latency: figures.Table{
			Title:  "Per-request cost as the number of Services grows: one new TCP connection + GET through a clusterIP (ms)",
			Header: dist,
			Notes:  []string{"sequential, from the node's network namespace, to the first Service created; nftables verdict maps make this independent of N"},
		},
		cost: figures.Table{
			Title:  "Proxy cost at each scale",
			Header: []string{"services", "endpoints", "nft ruleset lines", "nft ruleset KiB", "partial syncs", "partial sync mean ms", "full syncs", "full sync mean ms", "agent RSS MiB"},
			Notes: []string{
				"ruleset: `nft list table ip portway` in the node's namespace; syncs: from the agent's /metrics (kubeproxy_sync_*_duration_seconds) while the Services were created",
				"agent RSS includes the pod runtime and the node agent, not only the proxy",
			},
		},
		cold: figures.Table{
			Title:  "Cold start and memory with all Services programmed",
			Header: []string{"services", "agent: start → traffic ms", "agent RSS MiB", "proxy-only: start → synced ms", "proxy-only RSS MiB"},
			Notes: []string{
				"agent: the node's agent gets SIGTERM (a clean exit removes its nftables table), then the same command starts again in the node's namespace;",
				"timed from the new process's start to the first 200 of GET clusterIP:80 of the first Service (tried every 10 ms, 20 ms per try); it lists all Services and EndpointSlices and writes the whole table first; RSS then",
				"proxy-only: `portway agent --proxy-only` (what compares with kube-proxy) started in the cluster's outer namespace, timed to its first full sync (/healthz 200); RSS then,",
				"and of it the anonymous memory (heap, stacks): the rest are pages of the 110 MB portway binary, shared with every portway process on the machine",
			},
		},
	}
}

func (r *report) print() {
	for _, t := range []*figures.Table{&r.throughput, &r.apply, &r.latency, &r.cost, &r.cold} {
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
	var scales string
	flag.StringVar(&cfg.portway, "portway", "", "portway binary to measure (default: go build ./cmd/portway into a temp dir; run from the repo)")
	flag.StringVar(&cfg.only, "only", "", "run one part only: "+strings.Join(parts.Names(), "|"))
	flag.StringVar(&scales, "scales", "10,1000,10000", "numbers of Services for the scale part, ascending")
	flag.IntVar(&cfg.samples, "samples", 20, "Service creates timed at each scale")
	flag.DurationVar(&cfg.duration, "duration", 5*time.Second, "load time per target and mode")
	flag.IntVar(&cfg.conns, "conns", 8, "concurrent connections of the load")
	flag.StringVar(&cfg.metrics, "metrics", "127.0.0.1:10249", "the agent's metrics address, inside its node's namespace")
	flag.Parse()
	if flag.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", flag.Args())
	}
	for _, s := range strings.Split(scales, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || (len(cfg.scales) > 0 && n <= cfg.scales[len(cfg.scales)-1]) {
			return cfg, fmt.Errorf("-scales %q: want ascending positive numbers", scales)
		}
		cfg.scales = append(cfg.scales, n)
	}
	cfg.flags = figures.Flags()
	if err := parts.Check(cfg.only); err != nil {
		return cfg, err
	}
	if cfg.samples < 1 || cfg.duration <= 0 || cfg.conns < 1 {
		return cfg, errors.New("-samples, -duration and -conns must be positive")
	}
	if os.Geteuid() != 0 {
		return cfg, errors.New("needs root: portway up creates network namespaces and links")
	}
	// Cluster names prefix links (at most 10 characters); the pid keeps a
	// run's names apart from another run's and from the e2e tests' (pwt...).
	cfg.name = fmt.Sprintf("pwx%d", os.Getpid()%10000)
	return cfg, nil
}

func run(ctx context.Context, cfg config) error {
	root, err := os.MkdirTemp("", "portway-bench-proxy-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	if cfg.portway, cfg.portwaySource, err = figures.BuildPortway(ctx, cfg.portway, root); err != nil {
		return err
	}
	fmt.Println("# portway data plane benchmark")
	fmt.Println()
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	figures.Machine(tw, cfg.portway, cfg.portwaySource)
	fmt.Fprintf(tw, "portway commit\t%s\n", figures.GitCommit())
	fmt.Fprintf(tw, "command\t%s\n", strings.Join(os.Args, " "))
	fmt.Fprintf(tw, "flags\t%s\n", cfg.flags)
	tw.Flush()

	rep := newReport(cfg)
	defer rep.print()
	return parts.Run(ctx, cfg.only, func(ctx context.Context, f step) error { return f(ctx, cfg, root, rep) })
}

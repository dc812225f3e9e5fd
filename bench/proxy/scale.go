package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/common/expfmt"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/portway/portway/bench/internal/figures"
	"github.com/portway/portway/bench/internal/upcluster"
	"github.com/portway/portway/internal/cluster"
	"github.com/portway/portway/internal/namespaces"
)

// allBackends selects the 5 backend pods.
var allBackends = map[string]string{"app": app}

const (
	endpointsPerService = 5
	creators            = 32 // concurrent Service creates while filling
	latencySamples      = 200
	quiet               = 500 * time.Millisecond
)

// benchScale grows one node's Services through cfg.scales and, at each
// scale, times new Services to their first connection and reads what the
// proxy costs.
func benchScale(ctx context.Context, cfg config, root string, rep *report) (err error) {
	return upcluster.Run(ctx, upcluster.Options{Portway: cfg.portway, Name: cfg.name + "s", DataDir: filepath.Join(root, "scale"), Nodes: 1}, func(c *upcluster.Cluster, cs kubernetes.Interface) error {
		node := c.NodeNetns(1)
		var pods []*corev1.Pod
		for i := range endpointsPerService {
			pods = append(pods, servePod(fmt.Sprintf("backend-%d", i), ""))
		}
		if _, err := createPods(ctx, cs, pods...); err != nil {
			return err
		}
		// Before its rules exist a Service's SYN is lost, not refused: a short
		// timeout per try keeps the figure from measuring the timeout.
		probe := httpClient(node, false, 1, 20*time.Millisecond)
		have := 0
		var first string // the first Service's URL, for the latency rows
		for _, n := range cfg.scales {
			figures.Logf("scale: creating Services %d..%d", have, n-1)
			before, err := scrape(node, cfg.metrics)
			if err != nil {
				return err
			}
			last, err := createServices(ctx, cs, have, n)
			if err != nil {
				return err
			}
			if first == "" {
				first = last[0]
			}
			have = n
			// The proxy has caught up once the newest Service answers.
			if _, err := firstOK(ctx, probe, last[len(last)-1], 10*time.Millisecond, 5*time.Minute); err != nil {
				return fmt.Errorf("with %d Services: %w", n, err)
			}
			after, err := scrape(node, cfg.metrics)
			if err != nil {
				return err
			}

			figures.Logf("scale: %d Services: timing %d creates", n, cfg.samples)
			var apply []time.Duration
			for k := range cfg.samples {
				d, err := createToFirstOK(ctx, cs, probe, fmt.Sprintf("probe-%d-%d", n, k))
				if err != nil {
					return fmt.Errorf("with %d Services: %w", n, err)
				}
				apply = append(apply, d)
				// A quiet spell, as between a user's applies: the proxy
				// bounds its sync rate (kube-proxy's --min-sync-period), and
				// the delete just made is a change it syncs too.
				time.Sleep(quiet)
			}
			rep.apply.Dist(fmt.Sprintf("%d Services", n), apply)

			var lat []time.Duration
			for range latencySamples {
				t0 := time.Now()
				if err := get(ctx, probe, first); err != nil {
					return fmt.Errorf("with %d Services, GET %s: %w", n, first, err)
				}
				lat = append(lat, time.Since(t0))
			}
			rep.latency.Dist(fmt.Sprintf("%d Services", n), lat)

			// Cold start: the agent stops cleanly (its table goes with it)
			// and a new one must list every Service and EndpointSlice and
			// write the whole table before the first Service answers again.
			figures.Logf("scale: %d Services: restarting the agent", n)
			started, err := cluster.RestartAgent(c.DataDir(), node)
			if err != nil {
				return err
			}
			at, err := firstOK(ctx, probe, first, 10*time.Millisecond, 5*time.Minute)
			if err != nil {
				return fmt.Errorf("with %d Services, after the agent restarted: %w", n, err)
			}
			cold := at.Sub(started)
			// and the table is whole once the newest Service answers too
			if _, err := firstOK(ctx, probe, last[len(last)-1], 10*time.Millisecond, 5*time.Minute); err != nil {
				return fmt.Errorf("with %d Services, after the agent restarted: %w", n, err)
			}
			figures.Logf("scale: %d Services: a proxy-only agent", n)
			synced, rss, err := proxyOnly(ctx, c, cfg.portway)
			if err != nil {
				return fmt.Errorf("with %d Services: %w", n, err)
			}
			rep.cold.Add(strconv.Itoa(n), fmt.Sprintf("%.0f", float64(cold.Microseconds())/1000), agentRSS(node),
				fmt.Sprintf("%.0f", float64(synced.Microseconds())/1000), rss)

			lines, bytes, err := ruleset(node)
			if err != nil {
				return err
			}
			partial, full := after.delta(before, "partial"), after.delta(before, "full")
			rep.cost.Add(strconv.Itoa(n), strconv.Itoa(n*endpointsPerService), strconv.Itoa(lines), fmt.Sprintf("%.0f", float64(bytes)/1024),
				partial.countString(), partial.meanMs(), full.countString(), full.meanMs(), agentRSS(node))
		}
		return nil
	})
}

// createServices creates Services svc-from … svc-(to-1) and returns their
// clusterIP URLs.
func createServices(ctx context.Context, cs kubernetes.Interface, from, to int) ([]string, error) {
	urls := make([]string, to-from)
	next := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range creators {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				s, err := cs.CoreV1().Services(ns).Create(ctx, service(fmt.Sprintf("svc-%05d", i), corev1.ServiceTypeClusterIP, allBackends), metav1.CreateOptions{})
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					continue
				}
				urls[i-from] = "http://" + s.Spec.ClusterIP + ":80/"
			}
		}()
	}
	for i := from; i < to && ctx.Err() == nil; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return urls, firstErr
}

// createToFirstOK creates a Service, times it to its first 200 through the
// clusterIP, and deletes it again so the scale stays what it says.
func createToFirstOK(ctx context.Context, cs kubernetes.Interface, probe *http.Client, name string) (time.Duration, error) {
	t0 := time.Now()
	s, err := cs.CoreV1().Services(ns).Create(ctx, service(name, corev1.ServiceTypeClusterIP, allBackends), metav1.CreateOptions{})
	if err != nil {
		return 0, err
	}
	at, err := firstOK(ctx, probe, "http://"+s.Spec.ClusterIP+":80/", 2*time.Millisecond, time.Minute)
	if err != nil {
		return 0, err
	}
	return at.Sub(t0), cs.CoreV1().Services(ns).Delete(ctx, name, metav1.DeleteOptions{})
}

// proxyOnly runs `portway agent --proxy-only` for node 1 in the cluster's
// outer namespace, where no other proxy runs (its table there is in no
// node's path), as kube-proxy would run; it returns the time from its start
// to its first full sync (its /healthz answers 200 from then on) and its
// RSS in MiB then (and of that, its anonymous memory), and stops it.
func proxyOnly(ctx context.Context, c *upcluster.Cluster, portway string) (time.Duration, string, error) {
	log, err := os.Create(filepath.Join(c.DataDir(), "logs", "proxy-only.log"))
	if err != nil {
		return 0, "", err
	}
	defer log.Close()
	cmd := exec.Command(portway, "agent", "--proxy-only", "--kubeconfig", filepath.Join(c.DataDir(), "kubeconfig"),
		"--node-name", c.NodeNetns(1))
	cmd.Stdout, cmd.Stderr = log, log
	t0 := time.Now()
	if err := c.Do(cmd.Start); err != nil {
		return 0, "", err
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	at, err := firstOK(ctx, httpClient(c.Netns, false, 1, time.Second), "http://127.0.0.1:10256/healthz", 10*time.Millisecond, 5*time.Minute)
	if err != nil {
		return 0, "", fmt.Errorf("proxy-only agent (log: %s): %w", log.Name(), err)
	}
	took := at.Sub(t0)
	pid := cmd.Process.Pid
	return took, fmt.Sprintf("%.1f (anon %.1f)", float64(upcluster.RSSKB(pid))/1024, float64(upcluster.AnonKB(pid))/1024), nil
}

// ruleset is the size of the proxy's table in the node's namespace.
func ruleset(node string) (lines, bytes int, err error) {
	var out []byte
	err = namespaces.Do(namespaces.Path(node), func() (err error) {
		out, err = exec.Command("nft", "list", "table", "ip", "portway").Output()
		return err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("nft list table ip portway in %s: %w", node, err)
	}
	return strings.Count(string(out), "\n"), len(out), nil
}

// agentRSS is node's agent's resident memory, in MiB.
func agentRSS(node string) string {
	pid, _, err := cluster.AgentProcess(node)
	if err != nil {
		return "?"
	}
	return fmt.Sprintf("%.1f", float64(upcluster.RSSKB(pid))/1024)
}

// syncs are the proxy's sync histograms at one moment: count and sum of
// seconds, by kind ("full", "partial").
type syncs map[string][2]float64

type syncDelta struct{ count, sum float64 }

func (s syncs) delta(before syncs, kind string) syncDelta {
	return syncDelta{s[kind][0] - before[kind][0], s[kind][1] - before[kind][1]}
}

func (d syncDelta) countString() string { return fmt.Sprintf("%.0f", d.count) }

func (d syncDelta) meanMs() string {
	if d.count == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", 1000*d.sum/d.count)
}

// scrape reads the agent's sync histograms from its metrics endpoint.
func scrape(node, addr string) (syncs, error) {
	resp, err := httpClient(node, false, 1, 5*time.Second).Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, fmt.Errorf("metrics of the agent in %s: %w", node, err)
	}
	defer resp.Body.Close()
	families, err := (&expfmt.TextParser{}).TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("metrics of the agent in %s: %w", node, err)
	}
	out := syncs{}
	for kind, name := range map[string]string{
		"full":    "kubeproxy_sync_full_proxy_rules_duration_seconds",
		"partial": "kubeproxy_sync_partial_proxy_rules_duration_seconds",
	} {
		f, ok := families[name]
		if !ok || len(f.Metric) == 0 || f.Metric[0].Histogram == nil {
			return nil, fmt.Errorf("metrics of the agent in %s: no histogram %s", node, name)
		}
		h := f.Metric[0].Histogram
		out[kind] = [2]float64{float64(h.GetSampleCount()), h.GetSampleSum()}
	}
	return out, nil
}

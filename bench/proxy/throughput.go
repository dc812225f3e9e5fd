package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/portway/portway/bench/internal/figures"
	"github.com/portway/portway/bench/internal/upcluster"
	"github.com/portway/portway/internal/nodeinfo"
)

// slowRequest is the latency above which a request is counted as slow: a
// lost SYN costs a 1 s retransmit.
const slowRequest = 200 * time.Millisecond

// slice is about how long each target is loaded before the next one's
// turn (at least this, by how -duration divides): short, so that a
// disturbance of the machine (2 cores shared by client, server and kernel)
// falls on every target alike.
const slice = 500 * time.Millisecond

// rounds is how many slices each target's load of d is cut into.
func rounds(d time.Duration) int { return max(1, int(d/slice)) }

// benchThroughput loads one pod straight, through its clusterIP and
// through its nodePort, in the same cluster and run.
func benchThroughput(ctx context.Context, cfg config, root string, rep *report) (err error) {
	return upcluster.Run(ctx, upcluster.Options{Portway: cfg.portway, Name: cfg.name + "t", DataDir: filepath.Join(root, "throughput"), Nodes: 2}, func(c *upcluster.Cluster, cs kubernetes.Interface) error {
		node1, node2 := c.NodeNetns(1), c.NodeNetns(2)
		n1, err := cs.CoreV1().Nodes().Get(ctx, node1, metav1.GetOptions{})
		if err != nil {
			return err
		}
		n2, err := cs.CoreV1().Nodes().Get(ctx, node2, metav1.GetOptions{})
		if err != nil {
			return err
		}
		// Each target has a pod of its own (all alike, all on node 2): a
		// pod shared by two paths from node 1 (direct, and masqueraded to
		// node 1's address) would see one client port from two client
		// sockets, whose TCP timestamps differ, and its TIME_WAIT check
		// would drop some SYNs, which is the benchmark's doing, not the
		// proxy's.
		names := []string{"direct", "cip", "np1", "np2"}
		var pods []*corev1.Pod
		for _, n := range names {
			pods = append(pods, servePod(n, node2))
		}
		if pods, err = createPods(ctx, cs, pods...); err != nil {
			return err
		}
		svcs := map[string]*corev1.Service{}
		for _, n := range names[1:] {
			s := service(n, corev1.ServiceTypeNodePort, map[string]string{"name": n})
			if svcs[n], err = cs.CoreV1().Services(ns).Create(ctx, s, metav1.CreateOptions{}); err != nil {
				return err
			}
		}
		url := func(ip string, port int32) string {
			return "http://" + net.JoinHostPort(ip, strconv.Itoa(int(port))) + "/"
		}
		direct := url(pods[0].Status.PodIP, servePort)
		type target struct {
			from, name, url string
			ratioTo         int // index of the direct row it is compared with; -1 for a direct row
		}
		targets := []target{
			{node1, "pod IP (direct)", direct, -1},
			{node1, "clusterIP", url(svcs["cip"].Spec.ClusterIP, 80), 0},
			{c.Netns, "pod IP (direct)", direct, -1},
			{c.Netns, "nodePort, node 1", url(nodeinfo.InternalIP(n1), svcs["np1"].Spec.Ports[0].NodePort), 2},
			{c.Netns, "nodePort, node 2 (the pod's)", url(nodeinfo.InternalIP(n2), svcs["np2"].Spec.Ports[0].NodePort), 2},
		}
		for _, t := range targets {
			if _, err := firstOK(ctx, httpClient(t.from, false, 1, time.Second), t.url, 10*time.Millisecond, time.Minute); err != nil {
				return fmt.Errorf("%s from %s: %w", t.name, t.from, err)
			}
		}
		for _, keepAlive := range []bool{true, false} {
			mode := map[bool]string{true: "keep-alive", false: "new-conn"}[keepAlive]
			// Slices of the load go to each target in turn.
			results := make([]loadResult, len(targets))
			clients := make([]*http.Client, len(targets))
			for i, t := range targets {
				clients[i] = httpClient(t.from, keepAlive, cfg.conns, 5*time.Second)
				load(ctx, clients[i], t.url, cfg.conns, 500*time.Millisecond) // warm up
			}
			n := rounds(cfg.duration)
			figures.Logf("throughput: %s, %d rounds over the %d targets", mode, n, len(targets))
			for range n {
				for i, t := range targets {
					r := load(ctx, clients[i], t.url, cfg.conns, cfg.duration/time.Duration(n))
					results[i].add(r)
					if ctx.Err() != nil {
						return ctx.Err()
					}
				}
			}
			for _, cl := range clients {
				cl.CloseIdleConnections()
			}
			for i, t := range targets {
				r := results[i]
				p50, p99 := figures.Pct(r.latencies, 50), figures.Pct(r.latencies, 99)
				ratio, p99Ratio := "", ""
				if t.ratioTo >= 0 {
					d := results[t.ratioTo]
					ratio = fmt.Sprintf("%.3f", r.perSecond()/d.perSecond())
					p99Ratio = fmt.Sprintf("%.3f", float64(p99)/float64(figures.Pct(d.latencies, 99)))
				}
				where := "node 1"
				if t.from == c.Netns {
					where = "outside"
				}
				errs := strconv.Itoa(r.errors)
				if r.firstErr != nil {
					errs += " (" + r.firstErr.Error() + ")"
				}
				slow := 0
				for _, l := range r.latencies {
					if l > slowRequest {
						slow++
					}
				}
				rep.throughput.Add(where, mode, t.name, fmt.Sprintf("%.0f", r.perSecond()), ms(p50), ms(p99),
					ms(figures.Pct(r.latencies, 100)), strconv.Itoa(slow), errs, ratio, p99Ratio)
			}
		}
		return nil
	})
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }

// Command exec measures `kubectl exec` round trips against a portway
// cluster (`portway up --nodes 2`): the real kubectl running `true` in a pod
// (process start, discovery cache, TLS, upgrade, exec, exit status), and
// the same exec from client-go in this process over SPDY and WebSocket (the
// API server's proxy and the agent alone). It prints figures and asserts
// nothing. It needs root (portway up does).
//
//	go run ./bench/exec [-portway BIN] [-kubectl N] [-clientgo N]
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/remotecommand"

	"github.com/portway/portway/bench/internal/figures"
	"github.com/portway/portway/bench/internal/upcluster"
)

func main() {
	bin := flag.String("portway", "", "portway binary to measure (default: go build ./cmd/portway into a temp dir; run from the repo)")
	kubectlRuns := flag.Int("kubectl", 20, "`kubectl exec P -- true` runs")
	clientgoRuns := flag.Int("clientgo", 100, "client-go exec round trips per protocol")
	flag.Parse()
	figures.Main(func(ctx context.Context) error { return run(ctx, *bin, *kubectlRuns, *clientgoRuns) })
}

func run(ctx context.Context, bin string, kubectlRuns, clientgoRuns int) error {
	dir, err := os.MkdirTemp("", "portway-bench-exec-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin, source, err := figures.BuildPortway(ctx, bin, dir)
	if err != nil {
		return err
	}
	data := filepath.Join(dir, "data")
	c, err := upcluster.Start(ctx, upcluster.Options{Portway: bin, Name: fmt.Sprintf("pwe%d", os.Getpid()%10000), DataDir: data, Nodes: 2})
	if err != nil {
		return err
	}
	defer func() {
		if err := c.Stop(); err != nil {
			figures.Logf("stopping the cluster: %v", err)
		}
	}()
	kubeconfig := filepath.Join(data, "kubeconfig")
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	cfg.Dial = func(ctx context.Context, network, addr string) (conn net.Conn, err error) {
		err = c.Do(func() (err error) {
			conn, err = (&net.Dialer{}).DialContext(ctx, network, addr)
			return err
		})
		return conn, err
	}
	client, err := upcluster.NewClient(rest.CopyConfig(cfg))
	if err != nil {
		return err
	}
	pod, err := runningPod(ctx, client)
	if err != nil {
		return fmt.Errorf("%w\n%s", err, c.Logs())
	}

	dist := []string{"figure", "min", "p50", "p99", "max", "samples"}
	t := figures.Table{Title: "exec round trip: `true` in a running pod (ms)", Header: dist, Notes: []string{
		"kubectl: the whole `kubectl exec P -- true` process, from start to exit, discovery cached (one warm-up run first)",
		"client-go: one StreamWithContext with stdout and stderr (a new connection each), SPDY or WebSocket (v5.channel.k8s.io, translated to SPDY by the API server)",
	}}
	defer func() {
		tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
		figures.Machine(tw, bin, source)
		tw.Flush()
		t.Print(os.Stdout)
	}()

	kubectl := func() (time.Duration, error) {
		cmd := exec.CommandContext(ctx, "kubectl", "--cache-dir", filepath.Join(dir, "kubectl-cache"), "exec", pod.Name, "--", "true")
		cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		err := c.Do(cmd.Start)
		if err == nil {
			err = cmd.Wait()
		}
		if err != nil {
			return 0, fmt.Errorf("kubectl exec: %w: %s", err, out.String())
		}
		return time.Since(start), nil
	}
	figures.Logf("kubectl exec × %d", kubectlRuns)
	if _, err := kubectl(); err != nil {
		return err
	}
	var took []time.Duration
	for range kubectlRuns {
		d, err := kubectl()
		if err != nil {
			return err
		}
		took = append(took, d)
	}
	t.Dist("kubectl exec P -- true", took)

	req := client.CoreV1().RESTClient().Post().Resource("pods").Namespace(pod.Namespace).Name(pod.Name).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Command: []string{"true"}, Stdout: true, Stderr: true}, scheme.ParameterCodec)
	spdy, err := remotecommand.NewSPDYExecutor(cfg, "POST", req.URL())
	if err != nil {
		return err
	}
	ws, err := remotecommand.NewWebSocketExecutor(cfg, "GET", req.URL().String())
	if err != nil {
		return err
	}
	for _, e := range []struct {
		name string
		exec remotecommand.Executor
	}{{"client-go SPDY", spdy}, {"client-go WebSocket", ws}} {
		figures.Logf("%s × %d", e.name, clientgoRuns)
		var took []time.Duration
		for range clientgoRuns {
			var out bytes.Buffer
			start := time.Now()
			// The executors dial in the calling goroutine: on a thread
			// in the cluster's namespace.
			err := c.Do(func() error {
				return e.exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &out, Stderr: &out})
			})
			if err != nil {
				return fmt.Errorf("%s: %w: %s", e.name, err, out.String())
			}
			took = append(took, time.Since(start))
		}
		t.Dist(e.name, took)
	}
	return nil
}

// runningPod creates an agnhost pod and waits for it to run.
func runningPod(ctx context.Context, client kubernetes.Interface) (*corev1.Pod, error) {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "exec-bench", Namespace: "default"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "web", Image: "registry.k8s.io/e2e-test-images/agnhost:2.40", Command: []string{"/agnhost", "serve-hostname"},
		}}},
	}
	if _, err := client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
		return nil, err
	}
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		got, err := client.CoreV1().Pods("default").Get(ctx, p.Name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		p = got
		return p.Status.Phase == corev1.PodRunning, nil
	})
	if err != nil {
		return nil, fmt.Errorf("pod %s not running: %w (%s)", p.Name, err, strings.TrimSpace(p.Status.Message))
	}
	return p, nil
}

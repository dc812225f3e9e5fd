// Package upcluster runs `portway up` for the benchmarks, each cluster in a
// throwaway network namespace of its own, so its bridge and routes never
// touch the host's network (and clusters of the e2e tests or a developer's
// pw0 are left alone).
package upcluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/portway/portway/bench/internal/figures"
	"github.com/portway/portway/internal/namespaces"
)

// Options says which cluster to start.
type Options struct {
	Portway string // the binary
	Name    string // --name; at most 10 characters
	DataDir string
	Nodes   int
	Extra   []string // more flags for up
}

// Cluster is one running `portway up`.
type Cluster struct {
	opts    Options
	Netns   string // the throwaway namespace up runs in (its "host")
	logPath string // up's stdout and stderr
	cmd     *exec.Cmd
	exited  chan struct{}
	exitErr error

	Ready    time.Duration // exec → `export KUBECONFIG=` line
	SelfTold time.Duration // the "up in X" up printed about itself
	stopped  bool
}

// Start runs `portway up` in a new network namespace and returns once it
// printed its `export KUBECONFIG=` line. On error it has cleaned up after
// itself.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	c := &Cluster{opts: opts, Netns: opts.Name + "-bench", logPath: opts.DataDir + ".up.log", exited: make(chan struct{})}
	if err := namespaces.Create(c.Netns); err != nil {
		return nil, fmt.Errorf("creating network namespace %s: %w", c.Netns, err)
	}
	if err := namespaces.LoopbackUp(c.Netns); err != nil {
		c.Stop()
		return nil, err
	}
	logFile, err := os.Create(c.logPath)
	if err != nil {
		c.Stop()
		return nil, err
	}
	args := append([]string{"up", "--name", opts.Name, "--nodes", fmt.Sprint(opts.Nodes),
		"--data-dir", opts.DataDir, "--unsafe-no-fsync"}, opts.Extra...)
	c.cmd = exec.Command(opts.Portway, args...)
	c.cmd.Stderr = logFile
	// Own process group: a Ctrl-C on the terminal reaches only the
	// benchmark, which then stops `up` with SIGINT itself and times it.
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		logFile.Close()
		c.Stop()
		return nil, err
	}
	readyLine := make(chan struct{})
	t0 := time.Now()
	if err := c.Do(c.cmd.Start); err != nil {
		logFile.Close()
		c.cmd = nil
		c.Stop()
		return nil, fmt.Errorf("starting portway up: %w", err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logFile, line)
			if _, rest, ok := strings.Cut(line, " up in "); ok && strings.HasPrefix(line, "portway cluster ") {
				if f := strings.Fields(rest); len(f) > 0 {
					c.SelfTold, _ = time.ParseDuration(strings.TrimSuffix(f[0], ":"))
				}
			}
			if strings.HasPrefix(line, "export KUBECONFIG=") {
				c.Ready = time.Since(t0)
				close(readyLine)
			}
		}
		c.exitErr = c.cmd.Wait()
		logFile.Close() // the stdout lines go here too, until up exits
		close(c.exited)
	}()
	select {
	case <-readyLine:
		return c, nil
	case <-c.exited:
		err = fmt.Errorf("portway up exited before its nodes were Ready: %v%s", c.exitErr, c.Logs())
	case <-time.After(3 * time.Minute):
		err = fmt.Errorf("portway up: nodes not Ready after 3 min%s", c.Logs())
	case <-ctx.Done():
		err = ctx.Err()
	}
	if serr := c.Stop(); serr != nil {
		figures.Logf("%v", serr)
	}
	return nil, err
}

// Run starts a cluster, runs fn with it and a client of it, and stops it,
// however fn ends; an error stopping is returned when fn had none.
func Run(ctx context.Context, opts Options, fn func(c *Cluster, cs kubernetes.Interface) error) (err error) {
	c, err := Start(ctx, opts)
	if err != nil {
		return err
	}
	defer func() {
		if serr := c.Stop(); serr != nil && err == nil {
			err = serr
		}
	}()
	cs, err := c.Client()
	if err != nil {
		return err
	}
	return fn(c, cs)
}

// Do runs fn on a thread in the cluster's throwaway namespace: processes it
// starts and sockets it opens live there.
func (c *Cluster) Do(fn func() error) error { return namespaces.Do(namespaces.Path(c.Netns), fn) }

// DataDir is the cluster's --data-dir.
func (c *Cluster) DataDir() string { return c.opts.DataDir }

// UpPID is the pid of `portway up`, which also runs the control plane.
func (c *Cluster) UpPID() int { return c.cmd.Process.Pid }

// NodeNetns is the network namespace of node i (1-based).
func (c *Cluster) NodeNetns(i int) string { return fmt.Sprintf("%s-node%d", c.opts.Name, i) }

// Stop tears the cluster down as Ctrl-C does (SIGINT to `up`, which
// removes its nodes, pods and links), waits for `up` to exit, then removes
// the throwaway namespace. Whatever `up` failed to remove is removed here,
// and reported. It runs once.
func (c *Cluster) Stop() error {
	_, err := c.StopTimed()
	return err
}

// StopTimed is Stop, returning how long `up` took to exit after SIGINT.
func (c *Cluster) StopTimed() (time.Duration, error) {
	if c == nil || c.stopped {
		return 0, nil
	}
	c.stopped = true
	var took time.Duration
	var errs []error
	if c.cmd != nil && c.cmd.Process != nil {
		figures.Logf("stopping cluster %s (SIGINT)", c.opts.Name)
		t0 := time.Now()
		_ = c.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-c.exited:
			took = time.Since(t0)
			if c.exitErr != nil {
				errs = append(errs, fmt.Errorf("portway up after SIGINT: %v%s", c.exitErr, c.Logs()))
			}
		case <-time.After(2 * time.Minute):
			_ = c.cmd.Process.Kill()
			<-c.exited
			errs = append(errs, fmt.Errorf("portway up did not exit within 2 min of SIGINT; killed it%s", c.Logs()))
			// With no live `up`, `down` removes what it left: namespaces,
			// links, processes.
			down := exec.Command(c.opts.Portway, "down", "--name", c.opts.Name, "--data-dir", c.opts.DataDir)
			down.Stdout, down.Stderr = os.Stderr, os.Stderr
			if err := c.Do(down.Run); err != nil {
				errs = append(errs, fmt.Errorf("portway down: %w", err))
			}
		}
	}
	for _, p := range ProcessesMentioning(c.opts.DataDir) {
		errs = append(errs, fmt.Errorf("process left behind, killed: %d %s", p.PID, strings.Join(p.Args, " ")))
		_ = syscall.Kill(p.PID, syscall.SIGKILL)
	}
	entries, _ := os.ReadDir(namespaces.Dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), c.opts.Name+"-node") {
			errs = append(errs, fmt.Errorf("network namespace %s left behind, removed", e.Name()))
			_ = namespaces.Delete(e.Name())
		}
	}
	if err := namespaces.Delete(c.Netns); err != nil {
		errs = append(errs, fmt.Errorf("removing network namespace %s: %w", c.Netns, err))
	}
	return took, errors.Join(errs...)
}

// Client is a clientset on the cluster's admin kubeconfig. The API server
// listens on the bridge, which exists only in the throwaway namespace, so
// connections are dialled from there. QPS/Burst are high so client-side
// rate limiting does not shape the figures.
func (c *Cluster) Client() (kubernetes.Interface, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(c.opts.DataDir, "kubeconfig"))
	if err != nil {
		return nil, err
	}
	cfg.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		var conn net.Conn
		err := c.Do(func() (err error) {
			conn, err = (&net.Dialer{}).DialContext(ctx, network, addr)
			return err
		})
		return conn, err
	}
	return NewClient(cfg)
}

// NewClient is a clientset on cfg without client-side rate limits or
// proxies.
func NewClient(cfg *rest.Config) (kubernetes.Interface, error) {
	cfg.QPS, cfg.Burst = 5000, 5000
	cfg.Proxy = func(*http.Request) (*url.URL, error) { return nil, nil }
	return kubernetes.NewForConfig(cfg)
}

// Logs is the end of up's output and of every agent's log, for errors.
func (c *Cluster) Logs() string {
	var b strings.Builder
	b.WriteString(TailOf(c.logPath, "portway up", 20))
	for i := 1; i <= c.opts.Nodes; i++ {
		node := c.NodeNetns(i)
		log := filepath.Join(c.opts.DataDir, "logs", node+".log")
		b.WriteString(TailOf(log, node+" agent ("+log+")", 20))
	}
	return b.String()
}

// TailOf is the last n lines of the file at path, headed by what.
func TailOf(path, what string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	lines = lines[max(0, len(lines)-n):]
	return fmt.Sprintf("\n--- %s, last %d lines:\n%s", what, len(lines), strings.Join(lines, "\n"))
}

// KeepLogs copies up's output and the agents' logs out of the data dir,
// which goes at the end, when a part saw something go wrong; it returns
// where they are.
func (c *Cluster) KeepLogs(bench, part string) string {
	dest := filepath.Join(os.TempDir(), fmt.Sprintf("portway-bench-%s-logs-%d", bench, os.Getpid()), part)
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return fmt.Sprintf("nowhere (%v)", err)
	}
	files, _ := filepath.Glob(filepath.Join(c.opts.DataDir, "logs", "*.log"))
	for _, f := range append(files, c.logPath) {
		if b, err := os.ReadFile(f); err == nil {
			_ = os.WriteFile(filepath.Join(dest, filepath.Base(f)), b, 0o644)
		}
	}
	return dest
}

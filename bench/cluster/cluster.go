package main

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

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/portway/portway/internal/namespaces"
)

// cluster is one `portway up` running in a throwaway network namespace of
// its own, so its bridge and routes never touch the host's network (and
// clusters of the e2e tests or a developer's pw0 are left alone).
type cluster struct {
	cfg     config
	name    string
	netns   string
	dataDir string
	logPath string // up's stdout and stderr
	cmd     *exec.Cmd
	exited  chan struct{}
	exitErr error

	ready    time.Duration // exec → `export KUBECONFIG=` line
	selfTold time.Duration // the "up in X" up printed about itself
	stopped  bool
}

// startCluster runs `portway up --nodes n` in a new network namespace and
// data dir and returns once it printed its `export KUBECONFIG=` line. On
// error it has cleaned up after itself.
func startCluster(ctx context.Context, cfg config, name, dataDir string, n int) (*cluster, error) {
	c := &cluster{cfg: cfg, name: name, netns: name + "-bench", dataDir: dataDir,
		logPath: dataDir + ".up.log", exited: make(chan struct{})}
	if err := namespaces.Create(c.netns); err != nil {
		return nil, fmt.Errorf("creating network namespace %s: %w", c.netns, err)
	}
	if err := setLoopbackUp(c.netns); err != nil {
		c.stop()
		return nil, err
	}
	logFile, err := os.Create(c.logPath)
	if err != nil {
		c.stop()
		return nil, err
	}
	c.cmd = exec.Command(cfg.portway, "up", "--name", name, "--nodes", fmt.Sprint(n),
		"--data-dir", dataDir, "--unsafe-no-fsync")
	c.cmd.Stderr = logFile
	// Own process group: a Ctrl-C on the terminal reaches only the
	// benchmark, which then stops `up` with SIGINT itself and times it.
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		logFile.Close()
		c.stop()
		return nil, err
	}
	readyLine := make(chan struct{})
	t0 := time.Now()
	if err := namespaces.Do(namespaces.Path(c.netns), c.cmd.Start); err != nil {
		logFile.Close()
		c.cmd = nil
		c.stop()
		return nil, fmt.Errorf("starting portway up: %w", err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logFile, line)
			if _, rest, ok := strings.Cut(line, " up in "); ok && strings.HasPrefix(line, "portway cluster ") {
				if f := strings.Fields(rest); len(f) > 0 {
					c.selfTold, _ = time.ParseDuration(strings.TrimSuffix(f[0], ":"))
				}
			}
			if strings.HasPrefix(line, "export KUBECONFIG=") {
				c.ready = time.Since(t0)
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
		err = fmt.Errorf("portway up exited before its nodes were Ready: %v%s", c.exitErr, c.logs())
	case <-time.After(3 * time.Minute):
		err = fmt.Errorf("portway up: nodes not Ready after 3 min%s", c.logs())
	case <-ctx.Done():
		err = ctx.Err()
	}
	if serr := c.stop(); serr != nil {
		logf("%v", serr)
	}
	return nil, err
}

func setLoopbackUp(ns string) error {
	h, err := netns.GetFromName(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	nl, err := netlink.NewHandleAt(h)
	if err != nil {
		return err
	}
	defer nl.Close()
	lo, err := nl.LinkByName("lo")
	if err == nil {
		err = nl.LinkSetUp(lo)
	}
	return err
}

// stop tears the cluster down as Ctrl-C does (SIGINT to `up`, which
// removes its nodes, pods and links), waits for `up` to exit and returns
// how long that took; then it removes the throwaway namespace. Whatever
// `up` failed to remove is removed here, and reported. It runs once.
func (c *cluster) stop() error {
	_, err := c.stopTimed()
	return err
}

func (c *cluster) stopTimed() (time.Duration, error) {
	if c == nil || c.stopped {
		return 0, nil
	}
	c.stopped = true
	var took time.Duration
	var errs []error
	if c.cmd != nil && c.cmd.Process != nil {
		logf("stopping cluster %s (SIGINT)", c.name)
		t0 := time.Now()
		_ = c.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-c.exited:
			took = time.Since(t0)
			if c.exitErr != nil {
				errs = append(errs, fmt.Errorf("portway up after SIGINT: %v%s", c.exitErr, c.logs()))
			}
		case <-time.After(2 * time.Minute):
			_ = c.cmd.Process.Kill()
			<-c.exited
			errs = append(errs, fmt.Errorf("portway up did not exit within 2 min of SIGINT; killed it%s", c.logs()))
			// With no live `up`, `down` removes what it left: namespaces,
			// links, processes.
			down := exec.Command(c.cfg.portway, "down", "--name", c.name, "--data-dir", c.dataDir)
			down.Stdout, down.Stderr = os.Stderr, os.Stderr
			if err := namespaces.Do(namespaces.Path(c.netns), down.Run); err != nil {
				errs = append(errs, fmt.Errorf("portway down: %w", err))
			}
		}
	}
	for _, p := range processesMentioning(c.dataDir) {
		errs = append(errs, fmt.Errorf("process left behind, killed: %d %s", p.pid, strings.Join(p.args, " ")))
		_ = syscall.Kill(p.pid, syscall.SIGKILL)
	}
	entries, _ := os.ReadDir(namespaces.Dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), c.name+"-node") {
			errs = append(errs, fmt.Errorf("network namespace %s left behind, removed", e.Name()))
			_ = namespaces.Delete(e.Name())
		}
	}
	if err := namespaces.Delete(c.netns); err != nil {
		errs = append(errs, fmt.Errorf("removing network namespace %s: %w", c.netns, err))
	}
	return took, errors.Join(errs...)
}

// client is a clientset on the cluster's admin kubeconfig. The API server
// listens on the bridge, which exists only in the throwaway namespace, so
// connections are dialled from there. QPS/Burst are high so client-side
// rate limiting does not shape the figures.
func (c *cluster) client() (kubernetes.Interface, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(c.dataDir, "kubeconfig"))
	if err != nil {
		return nil, err
	}
	cfg.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		var conn net.Conn
		err := namespaces.Do(namespaces.Path(c.netns), func() (err error) {
			conn, err = (&net.Dialer{}).DialContext(ctx, network, addr)
			return err
		})
		return conn, err
	}
	return newClient(cfg)
}

func newClient(cfg *rest.Config) (kubernetes.Interface, error) {
	cfg.QPS, cfg.Burst = 5000, 5000
	cfg.Proxy = noProxy
	return kubernetes.NewForConfig(cfg)
}

func noProxy(*http.Request) (*url.URL, error) { return nil, nil }

// logs is the end of up's output and of every agent's log, for errors.
func (c *cluster) logs() string {
	var b strings.Builder
	b.WriteString(tailOf(c.logPath, "portway up", 20))
	for i := 1; i <= nodes; i++ {
		node := fmt.Sprintf("%s-node%d", c.name, i)
		b.WriteString(tailOf(filepath.Join(c.dataDir, "logs", node+".log"), node+" agent ("+filepath.Join(c.dataDir, "logs", node+".log")+")", 20))
	}
	return b.String()
}

func tailOf(path, what string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	lines = lines[max(0, len(lines)-n):]
	return fmt.Sprintf("\n--- %s, last %d lines:\n%s", what, len(lines), strings.Join(lines, "\n"))
}

// keepLogs copies up's output and the agents' logs out of the data dir,
// which goes at the end, when a part saw something go wrong; it returns
// where they are.
func (c *cluster) keepLogs(part string) string {
	dest := filepath.Join(os.TempDir(), fmt.Sprintf("portway-bench-cluster-logs-%d", os.Getpid()), part)
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return fmt.Sprintf("nowhere (%v)", err)
	}
	files, _ := filepath.Glob(filepath.Join(c.dataDir, "logs", "*.log"))
	for _, f := range append(files, c.logPath) {
		if b, err := os.ReadFile(f); err == nil {
			_ = os.WriteFile(filepath.Join(dest, filepath.Base(f)), b, 0o644)
		}
	}
	return dest
}

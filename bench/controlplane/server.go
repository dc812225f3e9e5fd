package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	certutil "k8s.io/client-go/util/cert"
)

// server is one running `portway server` child process.
type server struct {
	dataDir string
	addr    string
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{}
}

// startTimes is what one start of the server took, measured from just
// before the process was started.
type startTimes struct {
	readyLine time.Duration // the "portway control plane ready in" line on stdout
	readyz    time.Duration // the first GET /readyz that answered 200
	selfTold  time.Duration // the "ready in X" the server printed about itself
}

// startServer starts `portway server` on dataDir (fresh or existing) on a free
// loopback port and returns once it printed its ready line AND /readyz
// answered 200.
func startServer(ctx context.Context, cfg config, dataDir string) (*server, startTimes, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, startTimes{}, err
	}
	s := &server{dataDir: dataDir, addr: addr, logPath: dataDir + ".stderr.log",
		exited: make(chan struct{})}
	args := []string{"server", "--data-dir", dataDir, "--listen", addr}
	if !cfg.fsync {
		args = append(args, "--unsafe-no-fsync")
	}
	logFile, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, startTimes{}, err
	}
	defer logFile.Close() // the child holds its own descriptor
	s.cmd = exec.Command(cfg.portway, args...)
	s.cmd.Stderr = logFile
	if cfg.gogc != "" {
		s.cmd.Env = append(os.Environ(), "GOGC="+cfg.gogc)
	}
	s.cmd.SysProcAttr = &syscall.SysProcAttr{
		// Own process group: a Ctrl-C on the terminal reaches only the
		// benchmark, which then stops the server with SIGTERM itself.
		// (No Pdeathsig: it fires when the forking OS thread exits, which
		// in Go can be long before the benchmark does.)
		Setpgid: true,
	}
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		return nil, startTimes{}, err
	}

	var st startTimes
	lineSeen := make(chan struct{})
	t0 := time.Now()
	if err := s.cmd.Start(); err != nil {
		return nil, startTimes{}, err
	}
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if rest, ok := strings.CutPrefix(line, "portway control plane ready in "); ok {
				st.readyLine = time.Since(t0)
				if f := strings.Fields(rest); len(f) > 0 {
					st.selfTold, _ = time.ParseDuration(f[0])
				}
				close(lineSeen)
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()

	// /readyz is polled from process start, independently of the ready line,
	// with a client that trusts the server's CA but has no credentials
	// (/readyz is open to anonymous clients): this is when a client could
	// first know the server is up, whatever the server prints.
	readyzDone := make(chan error, 1)
	var lastReadyzErr atomic.Value
	go func() {
		var err error
		st.readyz, err = pollReadyz(ctx, addr, filepath.Join(dataDir, "pki", "ca.crt"), t0, s.exited, &lastReadyzErr)
		readyzDone <- err
	}()

	timeout := time.After(120 * time.Second)
	for gotLine, gotReadyz := false, false; !gotLine || !gotReadyz; {
		select {
		case <-lineSeen:
			gotLine, lineSeen = true, nil
		case err := <-readyzDone:
			if err != nil {
				s.stop()
				return nil, st, fmt.Errorf("waiting for /readyz: %w%s", err, s.logTail())
			}
			gotReadyz = true
		case <-s.exited:
			return nil, st, fmt.Errorf("portway server exited before it was ready%s", s.logTail())
		case <-timeout:
			s.stop()
			return nil, st, fmt.Errorf("portway server not ready after 120s (ready line seen: %v, /readyz 200: %v; last /readyz error: %v)%s",
				gotLine, gotReadyz, lastReadyzErr.Load(), s.logTail())
		case <-ctx.Done():
			s.stop()
			return nil, st, ctx.Err()
		}
	}
	return s, st, nil
}

// pollReadyz GETs /readyz every 2 ms until it answers 200, so the figure is
// at most ~2 ms late.
func pollReadyz(ctx context.Context, addr, caFile string, t0 time.Time, exited <-chan struct{}, lastErr *atomic.Value) (time.Duration, error) {
	var rc rest.Interface
	for {
		if rc == nil {
			// The CA file appears once the server has made its PKI. It is
			// parsed here first: a client made from a file caught half
			// written would never trust the server.
			if ca, err := os.ReadFile(caFile); err == nil {
				if _, err := certutil.ParseCertsPEM(ca); err == nil {
					cfg := &rest.Config{Host: "https://" + addr, QPS: 5000, Burst: 5000,
						Proxy: noProxy, TLSClientConfig: rest.TLSClientConfig{CAData: ca}}
					if dc, err := discovery.NewDiscoveryClientForConfig(cfg); err == nil {
						rc = dc.RESTClient()
					}
				}
			}
		}
		if rc != nil {
			c, cancel := context.WithTimeout(ctx, time.Second)
			err := rc.Get().AbsPath("/readyz").Do(c).Error()
			cancel()
			if err == nil {
				return time.Since(t0), nil
			}
			lastErr.Store(err.Error())
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-exited:
			return 0, errors.New("server exited")
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// stop sends SIGTERM, as Ctrl-C on a foreground server would, and waits for
// the process to exit (SIGKILL after 30 s). It returns how long that took.
func (s *server) stop() time.Duration {
	if s == nil || s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	t0 := time.Now()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		fmt.Fprintln(os.Stderr, "portway server did not stop within 30s of SIGTERM; killing it")
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
	return time.Since(t0)
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// client is a clientset on the server's admin kubeconfig. Each call makes its
// own transport, so each client has its own TCP connection, as separate
// controllers would. QPS/Burst are high so client-side rate limiting does not
// shape the figures.
func (s *server) client() (kubernetes.Interface, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(s.dataDir, "kubeconfig"))
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = 5000, 5000
	// No proxy, ever (traffic stays on 127.0.0.1); a non-nil Proxy also
	// keeps client-go from sharing one cached transport between clients.
	cfg.Proxy = noProxy
	return kubernetes.NewForConfig(cfg)
}

func noProxy(*http.Request) (*url.URL, error) { return nil, nil }

// logTail is the end of the server's stderr, for error messages.
func (s *server) logTail() string {
	b, err := os.ReadFile(s.logPath)
	if err != nil || len(b) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return "\nserver stderr (last lines):\n" + strings.Join(lines, "\n")
}

// memory is the server process's resident memory, in KiB.
type memory struct {
	rss, hwm int64 // VmRSS, VmHWM (peak RSS)
	// binary is the part of rss that is pages of the portway executable
	// itself: the kernel maps file pages in runs around each page touched,
	// so it depends on the file's page-cache state as much as on the
	// code run (59-70 MiB idle for builds and copies of one source).
	binary int64
}

// memory reads the server process's VmRSS and VmHWM from /proc/PID/status
// and sums the Rss of its executable's mappings from /proc/PID/smaps.
func (s *server) memory() (memory, error) {
	var m memory
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.pid()))
	if err != nil {
		return m, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "VmRSS:":
			m.rss, _ = strconv.ParseInt(f[1], 10, 64)
		case "VmHWM:":
			m.hwm, _ = strconv.ParseInt(f[1], 10, 64)
		}
	}
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", s.pid()))
	if err != nil {
		return m, err
	}
	smaps, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", s.pid()))
	if err != nil {
		return m, err
	}
	inExe := false
	for _, line := range strings.Split(string(smaps), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 5 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":"):
			// A mapping's header: address range, perms, offset, dev, inode, path.
			inExe = len(f) >= 6 && strings.Join(f[5:], " ") == exe
		case inExe && len(f) >= 2 && f[0] == "Rss:":
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			m.binary += kb
		}
	}
	return m, nil
}

// etcdSize is the apparent size of the embedded etcd's directory and of its
// bbolt database file (the WAL files are preallocated in 64 MB steps, so the
// total moves in jumps; the db file is the state).
func (s *server) etcdSize() (total, db int64) {
	dir := filepath.Join(s.dataDir, "etcd")
	_ = filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			total += fi.Size()
		}
		return nil
	})
	if fi, err := os.Stat(filepath.Join(dir, "member", "snap", "db")); err == nil {
		db = fi.Size()
	}
	return total, db
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

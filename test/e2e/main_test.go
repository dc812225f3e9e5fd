// Package e2e drives a real `portway server` with the real kubectl and
// client-go, and compares what a user sees with Kubernetes 1.32.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/portway/portway/internal/namespaces"
)

// portwayBin is the binary under test, built once by TestMain.
var portwayBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "portway-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	portwayBin = filepath.Join(dir, "portway")
	build := exec.Command("go", "build", "-o", portwayBin, "github.com/portway/portway/cmd/portway")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building portway:", err)
		os.Exit(1)
	}
	if _, err := exec.LookPath("kubectl"); err != nil {
		fmt.Fprintln(os.Stderr, "kubectl is not on PATH: the e2e tests drive the real kubectl")
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is one running `portway server`.
type server struct {
	t          *testing.T
	dataDir    string
	listen     string
	kubeconfig string
	args       []string
	cmd        *exec.Cmd
	log        *bytes.Buffer
	exited     chan struct{}
	// netns, when set, is the network namespace the server is reached in
	// (a cluster's, see cluster_test.go).
	netns string
}

// inNetns runs fn in the server's network namespace, if it has one.
func (s *server) inNetns(fn func() error) error {
	if s.netns == "" {
		return fn()
	}
	return namespaces.Do(namespaces.Path(s.netns), fn)
}

// startServer starts portway server on a free loopback port in a fresh data
// directory, with extra flags, and waits until it is ready.
func startServer(t *testing.T, extra ...string) *server {
	t.Helper()
	s := &server{t: t, dataDir: t.TempDir(), listen: freeAddr(t), args: extra}
	s.kubeconfig = filepath.Join(s.dataDir, "kubeconfig")
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *server) start() {
	s.t.Helper()
	args := append([]string{"server", "--data-dir", s.dataDir, "--listen", s.listen, "--unsafe-no-fsync"}, s.args...)
	s.cmd = exec.Command(portwayBin, args...)
	s.log = &bytes.Buffer{}
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	s.cmd.Stderr = s.log
	if err := s.inNetns(s.cmd.Start); err != nil {
		s.t.Fatal(err)
	}
	s.exited = make(chan struct{})
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "export KUBECONFIG=") {
				close(ready)
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	select {
	case <-ready:
	case <-s.exited:
		s.t.Fatalf("portway server exited before it was ready:\n%s", s.log)
	case <-time.After(60 * time.Second):
		s.t.Fatalf("portway server not ready after 60s:\n%s", s.log)
	}
}

// stop ends the server with SIGTERM, as Ctrl-C would.
func (s *server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Signal(syscall.SIGQUIT) // Go prints every goroutine's stack
		<-s.exited
		s.t.Errorf("portway server did not stop within 30s of SIGTERM:\n%s", s.log)
	}
	s.cmd = nil
}

func (s *server) restart() {
	s.t.Helper()
	s.stop()
	s.start()
}

func (s *server) restConfig() *rest.Config {
	s.t.Helper()
	c := s.baseConfig()
	if s.netns != "" {
		c.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			var conn net.Conn
			err := s.inNetns(func() (err error) {
				conn, err = (&net.Dialer{}).DialContext(ctx, network, addr)
				return err
			})
			return conn, err
		}
	}
	return c
}

func (s *server) baseConfig() *rest.Config {
	s.t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", s.kubeconfig)
	if err != nil {
		s.t.Fatal(err)
	}
	return cfg
}

func (s *server) client() kubernetes.Interface {
	s.t.Helper()
	return kubernetes.NewForConfigOrDie(s.restConfig())
}

// result is what one kubectl run printed.
type result struct {
	stdout, stderr string
	code           int
}

// kubectl runs the kubectl on PATH against the server.
func (s *server) kubectl(args ...string) result {
	s.t.Helper()
	return s.kubectlBin("kubectl", "", args...)
}

// kubectlIn runs kubectl with stdin.
func (s *server) kubectlIn(stdin string, args ...string) result {
	s.t.Helper()
	return s.kubectlBin("kubectl", stdin, args...)
}

func (s *server) kubectlBin(bin, stdin string, args ...string) result {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--cache-dir", filepath.Join(s.dataDir, "kubectl-cache")}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+s.kubeconfig)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := s.inNetns(cmd.Start)
	if err == nil {
		err = cmd.Wait()
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		s.t.Fatalf("kubectl %v: %v", args, err)
	}
	return result{out.String(), errb.String(), code}
}

// ok runs kubectl and fails the test unless it exits 0.
func (s *server) ok(args ...string) string {
	s.t.Helper()
	r := s.kubectl(args...)
	if r.code != 0 {
		s.t.Fatalf("kubectl %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

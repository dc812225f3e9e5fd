package agnhost

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
)

func TestIsImage(t *testing.T) {
	for image, want := range map[string]bool{
		"registry.k8s.io/e2e-test-images/agnhost:2.40":                      true,
		"registry.k8s.io/e2e-test-images/agnhost":                           true,
		"k8s.gcr.io/e2e-test-images/agnhost:2.39@sha256:7e8bdd271312fd25fc": true,
		"registry.k8s.io/e2e-test-images/agnhost@sha256:7e8bdd271312fd25fc": true,
		"localhost:5000/e2e-test-images/agnhost":                            true,
		"localhost:5000/mirror/e2e-test-images/agnhost:2.52":                true,
		"gcr.io/kubernetes-e2e-test-images/agnhost:2.8":                     true,
		"e2e-test-images/agnhost:2.40":                                      true,
		"registry.k8s.io/e2e-test-images/agnhost-2:2.40":                    false,
		"registry.k8s.io/e2e-test-images/busybox:1.36":                      false,
		"registry.k8s.io/agnhost:2.40":                                      false,
		"agnhost":                                                           false,
		"registry.k8s.io/e2e-test-images/agnhost/sub:1":                     false,
		"": false,
	} {
		if got := IsImage(image); got != want {
			t.Errorf("IsImage(%q) = %v, want %v", image, got, want)
		}
	}
}

func TestCommand(t *testing.T) {
	for _, tc := range []struct {
		name          string
		command, args []string
		want          []string
		wantOK        bool
	}{
		{"image default", nil, nil, []string{"pause"}, true},
		{"empty command is the entrypoint", []string{}, []string{"netexec"}, []string{"netexec"}, true},
		{"args only", nil, []string{"netexec", "--http-port=8080"}, []string{"netexec", "--http-port=8080"}, true},
		{"command only", []string{"/agnhost", "serve-hostname"}, nil, []string{"serve-hostname"}, true},
		{"command and args", []string{"/agnhost"}, []string{"serve-hostname", "--port=9376"}, []string{"serve-hostname", "--port=9376"}, true},
		{"command then args", []string{"/agnhost", "netexec"}, []string{"--udp-port=-1"}, []string{"netexec", "--udp-port=-1"}, true},
		{"relative agnhost", []string{"./agnhost", "netexec"}, nil, []string{"netexec"}, true},
		{"shell", []string{"sh", "-c", "/agnhost netexec"}, nil, nil, false},
		{"other binary", []string{"/agnhost-2"}, []string{"netexec"}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Command(tc.command, tc.args)
			if ok != tc.wantOK || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Command(%q, %q) = %q, %v; want %q, %v", tc.command, tc.args, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestRunRejects(t *testing.T) {
	for _, tc := range []struct {
		name    string
		argv    []string
		wantErr string // "" means Run returns nil
	}{
		{"no subcommand", nil, "no agnhost subcommand given (supported: serve-hostname, netexec, pause)"},
		{"unknown subcommand", []string{"porter"}, `agnhost subcommand "porter" is not supported by portway (supported: serve-hostname, netexec, pause)`},
		{"unknown flag", []string{"netexec", "--http-port=0", "--bogus"}, "netexec: flag provided but not defined: -bogus"},
		{"bad value", []string{"serve-hostname", "--port=x"}, `serve-hostname: invalid value "x" for flag -port: parse error`},
		{"positional argument", []string{"netexec", "--http-port=0", "extra"}, "netexec: accepts at most 0 arg(s), received 1"},
		{"tcp with default http", []string{"serve-hostname", "--tcp", "--port=0"}, "serve-hostname: can't serve TCP/UDP mode and HTTP mode at the same time"},
		{"bad udp address", []string{"netexec", "--http-port=0", "--udp-listen-addresses=127.0.0.1,nope"}, "netexec: parseAddress: invalid address nope"},
		{"missing certificate", []string{"netexec", "--http-port=0", "--tls-cert-file=/nonexistent/tls.crt"}, "netexec: open /nonexistent/tls.crt: no such file or directory"},
		{"help", []string{"netexec", "--help"}, ""},
		{"list", []string{"--help"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Run(context.Background(), tc.argv, io.Discard, io.Discard)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Run(%q) = %v, want nil", tc.argv, err)
				}
				return
			}
			if err == nil || err.Error() != tc.wantErr {
				t.Fatalf("Run(%q) = %v, want %q", tc.argv, err, tc.wantErr)
			}
		})
	}
}

func TestExitError(t *testing.T) {
	var err error = &ExitError{Code: 3}
	var coder interface{ ExitCode() int }
	if !errors.As(err, &coder) || coder.ExitCode() != 3 || err.Error() != "exit status 3" {
		t.Errorf("ExitError{3}: %v, ExitCode %d", err, coder.ExitCode())
	}
}

// lockedBuffer collects a subcommand's log, written from its goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// instance is a subcommand running on loopback, on ports the kernel chose.
type instance struct {
	addrs   map[string]net.Addr // the first address bound per network
	log     *lockedBuffer
	uploads string
	cancel  context.CancelFunc
	done    chan error
	once    sync.Once
	err     error
}

// start runs argv until the test ends, and returns once it has bound one
// address for each of networks.
func start(t *testing.T, networks []string, argv ...string) *instance {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	bound := make(chan [2]any, 8)
	in := &instance{addrs: map[string]net.Addr{}, log: &lockedBuffer{}, uploads: t.TempDir(), cancel: cancel, done: make(chan error, 1)}
	r := &runner{
		stdout:  io.Discard,
		stderr:  in.log,
		host:    "127.0.0.1",
		uploads: in.uploads,
		listening: func(network string, addr net.Addr) {
			bound <- [2]any{network, addr}
		},
	}
	go func() { in.done <- r.run(ctx, argv) }()
	t.Cleanup(func() {
		in.cancel()
		in.wait()
	})
	for len(in.addrs) < len(networks) {
		select {
		case b := <-bound:
			if network := b[0].(string); in.addrs[network] == nil {
				in.addrs[network] = b[1].(net.Addr)
			}
		case err := <-in.done:
			t.Fatalf("%q ended before serving: %v\n%s", argv, err, in.log)
		}
	}
	for _, network := range networks {
		if in.addrs[network] == nil {
			t.Fatalf("%q bound no %s address: %v", argv, network, in.addrs)
		}
	}
	return in
}

// wait returns what Run returned.
func (in *instance) wait() error {
	in.once.Do(func() { in.err = <-in.done })
	return in.err
}

func (in *instance) url(path string) string {
	return "http://" + in.addrs["tcp"].String() + path
}

// client neither follows redirects nor uses a proxy from the environment.
var client = &http.Client{
	Transport:     &http.Transport{DisableKeepAlives: true},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp, string(body)
}

// udpExchange sends one datagram to addr and returns the reply.
func udpExchange(t *testing.T, addr net.Addr, msg string) (reply string, local net.Addr) {
	t.Helper()
	conn, err := net.Dial("udp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("reply to %q: %v", msg, err)
	}
	return string(buf[:n]), conn.LocalAddr()
}

func hostname(t *testing.T) string {
	t.Helper()
	h, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func wantLog(t *testing.T, in *instance, lines ...string) {
	t.Helper()
	log := in.log.String()
	for _, l := range lines {
		if !strings.Contains(log, l) {
			t.Errorf("log lacks %q:\n%s", l, log)
		}
	}
}

func TestPause(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- Run(ctx, []string{"pause"}, &out, io.Discard) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("pause: %v", err)
	}
	if !strings.HasPrefix(out.String(), "Paused\n") {
		t.Errorf("pause printed %q, want it to start with Paused", out.String())
	}
}

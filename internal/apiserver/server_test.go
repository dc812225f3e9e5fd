package apiserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	certutil "k8s.io/client-go/util/cert"

	"github.com/portway/portway/internal/apiserver/authn"
)

// TestStop: /readyz reports the library's checks plus ours, and a stopped
// server leaves none of its controllers' goroutines behind, since the
// pre-shutdown hook waits for them before the HTTP server stops.
func TestStop(t *testing.T) {
	if os.Getenv("PORTWAY_TEST_STOP") == "" {
		// The package's other tests share a server that goes on running:
		// look for leftovers in a process of this test's own.
		cmd := exec.Command(os.Args[0], "-test.run=^TestStop$")
		cmd.Env = append(os.Environ(), "PORTWAY_TEST_STOP=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v:\n%s", err, out)
		}
		return
	}
	s := startServer(t)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.roots}}}
	var body []byte
	for range 100 { // informer-sync may need a moment after ready
		resp, err := client.Get("https://" + s.Listen + "/readyz?verbose")
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, check := range []string{"[+]etcd ok", "[+]informer-sync ok", "[+]poststarthook/portway-bootstrap ok"} {
		if !strings.Contains(string(body), check) {
			t.Errorf("/readyz?verbose lacks %q:\n%s", check, body)
		}
	}
	client.CloseIdleConnections()

	s.cancel()
	if err := returned(t, s.done); err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
	stacks := make([]byte, 1<<22)
	stacks = stacks[:runtime.Stack(stacks, true)]
	for _, g := range strings.Split(string(stacks), "\n\n") {
		if strings.Contains(g, "portway/portway/internal/controllers") {
			t.Errorf("a controller goroutine outlived Run:\n%s", g)
		}
	}
}

// TestStopWhileStarting stops the server at moments spread over its
// start-up (etcd starting, the APIs installing, the bootstrap running):
// each stop is a clean return, not an error.
func TestStopWhileStarting(t *testing.T) {
	for delay := time.Duration(0); delay <= 500*time.Millisecond; delay += 50 * time.Millisecond {
		// A subtest each, so that each data dir (etcd preallocates 128 MB
		// of WAL) goes as soon as its server has stopped.
		t.Run(delay.String(), func(t *testing.T) {
			o, err := testOptions(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- Run(ctx, o, nil) }()
			time.Sleep(delay)
			cancel()
			if err := returned(t, done); err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
}

// TestStopWithLateConnection: a connection the server accepted before it
// stopped listening, whose client speaks HTTP/2 only after the server began
// to stop, never gets told to go away (x/net registers it for that too
// late). The stop must not wait the request timeout (60 s) for it to close.
func TestStopWithLateConnection(t *testing.T) {
	s := startServer(t)
	// A client with a certificate: the server tells an anonymous HTTP/2
	// client to go away once it has answered it (Connection: close), which
	// would hide the race. What it answers (503: it no longer takes
	// requests) does not matter here.
	admin, err := tls.LoadX509KeyPair(s.pki.Path(authn.AdminCert), s.pki.Path(authn.AdminKey))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", s.Listen)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	time.Sleep(100 * time.Millisecond) // the server accepts it

	stopping := time.Now()
	s.cancel()
	for { // until the server has stopped listening
		c, err := net.DialTimeout("tcp", s.Listen, time.Second)
		if err != nil {
			break
		}
		c.Close()
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // and has sent its GOAWAYs
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		ForceAttemptHTTP2: true,
		DialTLSContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			tc := tls.Client(conn, &tls.Config{RootCAs: s.roots, Certificates: []tls.Certificate{admin},
				ServerName: "127.0.0.1", NextProtos: []string{"h2"}})
			return tc, tc.HandshakeContext(ctx)
		},
	}}
	resp, err := client.Get("https://" + s.Listen + "/version")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("the late connection speaks %s, want HTTP/2", resp.Proto)
	}
	if err := returned(t, s.done); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if took := time.Since(stopping); took > 10*time.Second {
		t.Errorf("Run returned %v after it was stopped", took.Round(time.Millisecond))
	}
}

// testServer is a server of a test's own, ready.
type testServer struct {
	Options
	pki    authn.PKI
	roots  *x509.CertPool // trust its serving certificate
	cancel context.CancelFunc
	done   <-chan error // what Run returned
}

func startServer(t *testing.T) testServer {
	t.Helper()
	dir := t.TempDir()
	o, err := testOptions(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready, done, exited := make(chan struct{}), make(chan error, 1), make(chan struct{})
	go func() {
		defer close(exited)
		done <- Run(ctx, o, func() { close(ready) })
	}()
	t.Cleanup(func() { // also when the test fails: before its data dir goes
		cancel()
		select {
		case <-exited:
		case <-time.After(60 * time.Second):
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("server not ready in 60s")
	}
	pki := authn.PKI{Dir: filepath.Join(dir, "pki")}
	roots, err := certutil.NewPool(pki.Path(authn.CACert))
	if err != nil {
		t.Fatal(err)
	}
	return testServer{Options: o, pki: pki, roots: roots, cancel: cancel, done: done}
}

// returned is what Run sent on done, once it has returned; it fails the
// test if Run takes over 60 s.
func returned(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(60 * time.Second):
		t.Fatal("Run did not return in 60s")
		return nil
	}
}

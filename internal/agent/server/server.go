// Package server is the node agent's HTTPS endpoint, where the API server
// reaches the node as it reaches a kubelet on port 10250: container logs
// at /containerLogs/NAMESPACE/POD/CONTAINER with the kubelet's query
// parameters, and the kubelet's streaming endpoints /exec and /attach
// (NAMESPACE/POD/CONTAINER) and /portForward/NAMESPACE/POD, served by the
// kubelet's own CRI streaming code (SPDY; the API server translates
// WebSocket clients). Only clients with a certificate from the cluster CA
// get in, and of those only the API server's kubelet client and cluster
// admins.
package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	remotecommandconsts "k8s.io/apimachinery/pkg/util/remotecommand"
	"k8s.io/client-go/util/cert"
	"k8s.io/kubelet/pkg/cri/streaming/portforward"
	remotecommandserver "k8s.io/kubelet/pkg/cri/streaming/remotecommand"

	"github.com/portway/portway/internal/agent/runtime"
)

// Logs finds container logs.
type Logs interface {
	ContainerLog(namespace, pod, container string, previous bool) (runtime.Log, error)
}

// Streams reaches into this node's running pods. Its pod names are
// runtime.PodKey(namespace, name).
type Streams interface {
	remotecommandserver.Executor
	remotecommandserver.Attacher
	portforward.PortForwarder
	// CheckPod says whether the pod runs here (runtime.ErrPodNotFound if
	// not); CheckContainer whether its container does, and if not why.
	CheckPod(key string) error
	CheckContainer(key, container string) error
}

// Server serves the agent's HTTPS endpoint.
type Server struct {
	Addr     string
	ClientCA *x509.CertPool
	Logs     Logs
	Streams  Streams
}

// The kubelet's streaming defaults: an idle stream lasts 4 hours
// (--streaming-connection-idle-timeout), a SPDY client has 30 s to open
// its streams.
const (
	streamIdleTimeout     = 4 * time.Hour
	streamCreationTimeout = remotecommandconsts.DefaultStreamCreationTimeout
)

// allowed are the client identities let in: the API server's kubelet
// client and members of system:masters.
func allowed(c *x509.Certificate) bool {
	return c.Subject.CommonName == "kube-apiserver-kubelet-client" ||
		slices.Contains(c.Subject.Organization, "system:masters")
}

// Run serves until ctx ends. Its serving certificate is self-signed and
// made at start, as a kubelet's is without a bootstrap; the API server does
// not verify kubelets' certificates unless told a CA.
func (s *Server) Run(ctx context.Context) error {
	host, _, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return err
	}
	certPEM, keyPEM, err := cert.GenerateSelfSignedCertKey(host, []net.IP{net.ParseIP(host)}, nil)
	if err != nil {
		return err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Addr:              s.Addr,
		Handler:           s.handler(),
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{pair},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    s.ClientCA,
			MinVersion:   tls.VersionTLS12,
		},
		BaseContext: func(net.Listener) context.Context { return ctx },
	}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.ListenAndServeTLS("", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// handler routes the kubelet paths the agent serves, to allowed clients.
func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /containerLogs/{namespace}/{pod}/{container}", s.containerLogs)
	for _, method := range []string{"GET", "POST"} {
		mux.HandleFunc(method+" /exec/{namespace}/{pod}/{container}", s.exec)
		mux.HandleFunc(method+" /attach/{namespace}/{pod}/{container}", s.attach)
		mux.HandleFunc(method+" /portForward/{namespace}/{pod}", s.portForward)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	return authorize(mux)
}

func authorize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 || !allowed(r.TLS.PeerCertificates[0]) {
			http.Error(w, "Forbidden", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// exec runs a command in a container, as the kubelet's getExec does: bad
// stream options are a 400, a pod not here a 404 "pod does not exist", a
// container not running the runtime's error, all before the upgrade.
func (s *Server) exec(w http.ResponseWriter, r *http.Request) {
	opts, key, container, ok := s.remoteCommand(w, r)
	if !ok {
		return
	}
	remotecommandserver.ServeExec(w, r, s.Streams, key, "", container, r.URL.Query()[corev1.ExecCommandParam], opts,
		streamIdleTimeout, streamCreationTimeout, remotecommandconsts.SupportedStreamingProtocols)
}

// attach attaches to a container's streams, as the kubelet's getAttach.
func (s *Server) attach(w http.ResponseWriter, r *http.Request) {
	opts, key, container, ok := s.remoteCommand(w, r)
	if !ok {
		return
	}
	remotecommandserver.ServeAttach(w, r, s.Streams, key, "", container, opts,
		streamIdleTimeout, streamCreationTimeout, remotecommandconsts.SupportedStreamingProtocols)
}

// remoteCommand checks an exec or attach request; false means it has been
// answered.
func (s *Server) remoteCommand(w http.ResponseWriter, r *http.Request) (*remotecommandserver.Options, string, string, bool) {
	opts, err := remotecommandserver.NewOptions(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return nil, "", "", false
	}
	key, container := runtime.PodKey(r.PathValue("namespace"), r.PathValue("pod")), r.PathValue("container")
	if err := s.Streams.CheckContainer(key, container); err != nil {
		streamError(w, err)
		return nil, "", "", false
	}
	return opts, key, container, true
}

// portForward forwards connections to the pod's ports, as the kubelet's
// getPortForward does.
func (s *Server) portForward(w http.ResponseWriter, r *http.Request) {
	opts, err := portforward.NewV4Options(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	key := runtime.PodKey(r.PathValue("namespace"), r.PathValue("pod"))
	if err := s.Streams.CheckPod(key); err != nil {
		streamError(w, err)
		return
	}
	portforward.ServePortForward(w, r, s.Streams, key, "", opts, streamIdleTimeout, streamCreationTimeout, portforward.SupportedProtocols)
}

// streamError answers a streaming request refused before its upgrade, with
// the kubelet's status codes; the API server passes the text on, and
// kubectl shows it after "unable to upgrade connection: ".
func streamError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	if errors.Is(err, runtime.ErrPodNotFound) {
		code = http.StatusNotFound
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, err.Error())
}

// logOptions are the kubelet's containerLogs query parameters.
type logOptions struct {
	follow, previous, timestamps bool
	tailLines, limitBytes        int64 // -1: all
	since                        time.Time
}

func parseLogOptions(r *http.Request) (logOptions, error) {
	q := r.URL.Query()
	o := logOptions{tailLines: -1, limitBytes: -1}
	o.follow = q.Get("follow") == "true"
	o.previous = q.Get("previous") == "true"
	o.timestamps = q.Get("timestamps") == "true"
	for name, dst := range map[string]*int64{"tailLines": &o.tailLines, "limitBytes": &o.limitBytes} {
		if v := q.Get(name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return o, fmt.Errorf("%s: must be a non-negative integer", name)
			}
			*dst = n
		}
	}
	if v := q.Get("sinceSeconds"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return o, errors.New("sinceSeconds: must be greater than 0")
		}
		o.since = time.Now().Add(-time.Duration(n) * time.Second)
	}
	if v := q.Get("sinceTime"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return o, fmt.Errorf("sinceTime: %w", err)
		}
		o.since = t
	}
	return o, nil
}

func (s *Server) containerLogs(w http.ResponseWriter, r *http.Request) {
	opts, err := parseLogOptions(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	l, err := s.Logs.ContainerLog(r.PathValue("namespace"), r.PathValue("pod"), r.PathValue("container"), opts.previous)
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	f, err := os.Open(l.Path)
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "text/plain")
	out := &limitWriter{w: w, left: opts.limitBytes}
	if opts.tailLines >= 0 {
		if err := seekTail(f, opts.tailLines); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	flusher, _ := w.(http.Flusher)
	br := bufio.NewReader(f)
	var pending []byte // a line read only in part so far
	for {
		chunk, err := br.ReadBytes('\n')
		pending = append(pending, chunk...)
		if err == nil {
			if !writeRecord(out, pending, opts) {
				return
			}
			pending = pending[:0]
			continue
		}
		if !opts.follow {
			return
		}
		if flusher != nil {
			flusher.Flush()
		}
		select {
		case <-r.Context().Done():
			return
		case <-l.Done:
			// Written last: whatever is still unread, then the end.
			rest, _ := io.ReadAll(br)
			for line := range strings.SplitSeq(string(append(pending, rest...)), "\n") {
				if line != "" && !writeRecord(out, []byte(line+"\n"), opts) {
					return
				}
			}
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// writeRecord writes one CRI log record as kubectl shows it; false means
// stop (limit reached or client gone).
func writeRecord(w *limitWriter, rec []byte, o logOptions) bool {
	ts, rest, ok := strings.Cut(strings.TrimSuffix(string(rec), "\n"), " ")
	if !ok {
		return true
	}
	_, rest, _ = strings.Cut(rest, " ") // stream
	tag, content, _ := strings.Cut(rest, " ")
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil || (!o.since.IsZero() && t.Before(o.since)) {
		return true
	}
	var b strings.Builder
	if o.timestamps {
		b.WriteString(ts + " ")
	}
	b.WriteString(content)
	if tag == "F" {
		b.WriteByte('\n')
	}
	_, err = io.WriteString(w, b.String())
	return err == nil
}

// seekTail positions f at the start of its last n records.
func seekTail(f *os.File, n int64) error {
	if n == 0 {
		_, err := f.Seek(0, io.SeekEnd)
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	const block = 4096
	size := fi.Size()
	pos := size
	newlines := int64(0)
	buf := make([]byte, block)
	for pos > 0 {
		step := min(int64(block), pos)
		pos -= step
		if _, err := f.ReadAt(buf[:step], pos); err != nil {
			return err
		}
		for i := step - 1; i >= 0; i-- {
			if buf[i] != '\n' || pos+i == size-1 {
				continue
			}
			newlines++
			if newlines == n {
				_, err := f.Seek(pos+i+1, io.SeekStart)
				return err
			}
		}
	}
	_, err = f.Seek(0, io.SeekStart)
	return err
}

// limitWriter stops writing after limitBytes, as the kubelet does.
type limitWriter struct {
	w    io.Writer
	left int64 // -1: no limit
}

var errLimit = errors.New("limit reached")

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.left == 0 {
		return 0, errLimit
	}
	if l.left > 0 && int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.w.Write(p)
	if l.left > 0 {
		l.left -= int64(n)
	}
	return n, err
}

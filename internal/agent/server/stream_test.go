package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/remotecommand"

	"github.com/portway/portway/internal/agent/runtime"
)

// fakeStreams runs one pod, default/web, whose container "app" runs and
// "gone" does not; it records the streaming calls that get through.
type fakeStreams struct {
	calls []string
}

func (f *fakeStreams) CheckPod(key string) error {
	if key != runtime.PodKey("default", "web") {
		return runtime.ErrPodNotFound
	}
	return nil
}

func (f *fakeStreams) CheckContainer(key, container string) error {
	if err := f.CheckPod(key); err != nil {
		return err
	}
	if container != "app" {
		return fmt.Errorf("container not found (%q)", container)
	}
	return nil
}

func (f *fakeStreams) ExecInContainer(_ context.Context, key string, _ types.UID, container string, cmd []string, _ io.Reader, _, _ io.WriteCloser, _ bool, _ <-chan remotecommand.TerminalSize, _ time.Duration) error {
	f.calls = append(f.calls, "exec "+key+" "+container+" "+strings.Join(cmd, " "))
	return nil
}

func (f *fakeStreams) AttachContainer(_ context.Context, key string, _ types.UID, container string, _ io.Reader, _, _ io.WriteCloser, _ bool, _ <-chan remotecommand.TerminalSize) error {
	f.calls = append(f.calls, "attach "+key+" "+container)
	return nil
}

func (f *fakeStreams) PortForward(_ context.Context, key string, _ types.UID, port int32, _ io.ReadWriteCloser) error {
	f.calls = append(f.calls, fmt.Sprintf("portforward %s %d", key, port))
	return nil
}

// TestStreamRefusals: requests the kubelet refuses before upgrading are
// refused with its status codes and messages, and only allowed clients get
// that far.
func TestStreamRefusals(t *testing.T) {
	streams := &fakeStreams{}
	h := (&Server{Streams: streams}).handler()
	apiserver := &x509.Certificate{Subject: pkix.Name{CommonName: "kube-apiserver-kubelet-client"}}
	someone := &x509.Certificate{Subject: pkix.Name{CommonName: "jane", Organization: []string{"developers"}}}
	for _, tc := range []struct {
		name, method, url string
		client            *x509.Certificate
		code              int
		body              string
	}{
		{"not the API server", "POST", "/exec/default/web/app?command=true&output=1", someone, http.StatusForbidden, "Forbidden\n"},
		{"no streams", "POST", "/exec/default/web/app?command=true", apiserver, http.StatusBadRequest, "you must specify at least 1 of stdin, stdout, stderr\n"},
		{"pod not here", "POST", "/exec/default/other/app?command=true&output=1", apiserver, http.StatusNotFound, "pod does not exist"},
		{"container not running", "GET", "/exec/default/web/gone?command=true&output=1", apiserver, http.StatusInternalServerError, `container not found ("gone")`},
		{"attach: container not running", "POST", "/attach/default/web/gone?output=1", apiserver, http.StatusInternalServerError, `container not found ("gone")`},
		{"port-forward: pod not here", "POST", "/portForward/default/other", apiserver, http.StatusNotFound, "pod does not exist"},
		{"not an upgrade", "POST", "/exec/default/web/app?command=true&output=1", apiserver, http.StatusBadRequest, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.url, nil)
			req.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{tc.client}}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.code || (tc.body != "" && rec.Body.String() != tc.body) {
				t.Errorf("%s %s: %d %q, want %d %q", tc.method, tc.url, rec.Code, rec.Body.String(), tc.code, tc.body)
			}
		})
	}
	if len(streams.calls) != 0 {
		t.Errorf("calls got through to the runtime: %v", streams.calls)
	}
}

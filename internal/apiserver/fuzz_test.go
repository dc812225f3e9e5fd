package apiserver

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	certutil "k8s.io/client-go/util/cert"

	"github.com/portway/portway/internal/allocator"
	"github.com/portway/portway/internal/apiserver/authn"
)

// fuzzServer is one in-process control plane shared by every fuzz input.
var fuzzServer struct {
	once   sync.Once
	err    error
	dir    string
	url    string
	token  string
	client *http.Client
}

// TestMain removes the fuzz server's data directory (its etcd preallocates
// 64 MB) when the package's tests are done.
func TestMain(m *testing.M) {
	code := m.Run()
	if fuzzServer.dir != "" {
		os.RemoveAll(fuzzServer.dir)
	}
	os.Exit(code)
}

func startFuzzServer(t testing.TB) {
	fuzzServer.once.Do(func() {
		dir, err := os.MkdirTemp("", "portway-fuzz-")
		if err != nil {
			fuzzServer.err = err
			return
		}
		fuzzServer.dir = dir
		o, err := testOptions(dir)
		if err != nil {
			fuzzServer.err = err
			return
		}
		ready := make(chan struct{})
		go func() {
			fuzzServer.err = Run(context.Background(), o, func() { close(ready) })
			close(ready)
		}()
		select {
		case <-ready:
		case <-time.After(60 * time.Second):
			fuzzServer.err = fmt.Errorf("server not ready in 60s")
		}
		if fuzzServer.err != nil {
			return
		}
		pki := authn.PKI{Dir: filepath.Join(dir, "pki")}
		roots, err := certutil.NewPool(pki.Path(authn.CACert))
		if err != nil {
			fuzzServer.err = err
			return
		}
		fuzzServer.token, fuzzServer.err = pki.Token()
		fuzzServer.url = "https://" + o.Listen
		fuzzServer.client = &http.Client{Timeout: 30 * time.Second,
			Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	})
	if fuzzServer.err != nil {
		t.Fatal(fuzzServer.err)
	}
}

func fuzzDo(t testing.TB, method, path, contentType string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, fuzzServer.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, out := fuzzSend(t, req)
	return resp.StatusCode, out
}

// fuzzSend sends req to the fuzz server as the admin and reads the answer.
func fuzzSend(t testing.TB, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	req.Header.Set("Authorization", "Bearer "+fuzzServer.token)
	resp, err := fuzzServer.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, out
}

// fuzzGet GETs path from the shared server, asking for accept, and fails
// t unless it answers 200. It returns the Content-Type and the body.
func fuzzGet(t *testing.T, path, accept string) (string, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", fuzzServer.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", accept)
	resp, body := fuzzSend(t, req)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s as %s: %d %s", path, accept, resp.StatusCode, body)
	}
	return resp.Header.Get("Content-Type"), body
}

var (
	fuzzResources    = []string{"configmaps", "pods", "services", "endpoints", "events", "secrets"}
	fuzzContentTypes = []string{"application/json", "application/yaml", "application/vnd.kubernetes.protobuf"}
)

// FuzzCreate sends arbitrary bodies through the real request path (content
// negotiation, decoding, defaulting, validation, storage). It must never
// answer 500 (a recovered panic or an internal error), and a rejected create
// must leave nothing behind.
func FuzzCreate(f *testing.F) {
	f.Add(uint8(0), uint8(0), []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"k":"v"}}`))
	f.Add(uint8(1), uint8(1), []byte("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: x\n"))
	f.Add(uint8(2), uint8(0), []byte(`{"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},"spec":{"clusterIP":"None","ports":[{"port":80}]}}`))
	f.Add(uint8(2), uint8(0), []byte(`{"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},"spec":{"ports":[{"port":70000,"targetPort":"x--y"}]}}`))
	f.Add(uint8(3), uint8(0), []byte(`{"apiVersion":"v1","kind":"Endpoints","metadata":{"name":"e"},"subsets":[{"addresses":[{"ip":"127.0.0.1"}]}]}`))
	f.Add(uint8(4), uint8(1), []byte("kind: Event\napiVersion: v1\nmetadata: {name: e}\ninvolvedObject: {kind: Pod, namespace: other}\n"))
	f.Add(uint8(5), uint8(0), []byte(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"type":"kubernetes.io/tls","stringData":{"a":"b"}}`))
	f.Add(uint8(0), uint8(0), []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","name":"b"}`))
	f.Add(uint8(0), uint8(1), []byte("a: [\n"))
	f.Add(uint8(1), uint8(2), []byte("k8s\x00\n\x02v1\x12\x03Pod\x12\x00"))
	f.Fuzz(func(t *testing.T, resource, contentType uint8, body []byte) {
		startFuzzServer(t)
		res := fuzzResources[int(resource)%len(fuzzResources)]
		path := "/api/v1/namespaces/default/" + res
		count := func() int {
			code, out := fuzzDo(t, "GET", path, "", nil)
			if code != http.StatusOK {
				t.Fatalf("list %s: %d %s", res, code, out)
			}
			return bytes.Count(out, []byte(`"uid":`))
		}
		before := count()
		code, out := fuzzDo(t, "POST", path, fuzzContentTypes[int(contentType)%len(fuzzContentTypes)], body)
		if code >= 500 {
			t.Fatalf("POST %s answered %d: %s", res, code, out)
		}
		if code == http.StatusCreated {
			// Keep the namespace small: remove what was made.
			code, out := fuzzDo(t, "DELETE", path, "application/json", []byte(`{}`))
			if code != http.StatusOK {
				t.Fatalf("deletecollection %s: %d %s", res, code, out)
			}
			return
		}
		if after := count(); after != before {
			t.Fatalf("POST %s was rejected (%d) but the object count went from %d to %d: %s", res, code, before, after, out)
		}
	})
}

// testOptions are the options of a test's server: its data in dir, etcd
// without fsync, the default ranges, and a free loopback port.
func testOptions(dir string) (Options, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return Options{}, err
	}
	addr := l.Addr().String()
	l.Close()
	nodePorts, err := allocator.ParsePortRange("30000-32767")
	if err != nil {
		return Options{}, err
	}
	_, services, _ := net.ParseCIDR("10.96.0.0/12")
	_, cluster, _ := net.ParseCIDR("10.244.0.0/16")
	pods, err := allocator.NewSubnetRange(cluster, 24)
	if err != nil {
		return Options{}, err
	}
	return Options{DataDir: dir, Listen: addr, UnsafeNoFsync: true,
		ServiceClusterIPRange: services, NodePortRange: nodePorts, PodSubnets: pods}, nil
}

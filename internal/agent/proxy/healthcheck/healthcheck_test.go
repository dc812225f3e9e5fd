package healthcheck

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"testing"

	"k8s.io/apimachinery/pkg/types"
)

func TestServer(t *testing.T) {
	addrs := map[string]string{}
	s := &Server{Listen: func(network, addr string) (net.Listener, error) {
		l, err := net.Listen(network, "127.0.0.1:0")
		if err == nil {
			addrs[addr] = l.Addr().String()
		}
		return l, err
	}}
	defer s.Close()
	name := types.NamespacedName{Namespace: "ns", Name: "lb"}
	get := func() (int, map[string]any, string) {
		t.Helper()
		resp, err := http.Get("http://" + addrs[":32000"] + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var doc map[string]any
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		return resp.StatusCode, doc, resp.Header.Get("X-Load-Balancing-Endpoint-Weight")
	}

	if err := s.Sync(context.Background(), map[types.NamespacedName]Service{name: {Port: 32000, LocalEndpoints: 2}}); err != nil {
		t.Fatal(err)
	}
	code, doc, weight := get()
	if code != http.StatusOK || doc["localEndpoints"] != float64(2) || weight != "2" ||
		doc["service"].(map[string]any)["name"] != "lb" || doc["serviceProxyHealthy"] != true {
		t.Errorf("2 local endpoints: %d %v weight %s", code, doc, weight)
	}

	if err := s.Sync(context.Background(), map[types.NamespacedName]Service{name: {Port: 32000}}); err != nil {
		t.Fatal(err)
	}
	if code, doc, _ := get(); code != http.StatusServiceUnavailable || doc["localEndpoints"] != float64(0) {
		t.Errorf("no local endpoint: %d %v", code, doc)
	}

	s.Healthy = func() bool { return false }
	if err := s.Sync(context.Background(), map[types.NamespacedName]Service{name: {Port: 32000, LocalEndpoints: 1}}); err != nil {
		t.Fatal(err)
	}
	if code, doc, _ := get(); code != http.StatusServiceUnavailable || doc["serviceProxyHealthy"] != false {
		t.Errorf("proxy unhealthy: %d %v", code, doc)
	}

	if err := s.Sync(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get("http://" + addrs[":32000"] + "/"); err == nil {
		t.Errorf("the health check of a Service gone still answers")
	}
}

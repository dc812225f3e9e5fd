package registry

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// TestProxyConnect: the request goes to the location, with the path from
// the options (trailing slash kept) and the query it came with.
func TestProxyConnect(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.URL.RequestURI())
	}))
	defer backend.Close()
	target, err := url.Parse(backend.URL)
	if err != nil {
		t.Fatal(err)
	}
	var asked string
	p := &Proxy[*corev1.PodProxyOptions]{
		Path: func(o *corev1.PodProxyOptions) string { return o.Path },
		Location: func(_ context.Context, id string) (*url.URL, error) {
			asked = id
			return &url.URL{Scheme: "http", Host: target.Host}, nil
		},
		Transport: http.DefaultTransport,
	}
	h, err := p.Connect(context.Background(), "web:8080", &corev1.PodProxyOptions{Path: "/status/ready/"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/namespaces/default/pods/web:8080/proxy/status/ready/?verbose=1", nil))
	if got := rec.Body.String(); asked != "web:8080" || rec.Code != http.StatusOK || got != "/status/ready/?verbose=1" {
		t.Errorf("location asked for %q; backend got %q (%d)", asked, got, rec.Code)
	}
	if _, err := p.Connect(context.Background(), "web", &corev1.ServiceProxyOptions{}, nil); err == nil {
		t.Error("Connect took another resource's options")
	}
}

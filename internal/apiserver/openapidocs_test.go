package apiserver

import (
	"bytes"
	"cmp"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	apimux "k8s.io/apiserver/pkg/server/mux"
	"k8s.io/kube-openapi/pkg/handler3"
	"k8s.io/kube-openapi/pkg/spec3"
)

// The OpenAPI documents are built on their first request. They must then
// hold what clients read from them: client-side apply merges a Service's
// ports by the keys in the v3 document, and older kubectls fall back to v2
// as protobuf.
func TestOpenAPI(t *testing.T) {
	startFuzzServer(t)
	decode := func(body []byte, into any) {
		t.Helper()
		if err := json.Unmarshal(body, into); err != nil {
			t.Fatal(err)
		}
	}
	type ports struct {
		MergeKey    string   `json:"x-kubernetes-patch-merge-key"`
		ListMapKeys []string `json:"x-kubernetes-list-map-keys"`
	}
	type schema struct {
		Properties struct {
			Ports ports `json:"ports"`
		} `json:"properties"`
	}
	want := ports{MergeKey: "port", ListMapKeys: []string{"port", "protocol"}}

	_, body := fuzzGet(t, "/openapi/v3", "application/json")
	var discovery struct {
		Paths map[string]struct {
			URL string `json:"serverRelativeURL"`
		} `json:"paths"`
	}
	decode(body, &discovery)
	for _, gv := range []string{"api/v1", "apis/apps/v1", "apis/discovery.k8s.io/v1", "apis/coordination.k8s.io/v1", "apis/events.k8s.io/v1",
		"apis/authentication.k8s.io/v1", "apis/authorization.k8s.io/v1"} {
		if _, ok := discovery.Paths[gv]; !ok {
			t.Errorf("/openapi/v3 does not list %s", gv)
		}
	}
	for gv, p := range discovery.Paths {
		_, body := fuzzGet(t, p.URL, "application/json")
		var doc struct {
			OpenAPI string `json:"openapi"`
		}
		if decode(body, &doc); doc.OpenAPI != "3.0.0" {
			t.Errorf("%s: openapi %q, want 3.0.0", gv, doc.OpenAPI)
		}
		if u := hashedURL(gv, contentETag(body)); p.URL != u {
			t.Errorf("%s: the index has %s, the hash of the document gives %s", gv, p.URL, u)
		}
	}
	_, body = fuzzGet(t, discovery.Paths["api/v1"].URL, "application/json")
	var v3 struct {
		Components struct {
			Schemas map[string]schema `json:"schemas"`
		} `json:"components"`
	}
	decode(body, &v3)
	if got := v3.Components.Schemas["io.k8s.api.core.v1.ServiceSpec"].Properties.Ports; !reflect.DeepEqual(got, want) {
		t.Errorf("v3 ServiceSpec.ports: %+v, want %+v", got, want)
	}

	_, body = fuzzGet(t, "/openapi/v2", "application/json")
	var v2 struct {
		Definitions map[string]schema `json:"definitions"`
	}
	decode(body, &v2)
	if got := v2.Definitions["io.k8s.api.core.v1.ServiceSpec"].Properties.Ports; !reflect.DeepEqual(got, want) {
		t.Errorf("v2 ServiceSpec.ports: %+v, want %+v", got, want)
	}
	if ct, body := fuzzGet(t, "/openapi/v2", "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"); ct != "application/com.github.proto-openapi.spec.v2.v1.0+protobuf" || len(body) == 0 {
		t.Errorf("v2 as protobuf: %d bytes of %q", len(body), ct)
	}
}

// The v3 documents are served by portway's own handler, which keeps them
// compressed. Clients must see no difference from kube-apiserver, which
// serves each document with kube-openapi's handler3 (status, headers,
// redirects and bodies, in JSON and protobuf) and the index with its
// aggregator (the recording in shared/oracle/cases/103).
func TestOpenAPIV3AsHandler3(t *testing.T) {
	startFuzzServer(t)
	_, index := fuzzGet(t, "/openapi/v3", "application/json")
	var discovery handler3.OpenAPIV3Discovery
	if err := json.Unmarshal(index, &discovery); err != nil {
		t.Fatal(err)
	}
	// Both handlers serve the same spec objects: the server's documents,
	// decoded.
	reference, ours := handler3.NewOpenAPIService(), newV3Documents()
	for gv, p := range discovery.Paths {
		_, body := fuzzGet(t, p.ServerRelativeURL, "application/json")
		var doc spec3.OpenAPI
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatalf("%s: %v", gv, err)
		}
		reference.UpdateGroupVersion(gv, &doc)
		if err := ours.add(gv, &doc); err != nil {
			t.Fatal(err)
		}
	}
	if err := ours.finish(); err != nil {
		t.Fatal(err)
	}
	referenceMux, ourMux := apimux.NewPathRecorderMux("handler3"), apimux.NewPathRecorderMux("portway")
	if err := reference.RegisterOpenAPIV3VersionedService("/openapi/v3", referenceMux); err != nil {
		t.Fatal(err)
	}
	(&openAPIV3{build: func() (*v3Documents, error) { return ours, nil }}).register(ourMux)

	hashed := hashedURL("api/v1", ours.byGV["api/v1"].etag)
	etag := `"` + ours.byGV["api/v1"].etag + `"`
	for _, tc := range []docRequest{
		{path: "/openapi/v3/api/v1", accept: "application/json"},
		{path: hashed, accept: "application/json"},
		{path: hashed},
		{path: hashed, accept: "*/*"},
		{path: hashed, accept: "application/com.github.proto-openapi.spec.v3@v1.0+protobuf"},
		{path: hashed, accept: "application/com.github.proto-openapi.spec.v3.v1.0+protobuf;q=0.9,application/json;q=0.5"},
		{path: "/openapi/v3/api/v1", accept: "application/com.github.proto-openapi.spec.v3.v1.0+protobuf"},
		{path: hashed, accept: "text/html"},
		{path: hashed, accept: "application/json", ifNoneMatch: etag},
		{path: "/openapi/v3/api/v1", accept: "application/json", ifNoneMatch: `"0123"`},
		{method: "HEAD", path: hashed, accept: "application/json"},
		{path: "/openapi/v3/apis/apps/v1?hash=0123", accept: "application/json"},
	} {
		got, want := tc.record(ourMux), tc.record(referenceMux)
		if got.Code != want.Code || !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) {
			t.Errorf("%+v: %d, %d bytes; handler3: %d, %d bytes", tc, got.Code, got.Body.Len(), want.Code, want.Body.Len())
		}
		// Times differ; that each is there must not.
		for _, h := range []string{"Expires", "Last-Modified"} {
			if (got.Header().Get(h) == "") != (want.Header().Get(h) == "") {
				t.Errorf("%+v: %s %q, handler3 %q", tc, h, got.Header().Get(h), want.Header().Get(h))
			}
			got.Header().Del(h)
			want.Header().Del(h)
		}
		if !reflect.DeepEqual(got.Header(), want.Header()) {
			t.Errorf("%+v: headers %v, handler3 %v", tc, got.Header(), want.Header())
		}
	}

	// The aggregator's index: handler3's paths, without an Etag.
	got, want := docRequest{path: "/openapi/v3"}.record(ourMux), docRequest{path: "/openapi/v3"}.record(referenceMux)
	if got.Code != http.StatusOK || !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) {
		t.Errorf("GET /openapi/v3: %d %s, want 200 %s", got.Code, got.Body, want.Body)
	}
	if ct, etag, modified := got.Header().Get("Content-Type"), got.Header().Get("Etag"), got.Header().Get("Last-Modified"); ct != "text/plain; charset=utf-8" || etag != "" || modified == "" {
		t.Errorf("GET /openapi/v3: Content-Type %q, Etag %q, Last-Modified %q; want kube-apiserver's text/plain; charset=utf-8, none and a time", ct, etag, modified)
	}
	if got := (docRequest{path: "/openapi/v3/apis/example.com/v1"}).record(ourMux); got.Code != http.StatusNotFound || got.Body.Len() != 0 {
		t.Errorf("GET /openapi/v3/apis/example.com/v1: %d %q, want kube-apiserver's empty 404", got.Code, got.Body)
	}
}

type docRequest struct{ method, path, accept, ifNoneMatch string }

func (r docRequest) record(h http.Handler) *httptest.ResponseRecorder {
	req := httptest.NewRequest(cmp.Or(r.method, "GET"), r.path, nil)
	if r.accept != "" {
		req.Header.Set("Accept", r.accept)
	}
	if r.ifNoneMatch != "" {
		req.Header.Set("If-None-Match", r.ifNoneMatch)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

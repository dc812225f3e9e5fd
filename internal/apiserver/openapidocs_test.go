package apiserver

import (
	"encoding/json"
	"reflect"
	"testing"
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

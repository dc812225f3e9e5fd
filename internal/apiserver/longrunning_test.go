package apiserver

import (
	"net/http/httptest"
	"testing"

	apirequest "k8s.io/apiserver/pkg/endpoints/request"
)

func TestLongRunning(t *testing.T) {
	for _, tc := range []struct {
		verb, subresource string
		want              bool
	}{
		{"watch", "", true},
		{"get", "exec", true},
		{"create", "attach", true},
		{"get", "portforward", true},
		{"get", "log", true},
		{"create", "proxy", true},
		{"get", "", false},
		{"list", "", false},
		{"update", "status", false},
	} {
		info := &apirequest.RequestInfo{IsResourceRequest: true, Verb: tc.verb, Resource: "pods", Subresource: tc.subresource}
		if got := longRunning(httptest.NewRequest("GET", "/", nil), info); got != tc.want {
			t.Errorf("%s pods/%s: long-running %v, want %v", tc.verb, tc.subresource, got, tc.want)
		}
	}
}

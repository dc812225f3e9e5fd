package apiserver

import (
	"encoding/json"
	"slices"
	"testing"
)

// TestDiscoveryOrder: both /apis documents list the groups in
// kube-apiserver's order. kubectl reads the aggregated one, which the
// library sorts by priority and then by name.
func TestDiscoveryOrder(t *testing.T) {
	startFuzzServer(t)
	want := []string{"apps", "events.k8s.io", "authentication.k8s.io", "authorization.k8s.io", "coordination.k8s.io", "discovery.k8s.io"}
	for _, accept := range []string{"application/json", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"} {
		_, body := fuzzGet(t, "/apis", accept)
		var doc struct {
			Groups []struct{ Name string } `json:"groups"` // APIGroupList
			Items  []struct {
				Metadata struct{ Name string } `json:"metadata"`
			} `json:"items"` // APIGroupDiscoveryList
		}
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, g := range doc.Groups {
			got = append(got, g.Name)
		}
		for _, g := range doc.Items {
			got = append(got, g.Metadata.Name)
		}
		if !slices.Equal(got, want) {
			t.Errorf("/apis as %s lists %v, want %v", accept, got, want)
		}
	}
}

package replicaset

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"
)

// TestClaimRechecksOwner: an owner that the API server says is deleted
// (the cache does not know yet) adopts nothing, and says why.
func TestClaimRechecksOwner(t *testing.T) {
	rs := replicaSet("web", 1)
	fresh := rs.DeepCopy()
	fresh.DeletionTimestamp = ptr.To(metav1.NewTime(t0))
	patched := 0
	c := &Claimer{Owner: rs, Kind: Kind, Selector: labels.SelectorFromSet(labels.Set{"app": "web"}),
		Fresh: func(context.Context) (metav1.Object, error) { return fresh, nil },
		Patch: func(context.Context, string, string, []byte) error { patched++; return nil },
	}
	got, err := Claim(context.Background(), c, []*corev1.Pod{pod("a"), pod("b")})
	if len(got) != 0 || patched != 0 {
		t.Errorf("claimed %d pods, %d patches", len(got), patched)
	}
	if err == nil || !strings.Contains(err.Error(), "can't adopt Pod rsdemo/a (uid-a): rsdemo/web has just been deleted at ") {
		t.Errorf("error %v", err)
	}
}

package nodeipam

import (
	"context"
	"net"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/portway/portway/internal/allocator"
)

// TestGivesLowestFreeSubnets checks the allocation order: nodes that already
// hold a subnet keep it, new ones get the lowest free ones, and two nodes
// synced before the cache shows the first patch still get different ones.
func TestGivesLowestFreeSubnets(t *testing.T) {
	_, cidr, _ := net.ParseCIDR("10.244.0.0/16")
	subnets, err := allocator.NewSubnetRange(cidr, 24)
	if err != nil {
		t.Fatal(err)
	}
	node := func(name, podCIDR string) *corev1.Node {
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{PodCIDR: podCIDR}}
		if podCIDR != "" { // as the API server stores it
			n.Spec.PodCIDRs = []string{podCIDR}
		}
		return n
	}
	client := fake.NewClientset(node("a", "10.244.0.0/24"), node("b", ""), node("c", ""), node("d", "10.244.2.0/24"))
	factory := informers.NewSharedInformerFactory(client, 0)
	c := New(client, factory, subnets)
	ctx := context.Background()
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	// Sync b and c without letting the informer see b's patch in between.
	for _, name := range []string{"b", "c"} {
		if _, err := c.sync(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	for name, want := range map[string]string{"a": "10.244.0.0/24", "b": "10.244.1.0/24", "c": "10.244.3.0/24", "d": "10.244.2.0/24"} {
		n, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if n.Spec.PodCIDR != want || len(n.Spec.PodCIDRs) != 1 || n.Spec.PodCIDRs[0] != want {
			t.Errorf("node %s: podCIDR %q podCIDRs %v, want %s", name, n.Spec.PodCIDR, n.Spec.PodCIDRs, want)
		}
	}
}

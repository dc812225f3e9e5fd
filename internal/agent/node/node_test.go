package node

import (
	"context"
	"net"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
)

func TestRegisterAndHeal(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset()
	a := New(client, Config{Name: "n1", IP: net.ParseIP("172.18.0.2"), Port: 10250, RecursiveReadOnlyMounts: true})
	if err := a.register(ctx); err != nil {
		t.Fatal(err)
	}
	n, err := client.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n.Labels[corev1.LabelHostname] != "n1" || n.Labels[corev1.LabelOSStable] == "" {
		t.Errorf("labels %v", n.Labels)
	}
	if len(n.Status.Addresses) == 0 || n.Status.Addresses[0] != (corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "172.18.0.2"}) {
		t.Errorf("addresses %v", n.Status.Addresses)
	}
	if h := n.Status.RuntimeHandlers; len(h) != 1 || h[0].Name != "" || h[0].Features == nil ||
		!ptr.Deref(h[0].Features.RecursiveReadOnlyMounts, false) || ptr.Deref(h[0].Features.UserNamespaces, true) {
		t.Errorf("runtime handlers %+v, want the default one, with recursive read-only mounts and no user namespaces", h)
	}
	if n.Status.DaemonEndpoints.KubeletEndpoint.Port != 10250 {
		t.Errorf("kubelet port %d", n.Status.DaemonEndpoints.KubeletEndpoint.Port)
	}
	if c := condition(n.Status.Conditions, corev1.NodeReady); c == nil || c.Status != corev1.ConditionTrue || c.Reason != "KubeletReady" {
		t.Errorf("Ready condition %+v", c)
	}
	if a.needsReport(n) {
		t.Errorf("a freshly posted status needs no report")
	}
	// The lifecycle controller marks the node Unknown: the agent re-posts.
	condition(n.Status.Conditions, corev1.NodeReady).Status = corev1.ConditionUnknown
	if !a.needsReport(n) {
		t.Errorf("a node marked Unknown while the agent runs must be re-posted")
	}

	a.renewLease(ctx)
	l, err := client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, "n1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *l.Spec.HolderIdentity != "n1" || *l.Spec.LeaseDurationSeconds != 40 || l.Spec.RenewTime == nil {
		t.Errorf("lease spec %+v", l.Spec)
	}
	if len(l.OwnerReferences) != 1 || l.OwnerReferences[0].Kind != "Node" || l.OwnerReferences[0].Name != "n1" {
		t.Errorf("lease owner %+v", l.OwnerReferences)
	}
	first := l.Spec.RenewTime.DeepCopy()
	a.renewLease(ctx)
	l, _ = client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, "n1", metav1.GetOptions{})
	if l.Spec.RenewTime.Before(first) {
		t.Errorf("renewal moved renewTime back")
	}
}

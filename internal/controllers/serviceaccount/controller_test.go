package serviceaccount

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
)

// TestSync checks that only active namespaces without a default
// ServiceAccount get one, and that an existing one is left alone.
func TestSync(t *testing.T) {
	ns := func(name string, phase corev1.NamespacePhase) *corev1.Namespace {
		return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NamespaceStatus{Phase: phase}}
	}
	existing := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: Default, Namespace: "has", UID: "kept"}}
	client := fake.NewClientset(ns("new", corev1.NamespaceActive), ns("going", corev1.NamespaceTerminating),
		ns("has", corev1.NamespaceActive), existing)
	factory := informers.NewSharedInformerFactory(client, 0)
	c := New(client, factory)
	ctx := context.Background()
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	for _, name := range []string{"new", "going", "has", "missing"} {
		if err := c.sync(ctx, name); err != nil {
			t.Fatalf("sync %s: %v", name, err)
		}
	}
	for ns, want := range map[string]bool{"new": true, "going": false, "has": true} {
		sa, err := client.CoreV1().ServiceAccounts(ns).Get(ctx, Default, metav1.GetOptions{})
		if got := err == nil; got != want {
			t.Errorf("namespace %s: default ServiceAccount exists %v, want %v (%v)", ns, got, want, err)
		}
		if ns == "has" && err == nil && sa.UID != "kept" {
			t.Errorf("namespace has: ServiceAccount replaced")
		}
	}
	creates := 0
	for _, a := range client.Actions() {
		if a.GetVerb() == "create" {
			creates++
		}
	}
	if creates != 1 {
		t.Errorf("%d creates, want 1", creates)
	}
}

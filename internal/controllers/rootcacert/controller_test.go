package rootcacert

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
)

// TestSync checks that a namespace gets the ConfigMap, that a changed one
// is mended (keeping its other annotations), and that a right one is not
// written.
func TestSync(t *testing.T) {
	const ca = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
	ns := func(name string) *corev1.Namespace {
		return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	}
	cm := func(ns, data string, annotations map[string]string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: Name, Namespace: ns, Annotations: annotations},
			Data: map[string]string{Key: data}}
	}
	client := fake.NewClientset(ns("new"), ns("changed"), ns("right"),
		cm("changed", "stale", map[string]string{"keep": "me"}),
		cm("right", ca, map[string]string{descriptionKey: description}))
	factory := informers.NewSharedInformerFactory(client, 0)
	configMaps := Factory(client)
	c := New(client, factory, configMaps, []byte(ca))
	ctx := context.Background()
	for _, f := range []informers.SharedInformerFactory{factory, configMaps} {
		f.Start(ctx.Done())
		f.WaitForCacheSync(ctx.Done())
	}
	for _, name := range []string{"new", "changed", "right", "missing"} {
		if err := c.sync(ctx, name); err != nil {
			t.Fatalf("sync %s: %v", name, err)
		}
	}
	for _, name := range []string{"new", "changed", "right"} {
		got, err := client.CoreV1().ConfigMaps(name).Get(ctx, Name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("namespace %s: %v", name, err)
		}
		if got.Data[Key] != ca || len(got.Data) != 1 || got.Annotations[descriptionKey] != description {
			t.Errorf("namespace %s: data %v annotations %v", name, got.Data, got.Annotations)
		}
	}
	if got, _ := client.CoreV1().ConfigMaps("changed").Get(ctx, Name, metav1.GetOptions{}); got.Annotations["keep"] != "me" {
		t.Errorf("mending dropped an annotation: %v", got.Annotations)
	}
	writes := map[string]string{}
	for _, a := range client.Actions() {
		if v := a.GetVerb(); v == "create" || v == "update" {
			writes[a.GetNamespace()] = v
		}
	}
	if len(writes) != 2 || writes["new"] != "create" || writes["changed"] != "update" {
		t.Errorf("writes %v, want a create in new and an update in changed", writes)
	}
}

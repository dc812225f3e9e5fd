package trim

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestManagedFields(t *testing.T) {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "s", Labels: map[string]string{"a": "b"},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}}}
	out, err := ManagedFields(svc)
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*corev1.Service)
	if got.ManagedFields != nil || got.Name != "s" || got.Labels["a"] != "b" {
		t.Errorf("got %+v, want the Service without managedFields only", got.ObjectMeta)
	}
	// a tombstone or anything without metadata passes through
	if out, err := ManagedFields("x"); err != nil || out != "x" {
		t.Errorf("ManagedFields(\"x\") = %v, %v", out, err)
	}
}

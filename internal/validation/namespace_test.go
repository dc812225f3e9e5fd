package validation

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func namespace(finalizers ...corev1.FinalizerName) *corev1.Namespace {
	return &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: "ns-life"},
		Spec:       corev1.NamespaceSpec{Finalizers: finalizers},
		Status:     corev1.NamespaceStatus{Phase: corev1.NamespaceActive},
	}
}

var namespaceCases = []createCase[*corev1.Namespace]{
	{name: "default finalizer", obj: namespace(corev1.FinalizerKubernetes)},
	{name: "qualified finalizer", obj: namespace("example.com/cleanup")},
	{
		// Kubernetes reports spec finalizers without their index.
		name: "bad finalizers",
		obj:  namespace("cleanup", "example.com/bad name"),
		want: []string{
			`spec.finalizers: Invalid value: "cleanup": name is neither a standard finalizer name nor is it fully qualified`,
			`spec.finalizers: Invalid value: "example.com/bad name": ` + qualifiedNameMsg,
		},
	},
	{
		name: "metadata finalizer without a domain",
		obj: func() *corev1.Namespace {
			ns := namespace()
			ns.Finalizers = []string{"orphan", "foregroundDeletion", "mine"}
			return ns
		}(),
		want: []string{`metadata.finalizers[2]: Invalid value: "mine": name is neither a standard finalizer name nor is it fully qualified`},
	},
}

func TestValidateNamespace(t *testing.T) {
	runCreateCases(t, namespaceCases, ValidateNamespace)
}

func TestValidateNamespaceUpdate(t *testing.T) {
	checkErrors(t, ValidateNamespaceUpdate(namespace(), namespace(corev1.FinalizerKubernetes)), nil)
}

func terminating(ns *corev1.Namespace) *corev1.Namespace {
	now := metav1.Now()
	ns.DeletionTimestamp = &now
	return ns
}

func withPhase(ns *corev1.Namespace, phase corev1.NamespacePhase) *corev1.Namespace {
	ns.Status.Phase = phase
	return ns
}

var namespaceStatusCases = []updateCase[*corev1.Namespace]{
	{name: "active", obj: namespace(), old: namespace()},
	{name: "terminating", obj: withPhase(terminating(namespace()), corev1.NamespaceTerminating), old: terminating(namespace())},
	{
		name: "terminating without deletion",
		obj:  withPhase(namespace(), corev1.NamespaceTerminating),
		old:  namespace(),
		want: []string{"status.Phase: Invalid value: \"Terminating\": may only be 'Active' if `deletionTimestamp` is empty"},
	},
	{
		name: "active while deleted",
		obj:  terminating(namespace()),
		old:  terminating(namespace()),
		want: []string{"status.Phase: Invalid value: \"Active\": may only be 'Terminating' if `deletionTimestamp` is not empty"},
	},
}

func TestValidateNamespaceStatusUpdate(t *testing.T) {
	runUpdateCases(t, namespaceStatusCases, ValidateNamespaceStatusUpdate)
}

var namespaceFinalizeCases = []updateCase[*corev1.Namespace]{
	{name: "remove the finalizer", obj: namespace(), old: namespace(corev1.FinalizerKubernetes)},
	{
		name: "bad finalizers, with their index",
		obj:  namespace(corev1.FinalizerKubernetes, "cleanup", "a/b/c"),
		old:  namespace(corev1.FinalizerKubernetes),
		want: []string{
			`spec.finalizers[1]: Invalid value: "cleanup": name is neither a standard finalizer name nor is it fully qualified`,
			`spec.finalizers[2]: Invalid value: "a/b/c": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
		},
	},
}

func TestValidateNamespaceFinalizeUpdate(t *testing.T) {
	runUpdateCases(t, namespaceFinalizeCases, ValidateNamespaceFinalizeUpdate)
}

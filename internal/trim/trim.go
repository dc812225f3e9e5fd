// Package trim keeps from informer caches what no cache reader needs.
package trim

import "k8s.io/apimachinery/pkg/api/meta"

// ManagedFields is an informer transform that drops metadata.managedFields,
// as kube-controller-manager and the kubelet do: no controller, agent or
// proxy reads them, and they are a large part of every object. An update
// sent without them keeps the stored ones.
func ManagedFields(obj any) (any, error) {
	if m, err := meta.Accessor(obj); err == nil {
		m.SetManagedFields(nil)
	}
	return obj, nil
}

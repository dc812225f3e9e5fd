// Package serviceaccount serves core/v1 ServiceAccounts.
package serviceaccount

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/portway/portway/internal/printers"
	"github.com/portway/portway/internal/registry"
	"github.com/portway/portway/internal/validation"
)

// Resource is the serviceaccounts resource.
var Resource = &registry.Resource[*corev1.ServiceAccount]{
	Resource:         corev1.Resource("serviceaccounts"),
	Singular:         "serviceaccount",
	ShortNames:       []string{"sa"},
	Namespaced:       true,
	New:              func() *corev1.ServiceAccount { return &corev1.ServiceAccount{} },
	NewList:          func() runtime.Object { return &corev1.ServiceAccountList{} },
	PrepareForCreate: func(_ context.Context, sa *corev1.ServiceAccount) { cleanSecretReferences(sa) },
	PrepareForUpdate: func(_ context.Context, sa, _ *corev1.ServiceAccount) { cleanSecretReferences(sa) },
	Validate:         validation.ValidateServiceAccount,
	Warnings:         warnings,
	Columns:          printers.ServiceAccountColumns,
	Row:              printers.ServiceAccountRow,
}

// cleanSecretReferences keeps only the name of each secret reference, as
// Kubernetes does: the secrets are in the ServiceAccount's namespace.
func cleanSecretReferences(sa *corev1.ServiceAccount) {
	for i, s := range sa.Secrets {
		sa.Secrets[i] = corev1.ObjectReference{Name: s.Name}
	}
}

// EnforceMountableSecrets, set to "true" on an account, limits its pods to
// the secrets it lists; Kubernetes 1.32 deprecates it.
const EnforceMountableSecrets = "kubernetes.io/enforce-mountable-secrets"

// warnings flags the enforce-mountable-secrets annotation when a write adds
// it.
func warnings(sa, old *corev1.ServiceAccount) []string {
	key := EnforceMountableSecrets
	if old != nil {
		if _, ok := old.Annotations[key]; ok {
			return nil
		}
	}
	if _, ok := sa.Annotations[key]; !ok {
		return nil
	}
	return []string{fmt.Sprintf("metadata.annotations[%s]: deprecated in v1.32+; prefer separate namespaces to isolate access to mounted secrets", key)}
}

// Package secret serves core/v1 Secrets.
package secret

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/portway/portway/internal/printers"
	"github.com/portway/portway/internal/registry"
	"github.com/portway/portway/internal/validation"
)

// Resource is the secrets resource.
var Resource = &registry.Resource[*corev1.Secret]{
	Resource:         corev1.Resource("secrets"),
	Singular:         "secret",
	Namespaced:       true,
	New:              func() *corev1.Secret { return &corev1.Secret{} },
	NewList:          func() runtime.Object { return &corev1.SecretList{} },
	PrepareForCreate: func(_ context.Context, s *corev1.Secret) { mergeStringData(s) },
	PrepareForUpdate: func(_ context.Context, s, _ *corev1.Secret) { mergeStringData(s) },
	Validate:         validation.ValidateSecret,
	ValidateUpdate:   validation.ValidateSecretUpdate,
	Fields:           func(s *corev1.Secret) fields.Set { return fields.Set{"type": string(s.Type)} },
	Columns:          printers.SecretColumns,
	Row:              printers.SecretRow,
}

// mergeStringData folds the write-only stringData into data, as the
// Kubernetes API does; stringData is never stored or returned.
func mergeStringData(s *corev1.Secret) {
	if len(s.StringData) > 0 && s.Data == nil {
		s.Data = make(map[string][]byte, len(s.StringData))
	}
	for k, v := range s.StringData {
		s.Data[k] = []byte(v)
	}
	s.StringData = nil
}

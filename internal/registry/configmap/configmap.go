// Package configmap serves core/v1 ConfigMaps.
package configmap

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/portway/portway/internal/printers"
	"github.com/portway/portway/internal/registry"
	"github.com/portway/portway/internal/validation"
)

// Resource is the configmaps resource.
var Resource = &registry.Resource[*corev1.ConfigMap]{
	Resource:       corev1.Resource("configmaps"),
	Singular:       "configmap",
	ShortNames:     []string{"cm"},
	Namespaced:     true,
	New:            func() *corev1.ConfigMap { return &corev1.ConfigMap{} },
	NewList:        func() runtime.Object { return &corev1.ConfigMapList{} },
	Validate:       validation.ValidateConfigMap,
	ValidateUpdate: validation.ValidateConfigMapUpdate,
	Columns:        printers.ConfigMapColumns,
	Row:            printers.ConfigMapRow,
}

package validation

import (
	"reflect"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// maxConfigSize bounds the data of a ConfigMap or Secret (1 MiB), well below
// etcd's request limit.
const maxConfigSize = 1 * 1024 * 1024

// ValidateConfigMap validates a ConfigMap (create, and the new object of an
// update).
func ValidateConfigMap(c *corev1.ConfigMap) field.ErrorList {
	allErrs := validateKubeFinalizers(&c.ObjectMeta)

	totalSize := 0
	dataPath := field.NewPath("data")
	for _, key := range sortedKeys(c.Data) {
		allErrs = append(allErrs, invalidEach(dataPath.Key(key), key, validation.IsConfigMapKey(key))...)
		// A key must not be in both bags: they become files of one directory.
		if _, dup := c.BinaryData[key]; dup {
			allErrs = append(allErrs, field.Invalid(dataPath.Key(key), key, "duplicate of key present in binaryData"))
		}
		totalSize += len(c.Data[key])
	}
	binaryPath := field.NewPath("binaryData")
	for _, key := range sortedKeys(c.BinaryData) {
		allErrs = append(allErrs, invalidEach(binaryPath.Key(key), key, validation.IsConfigMapKey(key))...)
		totalSize += len(c.BinaryData[key])
	}
	if totalSize > maxConfigSize {
		// The empty path means "the whole object" (it prints as "[]"); a
		// TooLong error does not print its value.
		allErrs = append(allErrs, field.TooLong(field.NewPath(""), "", maxConfigSize))
	}
	return allErrs
}

// ValidateConfigMapUpdate: once a ConfigMap is immutable, neither its data nor
// the flag itself may change.
func ValidateConfigMapUpdate(c, old *corev1.ConfigMap) field.ErrorList {
	if old.Immutable == nil || !*old.Immutable {
		return nil
	}
	var allErrs field.ErrorList
	if c.Immutable == nil || !*c.Immutable {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("immutable"), immutableWhenSetMsg))
	}
	if !reflect.DeepEqual(c.Data, old.Data) {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("data"), immutableWhenSetMsg))
	}
	if !reflect.DeepEqual(c.BinaryData, old.BinaryData) {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("binaryData"), immutableWhenSetMsg))
	}
	return allErrs
}

func sortedKeys[K ~string, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

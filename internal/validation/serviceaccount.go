package validation

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ValidateServiceAccount validates a ServiceAccount (create, and the new
// object of an update). Kubernetes checks only its metadata, which the
// registry has validated already, name included (a DNS subdomain).
func ValidateServiceAccount(sa *corev1.ServiceAccount) field.ErrorList {
	return validateKubeFinalizers(&sa.ObjectMeta)
}

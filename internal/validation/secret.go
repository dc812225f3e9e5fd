package validation

import (
	"encoding/json"
	"reflect"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// redacted stands in for secret contents in an error message.
const redacted = "<secret contents redacted>"

// ValidateSecret validates a Secret (create, and the new object of an
// update): key names, total size, and the keys its type requires.
//
// stringData is not seen here: decoding has merged it into data already.
func ValidateSecret(s *corev1.Secret) field.ErrorList {
	allErrs := validateKubeFinalizers(&s.ObjectMeta)

	dataPath := field.NewPath("data")
	totalSize := 0
	for _, key := range sortedKeys(s.Data) {
		allErrs = append(allErrs, invalidEach(dataPath.Key(key), key, validation.IsConfigMapKey(key))...)
		totalSize += len(s.Data[key])
	}
	if totalSize > maxConfigSize {
		allErrs = append(allErrs, field.TooLong(dataPath, "", maxConfigSize))
	}

	switch s.Type {
	case corev1.SecretTypeServiceAccountToken:
		// The token controller fills in the token; the account must be named.
		if s.Annotations[corev1.ServiceAccountNameKey] == "" {
			allErrs = append(allErrs, field.Required(field.NewPath("metadata", "annotations").Key(corev1.ServiceAccountNameKey), ""))
		}
	case corev1.SecretTypeDockercfg:
		allErrs = append(allErrs, validateJSONKey(s.Data, corev1.DockerConfigKey, dataPath)...)
	case corev1.SecretTypeDockerConfigJson:
		allErrs = append(allErrs, validateJSONKey(s.Data, corev1.DockerConfigJsonKey, dataPath)...)
	case corev1.SecretTypeBasicAuth:
		// Either may be empty, but one of them must be there.
		_, hasUser := s.Data[corev1.BasicAuthUsernameKey]
		_, hasPassword := s.Data[corev1.BasicAuthPasswordKey]
		if !hasUser && !hasPassword {
			allErrs = append(allErrs,
				field.Required(dataPath.Key(corev1.BasicAuthUsernameKey), ""),
				field.Required(dataPath.Key(corev1.BasicAuthPasswordKey), ""))
		}
	case corev1.SecretTypeSSHAuth:
		if len(s.Data[corev1.SSHAuthPrivateKey]) == 0 {
			allErrs = append(allErrs, field.Required(dataPath.Key(corev1.SSHAuthPrivateKey), ""))
		}
	case corev1.SecretTypeTLS:
		// Only presence is checked; the PEM contents are not parsed.
		if _, ok := s.Data[corev1.TLSCertKey]; !ok {
			allErrs = append(allErrs, field.Required(dataPath.Key(corev1.TLSCertKey), ""))
		}
		if _, ok := s.Data[corev1.TLSPrivateKeyKey]; !ok {
			allErrs = append(allErrs, field.Required(dataPath.Key(corev1.TLSPrivateKeyKey), ""))
		}
	}
	// Opaque, "" and any other (user-defined) type have no required keys.
	return allErrs
}

// validateJSONKey requires data[key] to be a JSON object, as the docker
// config secret types do.
func validateJSONKey(data map[string][]byte, key string, dataPath *field.Path) field.ErrorList {
	content, ok := data[key]
	if !ok {
		return field.ErrorList{field.Required(dataPath.Key(key), "")}
	}
	if err := json.Unmarshal(content, &map[string]any{}); err != nil {
		return field.ErrorList{field.Invalid(dataPath.Key(key), redacted, err.Error())}
	}
	return nil
}

// ValidateSecretUpdate: the type of a secret never changes, and an immutable
// secret's data and flag do not either.
func ValidateSecretUpdate(s, old *corev1.Secret) field.ErrorList {
	allErrs := apivalidation.ValidateImmutableField(s.Type, old.Type, field.NewPath("type"))
	if old.Immutable != nil && *old.Immutable {
		if s.Immutable == nil || !*s.Immutable {
			allErrs = append(allErrs, field.Forbidden(field.NewPath("immutable"), immutableWhenSetMsg))
		}
		if !reflect.DeepEqual(s.Data, old.Data) {
			allErrs = append(allErrs, field.Forbidden(field.NewPath("data"), immutableWhenSetMsg))
		}
	}
	return allErrs
}

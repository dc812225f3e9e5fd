package validation

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func secret(typ corev1.SecretType, data map[string][]byte) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "default"},
		Type:       typ,
		Data:       data,
	}
}

var secretCases = []createCase[*corev1.Secret]{
	{name: "opaque", obj: secret(corev1.SecretTypeOpaque, map[string][]byte{"password": []byte("x")})},
	{name: "custom type", obj: secret("example.com/thing", nil)},
	{
		name: "bad key and too large",
		obj:  secret(corev1.SecretTypeOpaque, map[string][]byte{"a/b": nil, "big": []byte(strings.Repeat("x", 1<<20+1))}),
		want: []string{
			`data[a/b]: Invalid value: "a/b": ` + configKeyMsg,
			`data: Too long: may not be more than 1048576 bytes`,
		},
	},
	{name: "tls", obj: secret(corev1.SecretTypeTLS, map[string][]byte{"tls.crt": nil, "tls.key": nil})},
	{
		name: "tls without keys",
		obj:  secret(corev1.SecretTypeTLS, map[string][]byte{"cert": nil}),
		want: []string{`data[tls.crt]: Required value`, `data[tls.key]: Required value`},
	},
	{
		name: "dockerconfigjson missing",
		obj:  secret(corev1.SecretTypeDockerConfigJson, nil),
		want: []string{`data[.dockerconfigjson]: Required value`},
	},
	{
		name: "dockerconfigjson not JSON",
		obj:  secret(corev1.SecretTypeDockerConfigJson, map[string][]byte{".dockerconfigjson": []byte("{auths")}),
		want: []string{`data[.dockerconfigjson]: Invalid value: "<secret contents redacted>": invalid character 'a' looking for beginning of object key string`},
	},
	{
		name: "dockercfg not an object",
		obj:  secret(corev1.SecretTypeDockercfg, map[string][]byte{".dockercfg": []byte(`[]`)}),
		want: []string{`data[.dockercfg]: Invalid value: "<secret contents redacted>": json: cannot unmarshal array into Go value of type map[string]interface {}`},
	},
	{name: "basic auth with password only", obj: secret(corev1.SecretTypeBasicAuth, map[string][]byte{"password": nil})},
	{
		name: "basic auth without either",
		obj:  secret(corev1.SecretTypeBasicAuth, nil),
		want: []string{`data[username]: Required value`, `data[password]: Required value`},
	},
	{
		name: "ssh auth with empty key",
		obj:  secret(corev1.SecretTypeSSHAuth, map[string][]byte{"ssh-privatekey": {}}),
		want: []string{`data[ssh-privatekey]: Required value`},
	},
	{
		name: "service account token without account",
		obj:  secret(corev1.SecretTypeServiceAccountToken, nil),
		want: []string{`metadata.annotations[kubernetes.io/service-account.name]: Required value`},
	},
}

func TestValidateSecret(t *testing.T) {
	runCreateCases(t, secretCases, ValidateSecret)
}

func immutableSecret(data map[string][]byte) *corev1.Secret {
	s := secret(corev1.SecretTypeOpaque, data)
	s.Immutable = ptr.To(true)
	return s
}

var secretUpdateCases = []updateCase[*corev1.Secret]{
	{name: "data may change", obj: secret("", map[string][]byte{"a": {2}}), old: secret("", map[string][]byte{"a": {1}})},
	{
		name: "type may not",
		obj:  secret(corev1.SecretTypeTLS, map[string][]byte{"tls.crt": nil, "tls.key": nil}),
		old:  secret(corev1.SecretTypeOpaque, nil),
		want: []string{`type: Invalid value: "kubernetes.io/tls": field is immutable`},
	},
	{
		name: "immutable",
		obj:  secret(corev1.SecretTypeOpaque, map[string][]byte{"a": {2}}),
		old:  immutableSecret(map[string][]byte{"a": {1}}),
		want: []string{
			"immutable: Forbidden: field is immutable when `immutable` is set",
			"data: Forbidden: field is immutable when `immutable` is set",
		},
	},
}

func TestValidateSecretUpdate(t *testing.T) {
	runUpdateCases(t, secretUpdateCases, ValidateSecretUpdate)
}

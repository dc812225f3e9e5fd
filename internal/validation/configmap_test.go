package validation

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func configMap(data map[string]string, binary map[string][]byte) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: "default"},
		Data:       data,
		BinaryData: binary,
	}
}

func immutableConfigMap(data map[string]string) *corev1.ConfigMap {
	c := configMap(data, nil)
	c.Immutable = ptr.To(true)
	return c
}

var configMapCases = []createCase[*corev1.ConfigMap]{
	{name: "valid", obj: configMap(map[string]string{"app.conf": "x", "KEY_2": "y"}, map[string][]byte{"logo.png": {1}})},
	{
		name: "bad keys, sorted",
		obj:  configMap(map[string]string{"b/c": "", "..": "", "a b": ""}, map[string][]byte{"x:y": nil}),
		want: []string{
			`data[..]: Invalid value: "..": must not be '..'`,
			`data[a b]: Invalid value: "a b": ` + configKeyMsg,
			`data[b/c]: Invalid value: "b/c": ` + configKeyMsg,
			`binaryData[x:y]: Invalid value: "x:y": ` + configKeyMsg,
		},
	},
	{
		name: "key in both bags",
		obj:  configMap(map[string]string{"k": "v"}, map[string][]byte{"k": {1}}),
		want: []string{`data[k]: Invalid value: "k": duplicate of key present in binaryData`},
	},
	{
		name: "over 1 MiB",
		obj:  configMap(map[string]string{"a": strings.Repeat("x", 1<<20)}, map[string][]byte{"b": {1}}),
		want: []string{`[]: Too long: may not be more than 1048576 bytes`},
	},
}

func TestValidateConfigMap(t *testing.T) {
	runCreateCases(t, configMapCases, ValidateConfigMap)
}

var configMapUpdateCases = []updateCase[*corev1.ConfigMap]{
	{name: "mutable", obj: configMap(map[string]string{"a": "2"}, nil), old: configMap(map[string]string{"a": "1"}, nil)},
	{name: "made immutable", obj: immutableConfigMap(map[string]string{"a": "2"}), old: configMap(map[string]string{"a": "1"}, nil)},
	{name: "immutable, unchanged", obj: immutableConfigMap(map[string]string{"a": "1"}), old: immutableConfigMap(map[string]string{"a": "1"})},
	{
		name: "immutable, changed",
		obj: func() *corev1.ConfigMap {
			c := configMap(map[string]string{"a": "2"}, map[string][]byte{"b": {1}})
			c.Immutable = ptr.To(false)
			return c
		}(),
		old: immutableConfigMap(map[string]string{"a": "1"}),
		want: []string{
			"immutable: Forbidden: field is immutable when `immutable` is set",
			"data: Forbidden: field is immutable when `immutable` is set",
			"binaryData: Forbidden: field is immutable when `immutable` is set",
		},
	},
}

func TestValidateConfigMapUpdate(t *testing.T) {
	runUpdateCases(t, configMapUpdateCases, ValidateConfigMapUpdate)
}

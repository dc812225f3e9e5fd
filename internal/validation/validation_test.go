package validation

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Test tables list the exact err.Error() strings kube-apiserver 1.32 produces
// for the same object: kubectl prints them after `The <Kind> "<name>" is
// invalid: `.

// createCase is an object and the errors its create-time validation returns.
type createCase[T any] struct {
	name string
	obj  T
	want []string
}

// updateCase is a new and an old object and the errors of the *Update (or
// *StatusUpdate) function under test.
type updateCase[T any] struct {
	name     string
	obj, old T
	want     []string
}

func runCreateCases[T any](t *testing.T, cases []createCase[T], validate func(T) field.ErrorList) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkErrors(t, validate(tc.obj), tc.want)
		})
	}
}

func runUpdateCases[T any](t *testing.T, cases []updateCase[T], validate func(T, T) field.ErrorList) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkErrors(t, validate(tc.obj, tc.old), tc.want)
		})
	}
}

func checkErrors(t *testing.T, got field.ErrorList, want []string) {
	t.Helper()
	gotStrs := make([]string, 0, len(got))
	for _, err := range got {
		gotStrs = append(gotStrs, err.Error())
	}
	if strings.Join(gotStrs, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors differ\ngot:\n  %s\nwant:\n  %s", strings.Join(gotStrs, "\n  "), strings.Join(want, "\n  "))
	}
}

// Messages of k8s.io/apimachinery/pkg/util/validation, spelled out so that
// the tests notice if a dependency bump changes them.
const (
	dns1123LabelMsg     = `a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`
	dns1123SubdomainMsg = `a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`
	qualifiedNameMsg    = `name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`
	configKeyMsg        = `a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`
	labelValueMsg       = `a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`
	portRangeMsg        = `must be between 1 and 65535, inclusive`
	invalidIPMsg        = `must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)`
)

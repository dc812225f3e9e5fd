package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// testAuth checks kubectl auth against the access and token reviews: the
// admin may do anything (portway authorizes as AlwaysAllow, like the
// oracle's cluster), and whoami shows the client certificate's user.
func testAuth(t *testing.T, s *server) {
	expect(t, "can-i", s.ok("auth", "can-i", "create", "pods"), "yes\n")
	expect(t, "can-i as someone", s.ok("auth", "can-i", "delete", "nodes", "--as", "alice"), "yes\n")
	expect(t, "can-i path", s.ok("auth", "can-i", "get", "/healthz"), "yes\n")
	expect(t, "can-i --list", s.ok("auth", "can-i", "--list", "-n", "default"), `Resources Non-Resource URLs Resource Names Verbs
*.* [] [] [*]
 [*] [] [*]
`)
	whoami := regexp.MustCompile(`^ATTRIBUTE +VALUE
Username +portway-admin
Groups +\[system:masters system:authenticated\]
Extra: authentication.kubernetes.io/credential-id +\[X509SHA256=[0-9a-f]{64}\]
$`)
	if got := s.ok("auth", "whoami"); !whoami.MatchString(got) {
		t.Errorf("whoami:\n%s", got)
	}

	// kubectl create validates a review with the OpenAPI documents and
	// then asks for CustomResourceDefinitions, which portway does not
	// serve; --raw posts it as it is.
	token, err := os.ReadFile(filepath.Join(s.dataDir, "pki", "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	review := `{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"` + strings.TrimSpace(string(token)) + `"}}`
	got := s.ok("create", "--raw", "/apis/authentication.k8s.io/v1/tokenreviews", "-f", writeFile(t, review))
	if !strings.Contains(got, `"status":{"authenticated":true,"user":{"username":"portway-admin","groups":["system:masters","system:authenticated"]},"audiences":["https://kubernetes.default.svc.cluster.local"]}}`) {
		t.Errorf("token review: %s", got)
	}
	r := s.kubectl("create", "--raw", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", "-f",
		writeFile(t, `{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{}}`))
	if r.code != 1 || r.stderr != `The request is invalid: spec.resourceAttributes: Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified`+"\n" {
		t.Errorf("empty access review: %+v", r)
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "body.json")
	if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

package e2e

import (
	"path/filepath"
	"strings"
	"testing"
)

// testServiceAccounts checks what Kubernetes gives every namespace and pod:
// a default ServiceAccount and the CA ConfigMap, pods that run as an
// account and mount its token volume, and tokens (kubectl create token)
// that authenticate as the account.
func testServiceAccounts(t *testing.T, s *server) {
	s.ok("create", "namespace", "sa-e2e")
	waitFor(t, "the default ServiceAccount", func() bool { return s.kubectl("get", "sa", "default", "-n", "sa-e2e").code == 0 })
	expect(t, "get sa", s.ok("get", "sa", "-n", "sa-e2e"), "NAME SECRETS AGE\ndefault 0 0s\n")
	waitFor(t, "kube-root-ca.crt", func() bool { return s.kubectl("get", "cm", "kube-root-ca.crt", "-n", "sa-e2e").code == 0 })
	if ca := s.ok("get", "cm", "kube-root-ca.crt", "-n", "sa-e2e", "-o", "jsonpath={.data.ca\\.crt}"); !strings.HasPrefix(ca, "-----BEGIN CERTIFICATE-----") {
		t.Errorf("kube-root-ca.crt holds %q", ca)
	}
	expect(t, "create sa", s.ok("create", "sa", "robot", "-n", "sa-e2e"), "serviceaccount/robot created\n")

	s.ok("run", "web", "-n", "sa-e2e", "--image=nginx", `--overrides={"spec":{"serviceAccountName":"robot"}}`)
	expect(t, "the pod's account and token volume", s.ok("get", "pod", "web", "-n", "sa-e2e", "-o",
		"jsonpath={.spec.serviceAccount}/{.spec.volumes[0].projected.sources[0].serviceAccountToken.expirationSeconds}/{.spec.containers[0].volumeMounts[0].mountPath}"),
		"robot/3607//var/run/secrets/kubernetes.io/serviceaccount")
	r := s.kubectl("run", "ghost", "-n", "sa-e2e", "--image=nginx", `--overrides={"spec":{"serviceAccountName":"ghost"}}`)
	expect(t, "a missing account", r.stderr,
		`Error from server (Forbidden): pods "ghost" is forbidden: error looking up service account sa-e2e/ghost: serviceaccount "ghost" not found`+"\n")

	token := strings.TrimSpace(s.ok("create", "token", "robot", "-n", "sa-e2e"))
	as := func(token string, args ...string) result {
		return s.kubectl(append([]string{"--kubeconfig", "/dev/null", "--server", "https://" + s.listen,
			"--certificate-authority", filepath.Join(s.dataDir, "pki", "ca.crt"), "--token", token}, args...)...)
	}
	expect(t, "whoami with the token", as(token, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username} {.status.userInfo.groups}").stdout,
		`system:serviceaccount:sa-e2e:robot ["system:serviceaccounts","system:serviceaccounts:sa-e2e","system:authenticated"]`)
	bound := strings.TrimSpace(s.ok("create", "token", "robot", "-n", "sa-e2e", "--bound-object-kind", "Pod", "--bound-object-name", "web"))
	expect(t, "a pod-bound token", as(bound, "auth", "whoami", "-o", "jsonpath={.status.userInfo.extra.authentication\\.kubernetes\\.io/pod-name}").stdout, `["web"]`)
	expect(t, "a forged token", as(token+"x", "get", "pods").stderr, "error: You must be logged in to the server (Unauthorized)\n")
	expect(t, "too short a token", s.kubectl("create", "token", "robot", "-n", "sa-e2e", "--duration", "1m").stderr,
		`error: failed to create token: TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes`+"\n")
	s.ok("delete", "namespace", "sa-e2e", "--wait=false")
}

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// kubectlVersions finds the kubectl.1.NN binaries that lie beside the real
// kubectl (the one on PATH may be a dispatcher that picks one of them).
func kubectlVersions(t *testing.T) []string {
	t.Helper()
	onPath, err := exec.LookPath("kubectl")
	if err != nil {
		t.Fatal(err)
	}
	real, err := filepath.EvalSymlinks(onPath)
	if err != nil {
		t.Fatal(err)
	}
	found, _ := filepath.Glob(filepath.Join(filepath.Dir(real), "kubectl.1.*"))
	var bins []string
	for _, f := range found {
		if fi, err := os.Stat(f); err == nil && fi.Mode()&0o111 != 0 {
			bins = append(bins, f)
		}
	}
	return bins
}

// TestKubectlVersions runs the everyday commands with every kubectl from 1.27
// to 1.33 that is installed: each negotiates discovery, OpenAPI and Tables
// a little differently.
func TestKubectlVersions(t *testing.T) {
	bins := kubectlVersions(t)
	if len(bins) == 0 {
		t.Skip("no kubectl.1.NN binaries beside kubectl")
	}
	s := startServer(t)
	for _, bin := range bins {
		t.Run(filepath.Base(bin), func(t *testing.T) {
			ns := "v" + strings.ReplaceAll(strings.TrimPrefix(filepath.Base(bin), "kubectl."), ".", "-")
			run := func(stdin string, args ...string) string {
				t.Helper()
				r := s.kubectlBin(bin, stdin, args...)
				if r.code != 0 {
					t.Fatalf("%s %s: exit %d: %s", filepath.Base(bin), strings.Join(args, " "), r.code, r.stderr)
				}
				return r.stdout
			}
			expect(t, "create ns", run("", "create", "namespace", ns), "namespace/"+ns+" created\n")
			cm := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  namespace: " + ns + "\ndata:\n  k: v\n"
			expect(t, "apply", run(cm, "apply", "-f", "-"), "configmap/cm created\n")
			expect(t, "apply again", run(strings.Replace(cm, "k: v", "k: w", 1), "apply", "-f", "-"), "configmap/cm configured\n")
			expect(t, "get", run("", "get", "cm", "-n", ns), "NAME DATA AGE\ncm 1 0s\nkube-root-ca.crt 1 0s\n")
			expect(t, "get svc wide", run("", "get", "svc", "kubernetes", "-o", "wide"),
				"NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE SELECTOR\nkubernetes ClusterIP 10.96.0.1 <none> 443/TCP 0s <none>\n")
			if d := run("", "describe", "cm", "cm", "-n", ns); !strings.Contains(d, "k:\n----\nw") {
				t.Errorf("describe:\n%s", d)
			}
			expect(t, "delete", run("", "delete", "namespace", ns), `namespace "`+ns+`" deleted`+"\n")
		})
	}
}

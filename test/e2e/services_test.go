package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// allocated hides values the server picks (ClusterIPs, nodePorts it chose),
// so outputs compare by everything else.
var allocated = regexp.MustCompile(`10\.(9[6-9]|10[0-9]|11[01])\.\d+\.\d+|\b3[0-2]\d{3}\b`)

func expectAllocated(t *testing.T, what, got, want string) {
	t.Helper()
	expect(t, what, allocated.ReplaceAllString(got, "X"), allocated.ReplaceAllString(want, "X"))
}

// TestServices runs the Service workflow of the Kubernetes docs with the
// kubectl on PATH and with the oldest and newest kubectl beside it.
func TestServices(t *testing.T) {
	s := startServer(t)
	bins := map[string]string{"kubectl": "kubectl"}
	for _, b := range kubectlVersions(t) {
		if v := filepath.Base(b); v == "kubectl.1.27" || v == "kubectl.1.33" {
			bins[v] = b
		}
	}
	for name, bin := range bins {
		t.Run(name, func(t *testing.T) {
			ns := "svc-" + strings.ReplaceAll(strings.TrimPrefix(name, "kubectl"), ".", "")
			if ns == "svc-" {
				ns = "svc-path"
			}
			k := func(stdin string, args ...string) result {
				t.Helper()
				return s.kubectlBin(bin, stdin, append([]string{"-n", ns}, args...)...)
			}
			ok := func(stdin string, args ...string) string {
				t.Helper()
				r := k(stdin, args...)
				if r.code != 0 {
					t.Fatalf("%s %s: exit %d: %s", name, strings.Join(args, " "), r.code, r.stderr)
				}
				return r.stdout
			}
			s.ok("create", "namespace", ns)
			examples, _ := filepath.Glob("../../examples/*.yaml")
			for _, f := range examples {
				data, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				ok(string(data), "apply", "-f", "-")
			}
			expectAllocated(t, "get svc", ok("", "get", "svc"), `NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE
fb-backends NodePort 10.96.0.2 <none> 5001:30001/TCP 0s
hello-nginx-port-expose NodePort 10.96.0.2 <none> 8181:30003/TCP 0s
karma-daemon NodePort 10.96.0.2 <none> 80:30001/TCP,2121:30002/TCP 0s
my-app-service NodePort 10.96.0.2 <none> 80:30080/TCP 0s
my-lb-service LoadBalancer 10.96.0.2 <pending> 8080:30001/TCP 0s
my-service ClusterIP 10.96.0.2 <none> 8080/TCP 0s
`)
			expect(t, "fixed nodePorts", ok("", "get", "svc", "my-app-service", "hello-nginx-port-expose", "-o", "jsonpath={.items[*].spec.ports[0].nodePort}"), "30080 30003")
			expectAllocated(t, "get svc -o wide", ok("", "get", "svc", "my-service", "-o", "wide"),
				"NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE SELECTOR\nmy-service ClusterIP 10.96.0.2 <none> 8080/TCP 0s app=MyApp\n")
			d := normalize(ok("", "describe", "svc", "my-app-service"))
			for _, line := range []string{"Type: NodePort", "Port: http 80/TCP", "TargetPort: 8080/TCP", "NodePort: http 30080/TCP",
				"Session Affinity: None", "External Traffic Policy: Cluster", "IP Family Policy: SingleStack"} {
				if !strings.Contains(d, line) {
					t.Errorf("describe svc my-app-service lacks %q:\n%s", line, d)
				}
			}
			expect(t, "create clusterip", ok("", "create", "service", "clusterip", "c1", "--tcp=8181:80"), "service/c1 created\n")
			expect(t, "create nodeport", ok("", "create", "service", "nodeport", "n1", "--tcp=8181:80", "--node-port=30123"), "service/n1 created\n")
			expect(t, "create loadbalancer", ok("", "create", "service", "loadbalancer", "l1", "--tcp=8181:80"), "service/l1 created\n")
			expect(t, "create externalname", ok("", "create", "service", "externalname", "e1", "--external-name=example.com"), "service/e1 created\n")
			expectAllocated(t, "created", ok("", "get", "svc", "c1", "n1", "l1", "e1"), `NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE
c1 ClusterIP 10.96.0.2 <none> 8181/TCP 0s
n1 NodePort 10.96.0.2 <none> 8181:30123/TCP 0s
l1 LoadBalancer 10.96.0.2 <pending> 8181:30001/TCP 0s
e1 ExternalName <none> example.com <none> 0s
`)
			r := k("", "create", "service", "nodeport", "n2", "--tcp=8181:80", "--node-port=30123")
			expect(t, "taken nodePort", r.stderr, `error: failed to create NodePort service: Service "n2" is invalid: spec.ports[0].nodePort: Invalid value: 30123: provided port is already allocated`+"\n")
			r = k("apiVersion: v1\nkind: Service\nmetadata:\n  name: bad\nspec:\n  type: NodePort\n  ports:\n  - port: 8181\n    targetPort: 80\n    nodePort: 9090\n", "apply", "-f", "-")
			expect(t, "nodePort out of range", r.stderr, `The Service "bad" is invalid: spec.ports[0].nodePort: Invalid value: 9090: provided port is not in the valid range. The range of valid ports is 30000-32767`+"\n")
			expect(t, "expose", ok("", "expose", "pod", "my-app", "--name=exposed", "--port=80", "--target-port=8080", "--type=NodePort"), "service/exposed exposed\n")
			expect(t, "exposed selector", ok("", "get", "svc", "exposed", "-o", "jsonpath={.spec.selector.app}/{.spec.ports[0].targetPort}"), "my-app/8080")
			// NodePort -> ClusterIP drops the allocated nodePort; back again allocates a new one.
			expect(t, "to ClusterIP", ok("", "patch", "svc", "fb-backends", "-p", `{"spec":{"type":"ClusterIP"}}`), "service/fb-backends patched\n")
			expect(t, "nodePort gone", ok("", "get", "svc", "fb-backends", "-o", "jsonpath={.spec.ports[0].nodePort}"), "")
			expect(t, "edit (via EDITOR)", editService(t, s, bin, ns), "service/my-service edited\n")
			expect(t, "edited", ok("", "get", "svc", "my-service", "-o", "jsonpath={.spec.ports[0].targetPort}"), "8081")
			s.ok("delete", "namespace", ns)
		})
	}
}

// editService runs kubectl edit with an EDITOR that changes targetPort 80 to
// 8081, as a user would in vi.
func editService(t *testing.T, s *server, bin, ns string) string {
	t.Helper()
	editor := filepath.Join(t.TempDir(), "editor.sh")
	if err := os.WriteFile(editor, []byte("#!/bin/sh\nsed -i 's/targetPort: 80$/targetPort: 8081/' \"$1\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBE_EDITOR", editor)
	r := s.kubectlBin(bin, "", "-n", ns, "edit", "svc", "my-service")
	if r.code != 0 {
		t.Fatalf("kubectl edit: %s", r.stderr)
	}
	return r.stdout
}

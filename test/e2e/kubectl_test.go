package e2e

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// age matches the AGE/LAST SEEN cells kubectl prints ("0s", "5m3s", "2d").
var age = regexp.MustCompile(`\b\d+[smhd](\d+[smh])?\b`)

// spaces collapses column padding, so a table compares by its cells.
var spaces = regexp.MustCompile(`[ \t]+`)

func normalize(s string) string {
	return spaces.ReplaceAllString(age.ReplaceAllString(s, "AGE"), " ")
}

func expect(t *testing.T, what, got, want string) {
	t.Helper()
	if normalize(got) != normalize(want) {
		t.Errorf("%s:\ngot:\n%s\nwant:\n%s", what, got, want)
	}
}

// TestKubectl runs the kubectl suite against the embedded etcd.
func TestKubectl(t *testing.T) {
	kubectlSuite(t, startServer(t))
}

// TestKubectlExternalEtcd runs the same suite with state in an external etcd
// (Debian's etcd-server) started on a free loopback port.
func TestKubectlExternalEtcd(t *testing.T) {
	url := startEtcd(t)
	kubectlSuite(t, startServer(t, "--etcd-servers", url))
}

func startEtcd(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("etcd")
	if err != nil {
		t.Skip("etcd is not installed (apt-get install etcd-server); .ci/run installs it")
	}
	client, peer := "http://"+freeAddr(t), "http://"+freeAddr(t)
	cmd := exec.Command(bin, "--data-dir", t.TempDir(), "--name", "e2e",
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "e2e="+peer, "--unsafe-no-fsync", "--log-level", "error")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return client
}

func kubectlSuite(t *testing.T, s *server) {
	t.Run("namespaces", func(t *testing.T) { testNamespaces(t, s) })
	t.Run("configmaps", func(t *testing.T) { testConfigMaps(t, s) })
	t.Run("pods", func(t *testing.T) { testPods(t, s) })
	t.Run("events", func(t *testing.T) { testEvents(t, s) })
	t.Run("watch", func(t *testing.T) { testWatch(t, s) })
	t.Run("errors", func(t *testing.T) { testErrors(t, s) })
	t.Run("nodes", func(t *testing.T) { testNodes(t, s) })
	t.Run("auth", func(t *testing.T) { testAuth(t, s) })
	t.Run("serviceaccounts", func(t *testing.T) { testServiceAccounts(t, s) })
}

// testNodes checks what the control plane does for a Node: a pod CIDR out
// of the cluster CIDR, and the table kubectl prints for a node no agent runs.
func testNodes(t *testing.T, s *server) {
	s.applyStdin("apiVersion: v1\nkind: Node\nmetadata:\n  name: node-x\n---\napiVersion: v1\nkind: Node\nmetadata:\n  name: node-y\n")
	cidrs := func() string {
		return s.ok("get", "nodes", "node-x", "node-y", "-o", "jsonpath={.items[*].spec.podCIDR}")
	}
	waitFor(t, "pod CIDRs for both nodes", func() bool { return len(strings.Fields(cidrs())) == 2 })
	got := strings.Fields(cidrs())
	podCIDR := regexp.MustCompile(`^10\.244\.\d+\.0/24$`)
	if got[0] == got[1] || !podCIDR.MatchString(got[0]) || !podCIDR.MatchString(got[1]) {
		t.Errorf("pod CIDRs %v: want two different /24s of 10.244.0.0/16", got)
	}
	expect(t, "get nodes", s.ok("get", "nodes", "node-x"), "NAME STATUS ROLES AGE VERSION\nnode-x Unknown <none> 0s \n")
	s.ok("delete", "node", "node-x", "node-y")
}

func testNamespaces(t *testing.T, s *server) {
	expect(t, "get ns", s.ok("get", "ns"), `NAME STATUS AGE
default Active 0s
kube-node-lease Active 0s
kube-public Active 0s
kube-system Active 0s
`)
	expect(t, "create ns", s.ok("create", "namespace", "e2e-ns"), "namespace/e2e-ns created\n")
	expect(t, "get ns -l", s.ok("get", "ns", "-l", "kubernetes.io/metadata.name=e2e-ns", "-o", "name"), "namespace/e2e-ns\n")
	s.ok("create", "configmap", "doomed", "-n", "e2e-ns", "--from-literal=a=b")
	expect(t, "delete ns", s.ok("delete", "namespace", "e2e-ns"), `namespace "e2e-ns" deleted`+"\n")
	// kubectl delete waits until the namespace is gone: its content went first.
	if r := s.kubectl("get", "ns", "e2e-ns"); r.code != 1 || !strings.Contains(r.stderr, `namespaces "e2e-ns" not found`) {
		t.Errorf("namespace still there after delete: %+v", r)
	}
	r := s.kubectl("delete", "namespace", "default")
	if r.code != 1 || !strings.Contains(r.stderr, `namespaces "default" is forbidden: this namespace may not be deleted`) {
		t.Errorf("deleting default: %+v", r)
	}
}

func testConfigMaps(t *testing.T, s *server) {
	s.ok("create", "namespace", "cms")
	expect(t, "create", s.ok("create", "configmap", "one", "-n", "cms", "--from-literal=k=v"), "configmap/one created\n")
	manifest := `apiVersion: v1
kind: ConfigMap
metadata:
  name: two
  namespace: cms
  labels:
    app: demo
data:
  color: blue
`
	expect(t, "apply", s.applyStdin(manifest), "configmap/two created\n")
	expect(t, "re-apply", s.applyStdin(manifest), "configmap/two unchanged\n")
	expect(t, "apply change", s.applyStdin(strings.Replace(manifest, "blue", "red", 1)), "configmap/two configured\n")
	expect(t, "get", s.ok("get", "cm", "-n", "cms"), "NAME DATA AGE\nkube-root-ca.crt 1 0s\none 1 0s\ntwo 1 0s\n")
	expect(t, "label selector", s.ok("get", "cm", "-n", "cms", "-l", "app=demo", "-o", "name"), "configmap/two\n")
	expect(t, "field selector", s.ok("get", "cm", "-n", "cms", "--field-selector", "metadata.name=one", "-o", "name"), "configmap/one\n")
	expect(t, "jsonpath", s.ok("get", "cm", "two", "-n", "cms", "-o", "jsonpath={.data.color}"), "red")
	if y := s.ok("get", "cm", "two", "-n", "cms", "-o", "yaml"); !strings.Contains(y, "kubectl.kubernetes.io/last-applied-configuration") || !strings.Contains(y, "color: red") {
		t.Errorf("-o yaml lacks the applied state:\n%s", y)
	}
	expect(t, "strategic patch", s.ok("patch", "cm", "two", "-n", "cms", "-p", `{"data":{"size":"L"}}`), "configmap/two patched\n")
	expect(t, "merge patch", s.ok("patch", "cm", "two", "-n", "cms", "--type=merge", "-p", `{"data":{"size":null}}`), "configmap/two patched\n")
	expect(t, "json patch", s.ok("patch", "cm", "two", "-n", "cms", "--type=json", "-p", `[{"op":"replace","path":"/data/color","value":"green"}]`), "configmap/two patched\n")
	expect(t, "after patches", s.ok("get", "cm", "two", "-n", "cms", "-o", "jsonpath={.data}"), `{"color":"green"}`)
	expect(t, "server-side apply", s.applyStdin(strings.Replace(manifest, "blue", "pink", 1), "--server-side", "--force-conflicts"), "configmap/two serverside-applied\n")
	if d := s.ok("describe", "cm", "two", "-n", "cms"); !strings.Contains(d, "Name:         two") || !strings.Contains(d, "color:\n----\npink") {
		t.Errorf("describe:\n%s", d)
	}
	expect(t, "delete", s.ok("delete", "cm", "one", "-n", "cms"), `configmap "one" deleted`+"\n")
	r := s.kubectl("get", "cm", "one", "-n", "cms")
	expect(t, "get deleted", r.stderr, `Error from server (NotFound): configmaps "one" not found`+"\n")
}

func (s *server) applyStdin(manifest string, extra ...string) string {
	s.t.Helper()
	r := s.kubectlIn(manifest, append([]string{"apply", "-f", "-"}, extra...)...)
	if r.code != 0 {
		s.t.Fatalf("kubectl apply: exit %d: %s", r.code, r.stderr)
	}
	return r.stdout
}

func testPods(t *testing.T, s *server) {
	s.ok("create", "namespace", "pods")
	expect(t, "run", s.ok("run", "web", "-n", "pods", "--image=registry.k8s.io/e2e-test-images/agnhost:2.40", "--labels=app=web,tier=front"), "pod/web created\n")
	expect(t, "get", s.ok("get", "pods", "-n", "pods"), "NAME READY STATUS RESTARTS AGE\nweb 0/1 Pending 0 0s\n")
	expect(t, "wide", s.ok("get", "pods", "-n", "pods", "-o", "wide"),
		"NAME READY STATUS RESTARTS AGE IP NODE NOMINATED NODE READINESS GATES\nweb 0/1 Pending 0 0s <none> <none> <none> <none>\n")
	y := s.ok("get", "pod", "web", "-n", "pods", "-o", "yaml")
	for _, want := range []string{"dnsPolicy: ClusterFirst", "restartPolicy: Always", "terminationGracePeriodSeconds: 30",
		"schedulerName: default-scheduler", "imagePullPolicy: IfNotPresent", "terminationMessagePath: /dev/termination-log",
		"phase: Pending", "qosClass: BestEffort", "tolerationSeconds: 300", "enableServiceLinks: true"} {
		if !strings.Contains(y, want) {
			t.Errorf("pod -o yaml lacks %q:\n%s", want, y)
		}
	}
	expect(t, "field selector phase", s.ok("get", "pods", "-n", "pods", "--field-selector", "status.phase=Pending", "-o", "name"), "pod/web\n")
	expect(t, "field selector node", s.ok("get", "pods", "-A", "--field-selector", "spec.nodeName=nowhere", "-o", "name"), "")
	r := s.kubectl("get", "pods", "-n", "pods", "--field-selector", "spec.image=x")
	expect(t, "bad field selector", r.stderr, `Error from server (BadRequest): Unable to find "/v1, Resource=pods" that match label selector "", field selector "spec.image=x": field label not supported: spec.image`+"\n")
	expect(t, "label", s.ok("label", "pod", "web", "-n", "pods", "version=1"), "pod/web labeled\n")
	expect(t, "selector", s.ok("get", "pods", "-n", "pods", "-l", "app=web,version=1", "-o", "name"), "pod/web\n")
	r = s.kubectl("set", "image", "pod/web", "-n", "pods", "web=registry.k8s.io/e2e-test-images/agnhost:2.41")
	expect(t, "set image", r.stdout, "pod/web image updated\n")
	r = s.kubectl("patch", "pod", "web", "-n", "pods", "-p", `{"spec":{"restartPolicy":"Never"}}`)
	if r.code != 1 || !strings.Contains(r.stderr, "pod updates may not change fields other than") {
		t.Errorf("changing restartPolicy: %+v", r)
	}
	expect(t, "json", s.ok("get", "pod", "web", "-n", "pods", "-o", "jsonpath={.spec.containers[0].image}"), "registry.k8s.io/e2e-test-images/agnhost:2.41")
	if d := normalize(s.ok("describe", "pod", "web", "-n", "pods")); !strings.Contains(d, "Status: Pending") || !strings.Contains(d, "Image: registry.k8s.io/e2e-test-images/agnhost:2.41") {
		t.Errorf("describe pod:\n%s", d)
	}
	expect(t, "delete", s.ok("delete", "pod", "web", "-n", "pods"), `pod "web" deleted`+"\n")
}

func testEvents(t *testing.T, s *server) {
	s.ok("create", "namespace", "ev")
	s.ok("create", "configmap", "subject", "-n", "ev")
	uid := s.ok("get", "cm", "subject", "-n", "ev", "-o", "jsonpath={.metadata.uid}")
	now := time.Now().UTC().Format(time.RFC3339)
	s.applyStdin(`apiVersion: v1
kind: Event
metadata:
  name: subject.1
  namespace: ev
involvedObject:
  apiVersion: v1
  kind: ConfigMap
  name: subject
  namespace: ev
  uid: ` + uid + `
reason: Tested
message: the e2e suite looked at it
type: Normal
count: 2
firstTimestamp: "` + now + `"
lastTimestamp: "` + now + `"
source:
  component: e2e
`)
	expect(t, "get events", s.ok("get", "events", "-n", "ev"),
		"LAST SEEN TYPE REASON OBJECT MESSAGE\n0s Normal Tested configmap/subject the e2e suite looked at it\n")
	// describe finds events through involvedObject field selectors.
	if d := s.ok("describe", "cm", "subject", "-n", "ev"); !strings.Contains(d, "Normal  Tested") {
		t.Errorf("describe does not show the event:\n%s", d)
	}
	expect(t, "field selector", s.ok("get", "events", "-n", "ev", "--field-selector", "involvedObject.kind=Pod", "-o", "name"), "")

	// events.k8s.io/v1 Events are the same objects, converted.
	s.applyStdin(`apiVersion: events.k8s.io/v1
kind: Event
metadata:
  name: subject.2
  namespace: ev
eventTime: "` + time.Now().UTC().Format("2006-01-02T15:04:05.000000Z") + `"
reportingController: portway.io/e2e
reportingInstance: e2e-1
action: Checking
reason: Converted
note: written through events.k8s.io
type: Warning
regarding:
  apiVersion: v1
  kind: ConfigMap
  name: subject
  namespace: ev
  uid: ` + uid + `
`)
	expect(t, "core view of a new event", s.ok("get", "events.v1.", "subject.2", "-n", "ev", "-o", "jsonpath={.message}/{.reportingComponent}/{.involvedObject.name}"),
		"written through events.k8s.io/portway.io/e2e/subject")
	expect(t, "events.k8s.io view of a core event", s.ok("get", "events.v1.events.k8s.io", "subject.1", "-n", "ev", "-o", "jsonpath={.note}/{.deprecatedCount}/{.regarding.kind}"),
		"the e2e suite looked at it/2/ConfigMap")
	expect(t, "events.k8s.io field selector", s.ok("get", "events.events.k8s.io", "-n", "ev", "--field-selector", "regarding.name=subject,type=Warning", "-o", "name"),
		"event.events.k8s.io/subject.2\n")
	r := s.kubectlIn("apiVersion: events.k8s.io/v1\nkind: Event\nmetadata:\n  name: bad\n  namespace: ev\nregarding:\n  kind: ConfigMap\n  name: subject\n  namespace: ev\n", "create", "-f", "-")
	if r.code == 0 || !strings.Contains(r.stderr, "reportingController: Required value") {
		t.Errorf("events.k8s.io event without reporter: %+v", r)
	}
}

func testWatch(t *testing.T, s *server) {
	s.ok("create", "namespace", "watch")
	// Every namespace gets the cluster's CA certificate; once it is there,
	// the watch starts with it.
	waitFor(t, "kube-root-ca.crt", func() bool { return s.kubectl("get", "cm", "kube-root-ca.crt", "-n", "watch").code == 0 })
	cmd := exec.Command("kubectl", "--cache-dir", s.dataDir+"/kubectl-cache", "get", "cm", "-n", "watch", "-w", "--output-watch-events")
	// w0, created once kubectl runs, shows that its watch has started.
	cmd.Env = append(cmd.Environ(), "KUBECONFIG="+s.kubeconfig)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	s.ok("create", "configmap", "w0", "-n", "watch")
	waitFor(t, "the watch to start", func() bool { return strings.Contains(out.String(), "w0") })
	s.ok("create", "configmap", "w1", "-n", "watch")
	s.ok("label", "configmap", "w1", "-n", "watch", "x=y")
	s.ok("delete", "configmap", "w1", "-n", "watch")
	want := "EVENT NAME DATA AGE\nADDED kube-root-ca.crt 1 0s\nADDED w0 0 0s\nADDED w1 0 0s\nMODIFIED w1 0 0s\nDELETED w1 0 0s\n"
	waitFor(t, "three watch events", func() bool { return normalize(out.String()) == normalize(want) })
}

func testErrors(t *testing.T, s *server) {
	r := s.kubectlIn("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\n", "create", "-f", "-")
	expect(t, "invalid name", r.stderr, `The ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`+"\n")
	r = s.kubectlIn("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: missing\n", "create", "-f", "-")
	expect(t, "missing namespace", r.stderr, `Error from server (NotFound): error when creating "STDIN": namespaces "missing" not found`+"\n")
	r = s.kubectlIn("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\nfoo: bar\n", "create", "-f", "-")
	expect(t, "unknown field", r.stderr, `Error from server (BadRequest): error when creating "STDIN": ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "foo"`+"\n")
}

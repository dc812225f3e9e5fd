package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/portway/portway/internal/agent/shim"
	upcmd "github.com/portway/portway/internal/cluster"
	"github.com/portway/portway/internal/namespaces"
	"github.com/portway/portway/internal/nodeinfo"
	"github.com/portway/portway/internal/podinfo"
)

// TestDataPlane is issue 6's scenario: real packets through clusterIPs and
// nodePorts of the seed examples and of Services made to probe one rule
// each, programmed into nftables by the node agents of a 3-node cluster.
func TestDataPlane(t *testing.T) {
	c := startCluster(t, 3)
	client := c.client()
	ctx := context.Background()
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	nodeIP := map[string]string{}
	var nodeNames []string
	for _, n := range nodes.Items {
		nodeIP[n.Name] = nodeinfo.InternalIP(&n)
		nodeNames = append(nodeNames, n.Name)
	}
	slices.Sort(nodeNames)

	examples, err := filepath.Glob("../../examples/0*.yaml")
	if err != nil || len(examples) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, f := range examples {
		c.ok("apply", "-f", f)
	}
	pods := waitPodsReady(t, client, "default", "", 9) // the examples' pods
	pod := func(name string) *corev1.Pod {
		for i := range pods {
			if pods[i].Name == name {
				return &pods[i]
			}
		}
		t.Fatalf("no pod %s", name)
		return nil
	}
	svc := func(name string) *corev1.Service {
		s, err := client.CoreV1().Services("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	client1 := c.podNetns(pod("my-app-1")) // a pod to send from

	t.Run("nodePort on every node from outside", func(t *testing.T) {
		for _, n := range nodeNames {
			url := "http://" + net.JoinHostPort(nodeIP[n], "30003") + "/hostname"
			waitFor(t, url+" from the bridge side", func() bool {
				got, err := httpFrom(c.netns, url)
				return err == nil && got == "hello-nginx"
			})
		}
	})

	t.Run("clusterIP from a pod", func(t *testing.T) {
		for _, tc := range []struct {
			service string
			port    int32
			want    []string // pods that may answer /hostname
		}{
			{"hello-nginx-port-expose", 8181, []string{"hello-nginx"}},
			{"my-service", 8080, []string{"my-app-1", "my-app-2"}},
			{"my-app-service", 80, []string{"my-app"}},
			{"fb-backends", 5001, []string{"fb-backend-1", "fb-backend-2"}}, // named targetPort
			{"karma-daemon", 80, []string{"karma-daemon-web"}},
		} {
			url := fmt.Sprintf("http://%s/hostname", net.JoinHostPort(svc(tc.service).Spec.ClusterIP, fmt.Sprint(tc.port)))
			// The pods are ready; their endpoints may still be on the way.
			waitFor(t, tc.service+" ("+url+") from my-app-1", func() bool {
				got, err := httpFrom(client1, url)
				return err == nil && slices.Contains(tc.want, got)
			})
		}
		// karma-daemon's second port: plain TCP, the pod's name as answer.
		addr := net.JoinHostPort(svc("karma-daemon").Spec.ClusterIP, "2121")
		waitFor(t, "karma-daemon "+addr+" to answer karma-daemon-ftp", func() bool {
			got, err := dialFrom(client1, addr)
			return err == nil && got == "karma-daemon-ftp"
		})
	})

	// The API server's proxy reaches a Service's endpoints and pods
	// itself, by their pod IPs (the cluster's host routes the pod network),
	// without the clusterIP: kubectl get --raw as kubectl proxy would.
	t.Run("services/proxy and pods/proxy", func(t *testing.T) {
		for _, tc := range []struct {
			path string
			want []string
		}{
			{"services/my-service:8080/proxy/hostname", []string{"my-app-1", "my-app-2"}}, // port by number
			{"services/fb-backends:ka-port/proxy/hostname", []string{"fb-backend-1", "fb-backend-2"}},
			{"services/http:hello-nginx-port-expose:8181-80/proxy/echo?msg=hi", []string{"hi"}},
			{"pods/my-app-1/proxy/hostname", []string{"my-app-1"}}, // the first containerPort
			{"pods/fb-backend-2:8001/proxy/hostname", []string{"fb-backend-2"}},
		} {
			path := "/api/v1/namespaces/default/" + tc.path
			waitFor(t, path, func() bool {
				r := c.kubectl("get", "--raw", path)
				return r.code == 0 && slices.Contains(tc.want, r.stdout)
			})
		}
		r := c.kubectl("get", "--raw", "/api/v1/namespaces/default/services/my-service:9999/proxy/")
		if r.code != 1 || r.stderr != `Error from server (ServiceUnavailable): no service port 9999 found for service "my-service"`+"\n" {
			t.Errorf("a port the Service lacks: %+v", r)
		}
	})

	// Every pod mounts its service account's token, the cluster's CA and
	// its namespace, and reaches the API server through the kubernetes
	// Service with them, as in-cluster clients (client-go's
	// InClusterConfig) do.
	t.Run("service account token in a pod", func(t *testing.T) {
		const dir = "/var/run/secrets/kubernetes.io/serviceaccount"
		expect(t, "namespace file", c.ok("exec", "my-app-1", "--", "cat", dir+"/namespace"), "default")
		if r := c.kubectl("exec", "my-app-1", "--", "touch", dir+"/x"); r.code == 0 {
			t.Errorf("the token volume is writable: %+v", r)
		}
		review := `{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}`
		r := c.kubectl("exec", "my-app-1", "--", "sh", "-c", `curl -sS --max-time 5 --cacert `+dir+`/ca.crt `+
			`-H "Authorization: Bearer $(cat `+dir+`/token)" -H 'Content-Type: application/json' -d '`+review+`' `+
			`https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT/apis/authentication.k8s.io/v1/selfsubjectreviews`)
		compact := strings.Join(strings.Fields(r.stdout), "") // the server indents JSON for curl
		for _, want := range []string{`"username":"system:serviceaccount:default:default"`, `"authentication.kubernetes.io/pod-name":["my-app-1"]`} {
			if !strings.Contains(compact, want) {
				t.Errorf("whoami from the pod lacks %s: %+v", want, r)
			}
		}
	})

	// ConfigMap, Secret, downward API, emptyDir (on disk and in memory)
	// and hostPath volumes, a file by subPath, a subPathExpr, and a
	// volume type portway lacks. Mount points go under a directory of the
	// test's: containers are host processes, and a missing one is made.
	t.Run("volumes", func(t *testing.T) {
		m := t.TempDir()
		r := c.kubectlIn(`apiVersion: v1
kind: ConfigMap
metadata: {name: app-config}
data: {app.conf: "v1"}
---
apiVersion: v1
kind: Secret
metadata: {name: app-secret}
stringData: {password: s3cret}
---
apiVersion: v1
kind: Pod
metadata: {name: volumes, labels: {app: volumes}}
spec:
  terminationGracePeriodSeconds: 1
  initContainers:
  - {name: init, image: busybox, command: [sh, -c, "echo from-init > `+m+`/data/init"],
     volumeMounts: [{name: data, mountPath: `+m+`/data}]}
  containers:
  - name: main
    image: busybox
    command: [sleep, "3600"]
    env: [{name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]
    volumeMounts:
    - {name: config, mountPath: `+m+`/config}
    - {name: config, mountPath: `+m+`/single/app.conf, subPath: app.conf}
    - {name: secret, mountPath: `+m+`/secret, readOnly: true}
    - {name: data, mountPath: `+m+`/data}
    - {name: data, mountPath: `+m+`/mine, subPathExpr: $(POD_NAME)}
    - {name: info, mountPath: `+m+`/info}
    - {name: mem, mountPath: `+m+`/mem}
    - {name: host, mountPath: `+m+`/host}
    - {name: nodes, mountPath: `+m+`/nodes-ro, readOnly: true}
    - {name: nodes, mountPath: `+m+`/nodes-rro, readOnly: true, recursiveReadOnly: IfPossible}
  volumes:
  - {name: config, configMap: {name: app-config}}
  - {name: secret, secret: {secretName: app-secret, defaultMode: 0400}}
  - {name: data, emptyDir: {}}
  - {name: info, downwardAPI: {items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}]}}
  - {name: mem, emptyDir: {medium: Memory, sizeLimit: 1Mi}}
  - {name: host, hostPath: {path: `+m+`/on-node, type: DirectoryOrCreate}}
  - {name: nodes, hostPath: {path: `+c.dataDir+`/nodes, type: Directory}}
---
apiVersion: v1
kind: Pod
metadata: {name: claims-volume}
spec:
  terminationGracePeriodSeconds: 1
  containers: [{name: main, image: busybox, command: [sleep, "3600"], volumeMounts: [{name: data, mountPath: /data}]}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]
`, "apply", "-f", "-")
		if r.code != 0 {
			t.Fatalf("apply: %+v", r)
		}
		// The pod goes before the test's directory does, and takes its
		// tmpfs with it.
		defer c.kubectl("delete", "pods/volumes", "pods/claims-volume", "cm/app-config", "secret/app-secret", "--ignore-not-found")
		waitPodsReady(t, client, "default", "app=volumes", 1)
		exec := func(cmd string) string {
			t.Helper()
			return strings.TrimSpace(c.ok("exec", "volumes", "--", "sh", "-c", cmd))
		}
		expect(t, "configMap", exec("cat "+m+"/config/app.conf"), "v1")
		expect(t, "a key by subPath", exec("cat "+m+"/single/app.conf"), "v1")
		expect(t, "secret", exec("cat "+m+"/secret/password; stat -c %a "+m+"/secret/password"), "s3cret400")
		expect(t, "emptyDir from the init container", exec("cat "+m+"/data/init"), "from-init")
		exec("echo mine > " + m + "/mine/f")
		expect(t, "subPathExpr", exec("cat "+m+"/data/volumes/f"), "mine")
		expect(t, "downwardAPI", exec("cat "+m+"/info/labels"), `app="volumes"`)
		expect(t, "medium Memory", exec("stat -f -c %T "+m+"/mem; stat -c %a "+m+"/mem"), "tmpfs\n1777")
		exec("echo on-node > " + m + "/host/f")
		if b, err := os.ReadFile(m + "/on-node/f"); err != nil || string(b) != "on-node\n" {
			t.Errorf("hostPath: the node's file has %q, %v", b, err)
		}
		for _, path := range []string{m + "/secret/x", m + "/config/x"} { // readOnly, and read-only anyway
			if r := c.kubectl("exec", "volumes", "--", "touch", path); r.code == 0 {
				t.Errorf("%s is writable: %+v", path, r)
			}
		}
		// A read-only mount is so below it too only when it is recursively
		// read-only: the nodes' state holds this pod's medium Memory
		// emptyDir, a tmpfs.
		mem := "/" + c.ok("get", "pod", "volumes", "-o", "jsonpath={.spec.nodeName}/agent/pods/{.metadata.uid}") + "/volumes/mem/f"
		if r := c.kubectl("exec", "volumes", "--", "touch", m+"/nodes-ro"+mem); r.code != 0 {
			t.Errorf("a read-only mount made a mount below it read-only: %+v", r)
		}
		// IfPossible: recursive where the kernel has mount_setattr (the
		// agent runs on this one).
		rro := "Disabled"
		if shim.RecursiveReadOnlySupported() {
			rro = "Enabled"
			if r := c.kubectl("exec", "volumes", "--", "touch", m+"/nodes-rro"+mem); r.code == 0 || !strings.Contains(r.stderr, "Read-only file system") {
				t.Errorf("a recursively read-only mount left a mount below it writable: %+v", r)
			}
		}
		expect(t, "the recursive read-only modes in the container's status",
			c.ok("get", "pod", "volumes", "-o", `jsonpath={.status.containerStatuses[0].volumeMounts[?(@.name=="nodes")].recursiveReadOnly}`),
			"Disabled "+rro)
		// The node sees none of the mounts, only the missing mount points
		// made for them, empty.
		if b, err := os.ReadFile(m + "/single/app.conf"); err != nil || len(b) != 0 {
			t.Errorf("the node's own %s/single/app.conf: %q, %v", m, b, err)
		}
		c.ok("patch", "configmap", "app-config", "-p", `{"data":{"app.conf":"v2"}}`)
		waitFor(t, "the configMap volume to follow the ConfigMap", func() bool {
			return c.kubectl("exec", "volumes", "--", "cat", m+"/config/app.conf").stdout == "v2"
		})
		waitFor(t, "claims-volume's FailedMount", func() bool {
			out := c.kubectl("get", "events", "--field-selector", "involvedObject.name=claims-volume,reason=FailedMount", "-o", "jsonpath={.items[0].message}").stdout
			return out == `MountVolume.SetUp failed for volume "data" : volume type persistentVolumeClaim is not supported by portway`
		})
		// As on Kubernetes, a pod whose volumes are not set up has no
		// sandbox yet, so no IP.
		expect(t, "claims-volume waits", c.ok("get", "pod", "claims-volume", "-o",
			`jsonpath={.status.containerStatuses[0].state.waiting.reason} {.status.conditions[?(@.type=="PodReadyToStartContainers")].status} IP:{.status.podIP}`),
			"ContainerCreating False IP:")
	})

	t.Run("hairpin", func(t *testing.T) {
		url := "http://" + net.JoinHostPort(svc("hello-nginx-port-expose").Spec.ClusterIP, "8181") + "/hostname"
		if got, err := httpFrom(c.podNetns(pod("hello-nginx")), url); err != nil || got != "hello-nginx" {
			t.Errorf("hello-nginx through its own Service: %q, %v", got, err)
		}
	})

	readyDir := applyHostnames(t, c, 3)
	backends := waitPodsReady(t, client, "default", "app=hostnames", 3)
	var backendNames []string
	for _, p := range backends {
		backendNames = append(backendNames, p.Name)
	}
	hostnamesAddr := net.JoinHostPort(svc("hostnames").Spec.ClusterIP, "80")
	waitFor(t, "hostnames to answer", func() bool {
		got, err := dialFrom(client1, hostnamesAddr)
		return err == nil && slices.Contains(backendNames, got)
	})

	t.Run("load balancing", func(t *testing.T) {
		counts := map[string]int{}
		for range 200 {
			got, err := dialFrom(client1, hostnamesAddr)
			if err != nil {
				t.Fatalf("hostnames: %v", err)
			}
			counts[got]++
		}
		for _, n := range backendNames {
			if counts[n] == 0 || counts[n] > 2*200/3 {
				t.Errorf("answers per backend %v: want every backend, none more than twice its share", counts)
				break
			}
		}
	})

	t.Run("not ready pod gets no traffic", func(t *testing.T) {
		if err := os.Remove(filepath.Join(readyDir, "0")); err != nil {
			t.Fatal(err)
		}
		defer func() {
			_ = os.WriteFile(filepath.Join(readyDir, "0"), nil, 0o644)
			waitPodsReady(t, client, "default", "app=hostnames", 3)
		}()
		waitFor(t, "hostnames-0 not ready in the EndpointSlice", func() bool {
			return !endpointReady(t, client, "hostnames", backends[0].Status.PodIP)
		})
		for range 50 {
			got, err := dialFrom(client1, hostnamesAddr)
			if err != nil || got == "hostnames-0" || got == "" {
				// The slice may show it before the agent's rules do.
				waitFor(t, "the proxy to drop hostnames-0", func() bool {
					got, err = dialFrom(client1, hostnamesAddr)
					return err == nil && got != "hostnames-0"
				})
			}
		}
		for range 60 {
			if got, err := dialFrom(client1, hostnamesAddr); err != nil || got == "hostnames-0" {
				t.Fatalf("not ready hostnames-0 got traffic (or error): %q, %v", got, err)
			}
		}
	})

	t.Run("session affinity ClientIP", func(t *testing.T) {
		c.applyStdin(`apiVersion: v1
kind: Service
metadata: {name: sticky}
spec:
  selector: {app: hostnames}
  sessionAffinity: ClientIP
  ports: [{port: 80, targetPort: 9376}]
`)
		addr := net.JoinHostPort(svc("sticky").Spec.ClusterIP, "80")
		var first string
		waitFor(t, "sticky to answer", func() bool {
			var err error
			first, err = dialFrom(client1, addr)
			return err == nil && first != ""
		})
		for range 30 {
			if got, err := dialFrom(client1, addr); err != nil || got != first {
				t.Fatalf("with ClientIP affinity: %q, %v after %q", got, err, first)
			}
		}
	})

	t.Run("no endpoints: refused", func(t *testing.T) {
		c.applyStdin(`apiVersion: v1
kind: Service
metadata: {name: nobody}
spec:
  type: NodePort
  selector: {app: nobody}
  ports: [{port: 80, targetPort: 9376}]
`)
		s := svc("nobody")
		for from, addr := range map[string]string{
			client1: net.JoinHostPort(s.Spec.ClusterIP, "80"),
			c.netns: net.JoinHostPort(nodeIP[nodeNames[0]], fmt.Sprint(s.Spec.Ports[0].NodePort)),
		} {
			var err error
			waitFor(t, addr+" to be refused", func() bool {
				_, err = dialFrom(from, addr)
				return errors.Is(err, syscall.ECONNREFUSED)
			})
		}
	})

	t.Run("externalTrafficPolicy Local", func(t *testing.T) {
		local := nodeNames[0]
		c.applyStdin(fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: local}
spec:
  type: LoadBalancer # healthCheckNodePort comes with type LoadBalancer only
  externalTrafficPolicy: Local
  selector: {app: local}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: local, labels: {app: local}}
spec:
  nodeSelector: {kubernetes.io/hostname: %s}
  containers:
  - {name: c, image: registry.k8s.io/e2e-test-images/agnhost:2.40, args: [netexec, --http-port=8080]}
`, local))
		waitPodsReady(t, client, "default", "app=local", 1)
		s := svc("local")
		url := fmt.Sprintf("http://%s/clientip", net.JoinHostPort(nodeIP[local], fmt.Sprint(s.Spec.Ports[0].NodePort)))
		var got string
		waitFor(t, url, func() bool {
			var err error
			got, err = httpFrom(c.netns, url)
			return err == nil
		})
		if host, _, _ := net.SplitHostPort(got); host != "172.18.0.1" {
			t.Errorf("%s: the pod saw client %q, want the bridge's 172.18.0.1 (source IP kept)", url, got)
		}
		hc := s.Spec.HealthCheckNodePort
		if hc == 0 {
			t.Fatal("no healthCheckNodePort")
		}
		for _, n := range nodeNames {
			want := http.StatusServiceUnavailable
			if n == local {
				want = http.StatusOK
			}
			url := fmt.Sprintf("http://%s/", net.JoinHostPort(nodeIP[n], fmt.Sprint(hc)))
			var code int
			var body string
			waitFor(t, fmt.Sprintf("%s to answer %d", url, want), func() bool {
				code, body = httpStatusFrom(c.netns, url)
				return code == want
			})
			if n == local && !strings.Contains(body, `"localEndpoints": 1`) {
				t.Errorf("health check on %s: %s, want localEndpoints 1", n, body)
			}
		}
	})

	t.Run("UDP fails over", func(t *testing.T) {
		c.applyStdin(`apiVersion: v1
kind: Service
metadata: {name: udp}
spec:
  selector: {app: udp}
  ports: [{port: 53, protocol: UDP, targetPort: 9376}]
---
apiVersion: v1
kind: Pod
metadata: {name: udp-0, labels: {app: udp}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: c, image: registry.k8s.io/e2e-test-images/agnhost:2.40, args: [serve-hostname, --udp, --http=false]}
---
apiVersion: v1
kind: Pod
metadata: {name: udp-1, labels: {app: udp}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: c, image: registry.k8s.io/e2e-test-images/agnhost:2.40, args: [serve-hostname, --udp, --http=false]}
`)
		waitPodsReady(t, client, "default", "app=udp", 2)
		addr := net.JoinHostPort(svc("udp").Spec.ClusterIP, "53")
		// Always the same source port: a stale conntrack entry would keep
		// sending this flow to the deleted pod.
		var first string
		waitFor(t, "the UDP service to answer", func() bool {
			var err error
			first, err = udpFrom(client1, 40053, addr)
			return err == nil && first != ""
		})
		c.ok("delete", "pod", first, "--wait=true")
		waitFor(t, "the UDP flow to fail over to the other pod", func() bool {
			got, err := udpFrom(client1, 40053, addr)
			return err == nil && got != "" && got != first
		})
	})

	t.Run("agent restart keeps connections", func(t *testing.T) {
		node := pod("my-app").Spec.NodeName
		conn, err := dialIn(c.netns, net.JoinHostPort(nodeIP[node], "30080"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if got, err := httpOn(conn); err != nil || got != "my-app" {
			t.Fatalf("before the restart: %q, %v", got, err)
		}
		// as a service manager would: SIGTERM, then the same command again
		if _, err := upcmd.RestartAgent(c.dataDir, node); err != nil {
			t.Fatal(err)
		}
		// The new agent's table in place (a new connection goes through),
		// the old connection still answers: its translation lives in
		// conntrack, not in the rules. (Between the old agent removing its
		// table and the new one writing it the kernel has no NAT chain in
		// the node's namespace, so a packet of that connection arriving
		// then would reach the node itself and be reset.)
		url := "http://" + net.JoinHostPort(nodeIP[node], "30080") + "/hostname"
		waitFor(t, "new connections after the restart", func() bool {
			got, err := httpFrom(c.netns, url)
			return err == nil && got == "my-app"
		})
		if got, err := httpOn(conn); err != nil || got != "my-app" {
			t.Errorf("the connection opened before the agent restarted: %q, %v", got, err)
		}
	})

	// What the kubelet does on start: a pod deleted while its agent was
	// down has its processes, namespace, tmpfs and state removed.
	t.Run("pod deleted while its agent is down", func(t *testing.T) {
		node, mnt := nodeNames[1], t.TempDir()
		if r := c.kubectlIn(`apiVersion: v1
kind: Pod
metadata: {name: orphan}
spec:
  nodeName: `+node+`
  terminationGracePeriodSeconds: 1
  containers: [{name: main, image: busybox, command: [sleep, "3600"], volumeMounts: [{name: mem, mountPath: `+mnt+`}]}]
  volumes: [{name: mem, emptyDir: {medium: Memory}}]
`, "apply", "-f", "-"); r.code != 0 {
			t.Fatalf("apply: %+v", r)
		}
		var p *corev1.Pod
		waitFor(t, "the orphan pod to run", func() bool {
			var err error
			p, err = client.CoreV1().Pods("default").Get(ctx, "orphan", metav1.GetOptions{})
			return err == nil && p.Status.Phase == corev1.PodRunning
		})
		dir := filepath.Join(c.dataDir, "nodes", node, "agent", "pods", string(p.UID))
		netns := namespaces.Path(c.podNetns(p))
		if _, err := os.Stat(netns); err != nil || len(processesMentioning(dir)) == 0 {
			t.Fatalf("the running pod's namespace %v, processes %v", err, processesMentioning(dir))
		}
		args, err := upcmd.StopAgent(node)
		if err != nil {
			t.Fatal(err)
		}
		c.ok("delete", "pod", "orphan", "--force", "--grace-period=0", "--wait=false")
		waitFor(t, "the Pod to be gone from the API", func() bool {
			return c.kubectl("get", "pod", "orphan").code != 0
		})
		if err := upcmd.StartAgent(c.dataDir, node, args); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the agent to remove the orphan's processes, namespace and state", func() bool {
			_, nsErr := os.Stat(netns)
			_, dirErr := os.Stat(dir)
			return len(processesMentioning(dir)) == 0 && errors.Is(nsErr, fs.ErrNotExist) && errors.Is(dirErr, fs.ErrNotExist)
		})
	})

	t.Run("service deleted", func(t *testing.T) {
		c.ok("delete", "service", "hello-nginx-port-expose")
		addr := net.JoinHostPort(nodeIP[nodeNames[0]], "30003")
		waitFor(t, addr+" to stop answering", func() bool {
			_, err := dialFrom(c.netns, addr)
			return errors.Is(err, syscall.ECONNREFUSED)
		})
		for _, n := range nodeNames {
			waitFor(t, n+" to drop the rules of the deleted service", func() bool {
				return !strings.Contains(nftTable(t, n), "hello-nginx-port-expose")
			})
		}
	})
}

// waitPodsReady waits until the pods matching selector that are not being
// deleted are n, all Running and Ready, and returns them.
func waitPodsReady(t *testing.T, client kubernetes.Interface, ns, selector string, n int) []corev1.Pod {
	t.Helper()
	var pods []corev1.Pod
	waitFor(t, fmt.Sprintf("%d ready pods %q", n, selector), func() bool {
		l, err := client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return false
		}
		pods = slices.DeleteFunc(l.Items, func(p corev1.Pod) bool { return p.DeletionTimestamp != nil })
		for _, p := range pods {
			if !podinfo.RunningAndReady(&p) {
				return false
			}
		}
		return len(pods) == n
	})
	return pods
}

// endpointReady says whether ip is a ready endpoint of service.
func endpointReady(t *testing.T, client kubernetes.Interface, service, ip string) bool {
	t.Helper()
	l, err := client.DiscoveryV1().EndpointSlices("default").List(context.Background(), metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=" + service})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range l.Items {
		for _, e := range s.Endpoints {
			if slices.Contains(e.Addresses, ip) {
				return e.Conditions.Ready != nil && *e.Conditions.Ready
			}
		}
	}
	return false
}

// dialIn opens a TCP connection from network namespace ns.
func dialIn(ns, addr string) (net.Conn, error) {
	var conn net.Conn
	err := namespaces.Do(namespaces.Path(ns), func() (err error) {
		conn, err = net.DialTimeout("tcp", addr, 5*time.Second)
		return err
	})
	return conn, err
}

// httpFrom sends GET url from network namespace ns on a new connection and
// returns the body of a 200 answer.
func httpFrom(ns, url string) (string, error) {
	code, body := httpStatusFrom(ns, url)
	if code != http.StatusOK {
		return "", fmt.Errorf("GET %s: %d %s", url, code, body)
	}
	return body, nil
}

// httpStatusFrom is httpFrom's status and body; code 0 on a failed request,
// with the error as body.
func httpStatusFrom(ns, url string) (int, string) {
	cl := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return dialIn(ns, addr)
		},
	}}
	resp, err := cl.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err.Error()
	}
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// httpOn sends GET /hostname on an open connection, keeping it open.
func httpOn(conn net.Conn) (string, error) {
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, "GET /hostname HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b)), err
}

// udpFrom sends one datagram from ns, from localPort, to addr and returns
// the answer.
func udpFrom(ns string, localPort int, addr string) (string, error) {
	raddr, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return "", err
	}
	var conn *net.UDPConn
	err = namespaces.Do(namespaces.Path(ns), func() (err error) {
		conn, err = net.DialUDP("udp", &net.UDPAddr{Port: localPort}, raddr)
		return err
	})
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("hostname")); err != nil {
		return "", err
	}
	buf := make([]byte, 512)
	n, err := conn.Read(buf)
	return strings.TrimSpace(string(buf[:n])), err
}

// nftTable is the proxy's table in a node's network namespace.
func nftTable(t *testing.T, node string) string {
	t.Helper()
	var out []byte
	err := namespaces.Do(namespaces.Path(node), func() (err error) {
		out, err = exec.Command("nft", "list", "table", "ip", "portway").CombinedOutput()
		return err
	})
	if err != nil {
		t.Fatalf("nft list table ip portway in %s: %v\n%s", node, err, out)
	}
	return string(out)
}

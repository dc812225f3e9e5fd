package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/remotecommand"

	"github.com/portway/portway/internal/podinfo"
)

// execPod is an agnhost serve-hostname pod (HTTP on 9376) pinned to a node,
// with an environment and working directory exec must see.
func execPod(name, node string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
  labels: {app: exec-e2e, name: %s}
spec:
  nodeName: %s
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: registry.k8s.io/e2e-test-images/agnhost:2.40
    command: [/agnhost, serve-hostname]
    ports: [{name: http, containerPort: 9376}]
    workingDir: /tmp
    env: [{name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}, {name: GREETING, value: hello-$(POD_NAME)}]
---
`, name, name, node)
}

const execManifest = `apiVersion: v1
kind: Service
metadata:
  name: exec-e2e
spec:
  selector: {name: exec-a}
  ports:
  - {name: http, port: 80, targetPort: http}
---
apiVersion: v1
kind: Pod
metadata:
  name: talker
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: talk
    image: debian
    command: [sh, -c, 'i=0; while true; do echo tick $i; echo tock $i >&2; i=$((i+1)); sleep 0.2; done']
  - name: idle
    image: registry.k8s.io/e2e-test-images/agnhost:2.40
    command: [/agnhost, pause]
---
`

// TestExec drives kubectl exec, port-forward and attach, with every kubectl
// installed (SPDY up to 1.29, WebSocket for exec/attach from 1.30 and for
// port-forward from 1.31), against pods on two nodes.
func TestExec(t *testing.T) {
	c := startCluster(t, 2)
	client := c.client()
	ctx := context.Background()
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil || len(nodes.Items) != 2 {
		t.Fatalf("nodes: %v (%d)", err, len(nodes.Items))
	}
	c.applyStdin(execPod("exec-a", nodes.Items[0].Name) + execPod("exec-b", nodes.Items[1].Name) + execManifest)
	pods := map[string]*corev1.Pod{}
	waitFor(t, "the pods running", func() bool {
		for _, name := range []string{"exec-a", "exec-b", "talker"} {
			p, err := client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
			if err != nil || !podinfo.RunningAndReady(p) {
				return false
			}
			pods[name] = p
		}
		return true
	})

	bins := append([]string{"kubectl"}, kubectlVersions(t)...)
	for _, bin := range bins {
		t.Run(filepath.Base(bin), func(t *testing.T) {
			run := func(stdin string, args ...string) result {
				t.Helper()
				return c.kubectlBin(bin, stdin, args...)
			}
			ok := func(stdin string, args ...string) string {
				t.Helper()
				r := run(stdin, args...)
				if r.code != 0 {
					t.Fatalf("kubectl %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
				}
				return r.stdout
			}
			expect(t, "hostname", ok("", "exec", "exec-a", "--", "hostname"), "exec-a\n")
			expect(t, "environment and working directory",
				ok("", "exec", "exec-a", "--", "sh", "-c", `echo "$GREETING $HOSTNAME $(pwd)"`), "hello-exec-a exec-a /tmp\n")
			expect(t, "stdin", ok("hi\nthere\n", "exec", "-i", "exec-a", "--", "cat"), "hi\nthere\n")
			if hosts := ok("", "exec", "exec-a", "--", "cat", "/etc/hosts"); !strings.Contains(hosts, "# Kubernetes-managed hosts file.") ||
				!strings.Contains(hosts, pods["exec-a"].Status.PodIP+"\texec-a\n") {
				t.Errorf("/etc/hosts in the pod:\n%s", hosts)
			}
			r := run("", "exec", "exec-a", "--", "sh", "-c", "echo out; echo err >&2; exit 3")
			// client-go's WebSocket executor (1.30 on) may log that it
			// dropped a message that came before it set up its streams.
			r.stderr = clientGoWebSocketRace.ReplaceAllString(r.stderr, "")
			if r.code != 3 || r.stdout != "out\n" || r.stderr != "err\ncommand terminated with exit code 3\n" {
				t.Errorf("exit 3: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			r = run("", "exec", "exec-a", "--", "no-such-command")
			if want := `error executing command in container: failed to exec in container: exec: "no-such-command": executable file not found in $PATH`; r.code != 1 || !strings.Contains(r.stderr, want) {
				t.Errorf("a command not found: code %d, stderr %q; want 1 and %q", r.code, r.stderr, want)
			}
			// Pod to pod across nodes, from inside the pod.
			expect(t, "curl from exec-a to exec-b", ok("", "exec", "exec-a", "--", "curl", "-sS", "--max-time", "5",
				"http://"+pods["exec-b"].Status.PodIP+":9376/"), "exec-b")
			// kubectl picks the first container itself (or the one the
			// kubectl.kubernetes.io/default-container annotation names).
			r = run("", "exec", "talker", "--", "hostname")
			if r.code != 0 || r.stdout != "talker\n" || !strings.Contains(r.stderr, `Defaulted container "talk" out of: talk, idle`) {
				t.Errorf("exec without -c in a two-container pod: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			expect(t, "exec -c", ok("", "exec", "talker", "-c", "idle", "--", "hostname"), "talker\n")
			r = run("", "exec", "exec-a", "-c", "nope", "--", "true")
			if want := "container nope is not valid for pod exec-a"; r.code == 0 || !strings.Contains(r.stderr, want) {
				t.Errorf("exec -c nope: code %d, stderr %q; want %q", r.code, r.stderr, want)
			}

			for target, want := range map[string]string{"pod/exec-b": "exec-b", "svc/exec-e2e": "exec-a"} {
				remote := "9376"
				if strings.HasPrefix(target, "svc/") {
					remote = "80" // the Service port; kubectl maps it to the pod's targetPort
				}
				if got := c.portForwardGet(t, bin, target, remote); got != want {
					t.Errorf("port-forward %s: got %q, want %q", target, got, want)
				}
			}

			out := c.attachUntil(t, bin, "talker", "-c", "talk")
			if !regexp.MustCompile(`(?m)^tick \d+$`).MatchString(out) || !regexp.MustCompile(`(?m)^tock \d+$`).MatchString(out) {
				t.Errorf("attach: got %q, want tick and tock lines", out)
			}
		})
	}

	t.Run("client-go", func(t *testing.T) {
		// The API server's own choice of container, for clients that
		// name none: the only one, else an error naming them.
		var out bytes.Buffer
		err := c.stream(pods["talker"], "", &remotecommand.StreamOptions{Stdout: &out}, []string{"true"})
		if want := "a container name must be specified for pod talker, choose one of: [talk idle]"; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("exec in a two-container pod naming no container: %v; want %q", err, want)
		}
		if err := c.stream(pods["exec-a"], "", &remotecommand.StreamOptions{Stdout: &out}, []string{"hostname"}); err != nil || out.String() != "exec-a\n" {
			t.Errorf("exec in a one-container pod naming no container: %v, %q", err, out.String())
		}
		out.Reset()

		// A terminal: the command sees a tty of the size the client says.
		err = c.stream(pods["exec-a"], "web", &remotecommand.StreamOptions{
			Stdout: &out, Tty: true, TerminalSizeQueue: &oneSize{&remotecommand.TerminalSize{Width: 100, Height: 40}},
		}, []string{"sh", "-c", "tty; stty size; echo $TERM"})
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.ReplaceAll(out.String(), "\r", ""); !regexp.MustCompile(`^/dev/pts/\d+\n40 100\nxterm\n$`).MatchString(got) {
			t.Errorf("exec with a tty: got %q", got)
		}
	})
}

// clientGoWebSocketRace is the line client-go's WebSocket executor logs
// when output arrives before it has made its streams.
var clientGoWebSocketRace = regexp.MustCompile(`(?m)^E\d{4} [^\n]* websocket\.go:\d+\] Unknown stream id \d+, discarding message\n`)

// oneSize is a terminal that says its size once.
type oneSize struct{ size *remotecommand.TerminalSize }

func (o *oneSize) Next() *remotecommand.TerminalSize {
	s := o.size
	o.size = nil
	return s
}

// stream runs cmd in a container of p ("": let the API server choose) with
// client-go's executor (SPDY).
func (c *cluster) stream(p *corev1.Pod, container string, opts *remotecommand.StreamOptions, cmd []string) error {
	cfg := c.restConfig()
	req := c.client().CoreV1().RESTClient().Post().Resource("pods").Namespace(p.Namespace).Name(p.Name).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: container, Command: cmd, Stdin: opts.Stdin != nil, Stdout: opts.Stdout != nil,
			Stderr: opts.Stderr != nil, TTY: opts.Tty}, scheme.ParameterCodec)
	e, err := remotecommand.NewSPDYExecutor(cfg, "POST", req.URL())
	if err != nil {
		return err
	}
	// The executor dials in the calling goroutine: on a thread in the
	// cluster's namespace, where the API server's address is.
	return c.inNetns(func() error { return e.StreamWithContext(context.Background(), *opts) })
}

// portForwardGet runs `kubectl port-forward TARGET LOCAL:REMOTE` inside the
// test's namespace, asks serve-hostname on the local port, and returns its
// answer.
func (c *cluster) portForwardGet(t *testing.T, bin, target, remote string) string {
	t.Helper()
	local := "18080"
	cmd := exec.Command(bin, "port-forward", target, local+":"+remote)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.kubeconfig)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := c.inNetns(cmd.Start); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "Forwarding from 127.0.0.1:"+local) {
				ready <- true
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("kubectl port-forward %s ended: %s", target, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("kubectl port-forward %s is not forwarding: %s", target, stderr.String())
	}
	body, err := httpFrom(c.netns, "http://127.0.0.1:"+local+"/")
	if err != nil {
		t.Fatalf("GET through port-forward %s: %v (kubectl: %s)", target, err, stderr.String())
	}
	return body
}

// attachUntil runs `kubectl attach` and returns what it printed, on
// stdout and stderr, once both streams have shown a line.
func (c *cluster) attachUntil(t *testing.T, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"attach"}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.kubeconfig)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := c.inNetns(cmd.Start); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if s := out.String(); strings.Contains(s, "tick") && strings.Contains(s, "tock") {
			return s
		}
		time.Sleep(100 * time.Millisecond)
	}
	return out.String()
}

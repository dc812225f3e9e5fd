//go:build linux

package proxy

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/klog/v2"
	"sigs.k8s.io/knftables"

	"github.com/portway/portway/internal/agent/proxy/healthcheck"
	"github.com/portway/portway/internal/namespaces"
)

// The kernel test's network, all in namespaces it makes (names end in the
// test's pid):
//
//	ext (198.51.100.1, an off-cluster client) --- node (198.51.100.2 on ext0,
//	10.244.0.1 on bridge cni0) --- pod1..pod3 (10.244.0.11-13)
//
// Each pod serves TCP 8080 and UDP 5353: it answers "podN CLIENT_IP" and
// then echoes lines (TCP).
const (
	nodeIP   = "198.51.100.2"
	clientIP = "198.51.100.1"
	bridgeIP = "10.244.0.1"
)

func podIP(i int) string { return fmt.Sprintf("10.244.0.%d", 10+i) }

// nsNFT runs nft in a network namespace: the nft process is forked from a
// thread in it.
type nsNFT struct {
	knftables.Interface
	path string
	mu   sync.Mutex
	last string
}

func (n *nsNFT) Run(ctx context.Context, tx *knftables.Transaction) error {
	err := namespaces.Do(n.path, func() error { return n.Interface.Run(ctx, tx) })
	if err == nil {
		n.mu.Lock()
		n.last = tx.String()
		n.mu.Unlock()
	}
	return err
}

// waitFor waits until a transaction holding s ran.
func (n *nsNFT) waitFor(t *testing.T, s string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		n.mu.Lock()
		ok := strings.Contains(n.last, s)
		n.mu.Unlock()
		if ok {
			return
		}
	}
	t.Fatalf("no nft transaction with %q", s)
}

func run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// serve runs pod's servers in its namespace until the test ends.
func serve(t *testing.T, ns, name string) {
	var l net.Listener
	var pc net.PacketConn
	err := namespaces.Do(namespaces.Path(ns), func() (err error) {
		if l, err = net.Listen("tcp4", ":8080"); err != nil {
			return err
		}
		pc, err = net.ListenPacket("udp4", ":5353")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(); pc.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				from := c.RemoteAddr().(*net.TCPAddr)
				fmt.Fprintf(c, "%s %s %d\n", name, from.IP, from.Port)
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	go func() {
		buf := make([]byte, 100)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo([]byte(name), from)
		}
	}()
}

// answer is what a pod's TCP server told a client: its name and the
// client address it saw, beside the client's own port.
type answer struct {
	pod, from           string
	fromPort, localPort int
}

// ask connects from namespace ns to addr and reads the first line.
func ask(ns, addr string) (a answer, err error) {
	err = namespaces.Do(namespaces.Path(ns), func() error {
		c, err := net.DialTimeout("tcp4", addr, 2*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			return err
		}
		a.localPort = c.LocalAddr().(*net.TCPAddr).Port
		_, err = fmt.Sscan(line, &a.pod, &a.from, &a.fromPort)
		return err
	})
	return a, err
}

func TestKernel(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	for _, bin := range []string{"nft", "ip"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("needs %s", bin)
		}
	}
	suffix := fmt.Sprint(os.Getpid())
	node, ext := "pwt-node-"+suffix, "pwt-ext-"+suffix
	pods := []string{"pwt-pod1-" + suffix, "pwt-pod2-" + suffix, "pwt-pod3-" + suffix}
	for _, ns := range append([]string{node, ext}, pods...) {
		if err := namespaces.Create(ns); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = namespaces.Delete(ns) })
		run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	run(t, "ip", "-n", node, "link", "add", "cni0", "type", "bridge")
	run(t, "ip", "-n", node, "addr", "add", bridgeIP+"/24", "dev", "cni0")
	run(t, "ip", "-n", node, "link", "set", "cni0", "up")
	for i, pod := range pods {
		veth := fmt.Sprintf("veth%d", i+1)
		run(t, "ip", "link", "add", veth, "netns", node, "type", "veth", "peer", "name", "eth0", "netns", pod)
		run(t, "ip", "-n", node, "link", "set", veth, "master", "cni0", "up")
		run(t, "ip", "-n", node, "link", "set", veth, "type", "bridge_slave", "hairpin", "on")
		run(t, "ip", "-n", pod, "addr", "add", podIP(i+1)+"/24", "dev", "eth0")
		run(t, "ip", "-n", pod, "link", "set", "eth0", "up")
		run(t, "ip", "-n", pod, "route", "add", "default", "via", bridgeIP)
		serve(t, pod, fmt.Sprintf("pod%d", i+1))
	}
	run(t, "ip", "link", "add", "ext0", "netns", node, "type", "veth", "peer", "name", "eth0", "netns", ext)
	run(t, "ip", "-n", node, "addr", "add", nodeIP+"/24", "dev", "ext0")
	run(t, "ip", "-n", node, "link", "set", "ext0", "up")
	run(t, "ip", "-n", node, "route", "add", "default", "via", clientIP)
	run(t, "ip", "-n", ext, "addr", "add", clientIP+"/24", "dev", "eth0")
	run(t, "ip", "-n", ext, "link", "set", "eth0", "up")
	// a host outside the cluster that routes the Service range to the node
	run(t, "ip", "-n", ext, "route", "add", "10.96.0.0/12", "via", nodeIP)
	err := namespaces.Do(namespaces.Path(node), func() error {
		// the proxy's sysctls, in the node's namespace only
		return EnsureSysctls(klog.Background())
	})
	if err != nil {
		t.Fatal(err)
	}

	tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP
	objs := []runtime.Object{
		makeService("web", "10.96.0.10", port("", tcp, 80, 30080)),
		makeSlice("web", "web-a", "", tcp, 8080, readyEP(podIP(1), testNode), readyEP(podIP(2), testNode)),
		makeService("empty", "10.96.0.12", port("", tcp, 80, 30081)),
		makeService("sticky", "10.96.0.13", port("", tcp, 80, 0), affinity(60)),
		makeSlice("sticky", "sticky-a", "", tcp, 8080, readyEP(podIP(1), testNode), readyEP(podIP(2), testNode), readyEP(podIP(3), testNode)),
		makeService("local", "10.96.0.14", port("", tcp, 80, 30082), withType(corev1.ServiceTypeLoadBalancer), etpLocal(32100)),
		// pod2 plays an endpoint on another node
		makeSlice("local", "local-a", "", tcp, 8080, readyEP(podIP(1), testNode), readyEP(podIP(2), "node2")),
		makeService("solo", "10.96.0.15", port("", tcp, 80, 0)),
		makeSlice("solo", "solo-a", "", tcp, 8080, readyEP(podIP(3), testNode)),
		makeService("dns", "10.96.0.16", port("", udp, 53, 0)),
		makeSlice("dns", "dns-a", "", udp, 5353, readyEP(podIP(1), testNode)),
	}
	client := fake.NewClientset(objs...)

	ct, err := namespaces.Netlink(node)
	if err != nil {
		t.Fatal(err)
	}
	defer ct.Close()
	var nftReal knftables.Interface
	if err := namespaces.Do(namespaces.Path(node), func() (err error) {
		nftReal, err = knftables.New(knftables.IPv4Family, DefaultTable)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	nft := &nsNFT{Interface: nftReal, path: namespaces.Path(node)}
	start := func() (stop func()) {
		hc := &healthcheck.Server{Listen: func(network, addr string) (l net.Listener, err error) {
			err = namespaces.Do(namespaces.Path(node), func() error { l, err = net.Listen(network, addr); return err })
			return l, err
		}}
		p, err := New(Config{NodeName: testNode, NFTables: nft, Conntrack: ct, HealthChecks: hc})
		if err != nil {
			t.Fatal(err)
		}
		factory := informers.NewSharedInformerFactory(client, 0)
		if err := p.Register(factory); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		factory.Start(ctx.Done())
		done := make(chan struct{})
		go func() { _ = p.Run(ctx); close(done) }()
		return func() { cancel(); <-done; factory.Shutdown() }
	}
	stop := start()
	defer func() { stop() }()
	nft.waitFor(t, "add table")

	t.Run("clusterIP from the node reaches every endpoint", func(t *testing.T) {
		seen := map[string]int{}
		for range 40 {
			a, err := ask(node, "10.96.0.10:80")
			if err != nil {
				t.Fatal(err)
			}
			seen[a.pod]++
		}
		if len(seen) != 2 || seen["pod1"] == 0 || seen["pod2"] == 0 {
			t.Errorf("answers %v, want pod1 and pod2", seen)
		}
	})
	t.Run("nodePort from outside, masqueraded", func(t *testing.T) {
		a, err := ask(ext, nodeIP+":30080")
		if err != nil {
			t.Fatal(err)
		}
		if (a.pod != "pod1" && a.pod != "pod2") || a.from != bridgeIP {
			t.Errorf("answered by %s seeing %s, want pod1/pod2 seeing %s", a.pod, a.from, bridgeIP)
		}
		// The masquerade keeps a free source port: a random one would put
		// the client's next connection on a 4-tuple the pod may still hold
		// in TIME_WAIT, from another client socket with another TCP
		// timestamp offset, and the pod's PAWS check would drop its SYN.
		if a.fromPort != a.localPort {
			t.Errorf("pod saw source port %d, the client used %d", a.fromPort, a.localPort)
		}
	})
	t.Run("no endpoints: refused at once", func(t *testing.T) {
		for _, c := range []struct{ ns, addr string }{{node, "10.96.0.12:80"}, {ext, nodeIP + ":30081"}} {
			_, err := ask(c.ns, c.addr)
			if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Errorf("%s from %s: %v, want connection refused", c.addr, c.ns, err)
			}
		}
	})
	t.Run("clusterIP from outside the cluster CIDR, masqueraded", func(t *testing.T) {
		a, err := ask(ext, "10.96.0.10:80")
		if err != nil {
			t.Fatal(err)
		}
		if a.from != bridgeIP {
			t.Errorf("pod saw %s, want %s", a.from, bridgeIP)
		}
	})
	t.Run("ClientIP affinity sticks", func(t *testing.T) {
		seen := map[string]int{}
		for range 20 {
			a, err := ask(ext, "10.96.0.13:80")
			if err != nil {
				t.Fatal(err)
			}
			seen[a.pod]++
		}
		if len(seen) != 1 {
			t.Errorf("answers %v, want one pod", seen)
		}
	})
	t.Run("externalTrafficPolicy Local keeps the client IP", func(t *testing.T) {
		for range 10 {
			a, err := ask(ext, nodeIP+":30082")
			if err != nil {
				t.Fatal(err)
			}
			if a.pod != "pod1" || a.from != clientIP {
				t.Fatalf("answered by %s seeing %s, want pod1 seeing %s", a.pod, a.from, clientIP)
			}
		}
		var code int
		var doc map[string]any
		// The request is written by hand on a connection dialed in ext:
		// http.Client would dial from another thread, outside ext.
		err := namespaces.Do(namespaces.Path(ext), func() error {
			c, err := net.DialTimeout("tcp4", nodeIP+":32100", 2*time.Second)
			if err != nil {
				return err
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(2 * time.Second))
			if _, err := io.WriteString(c, "GET / HTTP/1.0\r\n\r\n"); err != nil {
				return err
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			code = resp.StatusCode
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				return err
			}
			if err := json.Unmarshal(body, &doc); err != nil {
				return fmt.Errorf("%d %q: %w", code, body, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if code != http.StatusOK || doc["localEndpoints"] != float64(1) {
			t.Errorf("health check: %d %v, want 200 with 1 local endpoint", code, doc)
		}
	})
	t.Run("hairpin: a pod reaches itself through its service", func(t *testing.T) {
		a, err := ask(pods[2], "10.96.0.15:80")
		if err != nil {
			t.Fatal(err)
		}
		if a.pod != "pod3" || a.from != bridgeIP {
			t.Errorf("answered by %s seeing %s, want pod3 seeing %s (masqueraded)", a.pod, a.from, bridgeIP)
		}
	})
	t.Run("UDP fails over when its endpoint goes", func(t *testing.T) {
		var conn net.Conn
		err := namespaces.Do(namespaces.Path(node), func() (err error) {
			conn, err = net.Dial("udp4", "10.96.0.16:53")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		askUDP := func() string {
			buf := make([]byte, 100)
			for range 20 {
				_, _ = conn.Write([]byte("who"))
				_ = conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
				if n, err := conn.Read(buf); err == nil {
					return string(buf[:n])
				}
			}
			return ""
		}
		if got := askUDP(); got != "pod1" {
			t.Fatalf("UDP answered by %q, want pod1", got)
		}
		sl := makeSlice("dns", "dns-a", "", udp, 5353, readyEP(podIP(2), testNode))
		sl.ResourceVersion = "2"
		if _, err := client.DiscoveryV1().EndpointSlices("ns").Update(context.Background(), sl, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		nft.waitFor(t, "dnat to "+podIP(2)+":5353")
		// pod1 still answers on its own address: only the conntrack
		// clean-up moves this socket's flow to pod2.
		for deadline := time.Now().Add(2 * time.Second); ; {
			got := askUDP()
			if got == "pod2" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("UDP answered by %q after the endpoint moved, want pod2", got)
			}
		}
	})
	t.Run("an established connection survives a proxy restart", func(t *testing.T) {
		var conn net.Conn
		err := namespaces.Do(namespaces.Path(node), func() (err error) {
			conn, err = net.DialTimeout("tcp4", "10.96.0.15:80", 2*time.Second)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		r := bufio.NewReader(conn)
		if _, err := r.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
		stop()
		nft.mu.Lock()
		nft.last = ""
		nft.mu.Unlock()
		stop = start()
		nft.waitFor(t, "add table")
		_ = conn.SetDeadline(time.Now().Add(3 * time.Second))
		if _, err := conn.Write([]byte("ping\n")); err != nil {
			t.Fatal(err)
		}
		if line, err := r.ReadString('\n'); err != nil || line != "ping\n" {
			t.Fatalf("echo after restart: %q %v", line, err)
		}
	})
	t.Run("deleting the service removes it", func(t *testing.T) {
		if err := client.CoreV1().Services("ns").Delete(context.Background(), "web", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := client.DiscoveryV1().EndpointSlices("ns").Delete(context.Background(), "web-a", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		nft.waitFor(t, "delete element ip portway service-nodeports { tcp . 30080 }")
		if _, err := ask(ext, nodeIP+":30080"); err == nil {
			t.Errorf("nodePort of a deleted service still answers")
		}
	})
	t.Run("a clean exit removes the table", func(t *testing.T) {
		stop()
		stop = func() {}
		out, err := exec.Command("ip", "netns", "exec", node, "nft", "list", "tables").CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if strings.Contains(string(out), DefaultTable) {
			t.Errorf("table left after exit: %s", out)
		}
	})
}

package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/portway/portway/internal/namespaces"
)

// TestProxyOnly runs `portway agent --proxy-only` where kube-proxy would
// run, on a "host" (a throwaway network namespace) whose one pod the test
// starts itself: a network namespace on a veth with a netexec in it, and a
// Pod object whose status the test writes, as another runtime would.
func TestProxyOnly(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces, links, nftables)")
	}
	base := fmt.Sprintf("pwt%d", os.Getpid()%10000)
	hostNS, podNS := base+"-px", base+"-pxpod"
	for _, ns := range []string{hostNS, podNS} {
		if err := namespaces.Create(ns); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := namespaces.Delete(ns); err != nil {
				t.Errorf("removing %s: %v", ns, err)
			}
		})
		setLoopbackUp(t, ns)
	}
	wireHostAndPod(t, hostNS, podNS)
	backend := exec.Command(portwayBin, "agnhost", "netexec", "--http-port=8080", "--udp-port=-1")
	if err := namespaces.Do(namespaces.Path(podNS), backend.Start); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = backend.Process.Kill(); _ = backend.Wait() })

	// The API server runs on the host's loopback, as it would beside a
	// kube-proxy on a control-plane node.
	s := &server{t: t, dataDir: t.TempDir(), listen: "127.0.0.1:6443", netns: hostNS}
	s.kubeconfig = filepath.Join(s.dataDir, "kubeconfig")
	s.start()
	t.Cleanup(s.stop)
	client := s.client()
	ctx := context.Background()

	node, err := client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "px-node"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.244.0.1"}}
	if _, err := client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod, err := client.CoreV1().Pods("default").Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "px-backend", Labels: map[string]string{"app": "px"}},
		Spec: corev1.PodSpec{NodeName: "px-node", Containers: []corev1.Container{{
			Name: "c", Image: "registry.k8s.io/e2e-test-images/agnhost:2.40", Args: []string{"netexec", "--http-port=8080"},
		}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := metav1.Now()
	pod.Status.Phase, pod.Status.HostIP, pod.Status.StartTime = corev1.PodRunning, "10.244.0.1", &now
	pod.Status.PodIP, pod.Status.PodIPs = "10.244.0.2", []corev1.PodIP{{IP: "10.244.0.2"}}
	pod.Status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
	}
	if _, err := client.CoreV1().Pods("default").UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc, err := client.CoreV1().Services("default").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "px"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Selector: map[string]string{"app": "px"},
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	agentLog := &lockedBuffer{}
	agent := exec.Command(portwayBin, "agent", "--proxy-only", "--kubeconfig", s.kubeconfig, "--node-name", "px-node")
	agent.Stdout, agent.Stderr = agentLog, agentLog
	if err := namespaces.Do(namespaces.Path(hostNS), agent.Start); err != nil {
		t.Fatal(err)
	}
	agentDone := make(chan error, 1)
	go func() { agentDone <- agent.Wait() }()
	stopAgent := func() {
		if agent.ProcessState != nil {
			return
		}
		_ = agent.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-agentDone:
			if err != nil {
				t.Errorf("agent --proxy-only after SIGTERM: %v\n%s", err, agentLog)
			}
		case <-time.After(30 * time.Second):
			_ = agent.Process.Kill()
			t.Errorf("agent --proxy-only did not stop within 30 s of SIGTERM\n%s", agentLog)
		}
	}
	t.Cleanup(stopAgent)

	for what, url := range map[string]string{
		"clusterIP": fmt.Sprintf("http://%s/clientip", net.JoinHostPort(svc.Spec.ClusterIP, "80")),
		"nodePort":  fmt.Sprintf("http://%s/clientip", net.JoinHostPort("10.244.0.1", fmt.Sprint(svc.Spec.Ports[0].NodePort))),
	} {
		waitFor(t, what+" "+url+" through the proxy", func() bool {
			_, err := httpFrom(hostNS, url)
			return err == nil
		})
	}

	stopAgent()
	var tables []byte
	err = namespaces.Do(namespaces.Path(hostNS), func() (err error) {
		tables, err = exec.Command("nft", "list", "tables").CombinedOutput()
		return err
	})
	if err != nil || strings.Contains(string(tables), "portway") {
		t.Errorf("after the agent stopped, nft list tables: %s, %v; want its table gone", tables, err)
	}
}

// wireHostAndPod links pod to host with a veth: the pod 10.244.0.2/24 with
// its default route via the host's 10.244.0.1, and the host's route to the
// Service CIDR out of that link, as a node's pod bridge would have it
// (locally sent packets to a clusterIP need a route before DNAT).
func wireHostAndPod(t *testing.T, host, pod string) {
	t.Helper()
	podH, err := netns.GetFromName(pod)
	if err != nil {
		t.Fatal(err)
	}
	defer podH.Close()
	hnl, err := namespaces.Netlink(host)
	if err != nil {
		t.Fatal(err)
	}
	defer hnl.Close()
	pnl, err := netlink.NewHandleAt(podH)
	if err != nil {
		t.Fatal(err)
	}
	defer pnl.Close()
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "px0"}, PeerName: "px1", PeerNamespace: netlink.NsFd(podH)}
	if err := hnl.LinkAdd(veth); err != nil {
		t.Fatal(err)
	}
	setup := func(nl *netlink.Handle, name, cidr string) netlink.Link {
		l, err := nl.LinkByName(name)
		if err != nil {
			t.Fatal(err)
		}
		addr, err := netlink.ParseAddr(cidr)
		if err != nil {
			t.Fatal(err)
		}
		if err := nl.AddrAdd(l, addr); err != nil {
			t.Fatal(err)
		}
		if err := nl.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
		return l
	}
	hostLink := setup(hnl, "px0", "10.244.0.1/24")
	setup(pnl, "px1", "10.244.0.2/24")
	if err := pnl.RouteAdd(&netlink.Route{Gw: net.ParseIP("10.244.0.1")}); err != nil {
		t.Fatal(err)
	}
	_, serviceCIDR, _ := net.ParseCIDR("10.96.0.0/12")
	if err := hnl.RouteAdd(&netlink.Route{LinkIndex: hostLink.Attrs().Index, Dst: serviceCIDR}); err != nil {
		t.Fatal(err)
	}
}

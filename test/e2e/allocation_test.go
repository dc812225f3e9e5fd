package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
)

// claimPrefix is where portway keeps one key per allocated ClusterIP and node
// port (internal/registry/service).
const claimPrefix = "/registry/portway.io/serviceclaims/"

func nodePortService(name string, i int) *corev1.Service {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeNodePort,
			Selector: map[string]string{"app": name},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}},
		},
	}
	if i%4 == 0 { // a LoadBalancer with Local policy also takes a healthCheckNodePort
		svc.Spec.Type = corev1.ServiceTypeLoadBalancer
		svc.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	}
	if i%3 == 0 { // a second port, TCP and UDP sharing one nodePort
		svc.Spec.Ports = append(svc.Spec.Ports,
			corev1.ServicePort{Name: "dns", Port: 53, Protocol: corev1.ProtocolTCP},
			corev1.ServicePort{Name: "dns-udp", Port: 53, Protocol: corev1.ProtocolUDP})
	}
	return svc
}

// checkAllocations verifies that no two Services hold the same ClusterIP or
// node port, and that the claims in etcd are exactly what the Services hold:
// nothing doubled, nothing leaked.
func checkAllocations(t *testing.T, client kubernetes.Interface, etcdURL string) int {
	t.Helper()
	ctx := context.Background()
	list, err := client.CoreV1().Services("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	hold := func(claim, owner string) {
		if prev, dup := want[claim]; dup && prev != owner {
			t.Errorf("%s held by both %s and %s", claim, prev, owner)
		}
		want[claim] = owner
	}
	for _, svc := range list.Items {
		owner := svc.Namespace + "/" + svc.Name
		for _, ip := range svc.Spec.ClusterIPs {
			if ip != corev1.ClusterIPNone {
				hold("clusterips/"+ip, owner)
			}
		}
		for _, p := range svc.Spec.Ports {
			if p.NodePort != 0 {
				hold("nodeports/"+strconv.Itoa(int(p.NodePort)), owner)
			}
		}
		if hc := svc.Spec.HealthCheckNodePort; hc != 0 {
			hold("nodeports/"+strconv.Itoa(int(hc)), owner)
		}
	}
	etcd, err := clientv3.New(clientv3.Config{Endpoints: []string{etcdURL}})
	if err != nil {
		t.Fatal(err)
	}
	defer etcd.Close()
	resp, err := etcd.Get(ctx, claimPrefix, clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, kv := range resp.Kvs {
		owner := strings.TrimPrefix(string(kv.Value), "/registry/services/specs/")
		got[strings.TrimPrefix(string(kv.Key), claimPrefix)] = owner
	}
	for claim, owner := range want {
		if got[claim] != owner {
			t.Errorf("%s is held by Service %s but its claim says %q", claim, owner, got[claim])
		}
	}
	for claim, owner := range got {
		if _, ok := want[claim]; !ok {
			t.Errorf("claim %s of %s leaked: no Service holds it", claim, owner)
		}
	}
	return len(list.Items)
}

// TestAllocationConcurrent creates and deletes hundreds of Services from many
// goroutines; afterwards every allocation is unique and accounted for.
func TestAllocationConcurrent(t *testing.T) {
	etcdURL := startEtcd(t)
	s := startServer(t, "--etcd-servers", etcdURL)
	cfg := s.restConfig()
	cfg.QPS, cfg.Burst = 1000, 1000
	client := kubernetes.NewForConfigOrDie(cfg)
	ctx := context.Background()
	var wg sync.WaitGroup
	var failed atomic.Int32
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				name := fmt.Sprintf("c%d-%d", w, i)
				if _, err := client.CoreV1().Services("default").Create(ctx, nodePortService(name, i), metav1.CreateOptions{}); err != nil {
					t.Errorf("create %s: %v", name, err)
					failed.Add(1)
					continue
				}
				if i%3 == 1 {
					if err := client.CoreV1().Services("default").Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
						t.Errorf("delete %s: %v", name, err)
					}
				}
			}
		}()
	}
	wg.Wait()
	if n := checkAllocations(t, client, etcdURL); n != 16*25-16*8+1-int(failed.Load()) {
		t.Errorf("%d Services exist, want %d", n, 16*25-16*8+1)
	}
}

// TestAllocationCrash kills the server (SIGKILL) while creates are in flight,
// restarts it, and checks that nothing leaked or doubled; then allocation
// goes on from the restarted state.
func TestAllocationCrash(t *testing.T) {
	etcdURL := startEtcd(t)
	s := startServer(t, "--etcd-servers", etcdURL)
	cfg := s.restConfig()
	cfg.QPS, cfg.Burst = 1000, 1000
	cfg.Timeout = 5 * time.Second
	var client kubernetes.Interface = kubernetes.NewForConfigOrDie(cfg)
	ctx := context.Background()
	var wg sync.WaitGroup
	var created atomic.Int32
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				name := fmt.Sprintf("k%d-%d", w, i)
				if _, err := client.CoreV1().Services("default").Create(ctx, nodePortService(name, i), metav1.CreateOptions{}); err != nil {
					return // the server is gone
				}
				created.Add(1)
			}
		}()
	}
	waitFor(t, "some creates", func() bool { return created.Load() >= 50 })
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited
	s.cmd = nil
	wg.Wait()
	s.start()
	client = s.client()
	before := checkAllocations(t, client, etcdURL)
	t.Logf("killed after %d acknowledged creates; %d Services survived", created.Load(), before)
	if before < int(created.Load()) {
		t.Errorf("%d Services survived, but %d creates were acknowledged", before, created.Load())
	}
	for i := 0; i < 20; i++ {
		name := fmt.Sprintf("after-%d", i)
		if _, err := client.CoreV1().Services("default").Create(ctx, nodePortService(name, i), metav1.CreateOptions{}); err != nil {
			t.Fatalf("create after restart: %v", err)
		}
	}
	checkAllocations(t, client, etcdURL)
}

package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/portway/portway/bench/internal/figures"
	"github.com/portway/portway/bench/internal/upcluster"
)

const agnhostImage = "registry.k8s.io/e2e-test-images/agnhost:2.40"

// podTimeout is how long one pod may take to get ready in the pods part
// before it counts as stuck (its p50 is about a second).
const podTimeout = time.Minute

// agnhostPod is a serve-hostname pod (portway runs the agnhost image
// itself) that is ready once its port answers.
func agnhostPod(name, app string) *corev1.Pod {
	p := plainPod(name, app)
	p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(9376)}},
		PeriodSeconds: 1,
	}
	return p
}

// plainPod is a serve-hostname pod without a readiness probe: ready as soon
// as its container runs, as `kubectl run` and `kubectl create deployment`
// make them.
func plainPod(name, app string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": app}},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: ptr.To(int64(1)),
			Containers: []corev1.Container{{
				Name:    "serve-hostname",
				Image:   agnhostImage,
				Command: []string{"/agnhost", "serve-hostname"},
				Ports:   []corev1.ContainerPort{{Name: "serve", ContainerPort: 9376}},
			}},
		},
	}
}

// service selects the pods labelled app.
func service(name, app string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": app},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(9376)}},
		},
	}
}

// setupNamespace creates namespace ns and a Service in it, and starts a
// tracker on both.
func setupNamespace(ctx context.Context, cs kubernetes.Interface, ns, svc, app string) (*tracker, error) {
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return nil, err
	}
	if _, err := cs.CoreV1().Services(ns).Create(ctx, service(svc, app), metav1.CreateOptions{}); err != nil {
		return nil, err
	}
	f := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(ns))
	return newTracker(ctx, f, svc)
}

// benchPods creates pods one at a time, each ready in the Service's
// EndpointSlice before the next, and times each step of its startup.
func benchPods(ctx context.Context, cfg config, root string, rep *report) (err error) {
	return upcluster.Run(ctx, upcluster.Options{Portway: cfg.portway, Name: cfg.name + "p", DataDir: filepath.Join(root, "pods"), Nodes: nodes}, func(c *upcluster.Cluster, cs kubernetes.Interface) error {
		// The informers stop with this part.
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		const ns, svc, app = "bench", "hostnames", "hostnames"
		t, err := setupNamespace(ctx, cs, ns, svc, app)
		if err != nil {
			return err
		}

		// Even pods have no readiness probe (ready once the container runs);
		// odd ones a tcpSocket probe every second, which, as in Kubernetes,
		// fails when it runs before the server listens and then waits a period.
		kinds := []struct {
			label string
			pod   func(name, app string) *corev1.Pod
			// running, ready, endpoint: from the create call returning
			running, ready, endpoint []time.Duration
		}{{label: "no probe", pod: plainPod}, {label: "tcp probe 1s", pod: agnhostPod}}
		var call []time.Duration
		var stuck []string
		defer func() {
			rep.pods.Dist("create call", call)
			for _, k := range kinds {
				rep.pods.Dist(k.label+": → phase Running", k.running)
				rep.pods.Dist(k.label+": → Ready condition True", k.ready)
				rep.pods.Dist(k.label+": → ready in EndpointSlice", k.endpoint)
			}
			if len(stuck) > 0 {
				rep.pods.Notes = append(rep.pods.Notes, fmt.Sprintf("%d of %d pods left out of the figures above (stuck for %s, the next pod was created anyway):", len(stuck), len(call), podTimeout))
				rep.pods.Notes = append(rep.pods.Notes, stuck...)
				rep.pods.Notes = append(rep.pods.Notes, "logs kept in "+c.KeepLogs("cluster", "pods"))
			}
		}()
		// Events that arrive before the create call returns count as 0.
		since := func(t0, t time.Time) time.Duration { return max(0, t.Sub(t0)) }
		stages := []string{"Running", "Ready", "ready in the EndpointSlice"}
		for i := range cfg.pods {
			k := &kinds[i%2]
			name := fmt.Sprintf("seq-%03d", i)
			ws := []*waiter{t.when(podRunning(name)), t.when(podReady(name)), t.when(endpointIs(name, true))}
			t0 := time.Now()
			if _, err := cs.CoreV1().Pods(ns).Create(ctx, k.pod(name, app), metav1.CreateOptions{}); err != nil {
				return err
			}
			returned := time.Now()
			call = append(call, returned.Sub(t0))
			var at [3]time.Time
			var werr error
			for j, w := range ws {
				if at[j], werr = w.wait(ctx, podTimeout); werr != nil {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					for _, w := range ws {
						t.cancel(w)
					}
					var desc string
					t.locked(func() { desc = describePod(t.pods[name]) })
					stuck = append(stuck, fmt.Sprintf("  %s (%s): not %s within %s; then: %s", name, k.label, stages[j], podTimeout, desc))
					figures.Logf("pods: %s not %s within %s (%s)", name, stages[j], podTimeout, desc)
					break
				}
			}
			if werr != nil {
				continue
			}
			k.running = append(k.running, since(returned, at[0]))
			k.ready = append(k.ready, since(returned, at[1]))
			k.endpoint = append(k.endpoint, since(returned, at[2]))
			if (i+1)%10 == 0 {
				figures.Logf("pods: %d/%d", i+1, cfg.pods)
			}
		}
		if len(stuck) > 0 {
			return fmt.Errorf("%d pods stuck (see the notes under the table)", len(stuck))
		}
		return nil
	})
}

package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/portway/portway/bench/internal/figures"
	"github.com/portway/portway/bench/internal/upcluster"
)

// rolloutReplicas is the Deployment's size in the rollout part; the
// default strategy (25% maxSurge and maxUnavailable) lets 5 of them be
// unavailable.
const rolloutReplicas = 20

// benchRollout times rollouts (as `kubectl rollout restart` starts them)
// of a 20-pod Deployment behind a Service, and notes the fewest ready
// endpoints the Service had meanwhile: with and without a readiness probe.
func benchRollout(ctx context.Context, cfg config, root string, rep *report) (err error) {
	return upcluster.Run(ctx, upcluster.Options{Portway: cfg.portway, Name: cfg.name + "r", DataDir: filepath.Join(root, "rollout"), Nodes: nodes}, func(c *upcluster.Cluster, cs kubernetes.Interface) error {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		for i, probe := range []bool{false, true} {
			ns, app := fmt.Sprintf("rollout-%d", i), "web"
			t, err := setupNamespace(ctx, cs, ns, "web", app)
			if err != nil {
				return err
			}
			tmpl := plainPod("", app)
			if probe {
				tmpl = agnhostPod("", app)
			}
			d := &appsv1.Deployment{
				ObjectMeta: metav1.ObjectMeta{Name: "web"},
				Spec: appsv1.DeploymentSpec{
					Replicas: ptr.To(int32(rolloutReplicas)),
					Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}},
					Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: tmpl.Labels}, Spec: tmpl.Spec},
				},
			}
			if _, err := cs.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
				return err
			}
			if _, err := t.when(allEndpointsReady(rolloutReplicas)).wait(ctx, 3*time.Minute); err != nil {
				return fmt.Errorf("%d ready endpoints: %w", rolloutReplicas, err)
			}
			for round := range 3 {
				figures.Logf("rollout: probe %v, round %d", probe, round+1)
				t.lowFrom()
				t0 := time.Now()
				patch := fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":%q}}}}}`, t0.Format(time.RFC3339Nano))
				if _, err := cs.AppsV1().Deployments(ns).Patch(ctx, "web", types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
					return err
				}
				if err := rolledOut(ctx, cs, ns, "web"); err != nil {
					return err
				}
				took := time.Since(t0)
				variant := "no readiness probe"
				if probe {
					variant = "tcpSocket readiness probe, period 1 s"
				}
				rep.rollout.Add(variant, strconv.Itoa(round+1), secs(took), strconv.Itoa(t.low()), strconv.Itoa(rolloutReplicas-rolloutReplicas/4))
			}
		}
		return nil
	})
}

// rolledOut waits until the Deployment is rolled out as `kubectl rollout
// status` decides it: the new generation observed, every replica updated
// and available, no old replica left.
func rolledOut(ctx context.Context, cs kubernetes.Interface, ns, name string) error {
	return wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 5*time.Minute, true, func(ctx context.Context) (bool, error) {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		s := d.Status
		return s.ObservedGeneration >= d.Generation && s.UpdatedReplicas == *d.Spec.Replicas &&
			s.Replicas == s.UpdatedReplicas && s.AvailableReplicas == s.UpdatedReplicas, nil
	})
}

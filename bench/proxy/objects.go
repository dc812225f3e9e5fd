package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/portway/portway/internal/podinfo"
)

const (
	ns           = "bench"
	app          = "bench"
	agnhostImage = "registry.k8s.io/e2e-test-images/agnhost:2.40"
	servePort    = 9376 // serve-hostname's HTTP port
)

// servePod is a serve-hostname pod labelled app=bench, on node when it is
// not empty.
func servePod(name, node string) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": app, "name": name}},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: ptr.To(int64(1)),
			Containers: []corev1.Container{{
				Name:    "serve-hostname",
				Image:   agnhostImage,
				Command: []string{"/agnhost", "serve-hostname"},
				Ports:   []corev1.ContainerPort{{ContainerPort: servePort}},
			}},
		},
	}
	if node != "" {
		p.Spec.NodeSelector = map[string]string{corev1.LabelHostname: node}
	}
	return p
}

// service selects the pods with labels selector on port 80.
func service(name string, typ corev1.ServiceType, selector map[string]string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ServiceSpec{
			Type:     typ,
			Selector: selector,
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(servePort)}},
		},
	}
}

// createPods creates the namespace and pods and waits until they are all
// Running and Ready; it returns them as they are then.
func createPods(ctx context.Context, cs kubernetes.Interface, pods ...*corev1.Pod) ([]*corev1.Pod, error) {
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return nil, err
	}
	for _, p := range pods {
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			return nil, err
		}
	}
	var ready []*corev1.Pod
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		ready = ready[:0]
		for _, p := range pods {
			got, err := cs.CoreV1().Pods(ns).Get(ctx, p.Name, metav1.GetOptions{})
			if err != nil || !podinfo.RunningAndReady(got) {
				return false, nil
			}
			ready = append(ready, got)
		}
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("pods not Running and Ready within 2 min: %w", err)
	}
	return ready, nil
}

// firstOK tries GET url every interval until it answers 200 and returns
// when that answer came.
func firstOK(ctx context.Context, c *http.Client, url string, interval, limit time.Duration) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var last error
	for {
		if last = get(ctx, c, url); last == nil {
			return time.Now(), nil
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("%s did not answer within %s: %v", url, limit, last)
		case <-time.After(interval):
		}
	}
}

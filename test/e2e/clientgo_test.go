package e2e

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
)

// TestInformer checks what every controller relies on: an informer sees adds,
// updates and deletes in order, keeps working across a server restart, and a
// write with a stale resourceVersion is a Conflict.
func TestInformer(t *testing.T) {
	s := startServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := s.client()
	ns := "informer"
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var seen []string
	record := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, fmt.Sprintf(format, args...))
	}
	factory := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(ns))
	inf := factory.Core().V1().Pods().Informer()
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { record("add %s", obj.(*corev1.Pod).Name) },
		UpdateFunc: func(old, obj any) {
			o, n := old.(*corev1.Pod), obj.(*corev1.Pod)
			switch {
			case o.DeletionTimestamp == nil && n.DeletionTimestamp != nil:
				// Pods are deleted gracefully: even with no grace period the
				// API server first marks them, as kube-apiserver does.
				record("terminating %s", n.Name)
			case o.Labels["v"] != n.Labels["v"]:
				// Only the test's own updates: the scheduler also writes the
				// pod's status (no node fits, there are none).
				record("update %s %s", n.Name, n.Labels["v"])
			}
		},
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			record("delete %s", obj.(*corev1.Pod).Name)
		},
	})
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		t.Fatal("informer did not sync")
	}
	events := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
	waitEvents := func(want ...string) {
		t.Helper()
		waitFor(t, fmt.Sprintf("events %v", want), func() bool { return fmt.Sprint(events()) == fmt.Sprint(want) })
	}

	pods := client.CoreV1().Pods(ns)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "a", Labels: map[string]string{"v": "1"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/e2e-test-images/agnhost:2.40"}}}}
	created, err := pods.Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The scheduler may write the pod's status (no node fits) at any time,
	// so this update retries on its conflicts; `created` is stale after it.
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := pods.Get(ctx, "a", metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Labels["v"] = "2"
		_, err = pods.Update(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	stale := created.DeepCopy()
	stale.Labels["v"] = "3"
	if _, err := pods.Update(ctx, stale, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Fatalf("update with stale resourceVersion: got %v, want Conflict", err)
	} else if want := `Operation cannot be fulfilled on pods "a": the object has been modified; please apply your changes to the latest version and try again`; err.Error() != want {
		t.Errorf("conflict message %q, want %q", err, want)
	}
	if err := pods.Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitEvents("add a", "update a 2", "terminating a", "delete a")

	// Across a restart the informer's watch breaks; it relists and resumes.
	s.restart()
	pod.Name, pod.ResourceVersion = "b", ""
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err = pods.Create(ctx, pod, metav1.CreateOptions{}); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	waitEvents("add a", "update a 2", "terminating a", "delete a", "add b")
}

package nodelifecycle

import (
	"context"
	"encoding/json"
	"math"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"github.com/portway/portway/internal/controllers"
)

// eviction is a pod deletion the taint eviction controller has planned.
type eviction struct {
	created, fire time.Time
}

// evict is the taint eviction controller, run once per pass: a pod on a
// node with NoExecute taints is deleted at once if it does not tolerate
// them all, after the shortest tolerationSeconds among the tolerations it
// uses if those are bounded, never otherwise. A planned deletion is called
// off when the taints go.
func (c *Controller) evict(ctx context.Context) {
	now := c.clock.Now()
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return
	}
	taints := map[string][]corev1.Taint{}
	for _, n := range nodes {
		for _, t := range n.Spec.Taints {
			if t.Effect == corev1.TaintEffectNoExecute {
				taints[n.Name] = append(taints[n.Name], t)
			}
		}
	}
	pods, err := c.pods.List(labels.Everything())
	if err != nil {
		return
	}
	seen := map[string]bool{}
	var due []*corev1.Pod
	c.mu.Lock()
	for _, p := range pods {
		nodeTaints := taints[p.Spec.NodeName]
		if p.Spec.NodeName == "" || len(nodeTaints) == 0 || p.DeletionTimestamp != nil {
			continue
		}
		key := p.Namespace + "/" + p.Name
		wait, ok := tolerationTime(nodeTaints, p.Spec.Tolerations)
		if ok && wait < 0 {
			continue // tolerated for ever
		}
		seen[key] = true
		e, planned := c.evictions[key]
		if !planned {
			e = eviction{created: now, fire: now}
			if ok {
				e.fire = now.Add(wait)
			}
			c.evictions[key] = e
		} else if !ok && e.fire.After(now) {
			e.fire = now // a taint it does not tolerate came since
			c.evictions[key] = e
		}
		if !now.Before(e.fire) {
			due = append(due, p)
			delete(c.evictions, key)
		}
	}
	var cancelled []string
	for key := range c.evictions {
		if !seen[key] {
			delete(c.evictions, key)
			cancelled = append(cancelled, key)
		}
	}
	c.mu.Unlock()
	for _, key := range cancelled {
		c.evictionEvent(key, "Cancelling deletion of Pod %s")
	}
	for _, p := range due {
		log := klog.FromContext(ctx)
		log.Info("Deleting pod", "controller", "taint-eviction-controller", "pod", klog.KObj(p))
		c.evictionEvent(p.Namespace+"/"+p.Name, "Marking for deletion Pod %s")
		if err := c.deletePod(ctx, p.Namespace, p.Name); err != nil && !apierrors.IsNotFound(err) {
			log.Error(err, "Failed to delete pod", "pod", klog.KObj(p))
		}
	}
}

// tolerationTime says how long a pod may stay on a node with these
// NoExecute taints: ok is false when it does not tolerate one of them, and
// the time negative when it tolerates them all for ever.
func tolerationTime(taints []corev1.Taint, tolerations []corev1.Toleration) (time.Duration, bool) {
	var used []corev1.Toleration
	for i := range taints {
		found := false
		for j := range tolerations {
			if tolerations[j].ToleratesTaint(&taints[i]) {
				used = append(used, tolerations[j])
				found = true
				break
			}
		}
		if !found {
			return 0, false
		}
	}
	least := int64(math.MaxInt64)
	for _, t := range used {
		if t.TolerationSeconds == nil {
			continue
		}
		if *t.TolerationSeconds <= 0 {
			return 0, true
		}
		least = min(least, *t.TolerationSeconds)
	}
	if least == math.MaxInt64 {
		return -1, true
	}
	return time.Duration(least) * time.Second, true
}

func (c *Controller) evictionEvent(key, format string) {
	ns, name, _ := cache.SplitMetaNamespaceKey(key)
	ref := &corev1.ObjectReference{APIVersion: "v1", Kind: "Pod", Namespace: ns, Name: name}
	c.evictionRecorder.Eventf(ref, corev1.EventTypeNormal, "TaintManagerEviction", format, key)
}

// deletePod marks the pod as disrupted (DisruptionTarget, reason
// DeletionByTaintManager) and deletes it, as addConditionAndDeletePod does.
func (c *Controller) deletePod(ctx context.Context, ns, name string) error {
	pods := c.client.CoreV1().Pods(ns)
	pod, err := pods.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	status := pod.Status.DeepCopy()
	if controllers.SetPodCondition(status, corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
		Reason: "DeletionByTaintManager", Message: "Taint manager: deleting due to NoExecute taint"}, c.clock.Now()) {
		// The uid only in the new side makes it a precondition of the patch.
		oldData, err := json.Marshal(corev1.Pod{Status: pod.Status})
		if err != nil {
			return err
		}
		newData, err := json.Marshal(corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: pod.UID}, Status: *status})
		if err != nil {
			return err
		}
		patch, err := strategicpatch.CreateTwoWayMergePatch(oldData, newData, &corev1.Pod{})
		if err != nil {
			return err
		}
		if _, err := pods.Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status"); err != nil {
			return err
		}
	}
	return pods.Delete(ctx, name, metav1.DeleteOptions{})
}

package replicaset

import (
	"math"
	"sort"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// podPhaseOrder ranks phases for deletion: pending pods go first.
var podPhaseOrder = map[corev1.PodPhase]int{corev1.PodPending: 0, corev1.PodUnknown: 1, corev1.PodRunning: 2}

// podsToDelete picks n of pods to delete, the way Kubernetes 1.32 ranks
// them (ActivePodsWithRanks, with the PodDeletionCost and
// LogarithmicScaleDown features on, their 1.32 default): unscheduled before
// scheduled, pending before unknown before running, not ready before ready,
// lower pod-deletion-cost first, pods doubled up on a node with more of
// their siblings (related: pods of ReplicaSets with the same owner) first,
// then the most recently ready, the most restarted and the newest.
func podsToDelete(pods, related []*corev1.Pod, n int, now time.Time) []*corev1.Pod {
	if n >= len(pods) {
		return pods
	}
	onNode := map[string]int{}
	for _, p := range related {
		if active(p) {
			onNode[p.Spec.NodeName]++
		}
	}
	r := ranked{pods: pods, rank: make([]int, len(pods)), now: now}
	for i, p := range pods {
		r.rank[i] = onNode[p.Spec.NodeName]
	}
	sort.Sort(r)
	return pods[:n]
}

type ranked struct {
	pods []*corev1.Pod
	rank []int
	now  time.Time
}

func (r ranked) Len() int { return len(r.pods) }

func (r ranked) Swap(i, j int) {
	r.pods[i], r.pods[j] = r.pods[j], r.pods[i]
	r.rank[i], r.rank[j] = r.rank[j], r.rank[i]
}

// Less reports whether pod i is to be deleted before pod j.
func (r ranked) Less(i, j int) bool {
	pi, pj := r.pods[i], r.pods[j]
	if pi.Spec.NodeName != pj.Spec.NodeName && (pi.Spec.NodeName == "" || pj.Spec.NodeName == "") {
		return pi.Spec.NodeName == ""
	}
	if oi, oj := podPhaseOrder[pi.Status.Phase], podPhaseOrder[pj.Status.Phase]; oi != oj {
		return oi < oj
	}
	readyI, readyJ := readySince(pi), readySince(pj)
	if (readyI != nil) != (readyJ != nil) {
		return readyI == nil
	}
	if ci, cj := deletionCost(pi), deletionCost(pj); ci != cj {
		return ci < cj
	}
	if r.rank[i] != r.rank[j] {
		return r.rank[i] > r.rank[j]
	}
	if readyI != nil && readyJ != nil && !readyI.Equal(*readyJ) {
		return r.newer(*readyI, *readyJ, pi, pj)
	}
	if ri, rj := restarts(pi), restarts(pj); ri != rj {
		return ri[0] > rj[0] || (ri[0] == rj[0] && ri[1] > rj[1])
	}
	ti, tj := pi.CreationTimestamp.Time, pj.CreationTimestamp.Time
	if !ti.Equal(tj) {
		return r.newer(ti, tj, pi, pj)
	}
	return false
}

// newer orders two different times newest first, a zero time before any,
// and on a logarithmic scale of their age: times in the same power-of-two
// age bucket tie, and the tie is broken by pod UID.
func (r ranked) newer(ti, tj time.Time, pi, pj *corev1.Pod) bool {
	if ti.IsZero() || tj.IsZero() {
		return ti.IsZero()
	}
	if r.now.IsZero() {
		return ti.After(tj)
	}
	if d := logRank(ti, r.now) - logRank(tj, r.now); d != 0 {
		return d < 0
	}
	return pi.UID < pj.UID
}

func logRank(t, now time.Time) int64 {
	if d := now.Sub(t); d > 0 {
		return int64(math.Log2(float64(d)))
	}
	return -1
}

// readySince is when the pod last became ready, nil when it is not ready.
func readySince(p *corev1.Pod) *time.Time {
	for i := range p.Status.Conditions {
		if c := &p.Status.Conditions[i]; c.Type == corev1.PodReady {
			if c.Status != corev1.ConditionTrue {
				return nil
			}
			t := c.LastTransitionTime.Time
			return &t
		}
	}
	return nil
}

// deletionCost is the pod's controller.kubernetes.io/pod-deletion-cost; an
// invalid value counts as 0, as in Kubernetes (validation rejects it anyway).
func deletionCost(p *corev1.Pod) int32 {
	v, err := strconv.ParseInt(p.Annotations[corev1.PodDeletionCost], 10, 32)
	if err != nil {
		return 0
	}
	return int32(v)
}

// restarts is the pod's highest restart count among its regular containers,
// then among its sidecars (restartable init containers).
func restarts(p *corev1.Pod) [2]int32 {
	var r [2]int32
	for _, c := range p.Status.ContainerStatuses {
		r[0] = max(r[0], c.RestartCount)
	}
	sidecars := map[string]bool{}
	for _, c := range p.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars[c.Name] = true
		}
	}
	for _, c := range p.Status.InitContainerStatuses {
		if sidecars[c.Name] {
			r[1] = max(r[1], c.RestartCount)
		}
	}
	return r
}

// active reports whether a pod counts toward its ReplicaSet: not finished
// and not being deleted.
func active(p *corev1.Pod) bool {
	return p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed && p.DeletionTimestamp == nil
}

// available reports whether a ready pod has been ready for minReadySeconds
// at now (Kubernetes' IsPodAvailable).
func available(p *corev1.Pod, minReadySeconds int32, now time.Time) bool {
	since := readySince(p)
	if since == nil {
		return false
	}
	return minReadySeconds == 0 || (!since.IsZero() && since.Add(time.Duration(minReadySeconds)*time.Second).Before(now))
}

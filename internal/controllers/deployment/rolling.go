package deployment

import (
	"context"
	"fmt"
	"sort"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// rolloutRolling moves one step of a RollingUpdate: scale the new
// ReplicaSet up as far as maxSurge allows, else scale old ones down as far
// as maxUnavailable allows (unhealthy old replicas first), else, once
// complete, delete old ReplicaSets beyond the history limit.
func (c *Controller) rolloutRolling(ctx context.Context, d *appsv1.Deployment, sets []*appsv1.ReplicaSet) (time.Duration, error) {
	newRS, oldRSs, err := c.newAndOld(ctx, d, sets, true)
	if err != nil {
		return 0, err
	}
	all := append(oldRSs, newRS)
	scaledUp, err := c.reconcileNewRS(ctx, all, newRS, d)
	if err != nil {
		return 0, err
	}
	if scaledUp {
		return c.syncRolloutStatus(ctx, all, newRS, d)
	}
	if c.reconcileOldRSs(ctx, all, active(oldRSs), newRS, d) {
		return c.syncRolloutStatus(ctx, all, newRS, d)
	}
	if complete(d, &d.Status) {
		if err := c.cleanup(ctx, oldRSs, d); err != nil {
			return 0, err
		}
	}
	return c.syncRolloutStatus(ctx, all, newRS, d)
}

func (c *Controller) reconcileNewRS(ctx context.Context, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, d *appsv1.Deployment) (bool, error) {
	switch {
	case *newRS.Spec.Replicas == *d.Spec.Replicas:
		return false, nil
	case *newRS.Spec.Replicas > *d.Spec.Replicas:
		scaled, _, err := c.scaleTo(ctx, newRS, *d.Spec.Replicas, d)
		return scaled, err
	}
	scaled, _, err := c.scaleTo(ctx, newRS, newRSReplicas(d, all, newRS), d)
	return scaled, err
}

// reconcileOldRSs scales old ReplicaSets down without going below
// spec.replicas - maxUnavailable available pods. Errors are dropped (the
// next sync tries again), as in Kubernetes.
func (c *Controller) reconcileOldRSs(ctx context.Context, all, oldRSs []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, d *appsv1.Deployment) bool {
	if specReplicas(oldRSs) == 0 {
		return false
	}
	minAvailable := *d.Spec.Replicas - maxUnavailable(d)
	newUnavailable := *newRS.Spec.Replicas - newRS.Status.AvailableReplicas
	// Unavailable pods of the new ReplicaSet count against the budget: old
	// pods may only go while that many stay available elsewhere.
	maxScaledDown := specReplicas(all) - minAvailable - newUnavailable
	if maxScaledDown <= 0 {
		return false
	}
	oldRSs, cleaned, err := c.cleanupUnhealthy(ctx, oldRSs, d, maxScaledDown)
	if err != nil {
		return false
	}
	scaled, err := c.scaleDownOld(ctx, append(oldRSs, newRS), oldRSs, d)
	if err != nil {
		return false
	}
	return cleaned+scaled > 0
}

// cleanupUnhealthy scales old ReplicaSets down by their unavailable
// replicas first, oldest first: those cost no availability.
func (c *Controller) cleanupUnhealthy(ctx context.Context, oldRSs []*appsv1.ReplicaSet, d *appsv1.Deployment, maxCleanup int32) ([]*appsv1.ReplicaSet, int32, error) {
	sort.Sort(byCreation(oldRSs))
	total := int32(0)
	for i, rs := range oldRSs {
		if total >= maxCleanup {
			break
		}
		if *rs.Spec.Replicas == 0 || *rs.Spec.Replicas == rs.Status.AvailableReplicas {
			continue
		}
		n := min(maxCleanup-total, *rs.Spec.Replicas-rs.Status.AvailableReplicas)
		size := *rs.Spec.Replicas - n
		if size > *rs.Spec.Replicas {
			return nil, 0, fmt.Errorf("when cleaning up unhealthy replicas, got invalid request to scale down %s/%s %d -> %d", rs.Namespace, rs.Name, *rs.Spec.Replicas, size)
		}
		_, updated, err := c.scaleTo(ctx, rs, size, d)
		if err != nil {
			return nil, total, err
		}
		total += n
		oldRSs[i] = updated
	}
	return oldRSs, total, nil
}

// scaleDownOld scales old ReplicaSets down, oldest first, by as many
// replicas as are available beyond spec.replicas - maxUnavailable.
func (c *Controller) scaleDownOld(ctx context.Context, all, oldRSs []*appsv1.ReplicaSet, d *appsv1.Deployment) (int32, error) {
	minAvailable := *d.Spec.Replicas - maxUnavailable(d)
	avail := statusSum(all, statusAvailable)
	if avail <= minAvailable {
		return 0, nil
	}
	sort.Sort(byCreation(oldRSs))
	total, want := int32(0), avail-minAvailable
	for _, rs := range oldRSs {
		if total >= want {
			break
		}
		if *rs.Spec.Replicas == 0 {
			continue
		}
		n := min(*rs.Spec.Replicas, want-total)
		if _, _, err := c.scaleTo(ctx, rs, *rs.Spec.Replicas-n, d); err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

// rolloutRecreate scales every old ReplicaSet to 0, waits until their pods
// are gone, then creates or scales up the new one.
func (c *Controller) rolloutRecreate(ctx context.Context, d *appsv1.Deployment, sets []*appsv1.ReplicaSet, podMap map[types.UID][]*corev1.Pod) (time.Duration, error) {
	newRS, oldRSs, err := c.newAndOld(ctx, d, sets, false)
	if err != nil {
		return 0, err
	}
	all := append(oldRSs, newRS)
	scaledDown := false
	for _, rs := range active(oldRSs) {
		scaled, _, err := c.scaleTo(ctx, rs, 0, d)
		if err != nil {
			return 0, err
		}
		scaledDown = scaledDown || scaled
	}
	if scaledDown || oldPodsRunning(newRS, oldRSs, podMap) {
		return c.syncRolloutStatus(ctx, all, newRS, d)
	}
	if newRS == nil {
		if newRS, oldRSs, err = c.newAndOld(ctx, d, sets, true); err != nil {
			return 0, err
		}
		all = append(oldRSs, newRS)
	}
	if _, _, err := c.scaleTo(ctx, newRS, *d.Spec.Replicas, d); err != nil {
		return 0, err
	}
	if complete(d, &d.Status) {
		if err := c.cleanup(ctx, oldRSs, d); err != nil {
			return 0, err
		}
	}
	return c.syncRolloutStatus(ctx, all, newRS, d)
}

// oldPodsRunning: an old ReplicaSet still reports pods, or the cache holds
// a pod of one that has not finished (Recreate never runs old and new pods
// together).
func oldPodsRunning(newRS *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet, podMap map[types.UID][]*corev1.Pod) bool {
	if statusSum(oldRSs, statusReplicas) > 0 {
		return true
	}
	for uid, pods := range podMap {
		if newRS != nil && newRS.UID == uid {
			continue
		}
		for _, p := range pods {
			if p.Status.Phase != corev1.PodFailed && p.Status.Phase != corev1.PodSucceeded {
				return true
			}
		}
	}
	return false
}

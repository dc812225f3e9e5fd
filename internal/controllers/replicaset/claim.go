package replicaset

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// Claimer decides which objects a controller owns, as Kubernetes'
// ControllerRefManager does: objects it controls that still match its
// selector are kept, those that no longer match are released (their
// ownerReference removed), and orphans that match are adopted (an
// ownerReference with controller=true added), unless the owner is being
// deleted. The Deployment controller claims ReplicaSets with it too.
type Claimer struct {
	Owner    metav1.Object
	Kind     schema.GroupVersionKind
	Selector labels.Selector
	// Fresh reads the owner from the API server, not the cache: before the
	// first adoption the owner must still exist and not be deleted (an owner
	// deleted meanwhile must not adopt objects its garbage collection left).
	Fresh func(ctx context.Context) (metav1.Object, error)
	// Patch applies a strategic merge patch to the named object.
	Patch func(ctx context.Context, namespace, name string, patch []byte) error

	once     sync.Once
	adoptErr error
}

// Claim returns the objects of objs that c's owner controls after adopting
// and releasing as needed. Errors are joined; the objects claimed so far are
// still returned.
func Claim[T metav1.Object](ctx context.Context, c *Claimer, objs []T) ([]T, error) {
	var claimed []T
	var errs []error
	for _, obj := range objs {
		ok, err := c.claim(ctx, obj)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			claimed = append(claimed, obj)
		}
	}
	return claimed, errors.Join(errs...)
}

func (c *Claimer) claim(ctx context.Context, obj metav1.Object) (bool, error) {
	match := c.Selector.Matches(labels.Set(obj.GetLabels()))
	if ref := metav1.GetControllerOfNoCopy(obj); ref != nil {
		switch {
		case ref.UID != c.Owner.GetUID():
			return false, nil // someone else's
		case match:
			return true, nil
		case c.Owner.GetDeletionTimestamp() != nil:
			return false, nil // a deleted owner releases nothing
		}
		err := c.Patch(ctx, obj.GetNamespace(), obj.GetName(), releasePatch(obj.GetUID(), c.Owner.GetUID()))
		// Gone, or invalid (e.g. the object is being deleted with only this
		// owner): nothing left to release.
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsInvalid(err) {
			return false, err
		}
		return false, nil
	}
	if !match || c.Owner.GetDeletionTimestamp() != nil || obj.GetDeletionTimestamp() != nil ||
		(c.Owner.GetNamespace() != "" && c.Owner.GetNamespace() != obj.GetNamespace()) {
		return false, nil
	}
	if err := c.canAdopt(ctx); err != nil {
		return false, fmt.Errorf("can't adopt %s %s/%s (%s): %w", c.kindOf(obj), obj.GetNamespace(), obj.GetName(), obj.GetUID(), err)
	}
	if err := c.Patch(ctx, obj.GetNamespace(), obj.GetName(), c.adoptPatch(obj.GetUID())); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// kindOf names the kind of a claimed object for messages (cached objects
// carry no kind).
func (c *Claimer) kindOf(obj metav1.Object) string {
	switch obj.(type) {
	case *corev1.Pod:
		return "Pod"
	case *appsv1.ReplicaSet:
		return "ReplicaSet"
	}
	return "object"
}

// canAdopt asks the API server once per claim round whether the owner
// still exists as the same object and is not being deleted.
func (c *Claimer) canAdopt(ctx context.Context) error {
	c.once.Do(func() {
		if c.Fresh == nil {
			return
		}
		fresh, err := c.Fresh(ctx)
		switch {
		case err != nil:
			c.adoptErr = err
		case fresh.GetUID() != c.Owner.GetUID():
			c.adoptErr = fmt.Errorf("original %s %s/%s is gone: got uid %s, wanted %s",
				c.Kind.Kind, c.Owner.GetNamespace(), c.Owner.GetName(), fresh.GetUID(), c.Owner.GetUID())
		case fresh.GetDeletionTimestamp() != nil:
			c.adoptErr = fmt.Errorf("%s/%s has just been deleted at %v",
				c.Owner.GetNamespace(), c.Owner.GetName(), fresh.GetDeletionTimestamp())
		}
	})
	return c.adoptErr
}

// patchMeta is the metadata part of the adopt and release patches. The uid
// makes the patch fail if the object was replaced by one of the same name.
type patchMeta struct {
	OwnerReferences []map[string]any `json:"ownerReferences"`
	UID             types.UID        `json:"uid"`
}

func (c *Claimer) adoptPatch(uid types.UID) []byte {
	ref := map[string]any{
		"apiVersion": c.Kind.GroupVersion().String(), "kind": c.Kind.Kind,
		"name": c.Owner.GetName(), "uid": c.Owner.GetUID(),
		"controller": true, "blockOwnerDeletion": true,
	}
	return mustJSON(map[string]patchMeta{"metadata": {OwnerReferences: []map[string]any{ref}, UID: uid}})
}

// releasePatch removes the ownerReference to owner (strategic merge patch:
// the list merges by uid).
func releasePatch(uid, owner types.UID) []byte {
	ref := map[string]any{"$patch": "delete", "uid": owner}
	return mustJSON(map[string]patchMeta{"metadata": {OwnerReferences: []map[string]any{ref}, UID: uid}})
}

// mustJSON marshals the patches above, which are strings and bools only and
// so always marshal.
func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

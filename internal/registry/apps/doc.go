// Package apps serves apps/v1 Deployments and ReplicaSets as Kubernetes 1.32
// does: their strategies (generation, status kept apart from spec, an
// immutable selector), the status subresources and the scale subresources,
// which read and write autoscaling/v1 Scale objects (kubectl scale). The
// controllers that act on these objects live in internal/controllers.
//
// Deletion needs nothing here: both resources' default garbage collection
// policy is Kubernetes' DeleteDependents, which is what the generic store
// does for a strategy that names none (background deletion, no finalizer),
// and it sets the orphan or foregroundDeletion finalizer when a client asks
// for orphan or foreground propagation (kubectl delete --cascade).
package apps

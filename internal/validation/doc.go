// Package validation checks the objects of the groups portway serves
// (core/v1, apps/v1, discovery.k8s.io/v1, coordination.k8s.io/v1,
// events.k8s.io/v1 and the authorization.k8s.io/v1 reviews) the way
// Kubernetes 1.32's kube-apiserver does, so that a rejected write produces
// the same field paths, reasons and messages a user would get from a real
// cluster.
//
// Kubernetes validates its internal types (pkg/apis/core and friends); this
// package works on the k8s.io/api v1 types directly and folds in the few
// v1-to-internal conversions that change what validation sees (podIP versus
// podIPs, podCIDR versus podCIDRs, hostNetwork living in the security context,
// serviceAccount as an alias of serviceAccountName).
//
// Division of labour with the caller (internal/registry):
//
//   - The caller validates ObjectMeta (name, namespace, labels, annotations,
//     finalizers, and its immutability on update). Functions here only add
//     the resource-specific rules Kubernetes layers on top of metadata.
//   - For an update the caller runs the create-time function (ValidatePod,
//     ValidateNode, ...) on the new object and then the *Update function, so
//     each *Update function returns only what is specific to an update: what
//     may not change, and rules that compare old and new.
//   - *StatusUpdate functions are the whole validation of a status write; the
//     caller does not run the create-time function for those.
//   - Defaulting has already happened, as in kube-apiserver, so fields that
//     Kubernetes always defaults (protocol, imagePullPolicy, ...) are reported
//     as Required only when a client managed to bypass defaulting.
//
// Where Kubernetes reports a problem in several places, the order of the
// returned errors follows Kubernetes' order, because kubectl prints them in
// that order. Where Kubernetes iterates a Go map (data keys, resource names)
// its order is random; we sort, which is one of the orders Kubernetes can
// produce.
package validation

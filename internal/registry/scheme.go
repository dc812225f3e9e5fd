package registry

import (
	"reflect"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
)

// Scheme knows every type portway serves. Each type is registered twice: under
// its external version (v1) and under the internal version the apiserver
// library converts to. Both are the same k8s.io/api Go type, so that
// "conversion" is only a change of TypeMeta and the objects our strategies see
// are exactly the objects clients send.
var Scheme = runtime.NewScheme()

// Codecs serializes the Scheme's types as JSON, YAML and protobuf.
var Codecs = serializer.NewCodecFactory(Scheme)

// GroupVersions are the served group versions, in kube-apiserver's
// discovery order.
var GroupVersions = []schema.GroupVersion{
	corev1.SchemeGroupVersion,
	appsv1.SchemeGroupVersion,
	eventsv1.SchemeGroupVersion,
	authenticationv1.SchemeGroupVersion,
	authorizationv1.SchemeGroupVersion,
	coordinationv1.SchemeGroupVersion,
	discoveryv1.SchemeGroupVersion,
}

// subresourceGroupVersions are group versions whose types are served only as
// subresources of other groups' resources: autoscaling/v1 Scale is what
// deployments/scale and replicasets/scale read and write, as in Kubernetes.
// Their group is not served (no horizontalpodautoscalers).
var subresourceGroupVersions = []schema.GroupVersion{autoscalingv1.SchemeGroupVersion}

// internalTypes are the groups whose objects are stored as another group's
// type: events.k8s.io Events live in the same etcd keys as core/v1 Events,
// and are converted on the way in and out (see registry/event).
var internalTypes = map[schema.GroupKind]runtime.Object{
	eventsv1.SchemeGroupVersion.WithKind("Event").GroupKind():     &corev1.Event{},
	eventsv1.SchemeGroupVersion.WithKind("EventList").GroupKind(): &corev1.EventList{},
}

// ExternalScheme holds only the versioned types, as kube-apiserver's
// scheme does beside its separate internal types: OpenAPI's
// x-kubernetes-group-version-kind is named from it, so that no type lists
// the __internal version Scheme also registers it under.
var ExternalScheme = runtime.NewScheme()

func init() {
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme,
		appsv1.AddToScheme,
		authenticationv1.AddToScheme,
		authorizationv1.AddToScheme,
		autoscalingv1.AddToScheme,
		discoveryv1.AddToScheme,
		coordinationv1.AddToScheme,
		eventsv1.AddToScheme,
	} {
		if err := add(Scheme); err != nil {
			panic(err)
		}
		if err := add(ExternalScheme); err != nil {
			panic(err)
		}
	}
	metav1.AddToGroupVersion(ExternalScheme, schema.GroupVersion{Version: "v1"})
	for _, gv := range append(append([]schema.GroupVersion{}, GroupVersions...), subresourceGroupVersions...) {
		internal := schema.GroupVersion{Group: gv.Group, Version: runtime.APIVersionInternal}
		for kind, t := range Scheme.KnownTypes(gv) {
			if _, meta := metaKinds[kind]; meta {
				continue
			}
			obj, ok := internalTypes[gv.WithKind(kind).GroupKind()]
			if !ok {
				obj = reflectNew(t)
			}
			Scheme.AddKnownTypeWithName(internal.WithKind(kind), obj)
		}
		if err := Scheme.SetVersionPriority(gv); err != nil {
			panic(err)
		}
	}
	// The options types (ListOptions, DeleteOptions, ...) every handler
	// decodes, and the unversioned Status and discovery types.
	metav1.AddToGroupVersion(Scheme, schema.GroupVersion{Version: "v1"})
	addFieldLabelConversions(Scheme)
	addDefaulters(Scheme)
	if err := addQueryConversions(Scheme); err != nil {
		panic(err)
	}
}

func reflectNew(t reflect.Type) runtime.Object {
	return reflect.New(t).Interface().(runtime.Object)
}

// metaKinds are registered into every group version by metav1.AddToGroupVersion;
// they have no internal form of their own.
var metaKinds = map[string]struct{}{
	"WatchEvent": {}, "ListOptions": {}, "GetOptions": {}, "DeleteOptions": {},
	"CreateOptions": {}, "UpdateOptions": {}, "PatchOptions": {}, "Status": {},
	"APIVersions": {}, "APIGroupList": {}, "APIGroup": {}, "APIResourceList": {},
}

package endpointslice

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"reflect"
	"sort"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/conversion"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/dump"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/portway/portway/internal/podinfo"
)

// The helpers below are shared with the endpoints and mirroring controllers,
// as kube-controller-manager shares k8s.io/endpointslice/util between them.

// DeepHash hashes an object the way Kubernetes' controllers do (spew dump,
// MD5). Where such a hash decides an order, ours is the same.
func DeepHash(obj any) string {
	h := md5.New()
	fmt.Fprint(h, dump.ForHash(obj))
	return hex.EncodeToString(h.Sum(nil))
}

// PortMapKey identifies a set of endpoint ports.
type PortMapKey string

// NewPortMapKey sorts ports in place, by the hash of each port, and returns
// the hash of the result. A nil list and an empty one hash differently, as
// in Kubernetes: slices read back from the API have nil ports where the
// controller computes an empty list, and Kubernetes rewrites such slices.
func NewPortMapKey(ports []discoveryv1.EndpointPort) PortMapKey {
	sort.SliceStable(ports, func(i, j int) bool { return DeepHash(ports[i]) < DeepHash(ports[j]) })
	return PortMapKey(DeepHash(ports))
}

// ShouldPodBeInEndpoints reports whether a pod gets an address at all: it
// must have an IP and not be in a terminal phase; terminating pods count
// only when includeTerminating.
func ShouldPodBeInEndpoints(pod *corev1.Pod, includeTerminating bool) bool {
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return false
	}
	if pod.Status.PodIP == "" && len(pod.Status.PodIPs) == 0 {
		return false
	}
	return includeTerminating || pod.DeletionTimestamp == nil
}

// ShouldSetHostname reports whether the pod's hostname is published for svc.
func ShouldSetHostname(pod *corev1.Pod, svc *corev1.Service) bool {
	return pod.Spec.Hostname != "" && pod.Spec.Subdomain == svc.Name && svc.Namespace == pod.Namespace
}

// PodServices returns the keys of the Services whose selector matches pod.
func PodServices(lister corelisters.ServiceLister, pod *corev1.Pod) (sets.Set[string], error) {
	set := sets.New[string]()
	svcs, err := lister.Services(pod.Namespace).List(labels.Everything())
	if err != nil {
		return set, err
	}
	for _, svc := range svcs {
		if svc.Spec.Selector == nil {
			continue // a nil selector selects nothing
		}
		if labels.ValidatedSetSelector(svc.Spec.Selector).Matches(labels.Set(pod.Labels)) {
			set.Insert(svc.Namespace + "/" + svc.Name)
		}
	}
	return set, nil
}

// ServicesToUpdateOnPodChange returns the keys of the Services a pod update
// may affect: those it belongs to if its addresses changed, and those it
// joined or left if its labels changed.
func ServicesToUpdateOnPodChange(lister corelisters.ServiceLister, oldObj, curObj any) sets.Set[string] {
	cur, old := curObj.(*corev1.Pod), oldObj.(*corev1.Pod)
	if cur.ResourceVersion == old.ResourceVersion {
		return nil // a resync
	}
	podChanged, labelsChanged := podEndpointsChanged(old, cur)
	if !podChanged && !labelsChanged {
		return nil
	}
	svcs, err := PodServices(lister, cur)
	if err != nil {
		return nil
	}
	if labelsChanged {
		oldSvcs, _ := PodServices(lister, old)
		if podChanged {
			return svcs.Union(oldSvcs)
		}
		return svcs.Difference(oldSvcs).Union(oldSvcs.Difference(svcs))
	}
	return svcs
}

func podEndpointsChanged(old, cur *corev1.Pod) (podChanged, labelsChanged bool) {
	labelsChanged = !reflect.DeepEqual(cur.Labels, old.Labels) ||
		cur.Spec.Hostname != old.Spec.Hostname || cur.Spec.Subdomain != old.Spec.Subdomain
	if cur.DeletionTimestamp != old.DeletionTimestamp {
		return true, labelsChanged
	}
	if podinfo.Ready(old) != podinfo.Ready(cur) || len(old.Status.PodIPs) != len(cur.Status.PodIPs) {
		return true, labelsChanged
	}
	for i := range old.Status.PodIPs {
		if old.Status.PodIPs[i].IP != cur.Status.PodIPs[i].IP {
			return true, labelsChanged
		}
	}
	return false, labelsChanged
}

// PodFromDeleteAction unwraps a deleted pod, tombstone or not.
func PodFromDeleteAction(obj any) *corev1.Pod {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	pod, _ := obj.(*corev1.Pod)
	return pod
}

// SliceFromDeleteAction unwraps a deleted EndpointSlice, tombstone or not.
func SliceFromDeleteAction(obj any) *discoveryv1.EndpointSlice {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	s, _ := obj.(*discoveryv1.EndpointSlice)
	return s
}

// ServiceKey is the namespace/name key of the Service a slice belongs to.
func ServiceKey(slice *discoveryv1.EndpointSlice) (string, bool) {
	name := slice.Labels[discoveryv1.LabelServiceName]
	return slice.Namespace + "/" + name, name != ""
}

// semanticIgnoreResourceVersion compares endpoints ignoring the pods'
// resourceVersions in targetRefs.
var semanticIgnoreResourceVersion = conversion.EqualitiesOrDie(
	func(a, b corev1.ObjectReference) bool {
		a.ResourceVersion, b.ResourceVersion = "", ""
		return a == b
	},
)

// EqualIgnoreResourceVersion is a semantic deep equality that ignores the
// resourceVersion of object references.
func EqualIgnoreResourceVersion(a, b any) bool {
	return semanticIgnoreResourceVersion.DeepEqual(a, b)
}

// endpointKey identifies an endpoint by what cannot change in place:
// addresses, hostname and the target's name.
type endpointKey struct {
	Addresses []string
	Hostname  string
	Namespace string
	Name      string
}

func keyOf(ep *discoveryv1.Endpoint) string {
	k := endpointKey{Addresses: append([]string(nil), ep.Addresses...)}
	sort.Strings(k.Addresses)
	if ep.Hostname != nil {
		k.Hostname = *ep.Hostname
	}
	if ep.TargetRef != nil {
		k.Namespace, k.Name = ep.TargetRef.Namespace, ep.TargetRef.Name
	}
	return DeepHash(k)
}

// EndpointSet is a set of endpoints keyed by identity. Like Kubernetes',
// PopAny takes them out in Go map order.
type EndpointSet map[string]*discoveryv1.Endpoint

// Insert adds endpoints.
func (s EndpointSet) Insert(eps ...*discoveryv1.Endpoint) {
	for _, ep := range eps {
		sort.Strings(ep.Addresses)
		s[keyOf(ep)] = ep
	}
}

// Get returns the member with ep's identity.
func (s EndpointSet) Get(ep *discoveryv1.Endpoint) *discoveryv1.Endpoint { return s[keyOf(ep)] }

// Delete removes the member with ep's identity.
func (s EndpointSet) Delete(ep *discoveryv1.Endpoint) { delete(s, keyOf(ep)) }

// PopAny removes and returns some member.
func (s EndpointSet) PopAny() *discoveryv1.Endpoint {
	for k, ep := range s {
		delete(s, k)
		return ep
	}
	return nil
}

// EqualBeyondKey reports whether two endpoints with the same identity agree
// on everything else the controllers set.
func EqualBeyondKey(a, b *discoveryv1.Endpoint) bool {
	return reflect.DeepEqual(a.NodeName, b.NodeName) && reflect.DeepEqual(a.Zone, b.Zone) &&
		reflect.DeepEqual(a.Conditions, b.Conditions) &&
		EqualIgnoreResourceVersion(a.TargetRef, b.TargetRef)
}

// ByService indexes EndpointSlices by "namespace/service-name", so that a
// controller finds a Service's slices without scanning its namespace (a
// label-selector List is linear in the namespace's slices).
const ByService = "byService"

// IndexByService adds the ByService index to an EndpointSlice informer, once.
func IndexByService(inf cache.SharedIndexInformer) error {
	if _, ok := inf.GetIndexer().GetIndexers()[ByService]; ok {
		return nil
	}
	return inf.AddIndexers(cache.Indexers{ByService: func(obj any) ([]string, error) {
		s, ok := obj.(*discoveryv1.EndpointSlice)
		if !ok {
			return nil, nil
		}
		name, ok := s.Labels[discoveryv1.LabelServiceName]
		if !ok {
			return nil, nil
		}
		return []string{s.Namespace + "/" + name}, nil
	}})
}

// SlicesOf returns the EndpointSlices of a Service that manager manages.
func SlicesOf(indexer cache.Indexer, namespace, service, manager string) ([]*discoveryv1.EndpointSlice, error) {
	objs, err := indexer.ByIndex(ByService, namespace+"/"+service)
	if err != nil {
		return nil, err
	}
	var out []*discoveryv1.EndpointSlice
	for _, o := range objs {
		if s := o.(*discoveryv1.EndpointSlice); s.Labels[discoveryv1.LabelManagedBy] == manager {
			out = append(out, s)
		}
	}
	return out, nil
}

// SliceEventHandler queues, through enqueue, the owner of an EndpointSlice
// that manager manages when the slice changes in a way the tracker did not
// expect (someone else wrote it, or it moved to another Service): the
// controller's own writes, which the tracker records, cause no extra sync.
func SliceEventHandler(manager string, tracker *SliceTracker, enqueue func(*discoveryv1.EndpointSlice)) cache.ResourceEventHandlerFuncs {
	managed := func(s *discoveryv1.EndpointSlice) bool { return s.Labels[discoveryv1.LabelManagedBy] == manager }
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if s := obj.(*discoveryv1.EndpointSlice); managed(s) && tracker.ShouldSync(s) {
				enqueue(s)
			}
		},
		UpdateFunc: func(oldObj, obj any) {
			old, s := oldObj.(*discoveryv1.EndpointSlice), obj.(*discoveryv1.EndpointSlice)
			if old.Labels[discoveryv1.LabelServiceName] != s.Labels[discoveryv1.LabelServiceName] {
				enqueue(s)
				enqueue(old)
				return
			}
			if managed(old) != managed(s) || (managed(s) && tracker.ShouldSync(s)) {
				enqueue(s)
			}
		},
		DeleteFunc: func(obj any) {
			s := SliceFromDeleteAction(obj)
			if s != nil && managed(s) && tracker.Has(s) && !tracker.HandleDeletion(s) {
				enqueue(s)
			}
		},
	}
}

// QueuePodServices adds to queue the keys of the Services whose selector
// matches pod.
func QueuePodServices(lister corelisters.ServiceLister, queue workqueue.TypedInterface[string], pod *corev1.Pod) {
	svcs, err := PodServices(lister, pod)
	if err != nil {
		utilruntime.HandleError(err)
		return
	}
	for key := range svcs {
		queue.Add(key)
	}
}

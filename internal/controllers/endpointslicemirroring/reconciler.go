package endpointslicemirroring

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"
	netutils "k8s.io/utils/net"

	"github.com/portway/portway/internal/controllers/endpoints"
	"github.com/portway/portway/internal/controllers/endpointslice"
)

// reconciler mirrors one Endpoints object into EndpointSlices, as
// pkg/controller/endpointslicemirroring does: one slice per address family
// and port set, at most maxPerSubset addresses per subset.
type reconciler struct {
	client       kubernetes.Interface
	tracker      *endpointslice.SliceTracker
	maxPerSubset int
}

type portKey string

func newPortKey(ports []discoveryv1.EndpointPort, t discoveryv1.AddressType) portKey {
	return portKey(fmt.Sprintf("%s-%s", t, endpointslice.NewPortMapKey(ports)))
}

func (k portKey) addressType() discoveryv1.AddressType {
	if len(k) >= len(discoveryv1.AddressTypeIPv6) && string(k[:len(discoveryv1.AddressTypeIPv6)]) == string(discoveryv1.AddressTypeIPv6) {
		return discoveryv1.AddressTypeIPv6
	}
	return discoveryv1.AddressTypeIPv4
}

type actions struct{ create, update, del []*discoveryv1.EndpointSlice }

func (r *reconciler) reconcile(ctx context.Context, ep *corev1.Endpoints, existing []*discoveryv1.EndpointSlice) error {
	logger := klog.FromContext(ctx)
	portsByKey := map[portKey][]discoveryv1.EndpointPort{}
	desired := map[portKey]endpointslice.EndpointSet{}
	invalid, skipped := 0, 0
	for _, ss := range endpoints.RepackSubsets(ep.Subsets) {
		ports := toSlicePorts(ss.Ports)
		keys := map[discoveryv1.AddressType]portKey{}
		for _, t := range []discoveryv1.AddressType{discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6} {
			keys[t] = newPortKey(ports, t)
			if desired[keys[t]] == nil {
				desired[keys[t]] = endpointslice.EndpointSet{}
			}
			portsByKey[keys[t]] = ports
		}
		added := 0
		add := func(addr corev1.EndpointAddress, ready bool) {
			if added >= r.maxPerSubset {
				return
			}
			ip := netutils.ParseIPSloppy(addr.IP)
			if ip == nil {
				invalid++
				return
			}
			t := discoveryv1.AddressTypeIPv4
			if ip.To4() == nil {
				t = discoveryv1.AddressTypeIPv6
			}
			desired[keys[t]].Insert(addressToEndpoint(addr, ready))
			added++
		}
		for _, a := range ss.Addresses {
			add(a, true)
		}
		for _, a := range ss.NotReadyAddresses {
			add(a, false)
		}
		skipped += len(ss.Addresses) + len(ss.NotReadyAddresses) - added
	}
	if invalid > 0 {
		logger.Info("Skipped invalid IP addresses when mirroring to EndpointSlices", "endpoints", klog.KObj(ep), "count", invalid)
	}
	if skipped > invalid {
		logger.Info("Addresses in Endpoints were skipped due to exceeding MaxEndpointsPerSubset",
			"skippedAddresses", skipped-invalid, "endpoints", klog.KObj(ep))
	}

	existingByKey := map[portKey][]*discoveryv1.EndpointSlice{}
	for _, s := range existing {
		ports := s.Ports
		if ports != nil {
			ports = append(make([]discoveryv1.EndpointPort, 0, len(ports)), ports...)
		}
		k := newPortKey(ports, s.AddressType)
		existingByKey[k] = append(existingByKey[k], s)
	}
	var all actions
	for k, set := range desired {
		a := r.reconcileByPortMapping(ep, existingByKey[k], set, portsByKey[k], k.addressType())
		all.create = append(all.create, a.create...)
		all.update = append(all.update, a.update...)
		all.del = append(all.del, a.del...)
	}
	for k, slices := range existingByKey {
		if _, ok := desired[k]; !ok {
			all.del = append(all.del, slices...)
		}
	}
	return r.finalize(ctx, ep, all)
}

func (r *reconciler) reconcileByPortMapping(ep *corev1.Endpoints, existing []*discoveryv1.EndpointSlice,
	desired endpointslice.EndpointSet, ports []discoveryv1.EndpointPort, t discoveryv1.AddressType) actions {
	var a actions
	if len(desired) == 0 {
		a.del = existing
		return a
	}
	name := ""
	if len(existing) > 0 {
		a.del = existing[1:]
		first := existing[0]
		added, updated, removed := changes(first, desired)
		annotations := without(ep.Annotations, corev1.EndpointsLastChangeTriggerTime, corev1.LastAppliedConfigAnnotation)
		labels := without(first.Labels, discoveryv1.LabelManagedBy, discoveryv1.LabelServiceName)
		if added == 0 && updated == 0 && removed == 0 &&
			apiequality.Semantic.DeepEqual(ep.Labels, labels) &&
			apiequality.Semantic.DeepEqual(annotations, first.Annotations) &&
			!ownerReplaced(ep, first) {
			if !r.tracker.Has(first) {
				r.tracker.Update(first)
			}
			return a
		}
		name = first.Name
	}
	s := newSlice(ep, ports, t, name)
	for len(desired) > 0 && len(s.Endpoints) < r.maxPerSubset {
		s.Endpoints = append(s.Endpoints, *desired.PopAny())
	}
	if s.Name != "" {
		a.update = append(a.update, s)
	} else {
		a.create = append(a.create, s)
	}
	return a
}

func changes(s *discoveryv1.EndpointSlice, desired endpointslice.EndpointSet) (added, updated, removed int) {
	matches := 0
	for i := range s.Endpoints {
		got := desired.Get(&s.Endpoints[i])
		if got == nil {
			removed++
			continue
		}
		matches++
		if !endpointslice.EqualBeyondKey(got, &s.Endpoints[i]) {
			updated++
		}
	}
	return len(desired) - matches, updated, removed
}

// ownerReplaced reports whether the slice belongs to an earlier Endpoints of
// the same name.
func ownerReplaced(ep *corev1.Endpoints, s *discoveryv1.EndpointSlice) bool {
	for _, o := range s.OwnerReferences {
		if o.Kind == "Endpoints" && o.Name == ep.Name && o.UID != ep.UID {
			return true
		}
	}
	return false
}

func (r *reconciler) finalize(ctx context.Context, ep *corev1.Endpoints, a actions) error {
	// Recycle the names of slices to delete for slices to create.
	creates := map[discoveryv1.AddressType][]*discoveryv1.EndpointSlice{}
	deletes := map[discoveryv1.AddressType][]*discoveryv1.EndpointSlice{}
	for _, s := range a.create {
		creates[s.AddressType] = append(creates[s.AddressType], s)
	}
	for _, s := range a.del {
		deletes[s.AddressType] = append(deletes[s.AddressType], s)
	}
	for t, cs := range creates {
		ds := deletes[t]
		for i := 0; i < len(cs) && i < len(ds); i++ {
			a.create = remove(a.create, cs[i])
			a.del = remove(a.del, ds[i])
			cs[i].Name = ds[i].Name
			a.update = append(a.update, cs[i])
		}
	}
	client := r.client.DiscoveryV1().EndpointSlices(ep.Namespace)
	if ep.DeletionTimestamp == nil {
		for _, s := range a.create {
			created, err := client.Create(ctx, s, metav1.CreateOptions{})
			if err != nil {
				if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
					return nil
				}
				return fmt.Errorf("failed to create EndpointSlice for Endpoints %s/%s: %v", ep.Namespace, ep.Name, err)
			}
			r.tracker.Update(created)
		}
	}
	for _, s := range a.update {
		updated, err := client.Update(ctx, s, metav1.UpdateOptions{})
		if err != nil {
			return fmt.Errorf("failed to update %s EndpointSlice for Endpoints %s/%s: %v", s.Name, ep.Namespace, ep.Name, err)
		}
		r.tracker.Update(updated)
	}
	for _, s := range a.del {
		if err := client.Delete(ctx, s.Name, metav1.DeleteOptions{}); err != nil {
			return fmt.Errorf("failed to delete %s EndpointSlice for Endpoints %s/%s: %v", s.Name, ep.Namespace, ep.Name, err)
		}
		r.tracker.ExpectDeletion(s)
	}
	return nil
}

// remove drops the slice with s's name. Slices to create have no name
// yet; they are told apart by identity.
func remove(list []*discoveryv1.EndpointSlice, s *discoveryv1.EndpointSlice) []*discoveryv1.EndpointSlice {
	for i, x := range list {
		if x == s || (s.Name != "" && x.Name == s.Name) {
			return append(list[:i], list[i+1:]...)
		}
	}
	return list
}

func newSlice(ep *corev1.Endpoints, ports []discoveryv1.EndpointPort, t discoveryv1.AddressType, name string) *discoveryv1.EndpointSlice {
	ref := metav1.NewControllerRef(ep, corev1.SchemeGroupVersion.WithKind("Endpoints"))
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Labels:          map[string]string{},
			Annotations:     map[string]string{},
			OwnerReferences: []metav1.OwnerReference{*ref},
			Namespace:       ep.Namespace,
			Name:            name,
		},
		Ports:       ports,
		AddressType: t,
		Endpoints:   []discoveryv1.Endpoint{},
	}
	for k, v := range ep.Labels {
		s.Labels[k] = v
	}
	s.Labels[discoveryv1.LabelServiceName] = ep.Name
	s.Labels[discoveryv1.LabelManagedBy] = ControllerName
	for k, v := range ep.Annotations {
		if k != corev1.EndpointsLastChangeTriggerTime && k != corev1.LastAppliedConfigAnnotation {
			s.Annotations[k] = v
		}
	}
	if name == "" {
		s.GenerateName = ep.Name + "-"
		if len(validation.NameIsDNSSubdomain(s.GenerateName, true)) != 0 {
			s.GenerateName = ep.Name
		}
	}
	return s
}

func addressToEndpoint(addr corev1.EndpointAddress, ready bool) *discoveryv1.Endpoint {
	ep := &discoveryv1.Endpoint{
		Addresses:  []string{addr.IP},
		Conditions: discoveryv1.EndpointConditions{Ready: &ready},
		TargetRef:  addr.TargetRef,
		NodeName:   addr.NodeName,
	}
	if addr.Hostname != "" {
		ep.Hostname = &addr.Hostname
	}
	return ep
}

func toSlicePorts(ports []corev1.EndpointPort) []discoveryv1.EndpointPort {
	out := []discoveryv1.EndpointPort{}
	for _, p := range ports {
		p := p.DeepCopy()
		out = append(out, discoveryv1.EndpointPort{Name: &p.Name, Port: &p.Port, Protocol: &p.Protocol, AppProtocol: p.AppProtocol})
	}
	return out
}

func without(m map[string]string, keys ...string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	for _, k := range keys {
		delete(out, k)
	}
	return out
}

package endpointslice

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/conversion"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/klog/v2"
	netutils "k8s.io/utils/net"

	"github.com/portway/portway/internal/podinfo"
)

// reconciler turns a Service and its pods into EndpointSlices, following
// the staging k8s.io/endpointslice reconciler of Kubernetes 1.32: endpoints
// are grouped by the ports they resolve to, at most maxPerSlice to a slice,
// existing slices are updated in place where possible and a Service without
// endpoints keeps one empty placeholder slice.
type reconciler struct {
	client      kubernetes.Interface
	nodes       corelisters.NodeLister
	maxPerSlice int
	tracker     *SliceTracker
}

func (r *reconciler) reconcile(ctx context.Context, svc *corev1.Service, pods []*corev1.Pod,
	existing []*discoveryv1.EndpointSlice, triggerTime time.Time) error {
	var errs []error
	var toDelete []*discoveryv1.EndpointSlice
	byType := map[discoveryv1.AddressType][]*discoveryv1.EndpointSlice{}
	types := addressTypes(svc)
	for _, s := range existing {
		if !types.Has(s.AddressType) {
			toDelete = append(toDelete, s)
			continue
		}
		byType[s.AddressType] = append(byType[s.AddressType], s)
	}
	for t := range types {
		if err := r.reconcileByAddressType(ctx, svc, pods, byType[t], triggerTime, t); err != nil {
			errs = append(errs, err)
		}
	}
	for _, s := range toDelete {
		err := r.client.DiscoveryV1().EndpointSlices(svc.Namespace).Delete(ctx, s.Name, metav1.DeleteOptions{})
		if err != nil {
			errs = append(errs, fmt.Errorf("error deleting %s EndpointSlice for Service %s/%s: %w", s.Name, svc.Namespace, svc.Name, err))
			continue
		}
		r.tracker.ExpectDeletion(s)
	}
	return errors.Join(errs...)
}

type endpointMeta struct {
	ports       []discoveryv1.EndpointPort
	addressType discoveryv1.AddressType
}

func (r *reconciler) reconcileByAddressType(ctx context.Context, svc *corev1.Service, pods []*corev1.Pod,
	existing []*discoveryv1.EndpointSlice, triggerTime time.Time, addrType discoveryv1.AddressType) error {
	logger := klog.FromContext(ctx)
	var errs []error
	var toCreate, toUpdate, toDelete []*discoveryv1.EndpointSlice

	existingByPorts := map[PortMapKey][]*discoveryv1.EndpointSlice{}
	for _, s := range existing {
		if !ownedBy(s, svc) {
			toDelete = append(toDelete, s)
			continue
		}
		// Sort a copy (the slice is the informer's), keeping nil apart from empty.
		ports := s.Ports
		if ports != nil {
			ports = append(make([]discoveryv1.EndpointPort, 0, len(ports)), ports...)
		}
		key := NewPortMapKey(ports)
		existingByPorts[key] = append(existingByPorts[key], s)
	}

	desiredMeta := map[PortMapKey]*endpointMeta{}
	desired := map[PortMapKey]EndpointSet{}
	for _, pod := range pods {
		if !ShouldPodBeInEndpoints(pod, true) {
			continue
		}
		ports := endpointPorts(svc, pod)
		key := NewPortMapKey(ports)
		if desired[key] == nil {
			desired[key] = EndpointSet{}
			desiredMeta[key] = &endpointMeta{ports: ports, addressType: addrType}
		}
		node, err := r.nodes.Get(pod.Spec.NodeName)
		if err != nil {
			if !apierrors.IsNotFound(err) {
				return err
			}
			if !svc.Spec.PublishNotReadyAddresses {
				logger.Info("skipping Pod for Service, Node not found", "pod", klog.KObj(pod),
					"service", klog.KObj(svc), "node", klog.KRef("", pod.Spec.NodeName))
				errs = append(errs, fmt.Errorf("skipping Pod %s for Service %s/%s: Node %s Not Found",
					pod.Name, svc.Namespace, svc.Name, pod.Spec.NodeName))
				continue
			}
			node = nil
		}
		ep := podToEndpoint(pod, node, svc, addrType)
		if len(ep.Addresses) > 0 {
			desired[key].Insert(&ep)
		}
	}

	for key, set := range desired {
		c, u, d := r.reconcileByPortMapping(svc, existingByPorts[key], set, desiredMeta[key])
		toCreate = append(toCreate, c...)
		toUpdate = append(toUpdate, u...)
		toDelete = append(toDelete, d...)
	}
	for key, slices := range existingByPorts {
		if _, ok := desired[key]; !ok {
			toDelete = append(toDelete, slices...)
		}
	}

	// A Service without endpoints keeps a single empty slice.
	if len(existing) == len(toDelete) && len(toCreate) == 0 {
		placeholder := newSlice(svc, &endpointMeta{ports: []discoveryv1.EndpointPort{}, addressType: addrType})
		if len(toDelete) == 1 && placeholderEqual.DeepEqual(toDelete[0], placeholder) {
			toDelete = toDelete[:0]
		} else {
			toCreate = append(toCreate, placeholder)
		}
	}

	unchanged := unchangedSlices(existing, toUpdate, toDelete)
	if hintsEnabled(svc.Annotations) {
		// Topology Aware Routing needs node capacities that this control
		// plane does not have: hints are removed, as Kubernetes does when the
		// node information is insufficient.
		removeHints(toCreate)
		removeHints(toUpdate)
	} else {
		toUpdate = reconcileTrafficDistribution(svc.Spec.TrafficDistribution, toCreate, toUpdate, unchanged)
	}

	if err := r.finalize(ctx, svc, toCreate, toUpdate, toDelete, triggerTime); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// reconcileByPortMapping fits the desired endpoints of one port mapping into
// the existing slices with that mapping, creating slices for what is left.
func (r *reconciler) reconcileByPortMapping(svc *corev1.Service, existing []*discoveryv1.EndpointSlice,
	desired EndpointSet, meta *endpointMeta) (toCreate, toUpdate, toDelete []*discoveryv1.EndpointSlice) {
	byName := map[string]*discoveryv1.EndpointSlice{}
	unchanged, update, del := sets.New[string](), sets.New[string](), sets.New[string]()

	// 1. Keep what is still desired in each existing slice.
	for _, s := range existing {
		byName[s.Name] = s
		var kept []discoveryv1.Endpoint
		changed := false
		for i := range s.Endpoints {
			ep := s.Endpoints[i]
			if got := desired.Get(&ep); got != nil {
				kept = append(kept, *got)
				if !EqualBeyondKey(got, &ep) {
					changed = true
				}
				desired.Delete(&ep)
			}
		}
		labels, labelsChanged := sliceLabels(s, svc)
		switch {
		case changed || len(s.Endpoints) != len(kept):
			if len(kept) == 0 {
				del.Insert(s.Name)
				break
			}
			c := s.DeepCopy()
			c.Endpoints, c.Labels = kept, labels
			byName[s.Name] = c
			update.Insert(s.Name)
		case labelsChanged:
			c := s.DeepCopy()
			c.Labels = labels
			byName[s.Name] = c
			update.Insert(s.Name)
		default:
			unchanged.Insert(s.Name)
		}
	}

	// 2. Fill the slices being updated anyway, fullest first.
	if len(desired) > 0 && update.Len() > 0 {
		var slices []*discoveryv1.EndpointSlice
		for name := range update {
			slices = append(slices, byName[name])
		}
		sort.Slice(slices, func(i, j int) bool { return len(slices[i].Endpoints) > len(slices[j].Endpoints) })
		for _, s := range slices {
			for len(desired) > 0 && len(s.Endpoints) < r.maxPerSlice {
				s.Endpoints = append(s.Endpoints, *desired.PopAny())
			}
		}
	}

	// 3. Put the rest into an unchanged slice they fit in, or new slices.
	for len(desired) > 0 {
		var fill *discoveryv1.EndpointSlice
		if len(desired) < r.maxPerSlice && unchanged.Len() > 0 {
			var candidates []*discoveryv1.EndpointSlice
			for name := range unchanged {
				candidates = append(candidates, byName[name])
			}
			fill = sliceToFill(candidates, len(desired), r.maxPerSlice)
		}
		if fill == nil {
			fill = newSlice(svc, meta)
		} else {
			fill = fill.DeepCopy()
			byName[fill.Name] = fill
		}
		for len(desired) > 0 && len(fill.Endpoints) < r.maxPerSlice {
			fill.Endpoints = append(fill.Endpoints, *desired.PopAny())
		}
		if fill.Name != "" {
			update.Insert(fill.Name)
			unchanged.Delete(fill.Name)
		} else {
			toCreate = append(toCreate, fill)
		}
	}
	for name := range update {
		toUpdate = append(toUpdate, byName[name])
	}
	for name := range del {
		toDelete = append(toDelete, byName[name])
	}
	return toCreate, toUpdate, toDelete
}

// finalize writes the changes. A slice to create takes over the name of a
// slice to delete where it can, which turns the pair into one update.
func (r *reconciler) finalize(ctx context.Context, svc *corev1.Service,
	toCreate, toUpdate, toDelete []*discoveryv1.EndpointSlice, triggerTime time.Time) error {
	for i := 0; i < len(toDelete) && len(toCreate) > 0; {
		old, s := toDelete[i], toCreate[len(toCreate)-1]
		if old.AddressType == s.AddressType && ownedBy(old, svc) {
			s.Name = old.Name
			toCreate = toCreate[:len(toCreate)-1]
			toUpdate = append(toUpdate, s)
			toDelete = append(toDelete[:i], toDelete[i+1:]...)
		} else {
			i++
		}
	}
	client := r.client.DiscoveryV1().EndpointSlices(svc.Namespace)
	if svc.DeletionTimestamp == nil {
		for _, s := range toCreate {
			setTriggerTime(s, triggerTime)
			created, err := client.Create(ctx, s, metav1.CreateOptions{})
			if err != nil {
				if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
					return nil
				}
				return fmt.Errorf("failed to create EndpointSlice for Service %s/%s: %v", svc.Namespace, svc.Name, err)
			}
			r.tracker.Update(created)
		}
	}
	for _, s := range toUpdate {
		setTriggerTime(s, triggerTime)
		updated, err := client.Update(ctx, s, metav1.UpdateOptions{})
		if err != nil {
			return fmt.Errorf("failed to update %s EndpointSlice for Service %s/%s: %v", s.Name, svc.Namespace, svc.Name, err)
		}
		r.tracker.Update(updated)
	}
	for _, s := range toDelete {
		if err := client.Delete(ctx, s.Name, metav1.DeleteOptions{}); err != nil {
			return fmt.Errorf("failed to delete %s EndpointSlice for Service %s/%s: %v", s.Name, svc.Namespace, svc.Name, err)
		}
		r.tracker.ExpectDeletion(s)
	}
	return nil
}

func setTriggerTime(s *discoveryv1.EndpointSlice, t time.Time) {
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	if t.IsZero() {
		delete(s.Annotations, corev1.EndpointsLastChangeTriggerTime)
	} else {
		s.Annotations[corev1.EndpointsLastChangeTriggerTime] = t.UTC().Format(time.RFC3339Nano)
	}
}

// placeholderEqual compares a slice with a new placeholder: of the metadata
// only namespace and labels count.
var placeholderEqual = conversion.EqualitiesOrDie(
	func(a, b metav1.OwnerReference) bool { return a.String() == b.String() },
	func(a, b metav1.ObjectMeta) bool {
		return a.Namespace == b.Namespace && apiequality.Semantic.DeepEqual(a.Labels, b.Labels)
	},
)

func newSlice(svc *corev1.Service, meta *endpointMeta) *discoveryv1.EndpointSlice {
	ref := metav1.NewControllerRef(svc, corev1.SchemeGroupVersion.WithKind("Service"))
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Labels:          map[string]string{},
			GenerateName:    slicePrefix(svc.Name),
			OwnerReferences: []metav1.OwnerReference{*ref},
			Namespace:       svc.Namespace,
		},
		Ports:       meta.ports,
		AddressType: meta.addressType,
		Endpoints:   []discoveryv1.Endpoint{},
	}
	s.Labels, _ = sliceLabels(s, svc)
	return s
}

func slicePrefix(name string) string {
	if len(validation.NameIsDNSSubdomain(name+"-", true)) != 0 {
		return name
	}
	return name + "-"
}

func ownedBy(s *discoveryv1.EndpointSlice, svc *corev1.Service) bool {
	for _, o := range s.OwnerReferences {
		if o.UID == svc.UID && o.Kind == "Service" && o.APIVersion == "v1" {
			return true
		}
	}
	return false
}

func isReservedLabel(k string) bool {
	return k == discoveryv1.LabelServiceName || k == discoveryv1.LabelManagedBy || k == corev1.IsHeadlessService
}

// sliceLabels returns the labels a slice of svc should have: the Service's
// own (minus the reserved keys), the headless marker, the service name and
// the managed-by label. It reports whether the copied labels differ.
func sliceLabels(s *discoveryv1.EndpointSlice, svc *corev1.Service) (map[string]string, bool) {
	have, want := map[string]string{}, map[string]string{}
	for k, v := range s.Labels {
		if !isReservedLabel(k) {
			have[k] = v
		}
	}
	for k, v := range svc.Labels {
		if !isReservedLabel(k) {
			want[k] = v
		}
	}
	changed := !apiequality.Semantic.DeepEqual(have, want)
	if !serviceIPSet(svc) {
		want[corev1.IsHeadlessService] = ""
	}
	want[discoveryv1.LabelServiceName] = svc.Name
	want[discoveryv1.LabelManagedBy] = ControllerName
	return want, changed
}

func serviceIPSet(svc *corev1.Service) bool {
	return svc.Spec.ClusterIP != corev1.ClusterIPNone && svc.Spec.ClusterIP != ""
}

func sliceToFill(slices []*discoveryv1.EndpointSlice, n, max int) *discoveryv1.EndpointSlice {
	closest := max
	var best *discoveryv1.EndpointSlice
	for _, s := range slices {
		if diff := max - (n + len(s.Endpoints)); diff >= 0 && diff < closest {
			closest, best = diff, s
			if diff == 0 {
				break
			}
		}
	}
	return best
}

func unchangedSlices(existing, updated, deleted []*discoveryv1.EndpointSlice) []*discoveryv1.EndpointSlice {
	changed := sets.New[string]()
	for _, s := range updated {
		changed.Insert(s.Name)
	}
	for _, s := range deleted {
		changed.Insert(s.Name)
	}
	var out []*discoveryv1.EndpointSlice
	for _, s := range existing {
		if !changed.Has(s.Name) {
			out = append(out, s)
		}
	}
	return out
}

func addressTypes(svc *corev1.Service) sets.Set[discoveryv1.AddressType] {
	types := sets.New[discoveryv1.AddressType]()
	for _, f := range svc.Spec.IPFamilies {
		switch f {
		case corev1.IPv4Protocol:
			types.Insert(discoveryv1.AddressTypeIPv4)
		case corev1.IPv6Protocol:
			types.Insert(discoveryv1.AddressTypeIPv6)
		}
	}
	if types.Len() > 0 {
		return types
	}
	if serviceIPSet(svc) {
		if netutils.IsIPv6String(svc.Spec.ClusterIP) {
			return types.Insert(discoveryv1.AddressTypeIPv6)
		}
		return types.Insert(discoveryv1.AddressTypeIPv4)
	}
	return types.Insert(discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6)
}

func podToEndpoint(pod *corev1.Pod, node *corev1.Node, svc *corev1.Service, addrType discoveryv1.AddressType) discoveryv1.Endpoint {
	serving := podinfo.Ready(pod)
	terminating := pod.DeletionTimestamp != nil
	ready := svc.Spec.PublishNotReadyAddresses || (serving && !terminating)
	ep := discoveryv1.Endpoint{
		Addresses:  []string{},
		Conditions: discoveryv1.EndpointConditions{Ready: &ready, Serving: &serving, Terminating: &terminating},
		TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
	}
	for _, ip := range pod.Status.PodIPs {
		if netutils.IsIPv6String(ip.IP) == (addrType == discoveryv1.AddressTypeIPv6) {
			ep.Addresses = append(ep.Addresses, ip.IP)
		}
	}
	if pod.Spec.NodeName != "" {
		ep.NodeName = &pod.Spec.NodeName
	}
	if node != nil && node.Labels[corev1.LabelTopologyZone] != "" {
		zone := node.Labels[corev1.LabelTopologyZone]
		ep.Zone = &zone
	}
	if ShouldSetHostname(pod, svc) {
		ep.Hostname = &pod.Spec.Hostname
	}
	return ep
}

// endpointPorts resolves the Service's ports against one pod. A port whose
// named targetPort the pod does not declare (by name and protocol) is left
// out, so such a pod lands in a slice with fewer ports.
func endpointPorts(svc *corev1.Service, pod *corev1.Pod) []discoveryv1.EndpointPort {
	ports := []discoveryv1.EndpointPort{}
	if len(svc.Spec.Ports) == 0 && svc.Spec.ClusterIP == corev1.ClusterIPNone {
		return ports
	}
	for i := range svc.Spec.Ports {
		sp := &svc.Spec.Ports[i]
		num, ok := findPort(pod, sp, false)
		if !ok {
			continue
		}
		name, proto, port := sp.Name, sp.Protocol, int32(num)
		ports = append(ports, discoveryv1.EndpointPort{Name: &name, Port: &port, Protocol: &proto, AppProtocol: sp.AppProtocol})
	}
	return ports
}

// FindPort resolves a Service port's targetPort on a pod: a number as is, a
// name by a container port with that name and the Service port's protocol.
// withSidecars also searches restartable init containers, as the Endpoints
// controller (but not the EndpointSlice reconciler) does in 1.32.
func FindPort(pod *corev1.Pod, sp *corev1.ServicePort, withSidecars bool) (int, bool) {
	return findPort(pod, sp, withSidecars)
}

func findPort(pod *corev1.Pod, sp *corev1.ServicePort, withSidecars bool) (int, bool) {
	switch sp.TargetPort.Type {
	case intstr.Int:
		return sp.TargetPort.IntValue(), true
	case intstr.String:
		containers := pod.Spec.Containers
		if withSidecars {
			for _, c := range pod.Spec.InitContainers {
				if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
					containers = append(containers[:len(containers):len(containers)], c)
				}
			}
		}
		for _, c := range containers {
			for _, p := range c.Ports {
				if p.Name == sp.TargetPort.StrVal && p.Protocol == sp.Protocol {
					return int(p.ContainerPort), true
				}
			}
		}
	}
	return 0, false
}

func hintsEnabled(annotations map[string]string) bool {
	v, ok := annotations[corev1.DeprecatedAnnotationTopologyAwareHints]
	if !ok {
		v = annotations[corev1.AnnotationTopologyMode]
	}
	return v == "Auto" || v == "auto"
}

func removeHints(slices []*discoveryv1.EndpointSlice) {
	for _, s := range slices {
		for i := range s.Endpoints {
			s.Endpoints[i].Hints = nil
		}
	}
}

// reconcileTrafficDistribution applies spec.trafficDistribution: PreferClose
// gives every ready endpoint a hint for its own zone, anything else clears
// hints. Unchanged slices that need new hints are added to the updates.
func reconcileTrafficDistribution(td *string, toCreate, toUpdate, unchanged []*discoveryv1.EndpointSlice) []*discoveryv1.EndpointSlice {
	preferClose := td != nil && *td == corev1.ServiceTrafficDistributionPreferClose
	zoneOf := func(ep discoveryv1.Endpoint) string {
		if ep.Zone != nil {
			return *ep.Zone
		}
		return ""
	}
	ready := func(ep discoveryv1.Endpoint) bool { return ep.Conditions.Ready != nil && *ep.Conditions.Ready }
	needsUpdate := func(s *discoveryv1.EndpointSlice) bool {
		for _, ep := range s.Endpoints {
			if !preferClose {
				if ep.Hints != nil {
					return true
				}
				continue
			}
			if ready(ep) && (ep.Hints == nil || len(ep.Hints.ForZones) != 1 || ep.Hints.ForZones[0].Name != zoneOf(ep)) {
				return true
			}
		}
		return false
	}
	update := func(s *discoveryv1.EndpointSlice) {
		for i, ep := range s.Endpoints {
			switch {
			case !preferClose:
				s.Endpoints[i].Hints = nil
			case ready(ep):
				s.Endpoints[i].Hints = &discoveryv1.EndpointHints{ForZones: []discoveryv1.ForZone{{Name: zoneOf(ep)}}}
			}
		}
	}
	for _, s := range unchanged {
		if needsUpdate(s) {
			toUpdate = append(toUpdate, s.DeepCopy())
		}
	}
	for _, s := range toCreate {
		update(s)
	}
	for _, s := range toUpdate {
		update(s)
	}
	return toUpdate
}

package service

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/utils/ptr"

	"github.com/portway/portway/internal/allocator"
	"github.com/portway/portway/internal/storage/claims"
)

// Claim names: one per ClusterIP, one per node port number (nodePorts and
// healthCheckNodePort share the range, as in Kubernetes).
func ipClaim(ip string) string  { return "clusterips/" + ip }
func portClaim(p int32) string  { return "nodeports/" + strconv.Itoa(int(p)) }
func isPortClaim(c string) bool { return strings.HasPrefix(c, "nodeports/") }

// claimsOf lists what a stored Service holds.
func claimsOf(obj runtime.Object) []string {
	svc, ok := obj.(*corev1.Service)
	if !ok {
		return nil
	}
	var out []string
	if svc.Spec.Type != corev1.ServiceTypeExternalName {
		for _, ip := range withClusterIPs(svc).Spec.ClusterIPs {
			if ip != "" && ip != corev1.ClusterIPNone {
				out = append(out, ipClaim(ip))
			}
		}
	}
	for _, p := range svc.Spec.Ports {
		if p.NodePort != 0 {
			out = append(out, portClaim(p.NodePort))
		}
	}
	if svc.Spec.HealthCheckNodePort != 0 {
		out = append(out, portClaim(svc.Spec.HealthCheckNodePort))
	}
	return out
}

// allocations decides which ClusterIPs and node ports a Service gets. The
// decision is checked against the claims already in etcd (index) and the
// ones requests in flight have picked (pending); the etcd transaction that
// stores the Service makes it final.
type allocations struct {
	ips   *allocator.IPRange
	ports *allocator.PortRange
	index *claims.Index

	mu      sync.Mutex
	pending map[string]int
}

// reservation is one request's picks. It holds allocations.mu from begin
// until finish or abort, so two requests never pick the same free value.
type reservation struct {
	a      *allocations
	dryRun bool
	taken  []string
}

func (a *allocations) begin(dryRun bool) *reservation {
	a.mu.Lock()
	return &reservation{a: a, dryRun: dryRun}
}

// finish keeps the picks pending until the request is done, then forgets
// them: by then the etcd transaction holds them, or they were not needed.
func (r *reservation) finish() genericregistry.FinishFunc {
	taken := r.taken
	if r.dryRun {
		taken = nil
	}
	for _, c := range taken {
		r.a.pending[c]++
	}
	r.a.mu.Unlock()
	return func(context.Context, bool) {
		r.a.mu.Lock()
		defer r.a.mu.Unlock()
		for _, c := range taken {
			if r.a.pending[c]--; r.a.pending[c] <= 0 {
				delete(r.a.pending, c)
			}
		}
	}
}

func (r *reservation) abort() { r.a.mu.Unlock() }

func (r *reservation) inUse(c string) bool {
	return r.a.index.Held(c) || r.a.pending[c] > 0 || slices.Contains(r.taken, c)
}

func (r *reservation) allocateIP(ip string) error {
	if err := r.a.ips.Check(net.ParseIP(ip)); err != nil {
		return err
	}
	if r.inUse(ipClaim(ip)) {
		return allocator.ErrAllocated
	}
	r.taken = append(r.taken, ipClaim(ip))
	return nil
}

func (r *reservation) nextIP() (string, error) {
	ip, err := r.a.ips.Next(func(ip net.IP) bool { return r.inUse(ipClaim(ip.String())) })
	if err != nil {
		return "", err
	}
	r.taken = append(r.taken, ipClaim(ip.String()))
	return ip.String(), nil
}

func (r *reservation) allocatePort(p int32) error {
	if err := r.a.ports.Check(int(p)); err != nil {
		return err
	}
	if r.inUse(portClaim(p)) {
		return allocator.ErrPortAllocated
	}
	r.taken = append(r.taken, portClaim(p))
	return nil
}

func (r *reservation) nextPort() (int32, error) {
	if r.dryRun {
		return r.dryRunPort(), nil
	}
	p, err := r.a.ports.Next(func(p int) bool { return r.inUse(portClaim(int32(p))) })
	if err != nil {
		return 0, err
	}
	r.taken = append(r.taken, portClaim(int32(p)))
	return int32(p), nil
}

// allocateCreate fills in a new Service's IP family fields, ClusterIP and
// node ports (Kubernetes: allocateCreate).
// dryRunPort is what Kubernetes answers a dry run that needs a new node
// port: not a real pick but a placeholder, one above the highest port this
// request took, or 32769 (portallocator's dry-run operation).
func (r *reservation) dryRunPort() int32 {
	last := int32(0)
	for _, c := range r.taken {
		if p, err := strconv.Atoi(strings.TrimPrefix(c, "nodeports/")); isPortClaim(c) && err == nil {
			last = max(last, int32(p))
		}
	}
	if last == 0 {
		last = 32768
	}
	r.taken = append(r.taken, portClaim(last+1))
	return last + 1
}

func (r *reservation) allocateCreate(svc *corev1.Service) error {
	if err := initIPFamilyFields(svc, nil); err != nil {
		return err
	}
	if err := r.allocClusterIPs(svc); err != nil {
		return err
	}
	if needsNodePort(svc) {
		if err := r.initNodePorts(svc); err != nil {
			return err
		}
	}
	if needsHealthCheck(svc) {
		return r.allocHealthCheckNodePort(svc)
	}
	return nil
}

// allocateUpdate does the same for a change (Kubernetes: allocateUpdate).
// Released values need nothing here: the update's transaction drops the
// claims the new object no longer holds.
func (r *reservation) allocateUpdate(svc, old *corev1.Service) error {
	if err := initIPFamilyFields(svc, old); err != nil {
		return err
	}
	if old.Spec.Type == corev1.ServiceTypeExternalName && svc.Spec.Type != corev1.ServiceTypeExternalName {
		if err := r.allocClusterIPs(svc); err != nil {
			return err
		}
	}
	if needsNodePort(svc) {
		if err := r.updateNodePorts(svc, old); err != nil {
			return err
		}
	}
	if !needsHealthCheck(old) && needsHealthCheck(svc) {
		return r.allocHealthCheckNodePort(svc)
	}
	return nil
}

// initIPFamilyFields defaults ipFamilyPolicy and ipFamilies on this
// single-stack IPv4 cluster and rejects what it cannot serve.
func initIPFamilyFields(svc, old *corev1.Service) error {
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	if svc.Spec.IPFamilyPolicy == nil {
		switch {
		case old != nil && old.Spec.IPFamilyPolicy != nil:
			svc.Spec.IPFamilyPolicy = old.Spec.IPFamilyPolicy
		case svc.Spec.ClusterIP == corev1.ClusterIPNone && len(svc.Spec.Selector) == 0:
			svc.Spec.IPFamilyPolicy = ptr.To(corev1.IPFamilyPolicyRequireDualStack)
		default:
			svc.Spec.IPFamilyPolicy = ptr.To(corev1.IPFamilyPolicySingleStack)
		}
	}
	if errs := validateIPFamilyFields(withClusterIPs(svc)); len(errs) > 0 {
		return apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("Service").GroupKind(), svc.Name, errs)
	}
	if old != nil && *svc.Spec.IPFamilyPolicy == corev1.IPFamilyPolicySingleStack {
		if slices.Equal(old.Spec.ClusterIPs, svc.Spec.ClusterIPs) && len(svc.Spec.ClusterIPs) > 1 {
			svc.Spec.ClusterIPs = svc.Spec.ClusterIPs[:1]
		}
		if slices.Equal(old.Spec.IPFamilies, svc.Spec.IPFamilies) && len(svc.Spec.IPFamilies) > 1 {
			svc.Spec.IPFamilies = svc.Spec.IPFamilies[:1]
		}
	}
	for i, ip := range svc.Spec.ClusterIPs {
		if ip == corev1.ClusterIPNone {
			break
		}
		if i >= len(svc.Spec.IPFamilies) {
			svc.Spec.IPFamilies = append(svc.Spec.IPFamilies, familyOf(ip))
		}
	}
	if len(svc.Spec.IPFamilies) == 0 {
		svc.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol}
	}
	// A headless selectorless Service that accepts dual-stack lists both
	// families, though this cluster serves one: it gets no IPs anyway.
	if svc.Spec.ClusterIP == corev1.ClusterIPNone && len(svc.Spec.Selector) == 0 &&
		len(svc.Spec.IPFamilies) == 1 && *svc.Spec.IPFamilyPolicy != corev1.IPFamilyPolicySingleStack {
		other := corev1.IPv6Protocol
		if svc.Spec.IPFamilies[0] == corev1.IPv6Protocol {
			other = corev1.IPv4Protocol
		}
		svc.Spec.IPFamilies = append(svc.Spec.IPFamilies, other)
	}
	return nil
}

func (r *reservation) allocClusterIPs(svc *corev1.Service) error {
	if svc.Spec.Type == corev1.ServiceTypeExternalName ||
		(len(svc.Spec.ClusterIPs) > 0 && svc.Spec.ClusterIPs[0] == corev1.ClusterIPNone) {
		return nil
	}
	if svc.Spec.ClusterIP == "" {
		ip, err := r.nextIP()
		if err != nil {
			return apierrors.NewInternalError(fmt.Errorf("failed to allocate a serviceIP: %v", err))
		}
		svc.Spec.ClusterIP, svc.Spec.ClusterIPs = ip, []string{ip}
		return nil
	}
	if len(svc.Spec.ClusterIPs) == 0 {
		svc.Spec.ClusterIPs = []string{svc.Spec.ClusterIP}
	}
	if err := r.allocateIP(svc.Spec.ClusterIP); err != nil {
		return invalid(svc, field.Invalid(field.NewPath("spec", "clusterIPs"), svc.Spec.ClusterIPs,
			fmt.Sprintf("failed to allocate IP %v: %v", svc.Spec.ClusterIP, err)))
	}
	return nil
}

// initNodePorts gives every port of a new Service its node port. Ports with
// the same number (TCP and UDP of one port) share one node port.
func (r *reservation) initNodePorts(svc *corev1.Service) error {
	byPort := map[int32]int32{}
	for i := range svc.Spec.Ports {
		sp := &svc.Spec.Ports[i]
		if sp.NodePort == 0 && !shouldAllocateNodePorts(svc) {
			continue
		}
		have := byPort[sp.Port]
		switch {
		case have == 0:
			np := requestedNodePort(sp.Port, svc.Spec.Ports)
			if np != 0 {
				if err := r.allocatePort(np); err != nil {
					return invalid(svc, field.Invalid(nodePortPath(i), np, err.Error()))
				}
			} else {
				var err error
				if np, err = r.nextPort(); err != nil {
					return apierrors.NewInternalError(fmt.Errorf("failed to allocate a nodePort: %v", err))
				}
			}
			sp.NodePort, byPort[sp.Port] = np, np
		case sp.NodePort == 0:
			sp.NodePort = have
		case sp.NodePort != have:
			if err := r.allocatePort(sp.NodePort); err != nil {
				return invalid(svc, field.Invalid(nodePortPath(i), sp.NodePort, err.Error()))
			}
		}
	}
	return nil
}

// updateNodePorts allocates the node ports an update adds.
func (r *reservation) updateNodePorts(svc, old *corev1.Service) error {
	oldPorts := nodePorts(old)
	type key struct {
		proto corev1.Protocol
		port  int32
	}
	var seen []key
	for i := range svc.Spec.Ports {
		sp := &svc.Spec.Ports[i]
		if sp.NodePort == 0 && !shouldAllocateNodePorts(svc) {
			continue
		}
		if sp.NodePort != 0 {
			if !slices.Contains(oldPorts, sp.NodePort) && !slices.Contains(r.taken, portClaim(sp.NodePort)) {
				if err := r.allocatePort(sp.NodePort); err != nil {
					return invalid(svc, field.Invalid(nodePortPath(i), sp.NodePort, err.Error()))
				}
			}
		} else {
			np, err := r.nextPort()
			if err != nil {
				return apierrors.NewInternalError(fmt.Errorf("failed to allocate a nodePort: %v", err))
			}
			sp.NodePort = np
		}
		k := key{sp.Protocol, sp.NodePort}
		if slices.Contains(seen, k) {
			return apierrors.NewInternalError(fmt.Errorf("duplicate nodePort: {%s %d}", k.proto, k.port))
		}
		seen = append(seen, k)
	}
	return nil
}

func (r *reservation) allocHealthCheckNodePort(svc *corev1.Service) error {
	if hc := svc.Spec.HealthCheckNodePort; hc != 0 {
		if err := r.allocatePort(hc); err != nil {
			return apierrors.NewInternalError(fmt.Errorf("failed to allocate requested HealthCheck NodePort %v: %v", hc, err))
		}
		return nil
	}
	hc, err := r.nextPort()
	if err != nil {
		return apierrors.NewInternalError(fmt.Errorf("failed to allocate a HealthCheck NodePort %v: %v", hc, err))
	}
	svc.Spec.HealthCheckNodePort = hc
	return nil
}

// conflictError explains a claim another Service took between our check and
// our transaction (only possible with several API servers on one etcd).
func conflictError(svc *corev1.Service, c *claims.ConflictError) error {
	if !isPortClaim(c.Claim) {
		ip := strings.TrimPrefix(c.Claim, "clusterips/")
		return invalid(svc, field.Invalid(field.NewPath("spec", "clusterIPs"), svc.Spec.ClusterIPs,
			fmt.Sprintf("failed to allocate IP %v: %v", ip, allocator.ErrAllocated)))
	}
	for i, p := range svc.Spec.Ports {
		if portClaim(p.NodePort) == c.Claim {
			return invalid(svc, field.Invalid(nodePortPath(i), p.NodePort, allocator.ErrPortAllocated.Error()))
		}
	}
	return apierrors.NewInternalError(fmt.Errorf("failed to allocate requested HealthCheck NodePort %v: %v",
		svc.Spec.HealthCheckNodePort, allocator.ErrPortAllocated))
}

func invalid(svc *corev1.Service, errs ...*field.Error) error {
	return apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("Service").GroupKind(), svc.Name, errs)
}

func nodePortPath(i int) *field.Path {
	return field.NewPath("spec", "ports").Index(i).Child("nodePort")
}

func requestedNodePort(port int32, ports []corev1.ServicePort) int32 {
	for _, sp := range ports {
		if sp.Port == port && sp.NodePort != 0 {
			return sp.NodePort
		}
	}
	return 0
}

func nodePorts(svc *corev1.Service) []int32 {
	var out []int32
	for _, p := range svc.Spec.Ports {
		if p.NodePort != 0 {
			out = append(out, p.NodePort)
		}
	}
	return out
}

// shouldAllocateNodePorts: NodePort always, LoadBalancer unless
// allocateLoadBalancerNodePorts is false.
func shouldAllocateNodePorts(svc *corev1.Service) bool {
	switch svc.Spec.Type {
	case corev1.ServiceTypeNodePort:
		return true
	case corev1.ServiceTypeLoadBalancer:
		return svc.Spec.AllocateLoadBalancerNodePorts == nil || *svc.Spec.AllocateLoadBalancerNodePorts
	}
	return false
}

func needsNodePort(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer
}

func needsClusterIP(svc *corev1.Service) bool { return svc.Spec.Type != corev1.ServiceTypeExternalName }

package service

import (
	"context"
	"errors"
	"net"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/apiserver/pkg/storage/storagebackend"
	"k8s.io/apiserver/pkg/storage/storagebackend/factory"
	"k8s.io/apiserver/pkg/util/dryrun"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	"github.com/portway/portway/internal/allocator"
	"github.com/portway/portway/internal/registry"
	"github.com/portway/portway/internal/storage/claims"
	"github.com/portway/portway/internal/storage/etcd"
)

// Config is the address plan Services are allocated from, and the etcd
// their claims are kept in.
type Config struct {
	ClusterIPRange *net.IPNet
	NodePortRange  *allocator.PortRange
	Backend        *etcd.Backend
}

// claimRoot is where the claim keys live in etcd, next to the objects.
const claimRoot = "/registry/portway.io/serviceclaims/"

// NewStorage returns the services, services/status and services/proxy
// endpoints.
func NewStorage(opts generic.RESTOptionsGetter, cfg Config, proxy Proxy) (map[string]rest.Storage, error) {
	if proxy.Endpoints == nil || proxy.Pods == nil {
		return nil, errors.New("services/proxy needs the endpoints and pods storage: build them first")
	}
	ips, err := allocator.NewIPRange(cfg.ClusterIPRange)
	if err != nil {
		return nil, err
	}
	a := &allocations{ips: ips, ports: cfg.NodePortRange, pending: map[string]int{}}
	var cs *claims.Store
	s, err := Resource.NewStorage(claimsOptions{opts, cfg.Backend, func(c *claims.Store) { cs = c }})
	if err != nil {
		return nil, err
	}
	a.index = cs.Index
	store := s.Store
	store.BeginCreate = a.beginCreate
	store.BeginUpdate = a.beginUpdate
	store.Decorator = defaultOnRead
	s.REST["services"] = &REST{REST: s.REST["services"].(*registry.REST)}
	s.REST["services/proxy"] = &registry.Proxy[*corev1.ServiceProxyOptions]{
		Path:      func(o *corev1.ServiceProxyOptions) string { return o.Path },
		Location:  proxyLocation{store, proxy}.location,
		Transport: proxy.Transport,
	}
	return s.REST, nil
}

// REST is the services endpoint.
type REST struct {
	*registry.REST
}

// Create retries when a value picked for the Service was claimed by another
// API server between the pick and the transaction.
func (r *REST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	var conflict *claims.ConflictError
	for attempt := 0; ; attempt++ {
		out, err := r.REST.Create(ctx, obj.DeepCopyObject(), createValidation, options)
		if !errors.As(err, &conflict) {
			return out, err
		}
		if attempt == 2 {
			return nil, conflictError(obj.(*corev1.Service), conflict)
		}
	}
}

func (a *allocations) beginCreate(_ context.Context, obj runtime.Object, options *metav1.CreateOptions) (genericregistry.FinishFunc, error) {
	svc := obj.(*corev1.Service)
	normalizeClusterIPs(svc, nil)
	r := a.begin(dryrun.IsDryRun(options.DryRun))
	if err := r.allocateCreate(svc); err != nil {
		r.abort()
		return nil, err
	}
	return r.finish(), nil
}

func (a *allocations) beginUpdate(_ context.Context, obj, oldObj runtime.Object, options *metav1.UpdateOptions) (genericregistry.FinishFunc, error) {
	svc, old := obj.(*corev1.Service), oldObj.(*corev1.Service)
	defaultOnReadService(old)
	patchAllocatedValues(svc, old)
	normalizeClusterIPs(svc, old)
	r := a.begin(dryrun.IsDryRun(options.DryRun))
	if err := r.allocateUpdate(svc, old); err != nil {
		r.abort()
		return nil, err
	}
	return r.finish(), nil
}

// normalizeClusterIPs keeps clusterIP and clusterIPs consistent when a client
// writes only one of them.
func normalizeClusterIPs(svc, old *corev1.Service) {
	if old == nil {
		if svc.Spec.ClusterIP != "" && len(svc.Spec.ClusterIPs) == 0 {
			svc.Spec.ClusterIPs = []string{svc.Spec.ClusterIP}
		}
		return
	}
	if len(old.Spec.ClusterIPs) > 0 && len(svc.Spec.ClusterIPs) == 0 && old.Spec.ClusterIP == svc.Spec.ClusterIP {
		svc.Spec.ClusterIPs = old.Spec.ClusterIPs
	}
	if old.Spec.ClusterIP != svc.Spec.ClusterIP && slices.Equal(old.Spec.ClusterIPs, svc.Spec.ClusterIPs) {
		if old.Spec.ClusterIP != "" && svc.Spec.ClusterIP == "" {
			svc.Spec.ClusterIPs = nil
		} else {
			svc.Spec.ClusterIPs = []string{svc.Spec.ClusterIP}
		}
	}
}

// patchAllocatedValues carries allocated values a client left out of an
// update (kubectl apply of a manifest without clusterIP or nodePort).
func patchAllocatedValues(svc, old *corev1.Service) {
	if needsClusterIP(old) && needsClusterIP(svc) {
		if svc.Spec.ClusterIP == "" {
			svc.Spec.ClusterIP = old.Spec.ClusterIP
		}
		if len(svc.Spec.ClusterIPs) == 0 && len(old.Spec.ClusterIPs) > 0 {
			svc.Spec.ClusterIPs = old.Spec.ClusterIPs
		}
	}
	if shouldAllocateNodePorts(old) && shouldAllocateNodePorts(svc) {
		used := map[int32]bool{}
		for _, p := range nodePorts(svc) {
			if slices.Contains(nodePorts(old), p) {
				used[p] = true
			}
		}
		byName := map[string]int32{}
		for _, p := range old.Spec.Ports {
			byName[p.Name] = p.NodePort
		}
		for i := range svc.Spec.Ports {
			if p := &svc.Spec.Ports[i]; p.NodePort == 0 && !used[byName[p.Name]] {
				p.NodePort = byName[p.Name]
			}
		}
	}
	if needsHealthCheck(old) && needsHealthCheck(svc) && svc.Spec.HealthCheckNodePort == 0 {
		svc.Spec.HealthCheckNodePort = old.Spec.HealthCheckNodePort
	}
}

// dropTypeDependentFields clears, on a type change, the values the old type
// needed and the client did not touch (a NodePort Service turned ClusterIP
// loses the nodePorts it was given).
func dropTypeDependentFields(svc, old *corev1.Service) {
	if needsClusterIP(old) && !needsClusterIP(svc) {
		if slices.Equal(old.Spec.ClusterIPs, svc.Spec.ClusterIPs) {
			svc.Spec.ClusterIP, svc.Spec.ClusterIPs = "", nil
		}
		if slices.Equal(old.Spec.IPFamilies, svc.Spec.IPFamilies) {
			svc.Spec.IPFamilies = nil
		}
		if ptr.Deref(old.Spec.IPFamilyPolicy, "") == ptr.Deref(svc.Spec.IPFamilyPolicy, "") {
			svc.Spec.IPFamilyPolicy = nil
		}
	}
	if needsNodePort(old) && !needsNodePort(svc) {
		kept := true
		for _, p := range nodePorts(svc) {
			kept = kept && slices.Contains(nodePorts(old), p)
		}
		if kept {
			for i := range svc.Spec.Ports {
				svc.Spec.Ports[i].NodePort = 0
			}
		}
	}
	if needsHealthCheck(old) && !needsHealthCheck(svc) && old.Spec.HealthCheckNodePort == svc.Spec.HealthCheckNodePort {
		svc.Spec.HealthCheckNodePort = 0
	}
	if old.Spec.Type == corev1.ServiceTypeLoadBalancer && svc.Spec.Type != corev1.ServiceTypeLoadBalancer &&
		svc.Spec.AllocateLoadBalancerNodePorts != nil && old.Spec.AllocateLoadBalancerNodePorts != nil &&
		*svc.Spec.AllocateLoadBalancerNodePorts == *old.Spec.AllocateLoadBalancerNodePorts {
		svc.Spec.AllocateLoadBalancerNodePorts = nil
	}
	if old.Spec.Type == corev1.ServiceTypeLoadBalancer && svc.Spec.Type != corev1.ServiceTypeLoadBalancer &&
		ptr.Equal(old.Spec.LoadBalancerClass, svc.Spec.LoadBalancerClass) {
		svc.Spec.LoadBalancerClass = nil
	}
	if externallyAccessible(&old.Spec) && !externallyAccessible(&svc.Spec) &&
		old.Spec.ExternalTrafficPolicy == svc.Spec.ExternalTrafficPolicy {
		svc.Spec.ExternalTrafficPolicy = ""
	}
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		svc.Status.LoadBalancer = corev1.LoadBalancerStatus{}
	}
}

// defaultOnRead fills fields that Services stored by older versions lack, on
// every object the API returns.
func defaultOnRead(obj runtime.Object) {
	switch o := obj.(type) {
	case *corev1.Service:
		defaultOnReadService(o)
	case *corev1.ServiceList:
		for i := range o.Items {
			defaultOnReadService(&o.Items[i])
		}
	}
}

func defaultOnReadService(svc *corev1.Service) {
	normalizeClusterIPs(svc, nil)
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		svc.Spec.InternalTrafficPolicy = nil
		return
	}
	if len(svc.Spec.IPFamilies) > 0 {
		return
	}
	if svc.Spec.ClusterIP == corev1.ClusterIPNone {
		if len(svc.Spec.Selector) == 0 {
			svc.Spec.IPFamilyPolicy = ptr.To(corev1.IPFamilyPolicyRequireDualStack)
			svc.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}
		} else {
			svc.Spec.IPFamilyPolicy = ptr.To(corev1.IPFamilyPolicySingleStack)
			svc.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol}
		}
		return
	}
	for _, ip := range svc.Spec.ClusterIPs {
		svc.Spec.IPFamilies = append(svc.Spec.IPFamilies, familyOf(ip))
	}
	switch len(svc.Spec.IPFamilies) {
	case 1:
		svc.Spec.IPFamilyPolicy = ptr.To(corev1.IPFamilyPolicySingleStack)
	case 2:
		svc.Spec.IPFamilyPolicy = ptr.To(corev1.IPFamilyPolicyRequireDualStack)
	}
}

// claimsOptions hands the store a storage stack with the claims layer
// beneath the watch cache, and reports the claims.Store it built.
type claimsOptions struct {
	generic.RESTOptionsGetter
	backend *etcd.Backend
	built   func(*claims.Store)
}

func (o claimsOptions) GetRESTOptions(resource schema.GroupResource, example runtime.Object) (generic.RESTOptions, error) {
	opts, err := o.RESTOptionsGetter.GetRESTOptions(resource, example)
	if err != nil {
		return opts, err
	}
	opts.Decorator = o.decorate
	return opts, nil
}

func (o claimsOptions) decorate(config *storagebackend.ConfigForResource, resourcePrefix string,
	keyFunc func(obj runtime.Object) (string, error), newFunc, newListFunc func() runtime.Object,
	getAttrsFunc storage.AttrFunc, triggerFuncs storage.IndexerFuncs, indexers *cache.Indexers) (storage.Interface, factory.DestroyFunc, error) {
	raw := o.backend.Raw(config, newFunc, newListFunc, resourcePrefix)
	cs := claims.New(raw, o.backend.Client(), config.Codec, newFunc, config.Prefix, claimRoot, claimsOf)
	ctx, cancel := context.WithCancel(context.Background())
	if err := cs.Resync(ctx); err != nil {
		cancel()
		return nil, nil, err
	}
	o.built(cs)
	cacher, err := etcd.Cached(cs, config, resourcePrefix, keyFunc, newFunc, newListFunc, getAttrsFunc, triggerFuncs, indexers)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	// Both are safe to call again: the destroy func is shared with
	// services/status.
	return cacher, func() { cacher.Stop(); cancel() }, nil
}

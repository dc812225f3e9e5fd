// Package hostgw routes every other node's pod CIDR via that node's
// InternalIP, as flannel's host-gw backend does: pods reach pods on other
// nodes with no encapsulation, as long as the nodes share a link (the
// bridge of a local cluster, or one L2 segment of real hosts).
package hostgw

import (
	"context"
	"net"
	"sync"

	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"github.com/portway/portway/internal/nodeinfo"
)

// protocol marks the routes this package owns ("proto 0x70" in `ip route`),
// so that a restarted agent finds and replaces its own routes and nobody
// else's.
const protocol = netlink.RouteProtocol(0x70)

// Router keeps one route per other node.
type Router struct {
	self string
	mu   sync.Mutex
	// routes are the pod CIDRs routed now, by node name.
	routes map[string]*net.IPNet
}

// New returns a Router for the node named self.
func New(self string) *Router {
	return &Router{self: self, routes: map[string]*net.IPNet{}}
}

// Start routes pod CIDRs as Nodes come, change and go. Routes left by an
// earlier run for nodes that no longer exist are removed at the first sync.
func (r *Router) Start(ctx context.Context, factory informers.SharedInformerFactory) error {
	log := klog.FromContext(ctx)
	inf := factory.Core().V1().Nodes().Informer()
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { r.set(log, obj.(*corev1.Node)) },
		UpdateFunc: func(_, obj any) { r.set(log, obj.(*corev1.Node)) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if n, ok := obj.(*corev1.Node); ok {
				r.remove(log, n.Name)
			}
		},
	})
	if err != nil {
		return err
	}
	go func() {
		if cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
			r.removeStale(log)
		}
	}()
	return nil
}

func (r *Router) set(log klog.Logger, n *corev1.Node) {
	if n.Name == r.self {
		return
	}
	_, cidr, _ := net.ParseCIDR(n.Spec.PodCIDR)
	gw := net.ParseIP(nodeinfo.InternalIP(n)).To4()
	r.mu.Lock()
	defer r.mu.Unlock()
	if cidr == nil || gw == nil {
		r.removeLocked(log, n.Name)
		return
	}
	if old := r.routes[n.Name]; old != nil && old.String() != cidr.String() {
		r.removeLocked(log, n.Name)
	}
	route := &netlink.Route{Dst: cidr, Gw: gw, Protocol: protocol}
	if err := netlink.RouteReplace(route); err != nil {
		log.Error(err, "routing pod CIDR", "node", n.Name, "cidr", cidr, "via", gw)
		return
	}
	r.routes[n.Name] = cidr
}

func (r *Router) remove(log klog.Logger, name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.removeLocked(log, name)
}

func (r *Router) removeLocked(log klog.Logger, name string) {
	cidr := r.routes[name]
	if cidr == nil {
		return
	}
	delete(r.routes, name)
	if err := netlink.RouteDel(&netlink.Route{Dst: cidr, Protocol: protocol}); err != nil {
		log.Error(err, "removing pod CIDR route", "node", name, "cidr", cidr)
	}
}

// removeStale deletes routes of ours that no known node wants.
func (r *Router) removeStale(log klog.Logger) {
	have, err := netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Protocol: protocol}, netlink.RT_FILTER_PROTOCOL)
	if err != nil {
		log.Error(err, "listing routes")
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	want := map[string]bool{}
	for _, c := range r.routes {
		want[c.String()] = true
	}
	for _, rt := range have {
		if rt.Dst != nil && !want[rt.Dst.String()] {
			if err := netlink.RouteDel(&rt); err != nil {
				log.Error(err, "removing stale route", "cidr", rt.Dst)
			}
		}
	}
}

package cluster

import (
	"fmt"
	"net"
	"os"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/portway/portway/internal/namespaces"
)

// createBridge makes the node network's bridge with the gateway address.
func createBridge(name string, gw *net.IPNet) error {
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}
	if err := netlink.LinkAdd(br); err != nil {
		return fmt.Errorf("creating bridge %s: %w", name, err)
	}
	if err := netlink.AddrAdd(br, &netlink.Addr{IPNet: gw}); err != nil {
		return fmt.Errorf("addressing bridge %s: %w", name, err)
	}
	return netlink.LinkSetUp(br)
}

// createNode makes a node's network namespace, joined to the bridge by a
// veth whose node end is eth0 with ip; the node's default route goes via
// the bridge's address.
func createNode(nsName, hostVeth, bridge string, ip *net.IPNet, gw net.IP) error {
	if err := namespaces.Create(nsName); err != nil {
		return fmt.Errorf("creating network namespace %s: %w", nsName, err)
	}
	ns, err := netns.GetFromName(nsName)
	if err != nil {
		return err
	}
	defer ns.Close()
	br, err := netlink.LinkByName(bridge)
	if err != nil {
		return err
	}
	peer := hostVeth + "p"
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: hostVeth, MasterIndex: br.Attrs().Index}, PeerName: peer}
	if err := netlink.LinkAdd(veth); err != nil {
		return fmt.Errorf("creating veth %s: %w", hostVeth, err)
	}
	if err := netlink.LinkSetUp(veth); err != nil {
		return err
	}
	p, err := netlink.LinkByName(peer)
	if err != nil {
		return err
	}
	if err := netlink.LinkSetNsFd(p, int(ns)); err != nil {
		return err
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	if p, err = h.LinkByName(peer); err != nil {
		return err
	}
	if err := h.LinkSetName(p, "eth0"); err != nil {
		return err
	}
	if err := h.AddrAdd(p, &netlink.Addr{IPNet: ip}); err != nil {
		return err
	}
	if err := h.LinkSetUp(p); err != nil {
		return err
	}
	if err := namespaces.LoopbackUp(nsName); err != nil {
		return err
	}
	if err := h.RouteAdd(&netlink.Route{LinkIndex: p.Attrs().Index, Gw: gw}); err != nil {
		return err
	}
	// Nodes forward their pods' packets (host-gw).
	return namespaces.Do(namespaces.Path(nsName), func() error {
		return os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644)
	})
}

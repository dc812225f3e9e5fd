package endpoints

import (
	"bytes"
	"crypto/md5"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/dump"
)

// RepackSubsets brings subsets into Kubernetes' canonical form (as
// pkg/api/v1/endpoints.RepackSubsets): addresses that offer the same set of
// ports are grouped into one subset, an address not ready for any port is
// not ready for all of them, and addresses, ports and subsets are sorted.
func RepackSubsets(subsets []corev1.EndpointSubset) []corev1.EndpointSubset {
	type addrKey struct {
		ip  string
		uid types.UID
	}
	all := map[addrKey]*corev1.EndpointAddress{}
	byPort := map[corev1.EndpointPort]map[*corev1.EndpointAddress]bool{} // address -> ready
	var portOrder []corev1.EndpointPort
	add := func(a *corev1.EndpointAddress, port corev1.EndpointPort, ready bool) {
		k := addrKey{ip: a.IP}
		if a.TargetRef != nil {
			k.uid = a.TargetRef.UID
		}
		addr := all[k]
		if addr == nil {
			c := *a
			addr = &c
			all[k] = addr
		}
		set, ok := byPort[port]
		if !ok {
			set = map[*corev1.EndpointAddress]bool{}
			byPort[port] = set
			portOrder = append(portOrder, port)
		}
		if wasReady, found := set[addr]; !found || wasReady {
			set[addr] = ready // not ready wins
		}
	}
	for i := range subsets {
		ss := &subsets[i]
		ports := ss.Ports
		if len(ports) == 0 {
			ports = []corev1.EndpointPort{{Port: -1}} // keep port-less addresses
		}
		for _, p := range ports {
			for k := range ss.Addresses {
				add(&ss.Addresses[k], p, true)
			}
			for k := range ss.NotReadyAddresses {
				add(&ss.NotReadyAddresses[k], p, false)
			}
		}
	}

	// Group the ports by the exact set of addresses (and readiness) behind them.
	type group struct {
		addrs map[*corev1.EndpointAddress]bool
		ports []corev1.EndpointPort
	}
	groups := map[string]*group{}
	var order []string
	for _, port := range portOrder {
		addrs := byPort[port]
		key := setKey(addrs)
		g, ok := groups[key]
		if !ok {
			g = &group{addrs: addrs}
			groups[key] = g
			order = append(order, key)
		}
		if port.Port > 0 {
			g.ports = append(g.ports, port)
		}
	}
	out := []corev1.EndpointSubset{}
	for _, key := range order {
		g := groups[key]
		var ss corev1.EndpointSubset
		for addr, ready := range g.addrs {
			if ready {
				ss.Addresses = append(ss.Addresses, *addr)
			} else {
				ss.NotReadyAddresses = append(ss.NotReadyAddresses, *addr)
			}
		}
		ss.Ports = g.ports
		out = append(out, ss)
	}
	return SortSubsets(out)
}

func setKey(addrs map[*corev1.EndpointAddress]bool) string {
	keys := make([]string, 0, len(addrs))
	for a, ready := range addrs {
		uid := ""
		if a.TargetRef != nil {
			uid = string(a.TargetRef.UID)
		}
		keys = append(keys, fmt.Sprintf("%q/%q/%t", a.IP, uid, ready))
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}

// SortSubsets sorts addresses by IP then pod UID, and ports and subsets by
// the MD5 of their spew dump, as Kubernetes does.
func SortSubsets(subsets []corev1.EndpointSubset) []corev1.EndpointSubset {
	for i := range subsets {
		ss := &subsets[i]
		sort.Slice(ss.Addresses, func(a, b int) bool { return lessAddress(&ss.Addresses[a], &ss.Addresses[b]) })
		sort.Slice(ss.NotReadyAddresses, func(a, b int) bool {
			return lessAddress(&ss.NotReadyAddresses[a], &ss.NotReadyAddresses[b])
		})
		sortByHash(ss.Ports)
	}
	sortByHash(subsets)
	return subsets
}

func lessAddress(a, b *corev1.EndpointAddress) bool {
	if c := strings.Compare(a.IP, b.IP); c != 0 {
		return c < 0
	}
	if b.TargetRef == nil {
		return false
	}
	if a.TargetRef == nil {
		return true
	}
	return a.TargetRef.UID < b.TargetRef.UID
}

func sortByHash[T any](items []T) {
	hashes := make([][]byte, len(items))
	for i := range items {
		h := md5.Sum([]byte(dump.ForHash(items[i])))
		hashes[i] = h[:]
	}
	idx := make([]int, len(items))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return bytes.Compare(hashes[idx[a]], hashes[idx[b]]) < 0 })
	sorted := make([]T, len(items))
	for i, j := range idx {
		sorted[i] = items[j]
	}
	copy(items, sorted)
}

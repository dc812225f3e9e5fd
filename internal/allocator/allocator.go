// Package allocator picks free values (ClusterIPs, nodePorts) out of a range.
// It is pure: callers say which values are in use; uniqueness across the
// cluster is enforced where values are stored (see internal/storage/claims).
//
// As in Kubernetes (KEP-3668), the low end of each range is a "static band"
// that dynamic allocation uses only when the rest is full, so values users
// pick by hand rarely collide with ones handed out automatically.
package allocator

import (
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net"
)

// ErrFull means every value of the range is in use.
var ErrFull = errors.New("range is full")

// ErrAllocated means a requested value is in use.
var ErrAllocated = errors.New("provided IP is already allocated")

// ErrPortAllocated is ErrAllocated's wording for ports.
var ErrPortAllocated = errors.New("provided port is already allocated")

// band is n values [0, n) with the first static values kept for last.
type band struct {
	n, static int
}

// next returns a free offset: from a random point of the dynamic band
// upwards (wrapping inside it), then from a random point of the static band.
func (b band) next(inUse func(int) bool) (int, error) {
	for _, r := range [][2]int{{b.static, b.n}, {0, b.static}} {
		lo, hi := r[0], r[1]
		if hi <= lo {
			continue
		}
		start := lo + rand.IntN(hi-lo)
		for i := 0; i < hi-lo; i++ {
			off := lo + (start-lo+i)%(hi-lo)
			if !inUse(off) {
				return off, nil
			}
		}
	}
	return 0, ErrFull
}

// staticBand sizes the static band as Kubernetes does:
// min(max(min, n/step), max).
func staticBand(n, lo, step, hi int) int {
	return min(max(lo, n/step), hi)
}

// IPRange hands out IPv4 addresses of a CIDR, never its network or broadcast
// address.
type IPRange struct {
	cidr *net.IPNet
	base *big.Int // the first usable address
	band band
}

// NewIPRange returns the allocatable range of an IPv4 CIDR.
func NewIPRange(cidr *net.IPNet) (*IPRange, error) {
	ones, bits := cidr.Mask.Size()
	if cidr.IP.To4() == nil || bits != 32 {
		return nil, fmt.Errorf("service CIDR %s: only IPv4 is supported", cidr)
	}
	if bits-ones < 2 {
		return nil, fmt.Errorf("service CIDR %s is too small", cidr)
	}
	n := (1 << (bits - ones)) - 2
	base := new(big.Int).SetBytes(cidr.IP.To4())
	base.Add(base, big.NewInt(1))
	return &IPRange{cidr: cidr, base: base, band: band{n: n, static: staticBand(n, 16, 16, 256)}}, nil
}

// CIDR is the range as configured.
func (r *IPRange) CIDR() *net.IPNet { return r.cidr }

// Check reports whether ip lies in the allocatable part of the range.
func (r *IPRange) Check(ip net.IP) error {
	if _, ok := r.offset(ip); !ok {
		return fmt.Errorf("the provided IP (%s) is not in the valid range. The range of valid IPs is %s", ip, r.cidr)
	}
	return nil
}

// Next returns a free address; inUse reports taken ones.
func (r *IPRange) Next(inUse func(net.IP) bool) (net.IP, error) {
	off, err := r.band.next(func(o int) bool { return inUse(r.ip(o)) })
	if err != nil {
		return nil, err
	}
	return r.ip(off), nil
}

func (r *IPRange) ip(off int) net.IP {
	v := new(big.Int).Add(r.base, big.NewInt(int64(off)))
	b := v.FillBytes(make([]byte, 4))
	return net.IPv4(b[0], b[1], b[2], b[3]).To4()
}

func (r *IPRange) offset(ip net.IP) (int, bool) {
	ip4 := ip.To4()
	if ip4 == nil || !r.cidr.Contains(ip4) {
		return 0, false
	}
	off := new(big.Int).Sub(new(big.Int).SetBytes(ip4), r.base).Int64()
	return int(off), off >= 0 && off < int64(r.band.n)
}

// PortRange hands out ports of [Base, Base+Size).
type PortRange struct {
	Base, Size int
	band       band
}

// ParsePortRange parses "30000-32767".
func ParsePortRange(s string) (*PortRange, error) {
	var lo, hi int
	if _, err := fmt.Sscanf(s, "%d-%d", &lo, &hi); err != nil || lo < 1 || hi > 65535 || hi < lo {
		return nil, fmt.Errorf("invalid port range %q: want LOW-HIGH within 1-65535", s)
	}
	n := hi - lo + 1
	return &PortRange{Base: lo, Size: n, band: band{n: n, static: staticBand(n, 16, 32, 128)}}, nil
}

// String is "30000-32767".
func (r *PortRange) String() string { return fmt.Sprintf("%d-%d", r.Base, r.Base+r.Size-1) }

// Check reports whether port may be allocated.
func (r *PortRange) Check(port int) error {
	if port < r.Base || port >= r.Base+r.Size {
		return fmt.Errorf("provided port is not in the valid range. The range of valid ports is %s", r)
	}
	return nil
}

// Next returns a free port; inUse reports taken ones.
func (r *PortRange) Next(inUse func(int) bool) (int, error) {
	off, err := r.band.next(func(o int) bool { return inUse(r.Base + o) })
	if err != nil {
		return 0, err
	}
	return r.Base + off, nil
}

// SubnetRange hands out the subnets of one size that a cluster CIDR holds,
// lowest first (node pod CIDRs: 10.244.0.0/24, 10.244.1.0/24, ...).
type SubnetRange struct {
	cidr *net.IPNet
	bits int // the subnets' prefix length
	n    int
}

// NewSubnetRange splits an IPv4 cidr into /maskSize subnets.
func NewSubnetRange(cidr *net.IPNet, maskSize int) (*SubnetRange, error) {
	ones, bits := cidr.Mask.Size()
	if cidr.IP.To4() == nil || bits != 32 {
		return nil, fmt.Errorf("cluster CIDR %s: only IPv4 is supported", cidr)
	}
	if maskSize < ones || maskSize > 30 || maskSize-ones > 16 {
		return nil, fmt.Errorf("node CIDR mask size %d does not fit cluster CIDR %s (want %d-30, at most 65536 subnets)", maskSize, cidr, ones)
	}
	return &SubnetRange{cidr: cidr, bits: maskSize, n: 1 << (maskSize - ones)}, nil
}

// CIDR is the range the subnets are cut from.
func (r *SubnetRange) CIDR() *net.IPNet { return r.cidr }

// Subnet returns the i-th subnet.
func (r *SubnetRange) Subnet(i int) *net.IPNet {
	base := new(big.Int).SetBytes(r.cidr.IP.To4())
	base.Add(base, new(big.Int).Lsh(big.NewInt(int64(i)), uint(32-r.bits)))
	b := base.FillBytes(make([]byte, 4))
	return &net.IPNet{IP: net.IPv4(b[0], b[1], b[2], b[3]).To4(), Mask: net.CIDRMask(r.bits, 32)}
}

// Index returns the number of a subnet of the range, false if it is none.
func (r *SubnetRange) Index(subnet string) (int, bool) {
	ip, n, err := net.ParseCIDR(subnet)
	if err != nil || !r.cidr.Contains(ip) {
		return 0, false
	}
	if ones, _ := n.Mask.Size(); ones != r.bits {
		return 0, false
	}
	off := new(big.Int).Sub(new(big.Int).SetBytes(n.IP.To4()), new(big.Int).SetBytes(r.cidr.IP.To4()))
	return int(off.Rsh(off, uint(32-r.bits)).Int64()), true
}

// Next returns the lowest subnet number not in use.
func (r *SubnetRange) Next(inUse func(int) bool) (int, error) {
	for i := 0; i < r.n; i++ {
		if !inUse(i) {
			return i, nil
		}
	}
	return 0, ErrFull
}

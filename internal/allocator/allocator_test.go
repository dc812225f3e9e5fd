package allocator

import (
	"net"
	"testing"
)

func mustCIDR(t *testing.T, s string) *net.IPNet {
	t.Helper()
	_, c, err := net.ParseCIDR(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestIPRangeCheck(t *testing.T) {
	r, err := NewIPRange(mustCIDR(t, "10.96.0.0/12"))
	if err != nil {
		t.Fatal(err)
	}
	for ip, ok := range map[string]bool{
		"10.96.0.0": false, "10.96.0.1": true, "10.111.255.254": true, "10.111.255.255": false, "10.200.0.10": false,
	} {
		err := r.Check(net.ParseIP(ip))
		if (err == nil) != ok {
			t.Errorf("Check(%s) = %v, want ok=%v", ip, err, ok)
		}
	}
	want := "the provided IP (10.200.0.10) is not in the valid range. The range of valid IPs is 10.96.0.0/12"
	if err := r.Check(net.ParseIP("10.200.0.10")); err == nil || err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
}

func TestIPRangeNextPrefersDynamicBandThenFills(t *testing.T) {
	r, err := NewIPRange(mustCIDR(t, "10.0.0.0/24")) // 254 usable, static band 16
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for i := 0; i < 254; i++ {
		ip, err := r.Next(func(ip net.IP) bool { return used[ip.String()] })
		if err != nil {
			t.Fatalf("allocation %d: %v", i, err)
		}
		if used[ip.String()] || r.Check(ip) != nil {
			t.Fatalf("allocation %d: %s twice or out of range", i, ip)
		}
		// The first 238 come from above the static band (.1-.16).
		if i < 238 && ip.To4()[3] <= 16 {
			t.Fatalf("allocation %d took %s from the static band while dynamic addresses were free", i, ip)
		}
		used[ip.String()] = true
	}
	if _, err := r.Next(func(ip net.IP) bool { return used[ip.String()] }); err != ErrFull {
		t.Errorf("full range: err = %v, want ErrFull", err)
	}
}

func TestPortRange(t *testing.T) {
	r, err := ParsePortRange("30000-32767")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Check(9090); err == nil || err.Error() != "provided port is not in the valid range. The range of valid ports is 30000-32767" {
		t.Errorf("Check(9090) = %v", err)
	}
	for _, p := range []int{30000, 32767} {
		if err := r.Check(p); err != nil {
			t.Errorf("Check(%d) = %v", p, err)
		}
	}
	for i := 0; i < 100; i++ {
		p, err := r.Next(func(int) bool { return false })
		if err != nil || p < 30000+86 {
			t.Fatalf("Next = %d, %v: want a port above the static band (30000-30085)", p, err)
		}
	}
	for _, bad := range []string{"", "1-", "5-4", "0-10", "30000-70000"} {
		if _, err := ParsePortRange(bad); err == nil {
			t.Errorf("ParsePortRange(%q) accepted", bad)
		}
	}
}

// BenchmarkPortNext99Full measures finding the last free nodePorts when the
// default range is 99% used.
func BenchmarkPortNext99Full(b *testing.B) {
	r, _ := ParsePortRange("30000-32767")
	used := make([]bool, 65536)
	for p := 30000; p < 30000+r.Size*99/100; p++ {
		used[p] = true
	}
	inUse := func(p int) bool { return used[p] }
	for b.Loop() {
		if _, err := r.Next(inUse); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIPNext measures ClusterIP picks in the default /12 with 10k used.
func BenchmarkIPNext(b *testing.B) {
	r, _ := NewIPRange(&net.IPNet{IP: net.IPv4(10, 96, 0, 0).To4(), Mask: net.CIDRMask(12, 32)})
	used := map[string]bool{}
	for i := 0; i < 10000; i++ {
		ip, _ := r.Next(func(ip net.IP) bool { return used[ip.String()] })
		used[ip.String()] = true
	}
	for b.Loop() {
		if _, err := r.Next(func(ip net.IP) bool { return used[ip.String()] }); err != nil {
			b.Fatal(err)
		}
	}
}

func TestSubnetRange(t *testing.T) {
	r, err := NewSubnetRange(mustCIDR(t, "10.244.0.0/16"), 24)
	if err != nil {
		t.Fatal(err)
	}
	if s := r.Subnet(0).String(); s != "10.244.0.0/24" {
		t.Errorf("Subnet(0) = %s", s)
	}
	if s := r.Subnet(255).String(); s != "10.244.255.0/24" {
		t.Errorf("Subnet(255) = %s", s)
	}
	if i, ok := r.Index("10.244.7.0/24"); !ok || i != 7 {
		t.Errorf("Index(10.244.7.0/24) = %d, %v", i, ok)
	}
	for _, bad := range []string{"10.245.0.0/24", "10.244.7.0/25", "junk"} {
		if _, ok := r.Index(bad); ok {
			t.Errorf("Index(%s) accepted", bad)
		}
	}
	used := map[int]bool{0: true, 1: true, 3: true}
	if i, err := r.Next(func(i int) bool { return used[i] }); err != nil || i != 2 {
		t.Errorf("Next = %d, %v; want the lowest free, 2", i, err)
	}
	if _, err := r.Next(func(int) bool { return true }); err != ErrFull {
		t.Errorf("full range: %v", err)
	}
	if _, err := NewSubnetRange(mustCIDR(t, "10.244.0.0/16"), 8); err == nil {
		t.Error("a mask shorter than the cluster CIDR was accepted")
	}
}

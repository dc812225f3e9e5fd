//go:build linux

package proxy

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/knftables"

	"github.com/portway/portway/internal/namespaces"
)

// fillLarge gives tp n Services of 5 endpoints each (one on this node),
// half of them NodePorts.
func fillLarge(tp *testProxier, n int) {
	tcp := corev1.ProtocolTCP
	for i := range n {
		name := fmt.Sprintf("svc%d", i)
		ip := fmt.Sprintf("10.96.%d.%d", i/250, i%250+1)
		var nodePort int32
		if i%2 == 0 {
			nodePort = int32(30000 + i/2)
		}
		var eps []ep
		for j := range 5 {
			node := "node2"
			if j == 0 {
				node = testNode
			}
			eps = append(eps, readyEP(fmt.Sprintf("10.%d.%d.%d", 244+j%8, i/250, i%250+1), node))
		}
		tp.set(makeService(name, ip, port("", tcp, 80, nodePort)), makeSlice(name, name+"-a", "", tcp, 8080, eps...))
	}
}

func benchSync(b *testing.B, tp *testProxier, nft knftables.Interface) {
	ctx := context.Background()
	fillLarge(tp, 10000)
	if err := tp.Sync(ctx); err != nil {
		b.Fatal(err)
	}
	b.Run("full", func(b *testing.B) {
		for b.Loop() {
			tp.mu.Lock()
			tp.needFull = true
			tp.mu.Unlock()
			if err := tp.Sync(ctx); err != nil {
				b.Fatal(err)
			}
		}
		if null, ok := nft.(*nullNFT); ok {
			b.ReportMetric(float64(null.fullLines), "tx-lines")
			b.ReportMetric(float64(null.fullBytes), "tx-bytes")
		}
	})
	b.Run("partial-one-endpoint", func(b *testing.B) {
		tcp := corev1.ProtocolTCP
		i := 0
		for b.Loop() {
			i++
			tp.set(makeSlice("svc7", "svc7-a", "", tcp, 8080, readyEP(fmt.Sprintf("10.250.%d.%d", i/250%250, i%250+1), testNode)))
			if err := tp.Sync(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	// the ruleset's size, as `nft list table` prints it
	if real, ok := nft.(*nsNFT); ok {
		out, err := exec.Command("ip", "netns", "exec", strings.TrimPrefix(real.path, namespaces.Dir+"/"),
			"nft", "list", "table", "ip", DefaultTable).Output()
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(strings.Count(string(out), "\n")), "nft-list-lines")
		b.ReportMetric(float64(len(out)), "nft-list-bytes")
	}
}

// nullNFT renders transactions (what the real nft is given) and applies
// nothing: the proxy's own cost. (knftables.Fake is no measure at this
// size: it looks elements up one by one, in quadratic time.)
type nullNFT struct {
	knftables.Interface
	fullLines, fullBytes int
}

func (n *nullNFT) Run(_ context.Context, tx *knftables.Transaction) error {
	s := tx.String()
	if strings.Contains(s, "add table") {
		n.fullLines, n.fullBytes = strings.Count(s, "\n"), len(s)
	}
	return nil
}

// BenchmarkSync10kServices measures syncs with 10,000 Services of 5
// endpoints each: rendering the transactions only (the proxy's own cost), and,
// as root, against the kernel through nft in a throwaway namespace.
func BenchmarkSync10kServices(b *testing.B) {
	b.Run("render", func(b *testing.B) {
		tp := newTestProxier(&testing.T{})
		null := &nullNFT{Interface: tp.nft}
		tp.Proxier.nft = null
		benchSync(b, tp, null)
	})
	b.Run("nft", func(b *testing.B) {
		if os.Geteuid() != 0 {
			b.Skip("needs root")
		}
		ns := fmt.Sprintf("pwb-node-%d", os.Getpid())
		if err := namespaces.Create(ns); err != nil {
			b.Fatal(err)
		}
		defer func() { _ = namespaces.Delete(ns) }()
		var real knftables.Interface
		if err := namespaces.Do(namespaces.Path(ns), func() (err error) {
			real, err = knftables.New(knftables.IPv4Family, DefaultTable)
			return err
		}); err != nil {
			b.Fatal(err)
		}
		nft := &nsNFT{Interface: real, path: namespaces.Path(ns)}
		tp := newTestProxier(&testing.T{})
		tp.Proxier.nft = nft
		benchSync(b, tp, nft)
	})
}

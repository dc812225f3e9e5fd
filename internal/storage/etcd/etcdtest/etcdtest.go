// Package etcdtest runs portway's embedded etcd for a test.
package etcdtest

import (
	"context"
	"net"
	"path/filepath"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/portway/portway/internal/apiserver/authn"
	"github.com/portway/portway/internal/storage/etcd"
)

// Client starts the embedded etcd on loopback, with certificates of its
// own and fsync off, and returns its in-process client, as the API
// server's storage uses it. Both end with the test.
func Client(t testing.TB) *clientv3.Client {
	t.Helper()
	dir := t.TempDir()
	pki := authn.PKI{Dir: filepath.Join(dir, "pki")}
	if err := pki.Ensure([]net.IP{net.IPv4(127, 0, 0, 1)}, []string{"localhost"}); err != nil {
		t.Fatal(err)
	}
	srv, err := etcd.Embedded{Dir: filepath.Join(dir, "etcd"), LogFile: filepath.Join(dir, "etcd.log"),
		CertFile: pki.Path(authn.EtcdServingCert), KeyFile: pki.Path(authn.EtcdServingKey),
		ClientCAFile: pki.Path(authn.EtcdCACert), UnsafeNoFsync: true}.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	c := srv.Client()
	t.Cleanup(func() { c.Close() }) // runs before srv.Close
	return c
}

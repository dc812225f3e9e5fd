// Package etcd provides the etcd that holds the cluster state: an embedded
// single-member etcd in the data directory by default, or an external etcd
// cluster. Either way the API server's storage shares one clientv3 client
// (Backend).
package etcd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3client"
	"k8s.io/apiserver/pkg/storage"
	etcdfeature "k8s.io/apiserver/pkg/storage/feature"
	"k8s.io/apiserver/pkg/storage/storagebackend"
)

// Embedded describes the embedded etcd.
type Embedded struct {
	Dir string // member data lives here
	// CertFile/KeyFile serve clients and peers; ClientCAFile verifies them:
	// only the apiserver's client certificate may connect.
	CertFile, KeyFile, ClientCAFile string
	// LogFile receives etcd's own log.
	LogFile string
	// UnsafeNoFsync skips fsync: faster, but a machine crash may lose writes.
	UnsafeNoFsync bool
}

// Server is a running embedded etcd.
type Server struct {
	etcd *embed.Etcd
	// URL is the client URL (https://127.0.0.1:PORT).
	URL string
}

// Start starts the embedded etcd and waits until it serves.
func (e Embedded) Start(ctx context.Context) (*Server, error) {
	cfg := embed.NewConfig()
	cfg.Name = "portway"
	cfg.Dir = e.Dir
	cfg.Logger = "zap"
	cfg.LogLevel = "warn"
	cfg.LogOutputs = []string{e.LogFile}
	if err := os.MkdirAll(filepath.Dir(e.LogFile), 0o755); err != nil {
		return nil, err
	}
	tls := transport.TLSInfo{CertFile: e.CertFile, KeyFile: e.KeyFile, TrustedCAFile: e.ClientCAFile, ClientCertAuth: true}
	cfg.ClientTLSInfo, cfg.PeerTLSInfo = tls, tls
	cfg.UnsafeNoFsync = e.UnsafeNoFsync
	// etcd keeps the raft log in memory between snapshots (default 100,000
	// entries, hundreds of MiB under a burst of writes) and keeps entries
	// after a snapshot for slow followers. A lone member has no followers:
	// snapshot often and keep little.
	cfg.SnapshotCount = 1000
	cfg.SnapshotCatchUpEntries = 100
	// A lone member still waits one election timeout before it leads and
	// serves; with no peers to lose touch with, a short one is safe, and
	// start-up drops from about a second to a tenth of that.
	cfg.TickMs, cfg.ElectionMs = 10, 100
	// The apiserver compacts history itself (every 5 minutes).
	cfg.AutoCompactionRetention = "0"

	// The ports are picked free, then bound by etcd: another process may
	// take one in between. Then etcd fails to listen; try fresh ones.
	var (
		etcd      *embed.Etcd
		clientURL string
		err       error
	)
	for attempt := 1; ; attempt++ {
		if clientURL, err = pickPorts(cfg); err != nil {
			return nil, err
		}
		etcd, err = embed.StartEtcd(cfg)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EADDRINUSE) || attempt == 3 {
			return nil, fmt.Errorf("starting embedded etcd in %s: %w", e.Dir, err)
		}
	}
	select {
	case <-etcd.Server.ReadyNotify():
		return &Server{etcd: etcd, URL: clientURL}, nil
	case err := <-etcd.Err():
		etcd.Close()
		return nil, fmt.Errorf("embedded etcd: %w", err)
	case <-time.After(60 * time.Second):
		etcd.Close()
		return nil, fmt.Errorf("embedded etcd in %s did not become ready in 60s (see %s)", e.Dir, e.LogFile)
	case <-ctx.Done():
		etcd.Close()
		return nil, ctx.Err()
	}
}

// Close stops the embedded etcd.
func (s *Server) Close() { s.etcd.Close() }

// Client is a client that calls this etcd in process: no gRPC, TLS or
// socket between the API server and its own etcd. It also skips etcd's
// gRPC interceptors (a lost leader does not fail or cancel its requests
// and watches) and the client's retries; a lone member does not lose its
// leader.
func (s *Server) Client() *clientv3.Client {
	c := v3client.New(s.etcd.Server)
	// k8s.io/apiserver learns whether etcd answers watch progress requests,
	// which the watch cache's consistent reads need, by asking each of a
	// client's endpoints for etcd's version; until then it sends every
	// list to etcd. An in-process client has no endpoints, so give the
	// check one: the in-process client answers Status whatever endpoint
	// it names.
	etcdfeature.DefaultFeatureSupportChecker.CheckClient(c.Ctx(), namedEndpoint{c, s.URL}, storage.RequestWatchProgress)
	return c
}

// namedEndpoint is a client with the endpoint it reports.
type namedEndpoint struct {
	*clientv3.Client
	endpoint string
}

func (c namedEndpoint) Endpoints() []string { return []string{c.endpoint} }

// pickPorts sets cfg's client, client HTTP and peer URLs to unused loopback
// ports and returns the client URL. etcd's HTTP endpoints (health,
// metrics) get a port of their own: sharing one, etcd serves TLS gRPC
// through net/http's HTTP/2 server, which costs the apiserver's every read
// and write several times the CPU and allocations of grpc-go's own server.
func pickPorts(cfg *embed.Config) (string, error) {
	var urls [3]url.URL
	for i := range urls {
		// Held until all three are picked, so that they differ.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		defer l.Close()
		urls[i] = url.URL{Scheme: "https", Host: l.Addr().String()}
	}
	client, http, peer := urls[0], urls[1], urls[2]
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
	cfg.ListenClientHttpUrls = []url.URL{http}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	return client.String(), nil
}

// NewClient connects to the etcd a storage transport config names, with
// kube-apiserver's keepalives, and checks that it answers.
func NewClient(ctx context.Context, t storagebackend.TransportConfig) (*clientv3.Client, error) {
	cfg := clientv3.Config{Endpoints: t.ServerList, DialTimeout: 20 * time.Second,
		DialKeepAliveTime: 30 * time.Second, DialKeepAliveTimeout: 10 * time.Second}
	if t.CertFile != "" || t.KeyFile != "" || t.TrustedCAFile != "" {
		tlsCfg, err := (transport.TLSInfo{CertFile: t.CertFile, KeyFile: t.KeyFile, TrustedCAFile: t.TrustedCAFile}).ClientConfig()
		if err != nil {
			return nil, err
		}
		cfg.TLS = tlsCfg
	}
	c, err := clientv3.New(cfg)
	if err != nil {
		return nil, err
	}
	// The client connects lazily; without this a wrong URL would only show
	// as requests that retry forever.
	ctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()
	if _, err := c.Get(ctx, "health"); err != nil {
		c.Close()
		return nil, fmt.Errorf("etcd %v does not answer: %w", t.ServerList, err)
	}
	return c, nil
}

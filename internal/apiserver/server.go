// Package apiserver is portway's control plane: the Kubernetes API, served by
// the Kubernetes apiserver library from etcd, with portway's own resource
// registry, bootstrap objects and controllers.
package apiserver

import (
	"context"
	"crypto"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/util/sets"
	utilversion "k8s.io/apimachinery/pkg/util/version"
	admissionlib "k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/admission/plugin/namespace/lifecycle"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	openapinamer "k8s.io/apiserver/pkg/endpoints/openapi"
	genericfeatures "k8s.io/apiserver/pkg/features"
	"k8s.io/apiserver/pkg/registry/generic"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	genericfilters "k8s.io/apiserver/pkg/server/filters"
	"k8s.io/apiserver/pkg/server/healthz"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	serverstorage "k8s.io/apiserver/pkg/server/storage"
	"k8s.io/apiserver/pkg/storage/storagebackend"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	certutil "k8s.io/client-go/util/cert"
	basecompatibility "k8s.io/component-base/version"
	"k8s.io/klog/v2"

	saadmission "github.com/portway/portway/internal/admission/serviceaccount"
	"github.com/portway/portway/internal/allocator"
	"github.com/portway/portway/internal/apiserver/authn"
	"github.com/portway/portway/internal/apiserver/openapi"
	"github.com/portway/portway/internal/registry"
	"github.com/portway/portway/internal/registry/service"
	"github.com/portway/portway/internal/satoken"
	"github.com/portway/portway/internal/storage/etcd"
	"github.com/portway/portway/internal/version"
)

// Options configure the control plane.
type Options struct {
	// DataDir holds the PKI, the kubeconfig, logs and the embedded etcd.
	DataDir string
	// Listen is the host:port the API serves HTTPS on.
	Listen string
	// AdvertiseAddress is the address the kubernetes Service's endpoints
	// point at; the listen address when nil.
	AdvertiseAddress net.IP
	// EtcdServers, when set, are the client URLs of an external etcd cluster
	// used instead of the embedded one, with optional TLS files.
	EtcdServers                           []string
	EtcdCAFile, EtcdCertFile, EtcdKeyFile string
	// UnsafeNoFsync makes the embedded etcd skip fsync (tests, benchmarks).
	UnsafeNoFsync bool
	// ServiceClusterIPRange is where ClusterIPs come from; its first address
	// is the kubernetes Service's.
	ServiceClusterIPRange *net.IPNet
	// NodePortRange is where nodePorts and healthCheckNodePorts come from.
	NodePortRange *allocator.PortRange
	// PodSubnets are the per-node pod CIDRs of the cluster CIDR.
	PodSubnets *allocator.SubnetRange
	// NodeMonitorGracePeriod is how long a node may go without renewing its
	// Lease or posting status before it is marked not ready (40 s when 0).
	NodeMonitorGracePeriod time.Duration
}

// KubeconfigPath is where the admin kubeconfig is written.
func (o Options) KubeconfigPath() string { return filepath.Join(o.DataDir, "kubeconfig") }

// Run serves the API until ctx ends. ready is called once the server answers
// and the built-in namespaces and Services exist.
func Run(ctx context.Context, o Options, ready func()) error {
	host, portStr, err := net.SplitHostPort(o.Listen)
	if err != nil {
		return fmt.Errorf("--listen %q: %w", o.Listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return fmt.Errorf("--listen %q: bad port", o.Listen)
	}
	bindIP := net.ParseIP(host)
	if bindIP == nil {
		return fmt.Errorf("--listen %q: host must be an IP address", o.Listen)
	}
	advertise := o.AdvertiseAddress
	if advertise == nil {
		advertise = bindIP
	}
	if advertise.IsUnspecified() {
		advertise = net.IPv4(127, 0, 0, 1)
	}
	kubernetesIP, err := firstIP(o.ServiceClusterIPRange)
	if err != nil {
		return err
	}

	pki := authn.PKI{Dir: filepath.Join(o.DataDir, "pki")}
	ips := []net.IP{net.IPv4(127, 0, 0, 1), advertise, kubernetesIP}
	if !bindIP.IsUnspecified() {
		ips = append(ips, bindIP)
	}
	if err := pki.Ensure(ips, []string{"localhost", "kubernetes", "kubernetes.default",
		"kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}); err != nil {
		return fmt.Errorf("creating certificates in %s: %w", pki.Dir, err)
	}

	start := time.Now()
	log := klog.FromContext(ctx)
	transport, client, stopEtcd, err := startEtcd(ctx, o, pki)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return nil // stopped while etcd started: a stop, not a failure
		}
		return err
	}
	defer stopEtcd()
	backend := etcd.NewBackend(client)
	// Stopped before the client closes, however Run returns.
	compactCtx, stopCompactor := context.WithCancel(ctx)
	defer stopCompactor()
	// kube-apiserver's default --etcd-compaction-interval.
	backend.StartCompactor(compactCtx, storagebackend.DefaultCompactInterval)
	log.V(1).Info("etcd ready", "elapsed", time.Since(start))

	// No RBAC yet: every authenticated user may do anything, as with
	// kube-apiserver's --authorization-mode=AlwaysAllow. Access reviews
	// (kubectl auth can-i) ask the same authorizer.
	authz := authorizerfactory.NewAlwaysAllowAuthorizer()
	saKey, err := pki.ServiceAccountSigner()
	if err != nil {
		return err
	}
	saTokens, err := satoken.NewSigner(saKey)
	if err != nil {
		return err
	}
	// The cluster CA: what client certificates are checked against, and
	// what kube-root-ca.crt publishes.
	caPEM, err := pki.CA()
	if err != nil {
		return err
	}
	cfg, admission, err := config(o, pki, caPEM, saKey.Public(), authz, bindIP, port, transport)
	if err != nil {
		return err
	}
	loopback, err := rest.TransportFor(cfg.LoopbackClientConfig) // what every in-process client shares
	if err != nil {
		return err
	}
	// Discovery's serverAddressByClientCIDRs and the OpenAPI host say this.
	cfg.ExternalAddress = net.JoinHostPort(advertise.String(), portStr)
	server, err := cfg.Complete().New("portway", genericapiserver.NewEmptyDelegate())
	if err != nil {
		return err
	}
	// How long the HTTP server waits for connections to close once it has
	// stopped listening; the library's default is the request timeout,
	// 60 s. Requests that are not long-running are waited for anyway (the
	// drain, up to the request timeout), and so are watches (up to the
	// 5 s grace period). What this bounds: connections that nothing will
	// close, as Go's HTTP/2 server never sends GOAWAY to one that arrives
	// as it begins to stop (x/net registers it for that too late), and
	// streams such as logs -f, which the stop now ends after 2 s. 2 s is
	// also the library's own timeout when it drains before it stops
	// listening (ShutdownSendRetryAfter).
	server.ShutdownTimeout = 2 * time.Second
	log.V(1).Info("server built", "elapsed", time.Since(start))
	// What the library adds for cfg.SharedInformerFactory.
	if err := server.AddReadyzChecks(healthz.NewInformerSyncHealthz(admission)); err != nil {
		return err
	}
	services := service.Config{ClusterIPRange: o.ServiceClusterIPRange, NodePortRange: o.NodePortRange, Backend: backend}
	kubelets, err := kubeletTransport(pki)
	if err != nil {
		return err
	}
	deps := apiDeps{services: services, kubeletTransport: kubelets, proxyTransport: proxyTransport(),
		authenticator: cfg.Authentication.Authenticator, authorizer: authz, tokens: saTokens}
	if err := installAPIs(server, sharedStorage{cfg.RESTOptionsGetter, backend}, deps); err != nil {
		server.Destroy() // the watch caches built so far, before the client closes
		return err
	}
	installOpenAPI(server, cfg.OpenAPIConfig, cfg.OpenAPIV3Config)
	log.V(1).Info("APIs installed", "elapsed", time.Since(start))

	// The in-process clients (the bootstrap, the controllers and their
	// informers, then admission's informers) run on contexts of Run's own,
	// which a pre-shutdown hook ends, before closing their connections and
	// letting the HTTP server stop. The library cancels the post-start
	// hooks' context only as the HTTP server stops, and a client still
	// connected then makes Go's HTTP/2 server wait a second (x/net's
	// goAwayTimeout) for it to hang up.
	inProcess, stopInProcess := context.WithCancel(context.WithoutCancel(ctx))
	defer stopInProcess()
	admissionCtx, stopAdmission := context.WithCancel(context.WithoutCancel(ctx))
	defer stopAdmission()
	var running sync.WaitGroup
	running.Add(1) // the post-start hook, until it has started everything
	server.AddPostStartHookOrDie("portway-bootstrap", func(genericapiserver.PostStartHookContext) error {
		defer running.Done()
		log.V(1).Info("serving", "elapsed", time.Since(start))
		admission.Start(admissionCtx.Done()) // needed for the bootstrap objects
		client, err := kubernetes.NewForConfig(cfg.LoopbackClientConfig)
		if err != nil {
			return err
		}
		b := bootstrap{client: client, kubernetesIP: kubernetesIP, advertise: advertise, port: int32(port)}
		err = b.run(inProcess)
		if inProcess.Err() != nil {
			return nil // stopping before ready: no failure (which the library makes fatal)
		}
		if err != nil {
			return err
		}
		if err := startControllers(inProcess, &running, cfg.LoopbackClientConfig, client, controllerOptions{
			podSubnets: o.PodSubnets, nodeGrace: o.NodeMonitorGracePeriod, rootCA: caPEM}); err != nil {
			return err
		}
		serverURL := "https://" + net.JoinHostPort(advertise.String(), portStr)
		if err := pki.WriteKubeconfig(o.KubeconfigPath(), "portway", serverURL); err != nil {
			return err
		}
		log.V(1).Info("bootstrapped", "elapsed", time.Since(start))
		if ready != nil {
			ready()
		}
		return nil
	})
	stopped := make(chan struct{})
	defer close(stopped)
	server.AddPreShutdownHookOrDie("portway-stop-in-process-clients", func() error {
		stopInProcess()
		running.Wait()
		// Admission's informers last: requests are still admitted until
		// the hook returns.
		stopAdmission()
		admission.Shutdown()
		// Close idle connections before the HTTP server sends GOAWAY: a
		// client that gets one drops the connection from its pool without
		// closing it, and the server then waits a second for it.
		utilnet.CloseIdleConnectionsFor(loopback)
		go closeIdleConnections(loopback, stopped)
		return nil
	})
	return server.PrepareRun().RunWithContext(ctx)
}

// closeIdleConnections closes rt's idle connections every 50 ms until
// done. Once is not enough: a request cut short may still be closing
// its stream, and a stopped informer leaves its List running (client-go
// lists on context.TODO), so a connection can still be dialed. Go's HTTP/2
// server never tells a connection that arrives as it begins to stop to go
// away (x/net registers it for that too late), and waits for it to close
// for as long as the shutdown timeout (2 s, set in Run).
func closeIdleConnections(rt http.RoundTripper, done <-chan struct{}) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
			utilnet.CloseIdleConnectionsFor(rt)
		}
	}
}

// startEtcd starts the embedded etcd, or reaches the external one. It
// returns the client the API server's storage shares, the transport its
// health checks dial, and a func that closes both.
func startEtcd(ctx context.Context, o Options, pki authn.PKI) (storagebackend.TransportConfig, *clientv3.Client, func(), error) {
	if len(o.EtcdServers) > 0 {
		transport := storagebackend.TransportConfig{ServerList: o.EtcdServers, TrustedCAFile: o.EtcdCAFile,
			CertFile: o.EtcdCertFile, KeyFile: o.EtcdKeyFile}
		client, err := etcd.NewClient(ctx, transport)
		if err != nil {
			return transport, nil, nil, err
		}
		return transport, client, func() { client.Close() }, nil
	}
	e := etcd.Embedded{
		Dir:           filepath.Join(o.DataDir, "etcd"),
		CertFile:      pki.Path(authn.EtcdServingCert),
		KeyFile:       pki.Path(authn.EtcdServingKey),
		ClientCAFile:  pki.Path(authn.EtcdCACert),
		LogFile:       filepath.Join(o.DataDir, "logs", "etcd.log"),
		UnsafeNoFsync: o.UnsafeNoFsync,
	}
	srv, err := e.Start(ctx)
	if err != nil {
		return storagebackend.TransportConfig{}, nil, nil, err
	}
	client := srv.Client()
	transport := storagebackend.TransportConfig{ServerList: []string{srv.URL}, TrustedCAFile: e.ClientCAFile,
		CertFile: pki.Path(authn.EtcdClientCert), KeyFile: pki.Path(authn.EtcdClientKey)}
	return transport, client, func() { client.Close(); srv.Close() }, nil
}

// sharedStorage builds every resource's storage on the one shared client.
type sharedStorage struct {
	generic.RESTOptionsGetter
	backend *etcd.Backend
}

func (s sharedStorage) GetRESTOptions(resource schema.GroupResource, example runtime.Object) (generic.RESTOptions, error) {
	opts, err := s.RESTOptionsGetter.GetRESTOptions(resource, example)
	opts.Decorator = s.backend.Decorate
	return opts, err
}

// longRunning is kube-apiserver's: watches and streams (logs -f, exec,
// attach, port-forward, proxy) are long-running, so the 60 s request
// timeout does not cut them.
var longRunning = genericfilters.BasicLongRunningRequestCheck(
	sets.NewString("watch", "proxy"), sets.NewString("attach", "exec", "proxy", "log", "portforward"))

func config(o Options, pki authn.PKI, caPEM []byte, saKey crypto.PublicKey, authz authorizer.Authorizer, bindIP net.IP, port int, transport storagebackend.TransportConfig) (*genericapiserver.RecommendedConfig, informers.SharedInformerFactory, error) {
	// portway exports no traces. Without a tracing configuration the
	// OpenTelemetry filter and etcd client interceptors, on by default in
	// 1.32, record nothing but cost every request CPU and allocations.
	if err := utilfeature.DefaultMutableFeatureGate.SetFromMap(map[string]bool{string(genericfeatures.APIServerTracing): false}); err != nil {
		return nil, nil, err
	}
	cfg := genericapiserver.NewRecommendedConfig(registry.Codecs)
	// On shutdown, end open watches (clients relist elsewhere or later)
	// instead of waiting for them: without this, Shutdown blocks on them.
	cfg.ShutdownWatchTerminationGracePeriod = 5 * time.Second
	cfg.LongRunningFunc = longRunning

	secure := genericoptions.NewSecureServingOptions().WithLoopback()
	secure.BindAddress, secure.BindPort = bindIP, port
	secure.ServerCert.CertKey = genericoptions.CertKey{CertFile: pki.Path(authn.ServingCert), KeyFile: pki.Path(authn.ServingKey)}
	if err := secure.ApplyTo(&cfg.SecureServing, &cfg.LoopbackClientConfig); err != nil {
		return nil, nil, fmt.Errorf("serving on %s: %w", o.Listen, err)
	}
	// The in-process clients (controllers, admission, bootstrap) talk as
	// kube-apiserver's loopback client does: protobuf for every request,
	// not only those of the generated clients, which prefer it anyway
	// (Bind, Finalize and Events are hand-written), and no gzip, which the
	// server would otherwise spend on every list over 128 KiB it sends to
	// itself.
	cfg.LoopbackClientConfig.ContentType = runtime.ContentTypeProtobuf
	cfg.LoopbackClientConfig.DisableCompression = true
	clientCA, err := dynamiccertificates.NewStaticCAContent("client-ca", caPEM)
	if err != nil {
		return nil, nil, err
	}
	cfg.SecureServing.ClientCA = clientCA
	roots, err := certutil.NewPoolFromBytes(caPEM)
	if err != nil {
		return nil, nil, err
	}
	token, err := pki.Token()
	if err != nil {
		return nil, nil, err
	}
	client, err := kubernetes.NewForConfig(cfg.LoopbackClientConfig)
	if err != nil {
		return nil, nil, err
	}
	// Admission's informers, which Run starts and stops itself (not
	// cfg.SharedInformerFactory, whose informers the library stops only as
	// the HTTP server stops). Token authentication shares the
	// ServiceAccounts one.
	admission := informers.NewSharedInformerFactory(client, 10*time.Minute)
	saTokens := satoken.NewAuthenticator(saKey, satoken.NewClientGetter(client, admission.Core().V1().ServiceAccounts().Lister()))
	cfg.Authentication.Authenticator = authn.NewAuthenticator(roots, token, saTokens)
	cfg.Authentication.APIAudiences = satoken.APIAudiences
	cfg.Authorization.Authorizer = authz

	info := version.Info()
	cfg.EffectiveVersion = basecompatibility.NewEffectiveVersion(info.GitVersion)
	cfg.EffectiveVersion.(basecompatibility.MutableEffectiveVersion).Set(
		utilversion.MustParse(info.GitVersion).WithInfo(info), nil, nil)

	namer := openapinamer.NewDefinitionNamer(registry.ExternalScheme)
	cfg.OpenAPIConfig = genericapiserver.DefaultOpenAPIConfig(openapi.GetOpenAPIDefinitions, namer)
	cfg.OpenAPIConfig.Info.Title = "Kubernetes"
	cfg.OpenAPIV3Config = genericapiserver.DefaultOpenAPIV3Config(openapi.GetOpenAPIDefinitions, namer)
	cfg.OpenAPIV3Config.Info.Title = "Kubernetes"
	cfg.SkipOpenAPIInstallation = true // installOpenAPI serves them, lazily

	etcdOptions := genericoptions.NewEtcdOptions(storagebackend.NewDefaultConfig("/registry", nil))
	etcdOptions.StorageConfig.Transport = transport
	etcdOptions.DefaultStorageMediaType = "application/vnd.kubernetes.protobuf"
	resources := serverstorage.NewResourceConfig()
	resources.EnableVersions(registry.GroupVersions...)
	storageFactory := serverstorage.NewDefaultStorageFactory(etcdOptions.StorageConfig,
		etcdOptions.DefaultStorageMediaType, registry.Codecs,
		serverstorage.NewDefaultResourceEncodingConfig(registry.Scheme), resources,
		// Kubernetes' own key layout, so etcdctl users find things where they expect.
		map[schema.GroupResource]string{
			corev1.Resource("services"):  "services/specs",
			corev1.Resource("endpoints"): "services/endpoints",
			corev1.Resource("nodes"):     "minions",
		})
	// events.k8s.io Events are core Events in the same keys, as in Kubernetes.
	storageFactory.AddCohabitatingResources(corev1.Resource("events"), eventsv1.Resource("events"))
	if err := etcdOptions.ApplyWithStorageFactoryTo(storageFactory, &cfg.Config); err != nil {
		return nil, nil, err
	}

	cfg.ClientConfig = cfg.LoopbackClientConfig
	// NamespaceLifecycle admission, as in every Kubernetes apiserver: no
	// objects in missing or terminating namespaces, and default, kube-system
	// and kube-public may not be deleted.
	ns, err := lifecycle.NewLifecycle(sets.NewString(corev1.NamespaceDefault, "kube-system", "kube-public"))
	if err != nil {
		return nil, nil, err
	}
	ns.SetExternalKubeClientSet(client)
	ns.SetExternalKubeInformerFactory(admission)
	if err := ns.ValidateInitialization(); err != nil {
		return nil, nil, err
	}
	// Then ServiceAccount, as in kube-apiserver's default order: pods run
	// as an account that exists, and mount its token.
	cfg.AdmissionControl = admissionlib.NewChainHandler(ns, saadmission.New(client, admission))
	return cfg, admission, nil
}

// firstIP is the first usable address of a CIDR: the kubernetes Service's IP.
func firstIP(cidr *net.IPNet) (net.IP, error) {
	if cidr == nil {
		return nil, fmt.Errorf("no service cluster IP range")
	}
	ip := make(net.IP, len(cidr.IP))
	copy(ip, cidr.IP)
	ip[len(ip)-1]++
	if !cidr.Contains(ip) {
		return nil, fmt.Errorf("service cluster IP range %s is too small", cidr)
	}
	return ip, nil
}

// kubeletTransport is how the API server reaches node agents (pods/log):
// with its kubelet client certificate, and, as kube-apiserver without
// --kubelet-certificate-authority, without verifying the agents'
// self-signed serving certificates.
func kubeletTransport(pki authn.PKI) (http.RoundTripper, error) {
	pair, err := tls.LoadX509KeyPair(pki.Path(authn.KubeletClientCert), pki.Path(authn.KubeletClientKey))
	if err != nil {
		return nil, err
	}
	return &http.Transport{
		Proxy:               nil,
		TLSHandshakeTimeout: 10 * time.Second,
		TLSClientConfig:     &tls.Config{Certificates: []tls.Certificate{pair}, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12},
		DialContext:         (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	}, nil
}

// proxyTransport is how pods/proxy and services/proxy reach pods, as
// kube-apiserver's: straight to the pod's IP, and over HTTPS without
// verifying the pod's certificate, which cannot name an IP it learns only
// when it starts.
func proxyTransport() http.RoundTripper {
	return utilnet.SetTransportDefaults(&http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12},
	})
}

package apiserver

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/portway/portway/internal/allocator"
	"github.com/portway/portway/internal/controllers/deployment"
	"github.com/portway/portway/internal/controllers/endpoints"
	"github.com/portway/portway/internal/controllers/endpointslice"
	"github.com/portway/portway/internal/controllers/endpointslicemirroring"
	"github.com/portway/portway/internal/controllers/garbagecollector"
	"github.com/portway/portway/internal/controllers/namespace"
	"github.com/portway/portway/internal/controllers/nodeipam"
	"github.com/portway/portway/internal/controllers/nodelifecycle"
	"github.com/portway/portway/internal/controllers/replicaset"
	"github.com/portway/portway/internal/controllers/rootcacert"
	"github.com/portway/portway/internal/controllers/scheduler"
	"github.com/portway/portway/internal/controllers/serviceaccount"
	"github.com/portway/portway/internal/trim"
	"github.com/portway/portway/internal/version"
)

// controllerOptions is what the controllers need from the server's options.
type controllerOptions struct {
	podSubnets *allocator.SubnetRange
	nodeGrace  time.Duration // --node-monitor-grace-period (40 s when 0)
	rootCA     []byte        // what kube-root-ca.crt publishes
}

// startControllers runs the control plane's controllers and the scheduler
// until ctx ends, each (and their informers) counted in running until it
// has stopped. They are ordinary API clients: informers over the loopback
// connection, never storage.
func startControllers(ctx context.Context, running *sync.WaitGroup, cfg *rest.Config, client kubernetes.Interface, o controllerOptions) error {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	factory := informers.NewSharedInformerFactoryWithOptions(client, 10*time.Minute,
		informers.WithTransform(trim.ManagedFields))
	ns := namespace.New(client, dyn, factory)
	epClient, err := controllerClient(cfg, "endpoint-controller")
	if err != nil {
		return err
	}
	epsClient, err := controllerClient(cfg, "endpointslice-controller")
	if err != nil {
		return err
	}
	epmClient, err := controllerClient(cfg, "endpointslicemirroring-controller")
	if err != nil {
		return err
	}
	lifecycleClient, err := controllerClient(cfg, "node-lifecycle-controller")
	if err != nil {
		return err
	}
	schedClient, err := schedulerClient(cfg)
	if err != nil {
		return err
	}
	rsClient, err := controllerClient(cfg, "replicaset-controller")
	if err != nil {
		return err
	}
	deployClient, err := controllerClient(cfg, "deployment-controller")
	if err != nil {
		return err
	}
	gcClient, err := controllerClient(cfg, "generic-garbage-collector")
	if err != nil {
		return err
	}
	saClient, err := controllerClient(cfg, "service-account-controller")
	if err != nil {
		return err
	}
	caClient, err := controllerClient(cfg, "root-ca-cert-publisher")
	if err != nil {
		return err
	}
	gcMeta, err := metadata.NewForConfig(controllerConfig(cfg, "generic-garbage-collector"))
	if err != nil {
		return err
	}
	ep := endpoints.New(epClient, factory)
	eps := endpointslice.New(epsClient, factory)
	epm := endpointslicemirroring.New(epmClient, factory)
	ipam := nodeipam.New(client, factory, o.podSubnets)
	lifecycle := nodelifecycle.New(lifecycleClient, factory, nodelifecycle.Config{GracePeriod: o.nodeGrace})
	sched := scheduler.New(schedClient, factory)
	rs := replicaset.New(rsClient, factory, nil)
	deploy := deployment.New(deployClient, factory, nil)
	sa := serviceaccount.New(saClient, factory)
	caConfigMaps := rootcacert.Factory(caClient)
	ca := rootcacert.New(caClient, factory, caConfigMaps, o.rootCA)
	for _, f := range []informers.SharedInformerFactory{factory, caConfigMaps} {
		f.Start(ctx.Done())
		running.Go(func() {
			<-ctx.Done()
			f.Shutdown()
		})
	}
	gc := garbagecollector.New(gcMeta, gcClient.Discovery(), started(factory))
	for _, c := range []interface{ Run(context.Context) }{ns, ep, eps, epm, ipam, lifecycle, sched, rs, deploy, sa, ca, gc} {
		running.Go(func() { c.Run(ctx) })
	}
	return nil
}

// controllerClient is a client for one of kube-controller-manager's
// controllers: its user agent starts with "kube-controller-manager/", so
// that the objects it writes carry that field manager, as in Kubernetes.
func controllerClient(cfg *rest.Config, name string) (kubernetes.Interface, error) {
	return kubernetes.NewForConfig(controllerConfig(cfg, name))
}

// controllerConfig is controllerClient's configuration, for the clients
// other than the typed one (the garbage collector's metadata client).
func controllerConfig(cfg *rest.Config, name string) *rest.Config {
	c := rest.CopyConfig(cfg)
	v := version.Info()
	c.UserAgent = fmt.Sprintf("kube-controller-manager/%s (%s) kubernetes/%s", v.GitVersion, v.Platform, name)
	return c
}

// schedulerClient is the scheduler's client: its user agent is
// kube-scheduler's, so the pod status it writes carries the field manager
// "kube-scheduler", as in Kubernetes.
func schedulerClient(cfg *rest.Config) (kubernetes.Interface, error) {
	c := rest.CopyConfig(cfg)
	v := version.Info()
	c.UserAgent = fmt.Sprintf("kube-scheduler/%s (%s) kubernetes/%s", v.GitVersion, v.Platform, v.GitCommit)
	return kubernetes.NewForConfig(c)
}

// started maps the kind of each informer the factory runs to it, for the
// garbage collector to share. The factory lists its started informers only
// by Go type, through WaitForCacheSync, which returns at once when given a
// closed channel; InformerFor then returns the one it has of that type.
func started(factory informers.SharedInformerFactory) map[schema.GroupVersionKind]cache.SharedIndexInformer {
	closed := make(chan struct{})
	close(closed)
	out := map[schema.GroupVersionKind]cache.SharedIndexInformer{}
	for t := range factory.WaitForCacheSync(closed) {
		obj, ok := reflect.New(t.Elem()).Interface().(runtime.Object)
		if !ok {
			continue
		}
		gvks, _, err := scheme.Scheme.ObjectKinds(obj)
		if err != nil {
			continue
		}
		out[gvks[0]] = factory.InformerFor(obj, nil)
	}
	return out
}

package agent

import (
	"context"

	"k8s.io/client-go/informers"
	"k8s.io/klog/v2"

	"github.com/portway/portway/internal/trim"
)

// RunProxy runs only the service proxy, as kube-proxy runs: no Node
// registration, no pods, no routes; it needs a kubeconfig allowed to list
// and watch Services and EndpointSlices, against any API server. It runs
// until ctx ends, then removes its nftables table.
func RunProxy(ctx context.Context, cfg Config) error {
	log := klog.FromContext(ctx).WithValues("node", cfg.NodeName)
	ctx = klog.NewContext(ctx, log)
	_, client, err := newClient(cfg, "kube-proxy", 5, 10) // kube-proxy's clientConnection defaults
	if err != nil {
		return err
	}
	factory := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithTransform(trim.ManagedFields))
	px, err := startProxy(ctx, cfg.NodeName, cfg.Proxy, factory)
	if err != nil {
		return err
	}
	factory.Start(ctx.Done())
	log.Info("Service proxy started")
	px.Wait()
	factory.Shutdown()
	return nil
}

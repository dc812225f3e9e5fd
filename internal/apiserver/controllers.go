package apiserver

import (
	"context"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/portway/portway/internal/controllers/namespace"
)

// startControllers runs the control plane's controllers. They are ordinary
// API clients: informers over the loopback connection, never storage.
func startControllers(ctx context.Context, cfg *rest.Config, client kubernetes.Interface) error {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	factory := informers.NewSharedInformerFactory(client, 10*time.Minute)
	ns := namespace.New(client, dyn, factory)
	factory.Start(ctx.Done())
	go ns.Run(ctx)
	return nil
}

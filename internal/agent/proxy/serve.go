package proxy

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"k8s.io/klog/v2"
)

// Default listen addresses, kube-proxy's: metrics on loopback only,
// health for load balancers on every address.
const (
	DefaultMetricsBindAddress = "127.0.0.1:10249"
	DefaultHealthzBindAddress = "0.0.0.0:10256"
)

// Serve serves, in plain HTTP as kube-proxy does, /metrics on metricsAddr
// and /healthz and /livez on healthzAddr, until ctx ends. An empty address
// is not served. It returns when a listener cannot be opened, or when ctx
// ends.
func (p *Proxier) Serve(ctx context.Context, metricsAddr, healthzAddr string) error {
	var servers []*http.Server
	add := func(addr string, mux *http.ServeMux) error {
		if addr == "" {
			return nil
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return err
		}
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, srv)
		go func() {
			if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				klog.FromContext(ctx).Error(err, "Proxy HTTP server failed", "address", addr)
			}
		}()
		return nil
	}
	defer func() {
		for _, s := range servers {
			_ = s.Close()
		}
	}()
	metrics := http.NewServeMux()
	metrics.Handle("/metrics", MetricsHandler())
	health := http.NewServeMux()
	health.Handle("/healthz", p.HealthzHandler())
	health.Handle("/livez", p.HealthzHandler())
	if metricsAddr == healthzAddr && metricsAddr != "" {
		metrics.Handle("/healthz", p.HealthzHandler())
		metrics.Handle("/livez", p.HealthzHandler())
		healthzAddr = ""
	}
	if err := add(metricsAddr, metrics); err != nil {
		return err
	}
	if err := add(healthzAddr, health); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

// Running is a Proxier started in the background by Start.
type Running struct{ done chan struct{} }

// Wait waits until the proxier has stopped and removed its table.
func (r *Running) Wait() { <-r.done }

// Start runs the proxier (Run) and its HTTP endpoints (Serve) until ctx
// ends, logging their errors.
func (p *Proxier) Start(ctx context.Context, metricsAddr, healthzAddr string) *Running {
	log := klog.FromContext(ctx)
	r := &Running{done: make(chan struct{})}
	go func() {
		if err := p.Serve(ctx, metricsAddr, healthzAddr); err != nil {
			log.Error(err, "Serving the proxy's metrics and health failed")
		}
	}()
	go func() {
		defer close(r.done)
		if err := p.Run(ctx); err != nil {
			log.Error(err, "Service proxy failed")
		}
	}()
	return r
}

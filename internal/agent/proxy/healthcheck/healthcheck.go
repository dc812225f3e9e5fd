// Package healthcheck serves the health checks of Services with
// externalTrafficPolicy Local, as kube-proxy does: one HTTP listener per
// Service on its healthCheckNodePort, answering 200 while the node has a
// ready endpoint of the Service and 503 otherwise, so that a load balancer
// sends the Service's traffic only to nodes that keep it.
package healthcheck

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
)

// Service is what a health check knows of its Service.
type Service struct {
	Port int
	// LocalEndpoints counts the Service's ready endpoints on this node.
	LocalEndpoints int
}

// Server keeps one listener per Service.
type Server struct {
	// Listen opens a listener; net.Listen when nil.
	Listen func(network, address string) (net.Listener, error)
	// Healthy says whether the proxy keeps its rules up to date; a
	// health check fails while it does not. Always healthy when nil.
	Healthy func() bool

	mu       sync.Mutex
	services map[types.NamespacedName]*instance
}

type instance struct {
	port   int
	srv    *http.Server
	mu     sync.Mutex
	counts int
}

// Sync makes the set of served health checks services: listeners of
// Services gone (or whose port changed) close, new ones open, and the
// endpoint counts update. Ports that cannot be opened are reported in the
// error; the other Services are served regardless.
func (s *Server) Sync(ctx context.Context, services map[types.NamespacedName]Service) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.services == nil {
		s.services = map[types.NamespacedName]*instance{}
	}
	for name, inst := range s.services {
		if svc, ok := services[name]; !ok || svc.Port != inst.port {
			_ = inst.srv.Close()
			delete(s.services, name)
		}
	}
	var errs []error
	for name, svc := range services {
		inst := s.services[name]
		if inst == nil {
			var err error
			if inst, err = s.open(ctx, name, svc.Port); err != nil {
				errs = append(errs, err)
				continue
			}
			s.services[name] = inst
		}
		inst.mu.Lock()
		inst.counts = svc.LocalEndpoints
		inst.mu.Unlock()
	}
	return errors.Join(errs...)
}

// Close closes every listener.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, inst := range s.services {
		_ = inst.srv.Close()
		delete(s.services, name)
	}
}

func (s *Server) open(ctx context.Context, name types.NamespacedName, port int) (*instance, error) {
	listen := s.Listen
	if listen == nil {
		listen = net.Listen
	}
	l, err := listen("tcp", net.JoinHostPort("", strconv.Itoa(port)))
	if err != nil {
		return nil, err
	}
	inst := &instance{port: port}
	inst.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		inst.mu.Lock()
		n := inst.counts
		inst.mu.Unlock()
		s.answer(w, name, n)
	})}
	log := klog.FromContext(ctx)
	go func() {
		if err := inst.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error(err, "Health check server failed", "service", name, "port", port)
		}
	}()
	return inst, nil
}

// answer writes kube-proxy's answer: the same JSON document and the
// X-Load-Balancing-Endpoint-Weight header.
func (s *Server) answer(w http.ResponseWriter, name types.NamespacedName, count int) {
	healthy := s.Healthy == nil || s.Healthy()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Load-Balancing-Endpoint-Weight", strconv.Itoa(count))
	if count > 0 && healthy {
		w.WriteHeader(http.StatusOK)
	} else {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	type svc struct {
		Namespace string `json:"namespace"`
		Name      string `json:"name"`
	}
	body, _ := json.MarshalIndent(struct {
		Service             svc  `json:"service"`
		LocalEndpoints      int  `json:"localEndpoints"`
		ServiceProxyHealthy bool `json:"serviceProxyHealthy"`
	}{svc{name.Namespace, name.Name}, count, healthy}, "", "\t")
	_, _ = w.Write(body)
}

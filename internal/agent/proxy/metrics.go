package proxy

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The metrics carry kube-proxy's names where kube-proxy has the metric, so
// that dashboards and alerts written for kube-proxy work unchanged;
// portway_proxy_nftables_objects has no kube-proxy counterpart in nftables
// mode (iptables mode counts its rules in
// kubeproxy_sync_proxy_rules_iptables_total).
var (
	registry = newRegistry()

	syncBuckets  = prometheus.ExponentialBuckets(0.001, 2, 15)
	syncDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "kubeproxy_sync_proxy_rules_duration_seconds",
		Help:    "SyncProxyRules latency in seconds",
		Buckets: syncBuckets,
	})
	fullSyncDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "kubeproxy_sync_full_proxy_rules_duration_seconds",
		Help:    "SyncProxyRules latency in seconds for full resyncs",
		Buckets: syncBuckets,
	})
	partialSyncDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "kubeproxy_sync_partial_proxy_rules_duration_seconds",
		Help:    "SyncProxyRules latency in seconds for partial resyncs",
		Buckets: syncBuckets,
	})
	lastSync = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "kubeproxy_sync_proxy_rules_last_timestamp_seconds",
		Help: "The last time proxy rules were successfully synced",
	})
	syncFailures = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kubeproxy_sync_proxy_rules_nftables_sync_failures_total",
		Help: "Cumulative proxy nftables sync failures",
	})
	noLocalEndpoints = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "kubeproxy_sync_proxy_rules_no_local_endpoints_total",
		Help: "Number of services with a Local traffic policy and no endpoints",
	}, []string{"traffic_policy"})
	objects = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "portway_proxy_nftables_objects",
		Help: "Objects in the proxy's nftables table after the last sync, by type (rules and elements of per-service chains and maps, chains, services, endpoints)",
	}, []string{"type"})
)

func newRegistry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(syncDuration, fullSyncDuration, partialSyncDuration, lastSync, syncFailures,
		noLocalEndpoints, objects,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// MetricsHandler serves the proxy's metrics (and the process's) in the
// Prometheus text format, for the agent's /metrics.
func MetricsHandler() http.Handler {
	return promhttp.HandlerFor(registry, promhttp.HandlerOpts{})
}

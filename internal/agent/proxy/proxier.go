package proxy

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	"sigs.k8s.io/knftables"

	"github.com/portway/portway/internal/agent/proxy/healthcheck"
)

// Defaults of Config.
const (
	DefaultTable       = "portway"
	DefaultClusterCIDR = "10.244.0.0/16"
	// DefaultSyncPeriod is how often the whole table is rewritten even if
	// nothing changed, repairing whatever else touched it.
	DefaultSyncPeriod = time.Hour
	// DefaultMinSyncPeriod spaces syncs under churn; a change after a quiet
	// spell is synced at once. (kube-proxy's default is 1s; a smaller one
	// costs little because partial syncs write only what changed.)
	DefaultMinSyncPeriod = 100 * time.Millisecond
)

// Config configures a Proxier.
type Config struct {
	// NodeName is the Node whose endpoints are local (EndpointSlice
	// nodeName).
	NodeName string
	// ClusterCIDR is the pod network; empty is DefaultClusterCIDR.
	ClusterCIDR string
	// Table is the nftables table (family ip); empty is DefaultTable.
	Table         string
	SyncPeriod    time.Duration
	MinSyncPeriod time.Duration
	// NFTables programs the table; knftables.New when nil.
	NFTables knftables.Interface
	// Conntrack cleans UDP entries; netlink in the caller's namespace when nil.
	Conntrack Conntrack
	// HealthChecks serves healthCheckNodePorts; one on net.Listen when nil.
	HealthChecks *healthcheck.Server
}

// Proxier keeps the nftables table in line with the Services and
// EndpointSlices of the API server.
type Proxier struct {
	cfg Config
	nft knftables.Interface
	ct  Conntrack
	hc  *healthcheck.Server
	w   ruleWriter

	services corelisters.ServiceLister
	slices   cache.Indexer
	synced   []cache.InformerSynced

	// trigger wakes the sync loop; it holds at most one wake-up, so changes
	// arriving during a sync make one more sync.
	trigger chan struct{}

	mu       sync.Mutex
	dirty    map[types.NamespacedName]bool
	needFull bool

	// lastSuccess is the time of the last successful sync (UnixNano).
	lastSuccess atomic.Int64

	// What the table holds since the last sync; only the sync loop touches
	// these. A failed sync leaves them wrong, and the next sync is full.
	written map[types.NamespacedName]*serviceRules
	// owners say which Services put each element into a map or set.
	owners map[string]*owner
	// staleChains were flushed at the time given and are deleted a second
	// later: before Linux 6.2, a chain is not free to delete at once after
	// the map element pointing to it was (kube-proxy does the same).
	staleChains map[string]time.Time
	// clean: the table holds exactly what written says. It is false at
	// start (the table may hold anything: an earlier agent's rules) and
	// after a failed sync; a full sync then recreates the whole table in
	// its transaction, instead of listing what is there (nft 1.0.6 takes
	// minutes to list the sets of a table with 10,000 Services).
	clean bool
}

// owner is an element's value and the Services that want it: usually
// one, several for the hairpin element of a pod behind several Services.
// The element goes when the last of them lets go; the value is the last
// one written.
type owner struct {
	value string
	svcs  []types.NamespacedName
}

// serviceIndex indexes EndpointSlices by their Service's namespace/name.
const serviceIndex = "service"

// New returns a Proxier. It touches nothing until Run.
func New(cfg Config) (*Proxier, error) {
	if cfg.Table == "" {
		cfg.Table = DefaultTable
	}
	if cfg.ClusterCIDR == "" {
		cfg.ClusterCIDR = DefaultClusterCIDR
	}
	if _, _, err := net.ParseCIDR(cfg.ClusterCIDR); err != nil {
		return nil, fmt.Errorf("invalid cluster CIDR %q: %w", cfg.ClusterCIDR, err)
	}
	if cfg.SyncPeriod <= 0 {
		cfg.SyncPeriod = DefaultSyncPeriod
	}
	if cfg.MinSyncPeriod <= 0 {
		cfg.MinSyncPeriod = DefaultMinSyncPeriod
	}
	p := &Proxier{cfg: cfg, nft: cfg.NFTables, ct: cfg.Conntrack, hc: cfg.HealthChecks,
		w:       ruleWriter{clusterCIDR: cfg.ClusterCIDR},
		trigger: make(chan struct{}, 1), dirty: map[types.NamespacedName]bool{}, needFull: true,
		written: map[types.NamespacedName]*serviceRules{}, owners: map[string]*owner{},
		staleChains: map[string]time.Time{}}
	if p.nft == nil {
		nft, err := knftables.New(knftables.IPv4Family, cfg.Table)
		if err != nil {
			return nil, fmt.Errorf("nftables: %w", err)
		}
		p.nft = nft
	}
	if p.ct == nil {
		p.ct = &netlink.Handle{}
	}
	if p.hc == nil {
		p.hc = &healthcheck.Server{}
	}
	p.hc.Healthy = p.healthy
	return p, nil
}

// Register adds the proxy's handlers to factory's Service and EndpointSlice
// informers; call it before the factory starts.
func (p *Proxier) Register(factory informers.SharedInformerFactory) error {
	svcs := factory.Core().V1().Services()
	sls := factory.Discovery().V1().EndpointSlices()
	err := sls.Informer().AddIndexers(cache.Indexers{serviceIndex: func(obj any) ([]string, error) {
		sl, ok := obj.(*discoveryv1.EndpointSlice)
		if !ok || sl.Labels[discoveryv1.LabelServiceName] == "" {
			return nil, nil
		}
		return []string{sl.Namespace + "/" + sl.Labels[discoveryv1.LabelServiceName]}, nil
	}})
	if err != nil {
		return err
	}
	svcKey := func(obj any) (types.NamespacedName, bool) {
		s, ok := obj.(*corev1.Service)
		if !ok {
			return types.NamespacedName{}, false
		}
		return types.NamespacedName{Namespace: s.Namespace, Name: s.Name}, true
	}
	sliceKey := func(obj any) (types.NamespacedName, bool) {
		sl, ok := obj.(*discoveryv1.EndpointSlice)
		if !ok || sl.Labels[discoveryv1.LabelServiceName] == "" {
			return types.NamespacedName{}, false
		}
		return types.NamespacedName{Namespace: sl.Namespace, Name: sl.Labels[discoveryv1.LabelServiceName]}, true
	}
	for _, h := range []struct {
		inf cache.SharedIndexInformer
		key func(any) (types.NamespacedName, bool)
	}{{svcs.Informer(), svcKey}, {sls.Informer(), sliceKey}} {
		key := h.key
		_, err := h.inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc: func(obj any) { p.changed(key(obj)) },
			UpdateFunc: func(old, obj any) {
				if oldM, ok := old.(interface{ GetResourceVersion() string }); ok &&
					oldM.GetResourceVersion() == obj.(interface{ GetResourceVersion() string }).GetResourceVersion() {
					return // a resync: nothing changed
				}
				// A slice moved to another Service (its label changed)
				// changes both.
				p.changed(key(old))
				p.changed(key(obj))
			},
			DeleteFunc: func(obj any) {
				if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
					obj = d.Obj
				}
				p.changed(key(obj))
			},
		})
		if err != nil {
			return err
		}
		p.synced = append(p.synced, h.inf.HasSynced)
	}
	p.services = svcs.Lister()
	p.slices = sls.Informer().GetIndexer()
	return nil
}

func (p *Proxier) changed(name types.NamespacedName, ok bool) {
	if !ok {
		return
	}
	p.mu.Lock()
	p.dirty[name] = true
	p.mu.Unlock()
	p.wake()
}

func (p *Proxier) wake() {
	select {
	case p.trigger <- struct{}{}:
	default:
	}
}

// Run programs the table once the informers have synced and keeps it up to
// date until ctx ends; then it removes the table (connections already
// established keep their conntrack entries, and so their translation once
// a proxy writes the table again). Sync errors are logged and retried with
// a full sync; Run returns only when ctx ends or the caches never sync.
func (p *Proxier) Run(ctx context.Context) error {
	log := klog.FromContext(ctx).WithName("proxy")
	ctx = klog.NewContext(ctx, log)
	if p.services == nil {
		return errors.New("proxy: Register was not called")
	}
	if !cache.WaitForCacheSync(ctx.Done(), p.synced...) {
		return ctx.Err()
	}
	full := time.NewTicker(p.cfg.SyncPeriod)
	defer full.Stop()
	retry := time.NewTimer(0)
	<-retry.C
	backoff := time.Second
	// As kube-proxy's BoundedFrequencyRunner: syncs at most every
	// MinSyncPeriod, but two in a row after a quiet spell, so that a new
	// Service and its EndpointSlice (which come one after the other) are
	// both written at once.
	limit := rate.NewLimiter(rate.Every(p.cfg.MinSyncPeriod), 2)
	p.wake()
	for {
		select {
		case <-ctx.Done():
			p.cleanup(log)
			return nil
		case <-full.C:
			p.mu.Lock()
			p.needFull = true
			p.mu.Unlock()
		case <-retry.C:
		case <-p.trigger:
		}
		// Bound the sync rate; changes meanwhile wait in trigger.
		if err := limit.Wait(ctx); err != nil {
			p.cleanup(log)
			return nil
		}
		if err := p.Sync(ctx); err != nil {
			log.Error(err, "Sync failed", "retryIn", backoff)
			retry.Reset(backoff)
			backoff = min(2*backoff, time.Minute)
		} else {
			backoff = time.Second
			if len(p.staleChains) > 0 {
				// delete them once they may be deleted
				retry.Reset(1100 * time.Millisecond)
			}
		}
	}
}

// cleanup removes the table and closes the health checks.
func (p *Proxier) cleanup(log klog.Logger) {
	p.hc.Close()
	tx := p.nft.NewTransaction()
	tx.Add(&knftables.Table{})
	tx.Delete(&knftables.Table{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.nft.Run(ctx, tx); err != nil {
		log.Error(err, "Removing the nftables table failed", "table", p.cfg.Table)
	}
}

// healthy is kube-proxy's notion: the rules were synced recently (within
// two sync periods), or nothing has changed since they were.
func (p *Proxier) healthy() bool {
	last := p.lastSuccess.Load()
	if last == 0 {
		return false
	}
	p.mu.Lock()
	pending := p.needFull || len(p.dirty) > 0
	p.mu.Unlock()
	return !pending || time.Since(time.Unix(0, last)) < 2*p.cfg.SyncPeriod
}

// HealthzHandler answers as kube-proxy's /healthz: 200 while the proxy is
// healthy, else 503, with the last update time.
func (p *Proxier) HealthzHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		var last time.Time
		if n := p.lastSuccess.Load(); n != 0 {
			last = time.Unix(0, n)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if p.healthy() {
			w.WriteHeader(http.StatusOK)
		} else {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"lastUpdated": last.UTC(), "currentTime": time.Now().UTC()})
	})
}

// Sync brings the table in line with the informers' caches now: a full
// sync on the first call, after a failure and every SyncPeriod, otherwise
// only the Services that changed since the last sync (and of those only
// the chains and elements that differ).
func (p *Proxier) Sync(ctx context.Context) error {
	p.mu.Lock()
	full, dirty := p.needFull, p.dirty
	p.needFull, p.dirty = false, map[types.NamespacedName]bool{}
	p.mu.Unlock()

	start := time.Now()
	res, err := p.syncRules(ctx, full, dirty, start)
	elapsed := time.Since(start).Seconds()
	syncDuration.Observe(elapsed)
	if full {
		fullSyncDuration.Observe(elapsed)
	} else {
		partialSyncDuration.Observe(elapsed)
	}
	if err != nil {
		syncFailures.Inc()
		p.mu.Lock()
		p.needFull = true
		p.mu.Unlock()
		return err
	}
	p.lastSuccess.Store(time.Now().UnixNano())
	lastSync.SetToCurrentTime()
	log := klog.FromContext(ctx)
	log.V(2).Info("Synced nftables", "full", full, "services", len(dirty), "operations", res.operations, "elapsed", time.Since(start))
	// Conntrack and health checks may need work when the table does not:
	// an endpoint that was terminating (so out of the rules) goes away.
	if res.operations > 0 || res.udpStale || res.healthChanged {
		p.afterSync(ctx, res)
	}
	return nil
}

type syncResult struct {
	operations int
	// udpStale: some UDP endpoint went away, or a UDP port got its first.
	udpStale bool
	// healthChanged: some Service's health check or local endpoints changed.
	healthChanged bool
}

// afterSync does what follows a successful sync: metrics, health checks
// and conntrack.
func (p *Proxier) afterSync(ctx context.Context, res syncResult) {
	log := klog.FromContext(ctx)
	var rules, chains, elements, endpoints, noLocalInternal, noLocalExternal int
	hc := map[types.NamespacedName]healthcheck.Service{}
	var udp []udpPort
	for name, r := range p.written {
		rules += r.numRules()
		chains += len(r.chains)
		elements += len(r.elements)
		endpoints += r.endpoints
		noLocalInternal += r.noLocalInternal
		noLocalExternal += r.noLocalExternal
		if r.healthCheck.Port != 0 {
			hc[name] = r.healthCheck
		}
		udp = append(udp, r.udp...)
	}
	objects.WithLabelValues("rules").Set(float64(rules))
	objects.WithLabelValues("chains").Set(float64(chains))
	objects.WithLabelValues("elements").Set(float64(elements))
	objects.WithLabelValues("services").Set(float64(len(p.written)))
	objects.WithLabelValues("endpoints").Set(float64(endpoints))
	noLocalEndpoints.WithLabelValues("internal").Set(float64(noLocalInternal))
	noLocalEndpoints.WithLabelValues("external").Set(float64(noLocalExternal))
	if res.healthChanged {
		if err := p.hc.Sync(ctx, hc); err != nil {
			log.Error(err, "Serving health checks failed")
		}
	}
	if res.udpStale {
		n, err := cleanUDP(p.ct, udp)
		if err != nil {
			log.Error(err, "Deleting stale UDP conntrack entries failed")
		} else {
			log.V(4).Info("Deleted stale UDP conntrack entries", "entries", n)
		}
	}
}

// phases orders a sync's operations so that every object exists before a
// rule or element refers to it, and nothing is deleted while referred to.
type phases struct {
	delElements []element
	addSets     []affinitySet
	chains      []chain
	addElements []element
	stale       []string
	delSets     []string
	delChains   []string
}

func (ph *phases) apply(tx *knftables.Transaction) {
	for _, e := range ph.delElements {
		tx.Delete(e.object())
	}
	for _, s := range ph.addSets {
		tx.Add(s.object())
	}
	for _, c := range ph.chains {
		tx.Add(&knftables.Chain{Name: c.name})
		tx.Flush(&knftables.Chain{Name: c.name})
	}
	for _, c := range ph.chains {
		for _, r := range c.rules {
			tx.Add(&knftables.Rule{Chain: c.name, Rule: r})
		}
	}
	for _, e := range ph.addElements {
		tx.Add(e.object())
	}
	for _, c := range ph.stale {
		tx.Flush(&knftables.Chain{Name: c})
	}
	for _, s := range ph.delSets {
		tx.Delete(&knftables.Set{Name: s})
	}
	for _, c := range ph.delChains {
		tx.Delete(&knftables.Chain{Name: c})
	}
}

func (p *Proxier) syncRules(ctx context.Context, full bool, dirty map[types.NamespacedName]bool, start time.Time) (syncResult, error) {
	var res syncResult
	tx := p.nft.NewTransaction()
	var ph phases
	names := dirty
	recreate := full && !p.clean
	prev := p.written
	if full {
		if recreate {
			tx.Add(&knftables.Table{})
			tx.Delete(&knftables.Table{})
			// the chains flushed earlier go with the table
			clear(p.staleChains)
		}
		writeBase(tx)
		svcs, err := p.services.List(labels.Everything())
		if err != nil {
			return res, err
		}
		names = make(map[types.NamespacedName]bool, len(svcs))
		for _, s := range svcs {
			names[types.NamespacedName{Namespace: s.Namespace, Name: s.Name}] = true
		}
		p.written = make(map[types.NamespacedName]*serviceRules, len(svcs))
		p.owners = map[string]*owner{}
		res.healthChanged, res.udpStale = true, true
	}
	// In name order, so that the same state makes the same transaction.
	sorted := make([]types.NamespacedName, 0, len(names))
	for name := range names {
		sorted = append(sorted, name)
	}
	slices.SortFunc(sorted, func(a, b types.NamespacedName) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	newlyStale := map[string]bool{}
	for _, name := range sorted {
		r, err := p.build(name)
		if err != nil {
			return res, err
		}
		old := p.written[name]
		if !full && reflect.DeepEqual(old, r) {
			continue
		}
		p.diff(&ph, name, old, r, full, newlyStale)
		var oldUDP, newUDP []udpPort
		var oldHC, newHC healthcheck.Service
		if old != nil {
			oldUDP, oldHC = old.udp, old.healthCheck
		}
		if r != nil {
			newUDP, newHC = r.udp, r.healthCheck
			p.written[name] = r
		} else {
			delete(p.written, name)
		}
		res.udpStale = res.udpStale || udpChanged(oldUDP, newUDP)
		res.healthChanged = res.healthChanged || oldHC != newHC
	}
	if full && !recreate {
		p.dropLeftovers(&ph, prev, newlyStale)
	}
	var deleted []string
	for c, t := range p.staleChains {
		if start.Sub(t) > time.Second && !newlyStale[c] {
			ph.delChains = append(ph.delChains, c)
			deleted = append(deleted, c)
		}
	}
	ph.apply(tx)
	res.operations = tx.NumOperations()
	if res.operations == 0 {
		return res, nil
	}
	if v := klog.FromContext(ctx).V(9); v.Enabled() {
		v.Info("Running nftables transaction", "transaction", tx.String())
	}
	if err := p.nft.Run(ctx, tx); err != nil {
		p.clean = false
		return res, err
	}
	p.clean = true
	for _, c := range deleted {
		delete(p.staleChains, c)
	}
	for c := range newlyStale {
		if _, ok := p.staleChains[c]; !ok {
			p.staleChains[c] = start
		}
	}
	return res, nil
}

// dropLeftovers flushes the service chains and deletes the affinity sets
// that the table held before a full sync (prev) and that no Service has now.
func (p *Proxier) dropLeftovers(ph *phases, prev map[types.NamespacedName]*serviceRules, newlyStale map[string]bool) {
	active, activeSets := map[string]bool{}, map[string]bool{}
	for _, r := range p.written {
		for _, c := range r.chains {
			active[c.name] = true
		}
		for _, s := range r.sets {
			activeSets[s.name] = true
		}
	}
	for _, r := range prev {
		for _, c := range r.chains {
			if !active[c.name] {
				ph.stale = append(ph.stale, c.name)
				newlyStale[c.name] = true
			}
		}
		for _, s := range r.sets {
			if !activeSets[s.name] {
				ph.delSets = append(ph.delSets, s.name)
			}
		}
	}
}

// build computes a Service's rules from the informers' caches; nil if the
// Service is gone or has nothing to program.
func (p *Proxier) build(name types.NamespacedName) (*serviceRules, error) {
	svc, err := p.services.Services(name.Namespace).Get(name.Name)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	objs, err := p.slices.ByIndex(serviceIndex, name.Namespace+"/"+name.Name)
	if err != nil {
		return nil, err
	}
	sls := make([]*discoveryv1.EndpointSlice, 0, len(objs))
	for _, o := range objs {
		sls = append(sls, o.(*discoveryv1.EndpointSlice))
	}
	ports := servicePorts(svc, sls, p.cfg.NodeName)
	if len(ports) == 0 {
		return nil, nil
	}
	r := &serviceRules{}
	for _, sp := range ports {
		p.w.write(r, sp)
	}
	return r, nil
}

// diff adds to ph what turns the table's old rules of Service name into r
// (either may be nil). In a full sync every chain, set and element of r is
// written, the maps having been flushed.
func (p *Proxier) diff(ph *phases, name types.NamespacedName, old, r *serviceRules, full bool, newlyStale map[string]bool) {
	if old == nil {
		old = &serviceRules{}
	}
	if r == nil {
		r = &serviceRules{}
	}
	oldChains := map[string][]string{}
	for _, c := range old.chains {
		oldChains[c.name] = c.rules
	}
	newChains := map[string]bool{}
	for _, c := range r.chains {
		newChains[c.name] = true
		if rules, ok := oldChains[c.name]; ok && !full && reflect.DeepEqual(rules, c.rules) {
			continue
		}
		ph.chains = append(ph.chains, c)
		delete(p.staleChains, c.name)
		delete(newlyStale, c.name)
	}
	for _, c := range old.chains {
		if !newChains[c.name] {
			ph.stale = append(ph.stale, c.name)
			newlyStale[c.name] = true
		}
	}

	oldSets := map[string]bool{}
	for _, s := range old.sets {
		oldSets[s.name] = true
	}
	newSets := map[string]bool{}
	for _, s := range r.sets {
		newSets[s.name] = true
		if full || !oldSets[s.name] {
			ph.addSets = append(ph.addSets, s)
		}
	}
	for _, s := range old.sets {
		if !newSets[s.name] {
			ph.delSets = append(ph.delSets, s.name)
		}
	}

	newIDs := map[string]bool{}
	for _, e := range r.elements {
		id := e.id()
		if newIDs[id] {
			continue // the clusterIP of a Service with several ports
		}
		newIDs[id] = true
		cur := p.owners[id]
		if cur == nil {
			cur = &owner{value: e.value}
			p.owners[id] = cur
			ph.addElements = append(ph.addElements, e)
		} else if cur.value != e.value {
			ph.delElements = append(ph.delElements, e)
			ph.addElements = append(ph.addElements, e)
			cur.value = e.value
		}
		if !slices.Contains(cur.svcs, name) {
			cur.svcs = append(cur.svcs, name)
		}
	}
	for _, e := range old.elements {
		id := e.id()
		cur := p.owners[id]
		if cur == nil || newIDs[id] {
			continue
		}
		cur.svcs = slices.DeleteFunc(cur.svcs, func(n types.NamespacedName) bool { return n == name })
		if len(cur.svcs) == 0 {
			ph.delElements = append(ph.delElements, e)
			delete(p.owners, id)
		}
	}
}

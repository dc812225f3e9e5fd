package scheduler

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
)

// kube-scheduler's words for why a node does not fit (pkg/scheduler and its
// filter plugins, 1.32).
const (
	reasonUnschedulable   = "node(s) were unschedulable"
	reasonTaint           = "node(s) had untolerated taint {%s: %s}"
	reasonAffinity        = "node(s) didn't match Pod's node affinity/selector"
	reasonAffinityPlugin  = "node(s) didn't satisfy plugin(s) [NodeAffinity]"
	reasonAffinityConfict = "pod affinity terms conflict"
	reasonPorts           = "node(s) didn't have free ports for the requested pod ports"
	reasonTooManyPods     = "Too many pods"
	reasonInsufficient    = "Insufficient %v"

	noNodesMsg      = "no nodes available to schedule pods"
	noVictims       = "No preemption victims found for incoming pod"
	preemptNotHelp  = "Preemption is not helpful for scheduling"
	preemptNeverMsg = "not eligible due to preemptionPolicy=Never."
)

// nodeInfo is a node and the pods the scheduler counts on it: those bound
// there that have not finished, and those it bound itself a moment ago.
type nodeInfo struct {
	node      *corev1.Node
	pods      []*corev1.Pod
	requested resources
	// ports are the host ports in use: hostIP ("0.0.0.0" for any) to
	// protocol/port.
	ports map[string]map[string]bool
}

func newNodeInfo(n *corev1.Node) *nodeInfo {
	return &nodeInfo{node: n, ports: map[string]map[string]bool{}}
}

func (ni *nodeInfo) add(p *corev1.Pod) {
	ni.pods = append(ni.pods, p)
	ni.requested.add(podRequests(p))
	for _, port := range hostPorts(p) {
		ip, pp := sanitizePort(port)
		if ni.ports[ip] == nil {
			ni.ports[ip] = map[string]bool{}
		}
		ni.ports[ip][pp] = true
	}
}

// resources are amounts in the units the scheduler compares: millicores
// of cpu, bytes, and plain counts for everything else.
type resources struct {
	milliCPU, memory, ephemeral int64
	scalar                      map[corev1.ResourceName]int64
}

func toResources(l corev1.ResourceList) resources {
	var r resources
	for name, q := range l {
		switch name {
		case corev1.ResourceCPU:
			r.milliCPU = q.MilliValue()
		case corev1.ResourceMemory:
			r.memory = q.Value()
		case corev1.ResourceEphemeralStorage:
			r.ephemeral = q.Value()
		case corev1.ResourcePods:
		default:
			if r.scalar == nil {
				r.scalar = map[corev1.ResourceName]int64{}
			}
			r.scalar[name] = q.Value()
		}
	}
	return r
}

func (r *resources) add(o resources) {
	r.milliCPU += o.milliCPU
	r.memory += o.memory
	r.ephemeral += o.ephemeral
	for name, v := range o.scalar {
		if r.scalar == nil {
			r.scalar = map[corev1.ResourceName]int64{}
		}
		r.scalar[name] += v
	}
}

// max raises each amount of r to o's where o's is larger.
func (r *resources) max(o resources) {
	r.milliCPU = max(r.milliCPU, o.milliCPU)
	r.memory = max(r.memory, o.memory)
	r.ephemeral = max(r.ephemeral, o.ephemeral)
	for name, v := range o.scalar {
		if r.scalar == nil {
			r.scalar = map[corev1.ResourceName]int64{}
		}
		r.scalar[name] = max(r.scalar[name], v)
	}
}

func (r resources) clone() resources {
	c := r
	c.scalar = nil
	c.add(resources{scalar: r.scalar})
	return c
}

// podRequests is what a pod asks for, as Kubernetes adds it up: the sum of
// its containers and sidecars (restartable init containers), or the most an
// init container needs while the sidecars started before it run, whichever
// is more; plus the pod overhead.
func podRequests(p *corev1.Pod) resources {
	var reqs, sidecars, initMax resources
	for _, c := range p.Spec.Containers {
		reqs.add(toResources(c.Resources.Requests))
	}
	for _, c := range p.Spec.InitContainers {
		need := toResources(c.Resources.Requests)
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			reqs.add(need)
			sidecars.add(need)
			need = sidecars.clone()
		} else {
			need.add(sidecars)
		}
		initMax.max(need)
	}
	reqs.max(initMax)
	reqs.add(toResources(p.Spec.Overhead))
	return reqs
}

func hostPorts(p *corev1.Pod) []corev1.ContainerPort {
	var out []corev1.ContainerPort
	for _, c := range p.Spec.Containers {
		for _, port := range c.Ports {
			if port.HostPort > 0 {
				out = append(out, port)
			}
		}
	}
	return out
}

func sanitizePort(p corev1.ContainerPort) (ip, protoPort string) {
	ip, proto := p.HostIP, string(p.Protocol)
	if ip == "" {
		ip = "0.0.0.0"
	}
	if proto == "" {
		proto = string(corev1.ProtocolTCP)
	}
	return ip, fmt.Sprintf("%s/%d", proto, p.HostPort)
}

// portsFit is the NodePorts filter: a host port is taken when another pod
// holds it on the same address or on all of them.
func (ni *nodeInfo) portsFit(want []corev1.ContainerPort) bool {
	for _, port := range want {
		ip, pp := sanitizePort(port)
		if ip == "0.0.0.0" {
			for _, used := range ni.ports {
				if used[pp] {
					return false
				}
			}
			continue
		}
		if ni.ports["0.0.0.0"][pp] || ni.ports[ip][pp] {
			return false
		}
	}
	return true
}

// podFit is what the filters need to know about the pod being scheduled,
// worked out once per attempt.
type podFit struct {
	pod      *corev1.Pod
	requests resources
	ports    []corev1.ContainerPort
	affinity requiredAffinity
}

func newPodFit(p *corev1.Pod) *podFit {
	return &podFit{pod: p, requests: podRequests(p), ports: hostPorts(p), affinity: newRequiredAffinity(p)}
}

// filter runs kube-scheduler's filters in its order and stops at the first
// that turns the node down. It returns nil when the pod fits, else the
// reasons and whether evicting pods could make room (the filter's status
// is Unschedulable rather than UnschedulableAndUnresolvable).
func (f *podFit) filter(ni *nodeInfo) (reasons []string, resolvable bool) {
	n := ni.node
	tolerations := f.pod.Spec.Tolerations
	// NodeUnschedulable.
	if n.Spec.Unschedulable && !tolerated(tolerations, corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}) {
		return []string{reasonUnschedulable}, false
	}
	// TaintToleration.
	for _, t := range effectiveTaints(n) {
		if (t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute) && !tolerated(tolerations, t) {
			return []string{fmt.Sprintf(reasonTaint, t.Key, t.Value)}, false
		}
	}
	// NodeAffinity.
	if !f.affinity.match(n) {
		return []string{reasonAffinity}, false
	}
	// NodePorts.
	if !ni.portsFit(f.ports) {
		return []string{reasonPorts}, true
	}
	// NodeResourcesFit.
	if r := f.insufficient(ni); len(r) > 0 {
		return r, true
	}
	return nil, false
}

// insufficient lists every resource the node lacks for the pod.
func (f *podFit) insufficient(ni *nodeInfo) []string {
	var out []string
	alloc := ni.node.Status.Allocatable
	if len(ni.pods)+1 > int(alloc.Pods().Value()) {
		out = append(out, reasonTooManyPods)
	}
	want, have, used := f.requests, toResources(alloc), ni.requested
	if want.milliCPU > 0 && want.milliCPU > have.milliCPU-used.milliCPU {
		out = append(out, fmt.Sprintf(reasonInsufficient, corev1.ResourceCPU))
	}
	if want.memory > 0 && want.memory > have.memory-used.memory {
		out = append(out, fmt.Sprintf(reasonInsufficient, corev1.ResourceMemory))
	}
	if want.ephemeral > 0 && want.ephemeral > have.ephemeral-used.ephemeral {
		out = append(out, fmt.Sprintf(reasonInsufficient, corev1.ResourceEphemeralStorage))
	}
	names := make([]string, 0, len(want.scalar))
	for name, v := range want.scalar {
		if v > 0 && v > have.scalar[name]-used.scalar[name] {
			names = append(names, string(name))
		}
	}
	sort.Strings(names)
	for _, name := range names {
		out = append(out, fmt.Sprintf(reasonInsufficient, name))
	}
	return out
}

func tolerated(tolerations []corev1.Toleration, t corev1.Taint) bool {
	for i := range tolerations {
		if tolerations[i].ToleratesTaint(&t) {
			return true
		}
	}
	return false
}

// effectiveTaints are the node's taints plus the NoSchedule taint its Ready
// condition stands for, when the node lifecycle controller has not put it
// there yet (or, for a node that never reported, the not-ready taint
// kube-apiserver's TaintNodesByCondition admission adds at creation): a node
// that is not Ready takes only pods that tolerate that.
func effectiveTaints(n *corev1.Node) []corev1.Taint {
	key := corev1.TaintNodeNotReady
	for _, c := range n.Status.Conditions {
		if c.Type != corev1.NodeReady {
			continue
		}
		switch c.Status {
		case corev1.ConditionTrue:
			return n.Spec.Taints
		case corev1.ConditionUnknown:
			key = corev1.TaintNodeUnreachable
		}
	}
	implied := corev1.Taint{Key: key, Effect: corev1.TaintEffectNoSchedule}
	for i := range n.Spec.Taints {
		if n.Spec.Taints[i].MatchTaint(&implied) {
			return n.Spec.Taints
		}
	}
	return append(append([]corev1.Taint{}, n.Spec.Taints...), implied)
}

// requiredAffinity is a pod's nodeSelector and required node affinity, as
// component-helpers' GetRequiredNodeAffinity reads them: the nodeSelector
// must match, and so must one of the terms. A term that does not parse
// matches nothing, and empty terms are left out.
type requiredAffinity struct {
	selector labels.Selector // nil: no nodeSelector
	terms    []nodeTerm
	hasTerms bool // required affinity is set; then one term must match
}

type nodeTerm struct {
	labels labels.Selector // nil: no matchExpressions
	fields fields.Selector // nil: no matchFields
	bad    bool
}

func newRequiredAffinity(p *corev1.Pod) requiredAffinity {
	var a requiredAffinity
	if len(p.Spec.NodeSelector) > 0 {
		a.selector = labels.SelectorFromSet(p.Spec.NodeSelector)
	}
	aff := p.Spec.Affinity
	if aff == nil || aff.NodeAffinity == nil || aff.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return a
	}
	a.hasTerms = true
	for _, t := range aff.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		if len(t.MatchExpressions) == 0 && len(t.MatchFields) == 0 {
			continue
		}
		a.terms = append(a.terms, newNodeTerm(t))
	}
	return a
}

func newNodeTerm(t corev1.NodeSelectorTerm) nodeTerm {
	var nt nodeTerm
	if len(t.MatchExpressions) > 0 {
		sel := labels.NewSelector()
		for _, e := range t.MatchExpressions {
			op, ok := map[corev1.NodeSelectorOperator]selection.Operator{
				corev1.NodeSelectorOpIn: selection.In, corev1.NodeSelectorOpNotIn: selection.NotIn,
				corev1.NodeSelectorOpExists: selection.Exists, corev1.NodeSelectorOpDoesNotExist: selection.DoesNotExist,
				corev1.NodeSelectorOpGt: selection.GreaterThan, corev1.NodeSelectorOpLt: selection.LessThan,
			}[e.Operator]
			if !ok {
				return nodeTerm{bad: true}
			}
			r, err := labels.NewRequirement(e.Key, op, e.Values)
			if err != nil {
				return nodeTerm{bad: true}
			}
			sel = sel.Add(*r)
		}
		nt.labels = sel
	}
	if len(t.MatchFields) > 0 {
		var sels []fields.Selector
		for _, e := range t.MatchFields {
			if len(e.Values) != 1 {
				return nodeTerm{bad: true}
			}
			switch e.Operator {
			case corev1.NodeSelectorOpIn:
				sels = append(sels, fields.OneTermEqualSelector(e.Key, e.Values[0]))
			case corev1.NodeSelectorOpNotIn:
				sels = append(sels, fields.OneTermNotEqualSelector(e.Key, e.Values[0]))
			default:
				return nodeTerm{bad: true}
			}
		}
		nt.fields = fields.AndSelectors(sels...)
	}
	return nt
}

func (a requiredAffinity) match(n *corev1.Node) bool {
	if a.selector != nil && !a.selector.Matches(labels.Set(n.Labels)) {
		return false
	}
	if !a.hasTerms {
		return true
	}
	nodeFields := fields.Set{}
	if n.Name != "" {
		nodeFields[metav1.ObjectNameField] = n.Name
	}
	for _, t := range a.terms {
		if t.bad {
			continue
		}
		if t.labels != nil && !t.labels.Matches(labels.Set(n.Labels)) {
			continue
		}
		if t.fields != nil && len(nodeFields) > 0 && !t.fields.Matches(nodeFields) {
			continue
		}
		return true
	}
	return false
}

// nodeNames is the NodeAffinity PreFilter: when every required term names
// nodes with metadata.name In, only those nodes are looked at. all is true
// when some term does not restrict names; an empty, non-nil result means
// the terms contradict each other.
func nodeNames(p *corev1.Pod) (names map[string]bool, all bool) {
	aff := p.Spec.Affinity
	if aff == nil || aff.NodeAffinity == nil || aff.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return nil, true
	}
	terms := aff.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	if len(terms) == 0 {
		return nil, true
	}
	union := map[string]bool{}
	for _, t := range terms {
		var term map[string]bool
		for _, r := range t.MatchFields {
			if r.Key != metav1.ObjectNameField || r.Operator != corev1.NodeSelectorOpIn {
				continue
			}
			in := map[string]bool{}
			for _, v := range r.Values {
				if term == nil || term[v] {
					in[v] = true
				}
			}
			term = in
		}
		if term == nil {
			return nil, true
		}
		for name := range term {
			union[name] = true
		}
	}
	return union, false
}

// diagnosis says why a pod fits no node, in kube-scheduler's words.
type diagnosis struct {
	numNodes int
	// preFilter, when set, turned every node down at once.
	preFilter string
	// failed are the nodes the filters turned down.
	failed map[string]nodeFailure
	// skipped counts nodes never filtered (not named by the pod's node
	// affinity); they share reasonAffinityPlugin.
	skipped int
	// neverPreempts: the pod's preemptionPolicy is Never.
	neverPreempts bool
}

type nodeFailure struct {
	reasons    []string
	resolvable bool
}

// message is the FitError text: "0/N nodes are available: <reasons>." and
// what the preemption plugin adds ("preemption: ...").
func (d *diagnosis) message() string {
	if d.numNodes == 0 {
		return noNodesMsg
	}
	msg := fmt.Sprintf("0/%d nodes are available:", d.numNodes)
	if d.preFilter != "" {
		msg += " " + d.preFilter + "."
	} else {
		counts := map[string]int{}
		for _, f := range d.failed {
			for _, r := range f.reasons {
				counts[r]++
			}
		}
		if d.skipped > 0 {
			counts[reasonAffinityPlugin] += d.skipped
		}
		if h := histogram(counts); h != "" {
			msg += " " + h + "."
		}
	}
	return msg + " preemption: " + d.preemption()
}

// preemption is what kube-scheduler's DefaultPreemption says when it finds
// nothing to evict: nodes turned down for a reason eviction could fix have
// no lower-priority pods to evict (portway does not preempt), the rest are
// not worth trying.
func (d *diagnosis) preemption() string {
	if d.neverPreempts {
		return preemptNeverMsg
	}
	counts := map[string]int{}
	if d.preFilter == "" {
		for _, f := range d.failed {
			if f.resolvable {
				counts[noVictims]++
			}
		}
	}
	if rest := d.numNodes - counts[noVictims]; rest > 0 {
		counts[preemptNotHelp] = rest
	}
	return fmt.Sprintf("0/%d nodes are available: %s.", d.numNodes, histogram(counts))
}

// histogram is "N reason" for each reason, sorted as strings.
func histogram(counts map[string]int) string {
	var out []string
	for r, n := range counts {
		out = append(out, fmt.Sprintf("%v %v", n, r))
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// spreadKey says which pods count as the pod's siblings when spreading:
// those with the same controller, or, for a pod without one, those in its
// namespace with the same labels.
type spreadKey struct {
	owner     types.UID
	namespace string
	labels    string
}

func spreadKeyOf(p *corev1.Pod) spreadKey {
	if ref := metav1.GetControllerOfNoCopy(p); ref != nil {
		return spreadKey{owner: ref.UID}
	}
	return spreadKey{namespace: p.Namespace, labels: labels.Set(p.Labels).String()}
}

// score orders the nodes that fit: fewest siblings of the pod, then fewest
// pods, then by name.
func score(p *corev1.Pod, fits []*nodeInfo) *nodeInfo {
	key := spreadKeyOf(p)
	siblings := func(ni *nodeInfo) int {
		n := 0
		for _, q := range ni.pods {
			if spreadKeyOf(q) == key {
				n++
			}
		}
		return n
	}
	var best *nodeInfo
	bestSiblings := 0
	for _, ni := range fits {
		s := siblings(ni)
		switch {
		case best == nil, s < bestSiblings,
			s == bestSiblings && len(ni.pods) < len(best.pods),
			s == bestSiblings && len(ni.pods) == len(best.pods) && ni.node.Name < best.node.Name:
			best, bestSiblings = ni, s
		}
	}
	return best
}

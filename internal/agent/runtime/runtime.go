// Package runtime runs the pods bound to this node, as the kubelet does,
// without a container engine: each pod gets a network namespace wired by
// the CNI plugins (bridge, host-local, loopback), and each container is a
// host process in it, started through a shim (internal/agent/shim) with the
// pod's hostname, /etc/hosts and /etc/resolv.conf in a private mount
// namespace. The agnhost e2e test image is built in (internal/agnhost);
// other images run only the command the pod gives, from the node's own
// filesystem, and an image with neither waits with reason UnsupportedImage.
//
// State lives in ROOT/pods/UID, so a restarted agent adopts the running
// containers instead of starting them again.
//
// Not done yet: sidecar (restartable init) containers, lifecycle hooks,
// hostPort, resource limits, volumes other than those volume.go sets up,
// and cluster DNS (every DNS policy gets the node's resolver, with the
// kubelet's MissingClusterDNS warning).
package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	listerscorev1 "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"

	"github.com/portway/portway/internal/trim"
)

// Config says where and how pods run.
type Config struct {
	NodeName string
	NodeIP   string
	// PodCIDR is the node's pod CIDR (the Node's spec.podCIDR).
	PodCIDR string
	// Root holds pod state and logs: Root/pods/UID.
	Root string
	// CNIBinDirs are searched for the CNI plugins.
	CNIBinDirs []string
	// Self is the portway binary, run as the shim and as built-in images.
	Self string
}

// Runtime runs this node's pods.
type Runtime struct {
	cfg      Config
	client   kubernetes.Interface
	net      *network
	recorder record.EventRecorder
	pods     listerscorev1.PodLister
	cms      listerscorev1.ConfigMapLister
	secrets  listerscorev1.SecretLister
	services listerscorev1.ServiceLister

	mu      sync.Mutex
	workers map[types.UID]*podWorker
	wg      sync.WaitGroup
}

// New returns a Runtime; Start runs it.
func New(cfg Config, client kubernetes.Interface) (*Runtime, error) {
	n, err := newNetwork(cfg.CNIBinDirs, filepath.Join(cfg.Root, "cni", "cache"), cfg.PodCIDR, filepath.Join(cfg.Root, "cni", "networks"))
	if err != nil {
		return nil, err
	}
	return &Runtime{cfg: cfg, client: client, net: n, workers: map[types.UID]*podWorker{}}, nil
}

// PodsFactory returns an informer factory for the pods bound to nodeName,
// as the kubelet watches them.
func PodsFactory(client kubernetes.Interface, nodeName string) informers.SharedInformerFactory {
	return informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithTransform(trim.ManagedFields),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", nodeName).String()
		}))
}

// Start runs pods as they are bound to the node, until ctx ends. podsFactory
// holds this node's pods (PodsFactory); factory the rest (configMaps,
// secrets and Services for container environments). Containers keep
// running when ctx ends: the agent may restart and adopt them.
func (r *Runtime) Start(ctx context.Context, podsFactory, factory informers.SharedInformerFactory) error {
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: r.client.CoreV1().Events("")})
	r.recorder = broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kubelet", Host: r.cfg.NodeName})
	go func() { <-ctx.Done(); broadcaster.Shutdown() }()

	pods := podsFactory.Core().V1().Pods()
	r.pods = pods.Lister()
	r.cms = factory.Core().V1().ConfigMaps().Lister()
	r.secrets = factory.Core().V1().Secrets().Lister()
	r.services = factory.Core().V1().Services().Lister()
	inf := pods.Informer()
	handled, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { r.podChanged(ctx, obj.(*corev1.Pod)) },
		UpdateFunc: func(_, obj any) { r.podChanged(ctx, obj.(*corev1.Pod)) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if p, ok := obj.(*corev1.Pod); ok {
				r.podGone(p.UID)
			}
		},
	})
	if err != nil {
		return err
	}
	// Orphans are what is left once every pod the informer lists has
	// been handed to a worker, not merely listed.
	synced := []cache.InformerSynced{handled.HasSynced,
		factory.Core().V1().ConfigMaps().Informer().HasSynced,
		factory.Core().V1().Secrets().Informer().HasSynced,
		factory.Core().V1().Services().Informer().HasSynced}
	go func() {
		if cache.WaitForCacheSync(ctx.Done(), synced...) {
			r.removeOrphans(ctx)
		}
	}()
	return nil
}

// Wait waits for the pod workers to return after ctx ended.
func (r *Runtime) Wait() { r.wg.Wait() }

func (r *Runtime) podChanged(ctx context.Context, pod *corev1.Pod) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if w := r.workers[pod.UID]; w != nil {
		w.update(pod)
		return
	}
	r.startWorker(ctx, pod, pod)
}

// startWorker starts the worker of pod, whose first sync sees latest (nil:
// the Pod is gone, so the worker tears down what is left and returns).
// The caller holds r.mu.
func (r *Runtime) startWorker(ctx context.Context, pod, latest *corev1.Pod) {
	w := newPodWorker(r, pod)
	w.update(latest) // before the worker runs
	r.workers[pod.UID] = w
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		w.run(ctx)
		r.mu.Lock()
		delete(r.workers, pod.UID)
		r.mu.Unlock()
	}()
}

func (r *Runtime) podGone(uid types.UID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if w := r.workers[uid]; w != nil {
		w.update(nil)
	}
}

// removeOrphans tears down pods whose state is here but whose Pod is gone
// (deleted while the agent was down).
func (r *Runtime) removeOrphans(ctx context.Context) {
	entries, err := os.ReadDir(filepath.Join(r.cfg.Root, "pods"))
	if err != nil {
		return
	}
	for _, e := range entries {
		uid := types.UID(e.Name())
		r.mu.Lock()
		if _, known := r.workers[uid]; !known {
			r.removeOrphan(ctx, uid)
		}
		r.mu.Unlock()
	}
}

// removeOrphan tears down the state of a pod with no worker. The caller
// holds r.mu, so the Pod cannot come back meanwhile.
func (r *Runtime) removeOrphan(ctx context.Context, uid types.UID) {
	rec, err := readRecord(r.podDir(uid))
	if err != nil {
		klog.FromContext(ctx).Error(err, "removing orphaned pod state", "uid", uid)
		_ = removePodDir(r.podDir(uid))
		return
	}
	r.startWorker(ctx, rec.pod(), nil)
}

func (r *Runtime) podDir(uid types.UID) string {
	return filepath.Join(r.cfg.Root, "pods", string(uid))
}

// Log is a container instance's log file; Done is closed when the
// instance has ended (and so will write no more).
type Log struct {
	Path string
	Done <-chan struct{}
}

// ContainerLog finds the log of a container of a pod on this node: the
// running (or last) instance, or with previous the one before it.
func (r *Runtime) ContainerLog(namespace, name, container string, previous bool) (Log, error) {
	pod, err := r.pods.Pods(namespace).Get(name)
	if err != nil {
		return Log{}, err
	}
	if container == "" && len(pod.Spec.Containers) == 1 {
		container = pod.Spec.Containers[0].Name
	}
	r.mu.Lock()
	w := r.workers[pod.UID]
	r.mu.Unlock()
	if w == nil {
		return Log{}, fmt.Errorf("pod %q is not running on node %q", name, r.cfg.NodeName)
	}
	return w.log(container, previous)
}

// podRecord is what a pod directory says about its pod, enough to tear it
// down when the Pod object is gone.
type podRecord struct {
	Namespace string    `json:"namespace"`
	Name      string    `json:"name"`
	UID       types.UID `json:"uid"`
	Sandbox   *sandbox  `json:"sandbox,omitempty"`
}

const recordFile = "pod.json"

func (rec *podRecord) pod() *corev1.Pod {
	p := &corev1.Pod{}
	p.Namespace, p.Name, p.UID = rec.Namespace, rec.Name, rec.UID
	return p
}

func readRecord(dir string) (*podRecord, error) {
	b, err := os.ReadFile(filepath.Join(dir, recordFile))
	if err != nil {
		return nil, err
	}
	rec := &podRecord{}
	if err := json.Unmarshal(b, rec); err != nil {
		return nil, err
	}
	if rec.Sandbox != nil && !validIP(rec.Sandbox.IP) {
		return nil, errors.New("pod record has a sandbox without an IP")
	}
	return rec, nil
}

func writeRecord(dir string, rec *podRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, recordFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o640); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, recordFile))
}

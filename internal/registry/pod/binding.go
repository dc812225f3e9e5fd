package pod

import (
	"context"
	"fmt"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage"
	storeerr "k8s.io/apiserver/pkg/storage/errors"
	"k8s.io/apiserver/pkg/util/dryrun"

	"github.com/portway/portway/internal/registry"
)

// NewStorage returns the endpoints of pods: pods, pods/status, pods/log
// (streamed from the pod's node through kubelets), pods/exec, pods/attach
// and pods/portforward (proxied to it), pods/proxy (to the pod itself,
// over proxyTransport), pods/binding (how the scheduler assigns a pod to a
// node) and the older bindings resource that does the same, as Kubernetes
// serves them.
func NewStorage(opts generic.RESTOptionsGetter, kubelets Kubelets, proxyTransport http.RoundTripper) (map[string]rest.Storage, error) {
	s, err := Resource.NewStorage(opts)
	if err != nil {
		return nil, err
	}
	s.REST["pods/log"] = &LogREST{store: s.Store, kubelets: kubelets}
	s.REST["pods/exec"] = &ExecREST{store: s.Store, kubelets: kubelets}
	s.REST["pods/attach"] = &AttachREST{store: s.Store, kubelets: kubelets}
	s.REST["pods/portforward"] = &PortForwardREST{store: s.Store, kubelets: kubelets}
	s.REST["pods/proxy"] = &registry.Proxy[*corev1.PodProxyOptions]{
		Path:      func(o *corev1.PodProxyOptions) string { return o.Path },
		Location:  proxyLocation{s.Store}.location,
		Transport: proxyTransport,
	}
	binding := &BindingREST{store: s.Store}
	s.REST["pods/binding"] = binding
	s.REST["bindings"] = &LegacyBindingREST{binding: binding}
	return s.REST, nil
}

// BindingREST is pods/binding: a POST of a Binding sets the pod's
// spec.nodeName, as Kubernetes' BindingREST (pkg/registry/core/pod/storage)
// does. It is the only way to change spec.nodeName once a pod exists.
type BindingREST struct {
	store *genericregistry.Store
}

var (
	_ rest.NamedCreater                   = &BindingREST{}
	_ rest.SubresourceObjectMetaPreserver = &BindingREST{}
)

// NamespaceScoped implements rest.Scoper.
func (r *BindingREST) NamespaceScoped() bool { return true }

// New implements rest.Storage.
func (r *BindingREST) New() runtime.Object { return &corev1.Binding{} }

// Destroy implements rest.Storage; the pods resource owns the store.
func (r *BindingREST) Destroy() {}

// PreserveRequestObjectMetaSystemFieldsOnSubresourceCreate implements
// rest.SubresourceObjectMetaPreserver: the Binding's uid and
// resourceVersion, when set, are preconditions on the pod.
func (r *BindingREST) PreserveRequestObjectMetaSystemFieldsOnSubresourceCreate() bool { return true }

// Create implements rest.NamedCreater. It answers with a Success Status, as
// Kubernetes does, rather than the pod.
func (r *BindingREST) Create(ctx context.Context, name string, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	binding, ok := obj.(*corev1.Binding)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not a Binding object: %#v", obj))
	}
	if name != binding.Name {
		return nil, apierrors.NewBadRequest("name in URL does not match name in Binding object")
	}
	// Kubernetes returns these as a plain error (a 500 with the field
	// errors as its message), not as an Invalid Status.
	if errs := validateBinding(binding); len(errs) != 0 {
		return nil, errs.ToAggregate()
	}
	if createValidation != nil {
		if err := createValidation(ctx, binding.DeepCopyObject()); err != nil {
			return nil, err
		}
	}
	if err := r.assign(ctx, binding, dryrun.IsDryRun(options.DryRun)); err != nil {
		return nil, err
	}
	return &metav1.Status{Status: metav1.StatusSuccess}, nil
}

// validateBinding is Kubernetes' ValidatePodBinding.
func validateBinding(b *corev1.Binding) field.ErrorList {
	var errs field.ErrorList
	if b.Target.Kind != "" && b.Target.Kind != "Node" {
		errs = append(errs, field.NotSupported(field.NewPath("target", "kind"), b.Target.Kind, []string{"Node", "<empty>"}))
	}
	if b.Target.Name == "" {
		errs = append(errs, field.Required(field.NewPath("target", "name"), ""))
	}
	return errs
}

// assign sets the pod's node, merges the binding's annotations into the
// pod's and marks it scheduled, in one compare-and-swap write. Failures that
// are not already API errors are conflicts on pods/binding.
func (r *BindingREST) assign(ctx context.Context, b *corev1.Binding, dryRun bool) error {
	key, err := r.store.KeyFunc(ctx, b.Name)
	if err != nil {
		return err
	}
	var preconditions *storage.Preconditions
	if b.UID != "" || b.ResourceVersion != "" {
		preconditions = &storage.Preconditions{}
		if b.UID != "" {
			uid := b.UID
			preconditions.UID = &uid
		}
		if b.ResourceVersion != "" {
			rv := b.ResourceVersion
			preconditions.ResourceVersion = &rv
		}
	}
	err = r.store.Storage.GuaranteedUpdate(ctx, key, &corev1.Pod{}, false, preconditions,
		storage.SimpleUpdate(func(obj runtime.Object) (runtime.Object, error) {
			pod, ok := obj.(*corev1.Pod)
			if !ok {
				return nil, fmt.Errorf("unexpected object: %#v", obj)
			}
			return pod, bind(pod, b.Target.Name, b.Annotations)
		}), dryRun, nil)
	if err == nil {
		return nil
	}
	resource := corev1.Resource("pods")
	err = storeerr.InterpretGetError(err, resource, b.Name)
	err = storeerr.InterpretUpdateError(err, resource, b.Name)
	if _, ok := err.(apierrors.APIStatus); !ok {
		err = apierrors.NewConflict(corev1.Resource("pods/binding"), b.Name, err)
	}
	return err
}

// bind changes pod as Kubernetes' setPodHostAndAnnotations does.
func bind(pod *corev1.Pod, node string, annotations map[string]string) error {
	switch {
	case pod.DeletionTimestamp != nil:
		return fmt.Errorf("pod %s is being deleted, cannot be assigned to a host", pod.Name)
	case pod.Spec.NodeName != "":
		return fmt.Errorf("pod %v is already assigned to node %q", pod.Name, pod.Spec.NodeName)
	case len(pod.Spec.SchedulingGates) != 0:
		return fmt.Errorf("pod %v has non-empty .spec.schedulingGates", pod.Name)
	}
	pod.Spec.NodeName = node
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	for k, v := range annotations {
		pod.Annotations[k] = v
	}
	setCondition(&pod.Status, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue})
	return nil
}

// setCondition adds or replaces a pod condition; its lastTransitionTime is
// now unless the status stays the same (Kubernetes' UpdatePodCondition).
func setCondition(status *corev1.PodStatus, c corev1.PodCondition) {
	c.LastTransitionTime = metav1.Now()
	for i := range status.Conditions {
		if status.Conditions[i].Type != c.Type {
			continue
		}
		if status.Conditions[i].Status == c.Status {
			c.LastTransitionTime = status.Conditions[i].LastTransitionTime
		}
		status.Conditions[i] = c
		return
	}
	status.Conditions = append(status.Conditions, c)
}

// LegacyBindingREST is the bindings resource: POST
// /api/v1/namespaces/NS/bindings with the pod's name in the Binding.
type LegacyBindingREST struct {
	binding *BindingREST
}

var (
	_ rest.Creater              = &LegacyBindingREST{}
	_ rest.SingularNameProvider = &LegacyBindingREST{}
)

// NamespaceScoped implements rest.Scoper.
func (r *LegacyBindingREST) NamespaceScoped() bool { return true }

// New implements rest.Storage.
func (r *LegacyBindingREST) New() runtime.Object { return r.binding.New() }

// Destroy implements rest.Storage.
func (r *LegacyBindingREST) Destroy() {}

// GetSingularName implements rest.SingularNameProvider.
func (r *LegacyBindingREST) GetSingularName() string { return "binding" }

// Create implements rest.Creater.
func (r *LegacyBindingREST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not a Binding object: %T", obj))
	}
	return r.binding.Create(ctx, m.GetName(), obj, createValidation, options)
}

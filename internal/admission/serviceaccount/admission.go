// Package serviceaccount is kube-apiserver's ServiceAccount admission
// plugin: a pod that names no service account runs as "default", the
// account must exist, and unless the pod or the account opts out, every
// container mounts a projected volume with a token for it, the cluster's CA
// certificate and the pod's namespace at
// /var/run/secrets/kubernetes.io/serviceaccount.
package serviceaccount

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/storage/names"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/utils/ptr"

	"github.com/portway/portway/internal/controllers/rootcacert"
	sacontroller "github.com/portway/portway/internal/controllers/serviceaccount"
	registrysa "github.com/portway/portway/internal/registry/serviceaccount"
	"github.com/portway/portway/internal/satoken"
)

const (
	// mountPath is where containers find the account's token.
	mountPath = "/var/run/secrets/kubernetes.io/serviceaccount"
	// volumePrefix starts the name of the volume this plugin adds.
	volumePrefix = "kube-api-access-"
)

// Plugin is the ServiceAccount admission plugin.
type Plugin struct {
	*admission.Handler
	client       kubernetes.Interface
	accounts     corelisters.ServiceAccountLister
	generateName func(string) string
}

var (
	_ admission.MutationInterface   = &Plugin{}
	_ admission.ValidationInterface = &Plugin{}
)

// New returns the plugin, reading ServiceAccounts from factory (which the
// caller starts) and, on a miss, from client.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory) *Plugin {
	return &Plugin{
		Handler:      admission.NewHandler(admission.Create, admission.Update),
		client:       client,
		accounts:     factory.Core().V1().ServiceAccounts().Lister(),
		generateName: names.SimpleNameGenerator.GenerateName,
	}
}

// Admit sets a new pod's service account and mounts its token.
func (p *Plugin) Admit(ctx context.Context, a admission.Attributes, o admission.ObjectInterfaces) error {
	pod, ok := podOf(a)
	if !ok || a.GetOperation() != admission.Create {
		return nil
	}
	// The node made a mirror pod from its own manifest; changing it would
	// make the node delete it. Validate says what it may not use instead.
	if _, mirror := pod.Annotations[corev1.MirrorPodAnnotationKey]; mirror {
		return p.Validate(ctx, a, o)
	}
	if pod.Spec.ServiceAccountName == "" {
		pod.Spec.ServiceAccountName = sacontroller.Default
	}
	sa, err := p.account(ctx, a.GetNamespace(), pod.Spec.ServiceAccountName)
	if err != nil {
		return admission.NewForbidden(a, fmt.Errorf("error looking up service account %s/%s: %w", a.GetNamespace(), pod.Spec.ServiceAccountName, err))
	}
	if automount(sa, pod) {
		p.mountToken(pod)
	}
	if len(pod.Spec.ImagePullSecrets) == 0 && len(sa.ImagePullSecrets) > 0 {
		pod.Spec.ImagePullSecrets = make([]corev1.LocalObjectReference, len(sa.ImagePullSecrets))
		for i, s := range sa.ImagePullSecrets {
			pod.Spec.ImagePullSecrets[i].Name = s.Name
		}
	}
	return p.Validate(ctx, a, o)
}

// Validate checks that a new pod's service account exists, and what a
// mirror pod may not reference.
func (p *Plugin) Validate(ctx context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	pod, ok := podOf(a)
	if !ok || a.GetOperation() != admission.Create {
		return nil
	}
	if _, mirror := pod.Annotations[corev1.MirrorPodAnnotationKey]; mirror {
		if err := mirrorPodReferences(pod); err != nil {
			return admission.NewForbidden(a, err)
		}
		return nil
	}
	if pod.Spec.ServiceAccountName == "" {
		return admission.NewForbidden(a, fmt.Errorf("no service account specified for pod %s/%s", a.GetNamespace(), pod.Name))
	}
	sa, err := p.account(ctx, a.GetNamespace(), pod.Spec.ServiceAccountName)
	if err != nil {
		return admission.NewForbidden(a, fmt.Errorf("error looking up service account %s/%s: %v", a.GetNamespace(), pod.Spec.ServiceAccountName, err))
	}
	if enforce, _ := strconv.ParseBool(sa.Annotations[registrysa.EnforceMountableSecrets]); enforce {
		if err := limitSecretReferences(sa, pod); err != nil {
			return admission.NewForbidden(a, err)
		}
	}
	return nil
}

// podOf is the pod a request writes, if it writes one (not a subresource
// such as binding).
func podOf(a admission.Attributes) (*corev1.Pod, bool) {
	if a.GetResource().GroupResource() != corev1.Resource("pods") || a.GetSubresource() != "" {
		return nil, false
	}
	pod, ok := a.GetObject().(*corev1.Pod)
	return pod, ok
}

// account reads a ServiceAccount from the informer, then from the API: a
// pod may come right after its namespace, before the informer (or, for
// "default", the controller that makes it) has caught up. So "default" is
// asked for up to ten times.
func (p *Plugin) account(ctx context.Context, namespace, name string) (*corev1.ServiceAccount, error) {
	sa, err := p.accounts.ServiceAccounts(namespace).Get(name)
	if err == nil || !apierrors.IsNotFound(err) {
		return sa, err
	}
	attempts := 1
	if name == sacontroller.Default {
		attempts = 10
	}
	retry := time.Duration(100+rand.IntN(100)) * time.Millisecond
	for i := range attempts {
		if i > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(retry):
			}
		}
		sa, err := p.client.CoreV1().ServiceAccounts(namespace).Get(ctx, name, metav1.GetOptions{})
		if err == nil || !apierrors.IsNotFound(err) {
			return sa, err
		}
	}
	return nil, apierrors.NewNotFound(corev1.Resource("serviceaccount"), name)
}

// automount says whether the pod gets a token: the pod's choice, else the
// account's, else yes.
func automount(sa *corev1.ServiceAccount, pod *corev1.Pod) bool {
	if pod.Spec.AutomountServiceAccountToken != nil {
		return *pod.Spec.AutomountServiceAccountToken
	}
	if sa.AutomountServiceAccountToken != nil {
		return *sa.AutomountServiceAccountToken
	}
	return true
}

// mountToken mounts the token volume into every init and app container
// that mounts nothing at mountPath, adding the volume if the pod lacks one.
func (p *Plugin) mountToken(pod *corev1.Pod) {
	volume := ""
	for _, v := range pod.Spec.Volumes {
		if strings.HasPrefix(v.Name, volumePrefix) {
			volume = v.Name
			break
		}
	}
	hasVolume := volume != ""
	if !hasVolume {
		volume = p.generateName(volumePrefix)
	}
	needed := false
	for _, containers := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range containers {
			c := &containers[i]
			mounted := false
			for _, m := range c.VolumeMounts {
				mounted = mounted || m.MountPath == mountPath
			}
			if !mounted {
				c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: volume, ReadOnly: true, MountPath: mountPath})
				needed = true
			}
		}
	}
	if needed && !hasVolume {
		pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{
			Name: volume, VolumeSource: corev1.VolumeSource{Projected: tokenVolumeSource()},
		})
	}
}

// tokenVolumeSource is the projected volume of a service account token.
func tokenVolumeSource() *corev1.ProjectedVolumeSource {
	return &corev1.ProjectedVolumeSource{
		DefaultMode: ptr.To(corev1.ProjectedVolumeSourceDefaultMode),
		Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr.To[int64](satoken.WarnOnlyExpirationSeconds)}},
			{ConfigMap: &corev1.ConfigMapProjection{
				LocalObjectReference: corev1.LocalObjectReference{Name: rootcacert.Name},
				Items:                []corev1.KeyToPath{{Key: rootcacert.Key, Path: rootcacert.Key}},
			}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{
				Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"},
			}}}},
		},
	}
}

// mirrorPodReferences refuses a mirror pod that uses a service account,
// a secret or a token.
func mirrorPodReferences(pod *corev1.Pod) error {
	if pod.Spec.ServiceAccountName != "" {
		return fmt.Errorf("a mirror pod may not reference service accounts")
	}
	secrets := len(pod.Spec.ImagePullSecrets) > 0
	token := false
	for _, v := range pod.Spec.Volumes {
		secrets = secrets || volumeSecret(v)
		if v.Projected != nil {
			for _, s := range v.Projected.Sources {
				secrets = secrets || s.Secret != nil
				token = token || s.ServiceAccountToken != nil
			}
		}
	}
	for _, c := range pod.Spec.InitContainers {
		secrets = secrets || len(secretRefs(c)) > 0
	}
	for _, c := range pod.Spec.Containers {
		secrets = secrets || len(secretRefs(c)) > 0
	}
	for _, c := range pod.Spec.EphemeralContainers {
		secrets = secrets || len(secretRefs(corev1.Container{Env: c.Env, EnvFrom: c.EnvFrom})) > 0
	}
	switch {
	case secrets:
		return fmt.Errorf("a mirror pod may not reference secrets")
	case token:
		return fmt.Errorf("a mirror pod may not use ServiceAccountToken volume projections")
	}
	return nil
}

// volumeSecret says whether a volume reads a secret, by any of the volume
// types that take one (Kubernetes' VisitPodSecretNames).
func volumeSecret(v corev1.Volume) bool {
	s := v.VolumeSource
	switch {
	case s.Secret != nil, s.AzureFile != nil:
		return true
	case s.CSI != nil:
		return s.CSI.NodePublishSecretRef != nil
	case s.CephFS != nil:
		return s.CephFS.SecretRef != nil
	case s.Cinder != nil:
		return s.Cinder.SecretRef != nil
	case s.FlexVolume != nil:
		return s.FlexVolume.SecretRef != nil
	case s.RBD != nil:
		return s.RBD.SecretRef != nil
	case s.ScaleIO != nil:
		return s.ScaleIO.SecretRef != nil
	case s.ISCSI != nil:
		return s.ISCSI.SecretRef != nil
	case s.StorageOS != nil:
		return s.StorageOS.SecretRef != nil
	}
	return false
}

// limitSecretReferences refuses a pod that uses a secret its account does
// not list, for an account annotated kubernetes.io/enforce-mountable-secrets.
func limitSecretReferences(sa *corev1.ServiceAccount, pod *corev1.Pod) error {
	mountable := sets.New[string]()
	for _, s := range sa.Secrets {
		mountable.Insert(s.Name)
	}
	for _, v := range pod.Spec.Volumes {
		if v.Secret != nil && !mountable.Has(v.Secret.SecretName) {
			return fmt.Errorf("volume with secret.secretName=%q is not allowed because service account %s does not reference that secret", v.Secret.SecretName, sa.Name)
		}
	}
	for _, group := range []struct {
		kind       string
		containers []corev1.Container
	}{{"init container", pod.Spec.InitContainers}, {"container", pod.Spec.Containers}} {
		for _, c := range group.containers {
			for _, ref := range secretRefs(c) {
				if !mountable.Has(ref.secret) {
					return fmt.Errorf("%s %s with %s referencing secret.secretName=%q is not allowed because service account %s does not reference that secret", group.kind, c.Name, ref.from, ref.secret, sa.Name)
				}
			}
		}
	}
	pullable := sets.New[string]()
	for _, s := range sa.ImagePullSecrets {
		pullable.Insert(s.Name)
	}
	for i, ref := range pod.Spec.ImagePullSecrets {
		if !pullable.Has(ref.Name) {
			return fmt.Errorf("imagePullSecrets[%d].name=%q is not allowed because service account %s does not reference that imagePullSecret", i, ref.Name, sa.Name)
		}
	}
	return nil
}

// secretRef is a container's use of a secret: from says how ("envVar X" or
// "envFrom").
type secretRef struct{ from, secret string }

// secretRefs lists the secrets a container's environment reads, env first.
func secretRefs(c corev1.Container) []secretRef {
	var refs []secretRef
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			refs = append(refs, secretRef{"envVar " + e.Name, e.ValueFrom.SecretKeyRef.Name})
		}
	}
	for _, e := range c.EnvFrom {
		if e.SecretRef != nil {
			refs = append(refs, secretRef{"envFrom", e.SecretRef.Name})
		}
	}
	return refs
}

package serviceaccount

import (
	"context"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	sacontroller "github.com/portway/portway/internal/controllers/serviceaccount"
	registrysa "github.com/portway/portway/internal/registry/serviceaccount"
)

// newPlugin returns the plugin over a fake API holding objs, with informers
// synced, and names its volumes kube-api-access-abcde.
func newPlugin(t *testing.T, objs ...runtime.Object) (*Plugin, *fake.Clientset) {
	t.Helper()
	client := fake.NewClientset(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	p := New(client, factory)
	p.generateName = func(prefix string) string { return prefix + "abcde" }
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	return p, client
}

func account(name string, mutate ...func(*corev1.ServiceAccount)) *corev1.ServiceAccount {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}}
	for _, m := range mutate {
		m(sa)
	}
	return sa
}

func podCreate(pod *corev1.Pod, subresource string) admission.Attributes {
	return admission.NewAttributesRecord(pod, nil, corev1.SchemeGroupVersion.WithKind("Pod"), "ns", pod.Name,
		corev1.SchemeGroupVersion.WithResource("pods"), subresource, admission.Create, &metav1.CreateOptions{}, false, nil)
}

// expectAdmit admits pod and checks the error's text ("" for none).
func expectAdmit(t *testing.T, p *Plugin, pod *corev1.Pod, want string) {
	t.Helper()
	got := ""
	if err := p.Admit(context.Background(), podCreate(pod, ""), nil); err != nil {
		got = err.Error()
	}
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func twoContainers() *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}, Spec: corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "init"}},
		Containers:     []corev1.Container{{Name: "app"}, {Name: "own", VolumeMounts: []corev1.VolumeMount{{Name: "mine", MountPath: mountPath}}}},
	}}
}

func TestMountsDefaultAccountToken(t *testing.T) {
	p, _ := newPlugin(t, account(sacontroller.Default, func(sa *corev1.ServiceAccount) {
		sa.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "regcred"}}
	}))
	pod := twoContainers()
	if err := p.Admit(context.Background(), podCreate(pod, ""), nil); err != nil {
		t.Fatal(err)
	}
	if pod.Spec.ServiceAccountName != sacontroller.Default {
		t.Errorf("serviceAccountName %q", pod.Spec.ServiceAccountName)
	}
	want := corev1.VolumeMount{Name: "kube-api-access-abcde", ReadOnly: true, MountPath: mountPath}
	for _, c := range []corev1.Container{pod.Spec.InitContainers[0], pod.Spec.Containers[0]} {
		if len(c.VolumeMounts) != 1 || c.VolumeMounts[0] != want {
			t.Errorf("container %s mounts %+v, want %+v", c.Name, c.VolumeMounts, want)
		}
	}
	if m := pod.Spec.Containers[1].VolumeMounts; len(m) != 1 || m[0].Name != "mine" {
		t.Errorf("a container with its own mount at %s got %+v", mountPath, m)
	}
	if len(pod.Spec.Volumes) != 1 || pod.Spec.Volumes[0].Name != "kube-api-access-abcde" ||
		!reflect.DeepEqual(pod.Spec.Volumes[0].Projected, tokenVolumeSource()) {
		t.Errorf("volumes %+v", pod.Spec.Volumes)
	}
	if s := pod.Spec.ImagePullSecrets; len(s) != 1 || s[0].Name != "regcred" {
		t.Errorf("imagePullSecrets %+v, want the account's", s)
	}
	// What the admission test of a real cluster shows: token, CA, namespace.
	src := tokenVolumeSource()
	if *src.DefaultMode != 0o644 || *src.Sources[0].ServiceAccountToken.ExpirationSeconds != 3607 ||
		src.Sources[1].ConfigMap.Name != "kube-root-ca.crt" || src.Sources[2].DownwardAPI.Items[0].FieldRef.FieldPath != "metadata.namespace" {
		t.Errorf("volume source %+v", src)
	}
}

func TestAutomountChoice(t *testing.T) {
	for _, tc := range []struct {
		name    string
		pod, sa *bool
		mounted bool
	}{
		{"neither says", nil, nil, true},
		{"account says no", nil, ptr.To(false), false},
		{"pod says yes over the account", ptr.To(true), ptr.To(false), true},
		{"pod says no", ptr.To(false), nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := newPlugin(t, account("robot", func(sa *corev1.ServiceAccount) { sa.AutomountServiceAccountToken = tc.sa }))
			pod := twoContainers()
			pod.Spec.ServiceAccountName = "robot"
			pod.Spec.AutomountServiceAccountToken = tc.pod
			if err := p.Admit(context.Background(), podCreate(pod, ""), nil); err != nil {
				t.Fatal(err)
			}
			if got := len(pod.Spec.Volumes) == 1; got != tc.mounted {
				t.Errorf("volume added %v, want %v", got, tc.mounted)
			}
		})
	}
}

func TestMissingAccount(t *testing.T) {
	p, _ := newPlugin(t)
	pod := twoContainers()
	pod.Spec.ServiceAccountName = "robot"
	err := p.Admit(context.Background(), podCreate(pod, ""), nil)
	const want = `pods "p" is forbidden: error looking up service account ns/robot: serviceaccount "robot" not found`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
	if len(pod.Spec.Volumes) != 0 {
		t.Errorf("a refused pod was changed: %+v", pod.Spec.Volumes)
	}
}

// TestAccountNotYetInformed: an account the informer has not seen yet is
// read from the API.
func TestAccountNotYetInformed(t *testing.T) {
	p, client := newPlugin(t)
	p.accounts = informers.NewSharedInformerFactory(client, 0).Core().V1().ServiceAccounts().Lister() // never started
	if _, err := client.CoreV1().ServiceAccounts("ns").Create(context.Background(), account("robot"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := twoContainers()
	pod.Spec.ServiceAccountName = "robot"
	if err := p.Admit(context.Background(), podCreate(pod, ""), nil); err != nil {
		t.Fatal(err)
	}
}

func TestOnlyPodCreates(t *testing.T) {
	p, _ := newPlugin(t)
	pod := twoContainers()
	if err := p.Admit(context.Background(), podCreate(pod, "binding"), nil); err != nil {
		t.Fatal(err)
	}
	update := admission.NewAttributesRecord(pod, pod.DeepCopy(), corev1.SchemeGroupVersion.WithKind("Pod"), "ns", "p",
		corev1.SchemeGroupVersion.WithResource("pods"), "", admission.Update, &metav1.UpdateOptions{}, false, nil)
	if err := p.Admit(context.Background(), update, nil); err != nil {
		t.Fatal(err)
	}
	if pod.Spec.ServiceAccountName != "" || len(pod.Spec.Volumes) != 0 {
		t.Errorf("changed: %+v", pod.Spec)
	}
}

func TestEnforceMountableSecrets(t *testing.T) {
	enforced := func(sa *corev1.ServiceAccount) {
		sa.Annotations = map[string]string{registrysa.EnforceMountableSecrets: "true"}
		sa.Secrets = []corev1.ObjectReference{{Name: "listed"}}
	}
	for _, tc := range []struct {
		name string
		edit func(*corev1.Pod)
		want string
	}{
		{"listed volume", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "listed"}}}}
		}, ""},
		{"unlisted volume", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "other"}}}}
		}, `pods "p" is forbidden: volume with secret.secretName="other" is not allowed because service account robot does not reference that secret`},
		{"unlisted env", func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "PW", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "other"}}}}}
		}, `pods "p" is forbidden: container app with envVar PW referencing secret.secretName="other" is not allowed because service account robot does not reference that secret`},
		{"unlisted envFrom in an init container", func(p *corev1.Pod) {
			p.Spec.InitContainers[0].EnvFrom = []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "other"}}}}
		}, `pods "p" is forbidden: init container init with envFrom referencing secret.secretName="other" is not allowed because service account robot does not reference that secret`},
		{"unlisted pull secret", func(p *corev1.Pod) {
			p.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "other"}}
		}, `pods "p" is forbidden: imagePullSecrets[0].name="other" is not allowed because service account robot does not reference that imagePullSecret`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := newPlugin(t, account("robot", enforced))
			pod := twoContainers()
			pod.Spec.ServiceAccountName = "robot"
			tc.edit(pod)
			expectAdmit(t, p, pod, tc.want)
		})
	}
}

func TestMirrorPods(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*corev1.Pod)
		want string
	}{
		{"plain", func(*corev1.Pod) {}, ""},
		{"an account", func(p *corev1.Pod) { p.Spec.ServiceAccountName = "robot" },
			`pods "p" is forbidden: a mirror pod may not reference service accounts`},
		{"a CSI secret", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{
				Driver: "d", NodePublishSecretRef: &corev1.LocalObjectReference{Name: "s"}}}}}
		}, `pods "p" is forbidden: a mirror pod may not reference secrets`},
		{"a token", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{Projected: tokenVolumeSource()}}}
		}, `pods "p" is forbidden: a mirror pod may not use ServiceAccountToken volume projections`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := newPlugin(t)
			pod := twoContainers()
			pod.Annotations = map[string]string{corev1.MirrorPodAnnotationKey: "x"}
			tc.edit(pod)
			expectAdmit(t, p, pod, tc.want)
			if tc.want == "" && (pod.Spec.ServiceAccountName != "" || len(pod.Spec.Volumes) != 0) {
				t.Errorf("a mirror pod was changed: %+v", pod.Spec)
			}
		})
	}
}

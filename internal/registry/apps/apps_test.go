package apps

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"
	etcd3testing "k8s.io/apiserver/pkg/storage/etcd3/testing"
	"k8s.io/utils/ptr"

	"github.com/portway/portway/internal/registry"
)

// TestDeploymentDefaults checks apps/v1 SetDefaults_Deployment, and that the
// pod template gets the PodSpec defaults but not the Pod-only ones.
func TestDeploymentDefaults(t *testing.T) {
	d := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
		HostNetwork: true,
		Containers: []corev1.Container{{Name: "c", Image: "nginx",
			Ports:     []corev1.ContainerPort{{ContainerPort: 80}},
			Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}}},
	}}}}
	registry.Scheme.Default(d)
	spec := d.Spec
	want := appsv1.DeploymentSpec{
		Replicas: ptr.To[int32](1),
		Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
			RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: ptr.To(intstr.FromString("25%")), MaxSurge: ptr.To(intstr.FromString("25%"))}},
		RevisionHistoryLimit:    ptr.To[int32](10),
		ProgressDeadlineSeconds: ptr.To[int32](600),
	}
	spec.Template = corev1.PodTemplateSpec{}
	if !equality.Semantic.DeepEqual(spec, want) {
		t.Errorf("spec = %+v, want %+v", spec, want)
	}
	ps := d.Spec.Template.Spec
	c := ps.Containers[0]
	if ps.RestartPolicy != corev1.RestartPolicyAlways || ps.DNSPolicy != corev1.DNSClusterFirst ||
		ps.SchedulerName != corev1.DefaultSchedulerName || ps.SecurityContext == nil ||
		ps.TerminationGracePeriodSeconds == nil || *ps.TerminationGracePeriodSeconds != 30 ||
		c.ImagePullPolicy != corev1.PullAlways || c.TerminationMessagePath != corev1.TerminationMessagePathDefault ||
		c.Ports[0].Protocol != corev1.ProtocolTCP {
		t.Errorf("template spec not defaulted as a PodSpec: %+v", ps)
	}
	if ps.EnableServiceLinks != nil || c.Resources.Requests != nil || c.Ports[0].HostPort != 0 {
		t.Errorf("template got Pod-only defaults: enableServiceLinks %v, requests %v, hostPort %d",
			ps.EnableServiceLinks, c.Resources.Requests, c.Ports[0].HostPort)
	}

	recreate := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](0),
		Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}}}
	registry.Scheme.Default(recreate)
	if recreate.Spec.Strategy.RollingUpdate != nil || *recreate.Spec.Replicas != 0 {
		t.Errorf("Recreate deployment defaulted to %+v", recreate.Spec)
	}

	rs := &appsv1.ReplicaSet{}
	registry.Scheme.Default(rs)
	if rs.Spec.Replicas == nil || *rs.Spec.Replicas != 1 || rs.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		t.Errorf("replicaset defaulted to %+v", rs.Spec)
	}
}

// newStorage serves deployments and replicasets from an etcd of the test's
// own, with garbage collection on as in portway server.
func newStorage(t *testing.T, build func(generic.RESTOptionsGetter) (map[string]rest.Storage, error), resource string) map[string]rest.Storage {
	t.Helper()
	_, cfg := etcd3testing.NewUnsecuredEtcd3TestClientServer(t)
	cfg.Codec = registry.Codecs.LegacyCodec(appsv1.SchemeGroupVersion)
	cfg.Prefix = "/registry"
	opts := generic.RESTOptions{
		StorageConfig:           cfg.ForResource(appsv1.Resource(resource)),
		Decorator:               generic.UndecoratedStorage,
		ResourcePrefix:          resource,
		DeleteCollectionWorkers: 1,
		EnableGarbageCollection: true,
	}
	s, err := build(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s[resource].Destroy() })
	return s
}

func webDeployment() *appsv1.Deployment {
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "agnhost", Image: "registry.k8s.io/e2e-test-images/agnhost:2.40"}}},
			},
		},
		// Status on create is dropped.
		Status: appsv1.DeploymentStatus{Replicas: 7, ObservedGeneration: 9},
	}
	registry.Scheme.Default(d)
	return d
}

// update applies change to the stored object through rest.Updater.
func update[T runtime.Object](t *testing.T, ctx context.Context, r rest.Storage, name string, change func(T)) (T, error) {
	t.Helper()
	obj, _, err := r.(rest.Updater).Update(ctx, name, rest.DefaultUpdatedObjectInfo(nil, func(_ context.Context, _, old runtime.Object) (runtime.Object, error) {
		newObj := old.DeepCopyObject().(T)
		change(newObj)
		return newObj, nil
	}), rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{})
	if err != nil {
		var zero T
		return zero, err
	}
	return obj.(T), nil
}

func TestDeploymentStrategy(t *testing.T) {
	s := newStorage(t, NewDeploymentStorage, "deployments")
	ctx := request.WithNamespace(context.Background(), "default")
	for _, sub := range []string{"deployments", "deployments/status", "deployments/scale"} {
		if s[sub] == nil {
			t.Fatalf("no %s", sub)
		}
	}
	obj, err := s["deployments"].(rest.Creater).Create(ctx, webDeployment(), rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d := obj.(*appsv1.Deployment)
	if d.Generation != 1 || !equality.Semantic.DeepEqual(d.Status, appsv1.DeploymentStatus{}) {
		t.Errorf("created generation %d status %+v, want 1 and an empty status", d.Generation, d.Status)
	}

	// A label change is no spec change; an image change is.
	if d, err = update(t, ctx, s["deployments"], "web", func(d *appsv1.Deployment) { d.Labels = map[string]string{"x": "y"} }); err != nil || d.Generation != 1 {
		t.Errorf("after a label change: generation %v, err %v; want 1", d.Generation, err)
	}
	if d, err = update(t, ctx, s["deployments"], "web", func(d *appsv1.Deployment) { d.Annotations = map[string]string{"note": "n"} }); err != nil || d.Generation != 2 {
		t.Errorf("after an annotation change: generation %v, err %v; want 2", d.Generation, err)
	}
	if d, err = update(t, ctx, s["deployments"], "web", func(d *appsv1.Deployment) {
		d.Spec.Template.Spec.Containers[0].Image = "nginx"
		d.Status.Replicas = 5 // ignored: status goes through deployments/status
	}); err != nil || d.Generation != 3 || d.Status.Replicas != 0 {
		t.Errorf("after an image change: generation %v, status %+v, err %v; want 3 and no status", d.Generation, d.Status, err)
	}

	// The status subresource writes status only, and leaves the generation.
	if d, err = update(t, ctx, s["deployments/status"], "web", func(d *appsv1.Deployment) {
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: 3, UpdatedReplicas: 3}
		d.Spec.Replicas = ptr.To[int32](10)
	}); err != nil || d.Status.Replicas != 3 || *d.Spec.Replicas != 3 || d.Generation != 3 {
		t.Errorf("status write: %+v / %+v generation %d, err %v", d.Spec, d.Status, d.Generation, err)
	}
	_, err = update(t, ctx, s["deployments/status"], "web", func(d *appsv1.Deployment) { d.Status.ReadyReplicas = 4 })
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "status.readyReplicas: Invalid value: 4: cannot be greater than status.replicas") {
		t.Errorf("bad status write: %v", err)
	}

	// The selector is immutable.
	_, err = update(t, ctx, s["deployments"], "web", func(d *appsv1.Deployment) {
		d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web2"}}
		d.Spec.Template.Labels = map[string]string{"app": "web2"}
	})
	if !apierrors.IsInvalid(err) || err.Error() != `Deployment.apps "web" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web2"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable` {
		t.Errorf("selector change: %v", err)
	}

	// Scale: read, write through a Scale, and the checks on it.
	scale := s["deployments/scale"]
	got, err := scale.(rest.Getter).Get(ctx, "web", &metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sc := got.(*autoscalingv1.Scale)
	if sc.Name != "web" || sc.Namespace != "default" || sc.UID != d.UID || sc.Spec.Replicas != 3 ||
		sc.Status.Replicas != 3 || sc.Status.Selector != "app=web" || sc.ResourceVersion != d.ResourceVersion {
		t.Errorf("scale = %+v", sc)
	}
	got, err = update(t, ctx, scale, "web", func(sc *autoscalingv1.Scale) { sc.Spec.Replicas = 5 })
	if err != nil || got.(*autoscalingv1.Scale).Spec.Replicas != 5 {
		t.Fatalf("scale to 5: %v, %v", got, err)
	}
	obj, _ = s["deployments"].(rest.Getter).Get(ctx, "web", &metav1.GetOptions{})
	if d = obj.(*appsv1.Deployment); *d.Spec.Replicas != 5 || d.Generation != 4 {
		t.Errorf("after scaling: replicas %d generation %d, want 5 and 4", *d.Spec.Replicas, d.Generation)
	}
	_, err = update(t, ctx, scale, "web", func(sc *autoscalingv1.Scale) { sc.Spec.Replicas = -1 })
	if !apierrors.IsInvalid(err) || err.Error() != `Scale.autoscaling "web" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0` {
		t.Errorf("scale to -1: %v", err)
	}
	_, err = update(t, ctx, scale, "web", func(sc *autoscalingv1.Scale) { sc.UID = "other"; sc.Spec.Replicas = 1 })
	if !apierrors.IsConflict(err) {
		t.Errorf("scale with another uid: %v, want a conflict", err)
	}
	_, err = update(t, ctx, scale, "web", func(sc *autoscalingv1.Scale) { sc.ResourceVersion = "1"; sc.Spec.Replicas = 1 })
	if !apierrors.IsConflict(err) {
		t.Errorf("scale with a stale resourceVersion: %v, want a conflict", err)
	}
	if _, err = scale.(rest.Getter).Get(ctx, "nope", &metav1.GetOptions{}); !apierrors.IsNotFound(err) || err.Error() != `deployments/scale.apps "nope" not found` {
		t.Errorf("scale of a missing deployment: %v", err)
	}
}

// TestDeletePropagation: background deletion (the default) deletes at
// once; orphan and foreground leave the object with the finalizer the
// garbage collector acts on.
func TestDeletePropagation(t *testing.T) {
	s := newStorage(t, NewDeploymentStorage, "deployments")
	ctx := request.WithNamespace(context.Background(), "default")
	deleter := s["deployments"].(rest.GracefulDeleter)
	for _, tc := range []struct {
		policy    *metav1.DeletionPropagation
		finalizer string
	}{
		{nil, ""},
		{ptr.To(metav1.DeletePropagationBackground), ""},
		{ptr.To(metav1.DeletePropagationOrphan), metav1.FinalizerOrphanDependents},
		{ptr.To(metav1.DeletePropagationForeground), metav1.FinalizerDeleteDependents},
	} {
		if _, err := s["deployments"].(rest.Creater).Create(ctx, webDeployment(), rest.ValidateAllObjectFunc, &metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		obj, deleted, err := deleter.Delete(ctx, "web", rest.ValidateAllObjectFunc, &metav1.DeleteOptions{PropagationPolicy: tc.policy})
		if err != nil {
			t.Fatal(err)
		}
		name := "default"
		if tc.policy != nil {
			name = string(*tc.policy)
		}
		if tc.finalizer == "" {
			if !deleted {
				t.Errorf("%s: not deleted at once", name)
			}
			continue
		}
		d := obj.(*appsv1.Deployment)
		if deleted || d.DeletionTimestamp == nil || len(d.Finalizers) != 1 || d.Finalizers[0] != tc.finalizer {
			t.Errorf("%s: deleted %v, deletionTimestamp %v, finalizers %v; want it kept with %s", name, deleted, d.DeletionTimestamp, d.Finalizers, tc.finalizer)
		}
		// What the garbage collector does once dependents are handled.
		if _, err := update(t, ctx, s["deployments"], "web", func(d *appsv1.Deployment) { d.Finalizers = nil }); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReplicaSetStrategy(t *testing.T) {
	s := newStorage(t, NewReplicaSetStorage, "replicasets")
	ctx := request.WithNamespace(context.Background(), "default")
	web := webDeployment()
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web_1", Namespace: "default"},
		Spec:       appsv1.ReplicaSetSpec{Selector: web.Spec.Selector, Template: web.Spec.Template},
		Status:     appsv1.ReplicaSetStatus{Replicas: 2},
	}
	registry.Scheme.Default(rs)
	obj, err := s["replicasets"].(rest.Creater).Create(ctx, rs, rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
	if err == nil || !strings.Contains(err.Error(), `metadata.name: Invalid value: "web_1"`) {
		t.Fatalf("create with an invalid name: %v, %v", obj, err)
	}
	rs.Name = "web-1"
	if obj, err = s["replicasets"].(rest.Creater).Create(ctx, rs, rest.ValidateAllObjectFunc, &metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := obj.(*appsv1.ReplicaSet); got.Generation != 1 || got.Status.Replicas != 0 || *got.Spec.Replicas != 1 {
		t.Errorf("created %+v", got)
	}
	// Annotations do not bump a ReplicaSet's generation; spec changes do.
	got, err := update(t, ctx, s["replicasets"], "web-1", func(rs *appsv1.ReplicaSet) { rs.Annotations = map[string]string{"a": "b"} })
	if err != nil || got.Generation != 1 {
		t.Errorf("annotation change: generation %d, %v", got.Generation, err)
	}
	sc, err := update(t, ctx, s["replicasets/scale"], "web-1", func(sc *autoscalingv1.Scale) { sc.Spec.Replicas = 0 })
	if err != nil || sc.Spec.Replicas != 0 || sc.Status.Selector != "app=web" {
		t.Errorf("scale to 0: %+v, %v", sc, err)
	}
	obj, _ = s["replicasets"].(rest.Getter).Get(ctx, "web-1", &metav1.GetOptions{})
	if got := obj.(*appsv1.ReplicaSet); *got.Spec.Replicas != 0 || got.Generation != 2 {
		t.Errorf("after scaling: replicas %d generation %d", *got.Spec.Replicas, got.Generation)
	}
	if w := ReplicaSets.Warnings(rs, nil); len(w) != 0 {
		t.Errorf("warnings for %q: %v", rs.Name, w)
	}
	rs.Name = "web.1"
	if w := ReplicaSets.Warnings(rs, nil); len(w) != 1 || !strings.HasPrefix(w[0], "metadata.name: this is used in Pod names and hostnames, which can result in surprising behavior; a DNS label is recommended: [") {
		t.Errorf("warnings for %q: %v", rs.Name, w)
	}
}

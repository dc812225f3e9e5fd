package pod

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"
	etcd3testing "k8s.io/apiserver/pkg/storage/etcd3/testing"

	"github.com/portway/portway/internal/registry"
)

// newBindingStorage serves pods from an etcd of the test's own.
func newBindingStorage(t *testing.T) (map[string]rest.Storage, *BindingREST) {
	t.Helper()
	_, cfg := etcd3testing.NewUnsecuredEtcd3TestClientServer(t)
	cfg.Codec = registry.Codecs.LegacyCodec(corev1.SchemeGroupVersion)
	cfg.Prefix = "/registry"
	opts := generic.RESTOptions{
		StorageConfig:           cfg.ForResource(corev1.Resource("pods")),
		Decorator:               generic.UndecoratedStorage,
		ResourcePrefix:          "pods",
		DeleteCollectionWorkers: 1,
	}
	s, err := NewStorage(opts, Kubelets{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s["pods"].Destroy() })
	return s, s["pods/binding"].(*BindingREST)
}

// seed stores a pod as it is, deletionTimestamp included.
func seed(t *testing.T, ctx context.Context, b *BindingREST, p *corev1.Pod) {
	t.Helper()
	key, err := b.store.KeyFunc(ctx, p.Name)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.store.Storage.Create(ctx, key, p, &corev1.Pod{}, 0, false); err != nil {
		t.Fatal(err)
	}
}

func getPod(t *testing.T, ctx context.Context, s map[string]rest.Storage, name string) *corev1.Pod {
	t.Helper()
	obj, err := s["pods"].(rest.Getter).Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return obj.(*corev1.Pod)
}

func TestBinding(t *testing.T) {
	s, b := newBindingStorage(t)
	ctx := request.WithNamespace(context.Background(), "default")
	now := metav1.Now()
	unscheduled := corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
		Reason: "Unschedulable", Message: "0/1 nodes are available", LastTransitionTime: metav1.Unix(100, 0)}
	for _, p := range []*corev1.Pod{
		{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "uid-web", Annotations: map[string]string{"keep": "me"}},
			Status: corev1.PodStatus{Conditions: []corev1.PodCondition{unscheduled}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "bound", Namespace: "default", UID: "uid-bound"}, Spec: corev1.PodSpec{NodeName: "node-a"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "going", Namespace: "default", UID: "uid-going", DeletionTimestamp: &now, Finalizers: []string{"x/y"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "gated", Namespace: "default", UID: "uid-gated"},
			Spec: corev1.PodSpec{SchedulingGates: []corev1.PodSchedulingGate{{Name: "wait"}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "legacy", Namespace: "default", UID: "uid-legacy"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "dry", Namespace: "default", UID: "uid-dry"}},
	} {
		seed(t, ctx, b, p)
	}
	binding := func(name, node string, mod ...func(*corev1.Binding)) *corev1.Binding {
		bd := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Target: corev1.ObjectReference{Kind: "Node", Name: node}}
		for _, m := range mod {
			m(bd)
		}
		return bd
	}

	t.Run("binds", func(t *testing.T) {
		out, err := b.Create(ctx, "web", binding("web", "node-b", func(bd *corev1.Binding) {
			bd.Annotations = map[string]string{"scheduled-by": "test"}
			bd.UID = "uid-web"
		}), nil, &metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if st, ok := out.(*metav1.Status); !ok || st.Status != metav1.StatusSuccess {
			t.Errorf("answer = %#v, want a Success Status", out)
		}
		p := getPod(t, ctx, s, "web")
		if p.Spec.NodeName != "node-b" {
			t.Errorf("nodeName = %q, want node-b", p.Spec.NodeName)
		}
		if p.Annotations["keep"] != "me" || p.Annotations["scheduled-by"] != "test" {
			t.Errorf("annotations = %v, want the pod's and the binding's", p.Annotations)
		}
		if len(p.Status.Conditions) != 1 {
			t.Fatalf("conditions = %+v, want one", p.Status.Conditions)
		}
		c := p.Status.Conditions[0]
		if c.Type != corev1.PodScheduled || c.Status != corev1.ConditionTrue || c.Reason != "" || c.Message != "" ||
			!c.LastTransitionTime.After(unscheduled.LastTransitionTime.Time) {
			t.Errorf("condition = %+v, want PodScheduled True, no reason, a new transition time", c)
		}
	})

	for _, tc := range []struct {
		name    string
		url     string
		binding *corev1.Binding
		check   func(error) bool
		msg     string
	}{
		{"already bound", "bound", binding("bound", "node-b"), apierrors.IsConflict,
			`Operation cannot be fulfilled on pods/binding "bound": pod bound is already assigned to node "node-a"`},
		{"being deleted", "going", binding("going", "node-b"), apierrors.IsConflict,
			`Operation cannot be fulfilled on pods/binding "going": pod going is being deleted, cannot be assigned to a host`},
		{"scheduling gates", "gated", binding("gated", "node-b"), apierrors.IsConflict,
			`Operation cannot be fulfilled on pods/binding "gated": pod gated has non-empty .spec.schedulingGates`},
		{"no such pod", "nope", binding("nope", "node-b"), apierrors.IsNotFound, `pods "nope" not found`},
		{"name mismatch", "web", binding("other", "node-b"), apierrors.IsBadRequest,
			"name in URL does not match name in Binding object"},
		{"uid precondition", "dry", binding("dry", "node-b", func(bd *corev1.Binding) { bd.UID = types.UID("other") }),
			apierrors.IsConflict, `Operation cannot be fulfilled on pods "dry": StorageError: invalid object, Code: 4, Key: /registry/pods/default/dry, ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: UID in precondition: other, UID in object meta: uid-dry`},
		{"no target name", "dry", binding("dry", ""), func(err error) bool { return !apierrors.IsConflict(err) },
			"target.name: Required value"},
		{"target not a node", "dry", binding("dry", "x", func(bd *corev1.Binding) { bd.Target.Kind = "Pod" }),
			func(err error) bool { return err != nil }, `target.kind: Unsupported value: "Pod": supported values: "Node", "<empty>"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := b.Create(ctx, tc.url, tc.binding, nil, &metav1.CreateOptions{})
			if err == nil || !tc.check(err) || err.Error() != tc.msg {
				t.Errorf("error = %v, want %s", err, tc.msg)
			}
		})
	}

	t.Run("dry run", func(t *testing.T) {
		if _, err := b.Create(ctx, "dry", binding("dry", "node-b"), nil, &metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
			t.Fatal(err)
		}
		if p := getPod(t, ctx, s, "dry"); p.Spec.NodeName != "" {
			t.Errorf("nodeName = %q after a dry run, want none", p.Spec.NodeName)
		}
	})

	t.Run("legacy bindings resource", func(t *testing.T) {
		legacy := s["bindings"].(rest.Creater)
		if _, err := legacy.Create(ctx, binding("legacy", "node-c"), nil, &metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if p := getPod(t, ctx, s, "legacy"); p.Spec.NodeName != "node-c" {
			t.Errorf("nodeName = %q, want node-c", p.Spec.NodeName)
		}
	})
}

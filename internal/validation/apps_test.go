package validation

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// podTemplate is a defaulted pod template labelled app=web.
func podTemplate() corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name: "agnhost", Image: "registry.k8s.io/e2e-test-images/agnhost:2.40",
				ImagePullPolicy: corev1.PullIfNotPresent, TerminationMessagePath: corev1.TerminationMessagePathDefault,
				TerminationMessagePolicy: corev1.TerminationMessageReadFile,
			}},
			RestartPolicy: corev1.RestartPolicyAlways, DNSPolicy: corev1.DNSClusterFirst,
			TerminationGracePeriodSeconds: ptr.To[int64](30), SecurityContext: &corev1.PodSecurityContext{},
			SchedulerName: corev1.DefaultSchedulerName,
		},
	}
}

// deployment is a defaulted, valid Deployment changed by mutate.
func deployment(mutate ...func(*appsv1.Deployment)) *appsv1.Deployment {
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: podTemplate(),
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{
					MaxUnavailable: ptr.To(intstr.FromString("25%")), MaxSurge: ptr.To(intstr.FromString("25%"))}},
			RevisionHistoryLimit:    ptr.To[int32](10),
			ProgressDeadlineSeconds: ptr.To[int32](600),
		},
	}
	for _, m := range mutate {
		m(d)
	}
	return d
}

// replicaSet is a defaulted, valid ReplicaSet changed by mutate.
func replicaSet(mutate ...func(*appsv1.ReplicaSet)) *appsv1.ReplicaSet {
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web-5d8f", Namespace: "default"},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: podTemplate(),
		},
	}
	for _, m := range mutate {
		m(rs)
	}
	return rs
}

func rollingUpdate(maxUnavailable, maxSurge intstr.IntOrString) func(*appsv1.Deployment) {
	return func(d *appsv1.Deployment) {
		d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxUnavailable: &maxUnavailable, MaxSurge: &maxSurge}
	}
}

var deploymentCases = []createCase[*appsv1.Deployment]{
	{name: "valid", obj: deployment()},
	{name: "garbage collector finalizers are standard, others must be qualified",
		obj: deployment(func(d *appsv1.Deployment) {
			d.Finalizers = []string{metav1.FinalizerOrphanDependents, metav1.FinalizerDeleteDependents, "example.com/hold", "hold"}
		}),
		want: []string{`metadata.finalizers[3]: Invalid value: "hold": name is neither a standard finalizer name nor is it fully qualified`}},
	{name: "template labels do not match the selector",
		obj:  deployment(func(d *appsv1.Deployment) { d.Spec.Template.Labels = map[string]string{"app": "other"} }),
		want: []string{"spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"other\"}: `selector` does not match template `labels`"}},
	{name: "no selector",
		obj: deployment(func(d *appsv1.Deployment) { d.Spec.Selector = nil }),
		want: []string{
			"spec.selector: Required value",
			"spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`",
		}},
	{name: "empty selector",
		obj:  deployment(func(d *appsv1.Deployment) { d.Spec.Selector = &metav1.LabelSelector{} }),
		want: []string{"spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"}},
	{name: "bad selector operator",
		obj: deployment(func(d *appsv1.Deployment) {
			d.Spec.Selector.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "tier", Operator: "Maybe"}}
		}),
		want: []string{
			`spec.selector.matchExpressions[0].operator: Invalid value: "Maybe": not a valid selector operator`,
			`spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web"}, MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{Key:"tier", Operator:"Maybe", Values:[]string(nil)}}}: invalid label selector`,
		}},
	{name: "negative replicas, minReadySeconds and revisionHistoryLimit",
		obj: deployment(func(d *appsv1.Deployment) {
			d.Spec.Replicas = ptr.To[int32](-1)
			d.Spec.MinReadySeconds = -5
			d.Spec.RevisionHistoryLimit = ptr.To[int32](-2)
		}),
		want: []string{
			"spec.replicas: Invalid value: -1: must be greater than or equal to 0",
			"spec.minReadySeconds: Invalid value: -5: must be greater than or equal to 0",
			"spec.revisionHistoryLimit: Invalid value: -2: must be greater than or equal to 0",
		}},
	{name: "progress deadline not above minReadySeconds",
		obj:  deployment(func(d *appsv1.Deployment) { d.Spec.MinReadySeconds = 600 }),
		want: []string{"spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds"}},
	{name: "maxSurge and maxUnavailable both 0",
		obj:  deployment(rollingUpdate(intstr.FromInt32(0), intstr.FromString("0%"))),
		want: []string{`spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:0, IntVal:0, StrVal:""}: may not be 0 when ` + "`maxSurge`" + ` is 0`}},
	{name: "bad percentages",
		obj: deployment(rollingUpdate(intstr.FromString("150%"), intstr.FromString("abc"))),
		want: []string{
			`spec.strategy.rollingUpdate.maxSurge: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"abc"}: a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')`,
			`spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"150%"}: must not be greater than 100%`,
		}},
	{name: "negative maxSurge",
		obj:  deployment(rollingUpdate(intstr.FromInt32(1), intstr.FromInt32(-1))),
		want: []string{"spec.strategy.rollingUpdate.maxSurge: Invalid value: -1: must be greater than or equal to 0"}},
	{name: "Recreate with rollingUpdate",
		obj:  deployment(func(d *appsv1.Deployment) { d.Spec.Strategy.Type = appsv1.RecreateDeploymentStrategyType }),
		want: []string{"spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"}},
	{name: "unknown strategy",
		obj:  deployment(func(d *appsv1.Deployment) { d.Spec.Strategy = appsv1.DeploymentStrategy{Type: "Canary"} }),
		want: []string{`spec.strategy: Unsupported value: apps.DeploymentStrategy{Type:"Canary", RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}: supported values: "Recreate", "RollingUpdate"`}},
	{name: "template restart policy and deadline",
		obj: deployment(func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
			d.Spec.Template.Spec.ActiveDeadlineSeconds = ptr.To[int64](10)
		}),
		want: []string{
			`spec.template.spec.restartPolicy: Unsupported value: "OnFailure": supported values: "Always"`,
			"spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in ReplicaSet is not Supported",
		}},
	{name: "template pod spec and labels",
		obj: deployment(func(d *appsv1.Deployment) {
			d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
			d.Spec.Template.Labels["bad key!"] = "x"
			d.Spec.Template.Spec.Containers[0].Name = "Agnhost"
			d.Spec.Template.Spec.Containers[0].Image = ""
		}),
		want: []string{
			`spec.template.labels: Invalid value: "bad key!": ` + qualifiedNameMsg,
			`spec.template.spec.containers[0].name: Invalid value: "Agnhost": ` + dns1123LabelMsg,
			"spec.template.spec.containers[0].image: Required value",
		}},
	{name: "ephemeral containers",
		obj: deployment(func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
				Name: "debug", Image: "busybox", ImagePullPolicy: corev1.PullIfNotPresent,
				TerminationMessagePath: corev1.TerminationMessagePathDefault, TerminationMessagePolicy: corev1.TerminationMessageReadFile}}}
		}),
		want: []string{"spec.template.spec.ephemeralContainers: Forbidden: ephemeral containers not allowed in pod template"}},
}

func TestValidateDeployment(t *testing.T) { runCreateCases(t, deploymentCases, ValidateDeployment) }

func TestValidateDeploymentUpdate(t *testing.T) {
	runUpdateCases(t, []updateCase[*appsv1.Deployment]{
		{name: "replicas and template may change", obj: deployment(func(d *appsv1.Deployment) {
			d.Spec.Replicas = ptr.To[int32](5)
			d.Spec.Template.Spec.Containers[0].Image = "nginx"
		}), old: deployment()},
		{name: "selector may not", obj: deployment(func(d *appsv1.Deployment) {
			d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", "tier": "x"}}
		}), old: deployment(),
			want: []string{`spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web", "tier":"x"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable`}},
	}, ValidateDeploymentUpdate)
}

func TestValidateDeploymentStatusUpdate(t *testing.T) {
	status := func(s appsv1.DeploymentStatus) *appsv1.Deployment {
		return deployment(func(d *appsv1.Deployment) { d.Status = s })
	}
	runUpdateCases(t, []updateCase[*appsv1.Deployment]{
		{name: "valid", obj: status(appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 2, AvailableReplicas: 2}),
			old: status(appsv1.DeploymentStatus{})},
		{name: "negative and inconsistent counts",
			obj: status(appsv1.DeploymentStatus{ObservedGeneration: -1, Replicas: 1, UpdatedReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 3, UnavailableReplicas: -1}),
			old: status(appsv1.DeploymentStatus{}),
			want: []string{
				"status.observedGeneration: Invalid value: -1: must be greater than or equal to 0",
				"status.unavailableReplicas: Invalid value: -1: must be greater than or equal to 0",
				"status.updatedReplicas: Invalid value: 2: cannot be greater than status.replicas",
				"status.readyReplicas: Invalid value: 2: cannot be greater than status.replicas",
				"status.availableReplicas: Invalid value: 3: cannot be greater than status.replicas",
				"status.availableReplicas: Invalid value: 3: cannot be greater than readyReplicas",
			}},
		{name: "collision count decremented",
			obj:  status(appsv1.DeploymentStatus{CollisionCount: ptr.To[int32](1)}),
			old:  status(appsv1.DeploymentStatus{CollisionCount: ptr.To[int32](2)}),
			want: []string{"status.collisionCount: Invalid value: 1: cannot be decremented"}},
		{name: "collision count removed",
			obj:  status(appsv1.DeploymentStatus{}),
			old:  status(appsv1.DeploymentStatus{CollisionCount: ptr.To[int32](2)}),
			want: []string{"status.collisionCount: Invalid value: 0: cannot be decremented"}},
	}, ValidateDeploymentStatusUpdate)
}

func TestValidateReplicaSet(t *testing.T) {
	runCreateCases(t, []createCase[*appsv1.ReplicaSet]{
		{name: "valid", obj: replicaSet()},
		{name: "unqualified finalizer",
			obj:  replicaSet(func(rs *appsv1.ReplicaSet) { rs.Finalizers = []string{"hold"} }),
			want: []string{`metadata.finalizers[0]: Invalid value: "hold": name is neither a standard finalizer name nor is it fully qualified`}},
		{name: "negative counts",
			obj: replicaSet(func(rs *appsv1.ReplicaSet) { rs.Spec.Replicas = ptr.To[int32](-3); rs.Spec.MinReadySeconds = -1 }),
			want: []string{
				"spec.replicas: Invalid value: -3: must be greater than or equal to 0",
				"spec.minReadySeconds: Invalid value: -1: must be greater than or equal to 0",
			}},
		{name: "selector mismatch",
			obj:  replicaSet(func(rs *appsv1.ReplicaSet) { rs.Spec.Template.Labels = nil }),
			want: []string{"spec.template.metadata.labels: Invalid value: map[string]string(nil): `selector` does not match template `labels`"}},
		{name: "empty selector is worded for deployments",
			obj: replicaSet(func(rs *appsv1.ReplicaSet) {
				rs.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{}}
			}),
			want: []string{"spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"}},
	}, ValidateReplicaSet)
}

func TestValidateReplicaSetUpdate(t *testing.T) {
	runUpdateCases(t, []updateCase[*appsv1.ReplicaSet]{
		{name: "replicas may change", obj: replicaSet(func(rs *appsv1.ReplicaSet) { rs.Spec.Replicas = ptr.To[int32](0) }), old: replicaSet()},
		{name: "selector may not", obj: replicaSet(func(rs *appsv1.ReplicaSet) {
			rs.Spec.Selector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpExists}}}
		}), old: replicaSet(),
			want: []string{`spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{Key:"app", Operator:"Exists", Values:[]string(nil)}}}: field is immutable`}},
	}, ValidateReplicaSetUpdate)
}

func TestValidateReplicaSetStatusUpdate(t *testing.T) {
	status := func(s appsv1.ReplicaSetStatus) *appsv1.ReplicaSet {
		return replicaSet(func(rs *appsv1.ReplicaSet) { rs.Status = s })
	}
	runUpdateCases(t, []updateCase[*appsv1.ReplicaSet]{
		{name: "valid", obj: status(appsv1.ReplicaSetStatus{Replicas: 3, FullyLabeledReplicas: 3, ReadyReplicas: 3, AvailableReplicas: 1}), old: status(appsv1.ReplicaSetStatus{})},
		{name: "inconsistent counts",
			obj: status(appsv1.ReplicaSetStatus{Replicas: -1, FullyLabeledReplicas: 1, ReadyReplicas: 0, AvailableReplicas: 1, ObservedGeneration: -2}),
			old: status(appsv1.ReplicaSetStatus{}),
			want: []string{
				"status.replicas: Invalid value: -1: must be greater than or equal to 0",
				"status.observedGeneration: Invalid value: -2: must be greater than or equal to 0",
				"status.fullyLabeledReplicas: Invalid value: 1: cannot be greater than status.replicas",
				"status.readyReplicas: Invalid value: 0: cannot be greater than status.replicas",
				"status.availableReplicas: Invalid value: 1: cannot be greater than status.replicas",
				"status.availableReplicas: Invalid value: 1: cannot be greater than readyReplicas",
			}},
	}, ValidateReplicaSetStatusUpdate)
}

func TestValidateScale(t *testing.T) {
	runCreateCases(t, []createCase[*autoscalingv1.Scale]{
		{name: "valid", obj: &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"}, Spec: autoscalingv1.ScaleSpec{Replicas: 0}}},
		{name: "negative replicas",
			obj:  &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"}, Spec: autoscalingv1.ScaleSpec{Replicas: -1}},
			want: []string{"spec.replicas: Invalid value: -1: must be greater than or equal to 0"}},
	}, ValidateScale)
}

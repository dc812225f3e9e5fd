package validation

import (
	"testing"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func lease(spec coordinationv1.LeaseSpec) *coordinationv1.Lease {
	return &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: "node-a", Namespace: "kube-node-lease"},
		Spec:       spec,
	}
}

var leaseCases = []createCase[*coordinationv1.Lease]{
	{
		name: "node heartbeat",
		obj:  lease(coordinationv1.LeaseSpec{HolderIdentity: ptr.To("node-a"), LeaseDurationSeconds: ptr.To[int32](40)}),
	},
	{
		name: "bad duration and transitions",
		obj:  lease(coordinationv1.LeaseSpec{LeaseDurationSeconds: ptr.To[int32](0), LeaseTransitions: ptr.To[int32](-1)}),
		want: []string{
			`spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0`,
			`spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0`,
		},
	},
	{
		name: "strategies",
		obj:  lease(coordinationv1.LeaseSpec{Strategy: ptr.To(coordinationv1.OldestEmulationVersion), PreferredHolder: ptr.To("a")}),
	},
	{
		name: "unknown strategy",
		obj:  lease(coordinationv1.LeaseSpec{Strategy: ptr.To[coordinationv1.CoordinatedLeaseStrategy]("Newest")}),
		want: []string{`spec.strategy.strategy: Unsupported value: "Newest": supported values: "OldestEmulationVersion"`},
	},
	{
		name: "bad custom strategy",
		obj:  lease(coordinationv1.LeaseSpec{Strategy: ptr.To[coordinationv1.CoordinatedLeaseStrategy]("example.com/-x")}),
		want: []string{`spec.strategy.strategy: Invalid value: "example.com/-x": ` + qualifiedNameMsg},
	},
	{
		name: "preferred holder without strategy",
		obj:  lease(coordinationv1.LeaseSpec{PreferredHolder: ptr.To("a")}),
		want: []string{"spec.preferredHolder: Forbidden: may only be specified if `strategy` is defined"},
	},
}

func TestValidateLease(t *testing.T) {
	runCreateCases(t, leaseCases, ValidateLease)
}

func TestValidateLeaseUpdate(t *testing.T) {
	old := lease(coordinationv1.LeaseSpec{HolderIdentity: ptr.To("node-a")})
	obj := lease(coordinationv1.LeaseSpec{HolderIdentity: ptr.To("node-b"), LeaseTransitions: ptr.To[int32](1)})
	checkErrors(t, ValidateLeaseUpdate(obj, old), nil)
}

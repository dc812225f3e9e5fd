package apiserver

import (
	"context"
	"fmt"
	"net"
	"reflect"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// bootstrap creates what every Kubernetes cluster has from the start: the
// system namespaces and the default/kubernetes Service that points at the API.
type bootstrap struct {
	client       kubernetes.Interface
	kubernetesIP net.IP // first address of the service CIDR
	advertise    net.IP // where the API is reached
	port         int32
}

// SystemNamespaces exist in every cluster.
var SystemNamespaces = []string{corev1.NamespaceDefault, "kube-system", "kube-public", corev1.NamespaceNodeLease}

func (b bootstrap) run(ctx context.Context) error {
	// The loopback connection may need a moment after the listener opens.
	return wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		err := b.once(ctx)
		return err == nil, nil
	})
}

func (b bootstrap) once(ctx context.Context) error {
	for _, name := range SystemNamespaces {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if _, err := b.client.CoreV1().Namespaces().Create(ctx, ns, create); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	if err := b.ensureService(ctx); err != nil {
		return err
	}
	// Like kube-apiserver, publish no endpoints for a loopback address: no
	// pod could reach it.
	if b.advertise.IsLoopback() {
		return nil
	}
	return b.ensureEndpoints(ctx)
}

func (b bootstrap) ensureService(ctx context.Context) error {
	ports := []corev1.ServicePort{{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(b.port)}}
	svcs := b.client.CoreV1().Services(corev1.NamespaceDefault)
	svc, err := svcs.Get(ctx, "kubernetes", metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = svcs.Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "kubernetes",
				Labels: map[string]string{"component": "apiserver", "provider": "kubernetes"}},
			Spec: corev1.ServiceSpec{
				Type:            corev1.ServiceTypeClusterIP,
				ClusterIP:       b.kubernetesIP.String(),
				Ports:           ports,
				SessionAffinity: corev1.ServiceAffinityNone,
				IPFamilyPolicy:  ptr.To(corev1.IPFamilyPolicySingleStack),
			},
		}, create)
		return err
	}
	if err != nil {
		return err
	}
	if reflect.DeepEqual(svc.Spec.Ports, ports) {
		return nil
	}
	svc.Spec.Ports = ports // the API moved to another port since last start
	_, err = svcs.Update(ctx, svc, update)
	return err
}

// The API server's own objects are managed by "kube-apiserver", as in every
// Kubernetes cluster (clients look for that manager).
var (
	create = metav1.CreateOptions{FieldManager: "kube-apiserver"}
	update = metav1.UpdateOptions{FieldManager: "kube-apiserver"}
)

func (b bootstrap) ensureEndpoints(ctx context.Context) error {
	ep := &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Labels: map[string]string{"endpointslice.kubernetes.io/skip-mirror": "true"}},
		Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: b.advertise.String()}},
			Ports:     []corev1.EndpointPort{{Name: "https", Port: b.port, Protocol: corev1.ProtocolTCP}},
		}},
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Labels: map[string]string{
			discoveryv1.LabelServiceName: "kubernetes", discoveryv1.LabelManagedBy: "endpointslice-controller.k8s.io"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{b.advertise.String()}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("https"), Port: ptr.To(b.port), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	eps := b.client.CoreV1().Endpoints(corev1.NamespaceDefault)
	if cur, err := eps.Get(ctx, "kubernetes", metav1.GetOptions{}); err == nil {
		ep.ResourceVersion = cur.ResourceVersion
		_, err = eps.Update(ctx, ep, update)
		if err != nil {
			return fmt.Errorf("updating kubernetes endpoints: %w", err)
		}
	} else if _, err := eps.Create(ctx, ep, create); err != nil {
		return fmt.Errorf("creating kubernetes endpoints: %w", err)
	}
	slices := b.client.DiscoveryV1().EndpointSlices(corev1.NamespaceDefault)
	if cur, err := slices.Get(ctx, "kubernetes", metav1.GetOptions{}); err == nil {
		slice.ResourceVersion = cur.ResourceVersion
		_, err = slices.Update(ctx, slice, update)
		return err
	}
	_, err := slices.Create(ctx, slice, create)
	return err
}

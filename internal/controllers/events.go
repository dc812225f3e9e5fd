package controllers

import (
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
)

// StartEvents sends what b records to the API server as core/v1 Events,
// and logs it at level 3, as kube-controller-manager's controllers do; the
// returned func stops it.
func StartEvents(b record.EventBroadcaster, client kubernetes.Interface) (stop func()) {
	b.StartStructuredLogging(3)
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	return b.Shutdown
}

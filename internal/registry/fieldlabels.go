package registry

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// selectableFields lists, per kind, the field selector labels Kubernetes
// accepts besides metadata.name and metadata.namespace. A list or watch with
// any other label fails with "field label not supported".
var selectableFields = map[string][]string{
	"Pod": {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
		"spec.serviceAccountName", "spec.hostNetwork", "status.phase",
		"status.podIP", "status.podIPs", "status.nominatedNodeName"},
	"Node":      {"spec.unschedulable"},
	"Namespace": {"status.phase"},
	"Secret":    {"type"},
	"Service":   {"spec.clusterIP", "spec.type"},
	"Event": {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
		"involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
		"involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"},
}

func addFieldLabelConversions(s *runtime.Scheme) {
	for kind, labels := range selectableFields {
		allowed := append([]string{"metadata.name"}, labels...)
		if kind != "Node" && kind != "Namespace" {
			allowed = append(allowed, "metadata.namespace")
		}
		err := s.AddFieldLabelConversionFunc(corev1.SchemeGroupVersion.WithKind(kind),
			func(label, value string) (string, string, error) {
				if label == "spec.host" && kind == "Pod" { // what pre-1.0 clients send
					return "spec.nodeName", value, nil
				}
				if !slices.Contains(allowed, label) {
					return "", "", fmt.Errorf("field label not supported: %s", label)
				}
				return label, value, nil
			})
		if err != nil {
			panic(err)
		}
	}
}

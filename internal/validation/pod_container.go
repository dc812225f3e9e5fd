package validation

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Containers of a pod: names, images, ports, env, probes, lifecycle hooks,
// resources and (basic) security context.

// validateContainers checks the regular containers. Host ports must not
// collide across them, since they all run at once.
func validateContainers(containers []corev1.Container, vols map[string]corev1.VolumeSource, grace *int64, fldPath *field.Path) field.ErrorList {
	if len(containers) == 0 {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	var allErrs field.ErrorList
	names := sets.New[string]()
	for i := range containers {
		ctr := &containers[i]
		path := fldPath.Index(i)
		allErrs = append(allErrs, validateContainerCommon(ctr, vols, path)...)
		if names.Has(ctr.Name) {
			allErrs = append(allErrs, field.Duplicate(path.Child("name"), ctr.Name))
		} else {
			names.Insert(ctr.Name)
		}
		if ctr.Lifecycle != nil {
			allErrs = append(allErrs, validateLifecycle(ctr.Lifecycle, grace, path.Child("lifecycle"))...)
		}
		allErrs = append(allErrs, validateProbes(ctr, grace, path)...)
		if ctr.RestartPolicy != nil {
			allErrs = append(allErrs, field.Forbidden(path.Child("restartPolicy"), "may not be set for non-init containers"))
		}
	}
	return append(allErrs, validateHostPortConflicts(containers, fldPath)...)
}

// validateInitContainers checks the init containers. Their names must be
// unique among init and regular containers; only restartable ("sidecar")
// init containers may have probes and lifecycle hooks.
func validateInitContainers(containers, regular []corev1.Container, vols map[string]corev1.VolumeSource, grace *int64, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	names := sets.New[string]()
	for _, ctr := range regular {
		names.Insert(ctr.Name)
	}
	for i := range containers {
		ctr := &containers[i]
		path := fldPath.Index(i)
		allErrs = append(allErrs, validateContainerCommon(ctr, vols, path)...)

		restartable := false
		if ctr.RestartPolicy != nil {
			// Always is the only restart policy a container may have.
			restartable = *ctr.RestartPolicy == corev1.ContainerRestartPolicyAlways
			if !restartable {
				allErrs = append(allErrs, field.NotSupported(path.Child("restartPolicy"), *ctr.RestartPolicy, []corev1.ContainerRestartPolicy{corev1.ContainerRestartPolicyAlways}))
			}
		}
		if names.Has(ctr.Name) {
			allErrs = append(allErrs, field.Duplicate(path.Child("name"), ctr.Name))
		} else if ctr.Name != "" {
			names.Insert(ctr.Name)
		}
		// Init containers run one at a time, so host ports only collide
		// within one of them. Kubernetes reports such a collision as if it
		// were in initContainers[0]; we keep its path.
		allErrs = append(allErrs, validateHostPortConflicts([]corev1.Container{*ctr}, fldPath)...)

		if restartable {
			if ctr.Lifecycle != nil {
				allErrs = append(allErrs, validateLifecycle(ctr.Lifecycle, grace, path.Child("lifecycle"))...)
			}
			allErrs = append(allErrs, validateProbes(ctr, grace, path)...)
			continue
		}
		const msg = "may not be set for init containers without restartPolicy=Always"
		if ctr.Lifecycle != nil {
			allErrs = append(allErrs, field.Forbidden(path.Child("lifecycle"), msg))
		}
		if ctr.LivenessProbe != nil {
			allErrs = append(allErrs, field.Forbidden(path.Child("livenessProbe"), msg))
		}
		if ctr.ReadinessProbe != nil {
			allErrs = append(allErrs, field.Forbidden(path.Child("readinessProbe"), msg))
		}
		if ctr.StartupProbe != nil {
			allErrs = append(allErrs, field.Forbidden(path.Child("startupProbe"), msg))
		}
	}
	return allErrs
}

// ephemeralContainerFields are the container fields an ephemeral (debug)
// container may set: it must not take part in serving, so no ports, probes,
// lifecycle hooks or resources.
var ephemeralContainerFields = sets.New(
	"Name", "Image", "Command", "Args", "WorkingDir", "EnvFrom", "Env", "VolumeMounts", "VolumeDevices",
	"TerminationMessagePath", "TerminationMessagePolicy", "ImagePullPolicy", "SecurityContext", "Stdin", "StdinOnce", "TTY",
)

// validateEphemeralContainers checks ephemeral containers. (They cannot be
// set on create, but Kubernetes validates them before saying so.)
func validateEphemeralContainers(ephemeral []corev1.EphemeralContainer, containers, initContainers []corev1.Container, vols map[string]corev1.VolumeSource, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	others := sets.New[string]()
	for _, c := range slices.Concat(containers, initContainers) {
		others.Insert(c.Name)
	}
	names := others.Clone()
	for i := range ephemeral {
		ec := &ephemeral[i]
		idxPath := fldPath.Index(i)
		ctr := (*corev1.Container)(&ec.EphemeralContainerCommon)
		allErrs = append(allErrs, validateContainerCommon(ctr, vols, idxPath)...)
		allErrs = append(allErrs, validateImageTrimmed(ctr.Image, idxPath.Child("image"))...)
		if names.Has(ec.Name) {
			allErrs = append(allErrs, field.Duplicate(idxPath.Child("name"), ec.Name))
		} else {
			names.Insert(ec.Name)
		}
		if ec.TargetContainerName != "" && !others.Has(ec.TargetContainerName) {
			allErrs = append(allErrs, field.NotFound(idxPath.Child("targetContainerName"), ec.TargetContainerName))
		}
		// Every field set outside the allow-list, in struct order.
		v := reflect.ValueOf(ec.EphemeralContainerCommon)
		for j := 0; j < v.NumField(); j++ {
			name := v.Type().Field(j).Name
			if !ephemeralContainerFields.Has(name) && !v.Field(j).IsZero() {
				lcName := strings.ToLower(name[:1]) + name[1:]
				allErrs = append(allErrs, field.Forbidden(idxPath.Child(lcName), "cannot be set for an Ephemeral Container"))
			}
		}
		// Sub-path bind mounts outlive the container.
		for j, vm := range ec.VolumeMounts {
			if vm.SubPath != "" {
				allErrs = append(allErrs, field.Forbidden(idxPath.Child("volumeMounts").Index(j).Child("subPath"), "cannot be set for an Ephemeral Container"))
			}
			if vm.SubPathExpr != "" {
				allErrs = append(allErrs, field.Forbidden(idxPath.Child("volumeMounts").Index(j).Child("subPathExpr"), "cannot be set for an Ephemeral Container"))
			}
		}
	}
	return allErrs
}

// validateContainerCommon is what every kind of container must satisfy.
func validateContainerCommon(ctr *corev1.Container, vols map[string]corev1.VolumeSource, path *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if ctr.Name == "" {
		allErrs = append(allErrs, field.Required(path.Child("name"), ""))
	} else {
		allErrs = append(allErrs, validateDNS1123Label(ctr.Name, path.Child("name"))...)
	}
	if ctr.Image == "" {
		allErrs = append(allErrs, field.Required(path.Child("image"), ""))
	}
	allErrs = append(allErrs, validateEnum(ctr.TerminationMessagePolicy, path.Child("terminationMessagePolicy"),
		corev1.TerminationMessageReadFile, corev1.TerminationMessageFallbackToLogsOnError)...)
	allErrs = append(allErrs, validateContainerPorts(ctr.Ports, path.Child("ports"))...)
	allErrs = append(allErrs, validateEnv(ctr.Env, path.Child("env"))...)
	allErrs = append(allErrs, validateEnvFrom(ctr.EnvFrom, path.Child("envFrom"))...)
	allErrs = append(allErrs, validateVolumeMounts(ctr.VolumeMounts, vols, ctr, path.Child("volumeMounts"))...)
	// Kubernetes lists the pull policies sorted here.
	allErrs = append(allErrs, validateEnum(ctr.ImagePullPolicy, path.Child("imagePullPolicy"), corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever)...)
	allErrs = append(allErrs, validateResourceRequirements(&ctr.Resources, path.Child("resources"))...)
	allErrs = append(allErrs, validateSecurityContext(ctr.SecurityContext, path.Child("securityContext"))...)
	return allErrs
}

// validateContainerPorts: a port name is what a Service's targetPort refers
// to, so it must be a valid IANA service name and unique in the container.
func validateContainerPorts(ports []corev1.ContainerPort, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	names := sets.New[string]()
	for i, port := range ports {
		idxPath := fldPath.Index(i)
		if port.Name != "" {
			if msgs := validation.IsValidPortName(port.Name); len(msgs) != 0 {
				allErrs = append(allErrs, invalidEach(idxPath.Child("name"), port.Name, msgs)...)
			} else if names.Has(port.Name) {
				allErrs = append(allErrs, field.Duplicate(idxPath.Child("name"), port.Name))
			} else {
				names.Insert(port.Name)
			}
		}
		if port.ContainerPort == 0 {
			allErrs = append(allErrs, field.Required(idxPath.Child("containerPort"), ""))
		} else {
			allErrs = append(allErrs, invalidEach(idxPath.Child("containerPort"), port.ContainerPort, validation.IsValidPortNum(int(port.ContainerPort)))...)
		}
		if port.HostPort != 0 {
			allErrs = append(allErrs, invalidEach(idxPath.Child("hostPort"), port.HostPort, validation.IsValidPortNum(int(port.HostPort)))...)
		}
		if port.Protocol == "" {
			allErrs = append(allErrs, field.Required(idxPath.Child("protocol"), ""))
		} else if !supportedPortProtocols.Has(port.Protocol) {
			allErrs = append(allErrs, field.NotSupported(idxPath.Child("protocol"), port.Protocol, sets.List(supportedPortProtocols)))
		}
	}
	return allErrs
}

// validateHostPortConflicts: two ports may not bind the same protocol,
// host IP and host port.
func validateHostPortConflicts(containers []corev1.Container, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	seen := sets.New[string]()
	for i, ctr := range containers {
		for j, port := range ctr.Ports {
			if port.HostPort == 0 {
				continue
			}
			key := fmt.Sprintf("%s/%s/%d", port.Protocol, port.HostIP, port.HostPort)
			if seen.Has(key) {
				allErrs = append(allErrs, field.Duplicate(fldPath.Index(i).Child("ports").Index(j).Child("hostPort"), key))
			}
			seen.Insert(key)
		}
	}
	return allErrs
}

// validateEnv checks env vars. Kubernetes 1.32 enables
// RelaxedEnvironmentVariableValidation by default: any printable ASCII but
// "=" is allowed in a name.
func validateEnv(vars []corev1.EnvVar, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, ev := range vars {
		idxPath := fldPath.Index(i)
		if ev.Name == "" {
			allErrs = append(allErrs, field.Required(idxPath.Child("name"), ""))
		} else {
			allErrs = append(allErrs, invalidEach(idxPath.Child("name"), ev.Name, validation.IsRelaxedEnvVarName(ev.Name))...)
		}
		allErrs = append(allErrs, validateEnvVarValueFrom(ev, idxPath.Child("valueFrom"))...)
	}
	return allErrs
}

// Field paths the downward API offers, to env vars and to volume files.
var (
	envFieldPaths = sets.New(
		"metadata.name", "metadata.namespace", "metadata.uid",
		"spec.nodeName", "spec.serviceAccountName",
		"status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs",
	)
	volumeFieldPaths = sets.New(
		"metadata.name", "metadata.namespace", "metadata.labels", "metadata.annotations", "metadata.uid",
	)
	containerResourceFieldPaths = sets.New(
		"limits.cpu", "limits.memory", "limits.ephemeral-storage",
		"requests.cpu", "requests.memory", "requests.ephemeral-storage",
	)
	hugePagesFieldPrefixes = []string{"limits.hugepages-", "requests.hugepages-"}
)

// convertibleFieldPaths are the pod field labels Kubernetes' v1 conversion
// knows; anything else is an error before the per-use check.
var convertibleFieldPaths = sets.New(
	"metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid",
	"spec.nodeName", "spec.restartPolicy", "spec.serviceAccountName", "spec.schedulerName",
	"status.phase", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs",
)

func validateEnvVarValueFrom(ev corev1.EnvVar, fldPath *field.Path) field.ErrorList {
	from := ev.ValueFrom
	if from == nil {
		return nil
	}
	var allErrs field.ErrorList
	sources := 0
	if from.FieldRef != nil {
		sources++
		allErrs = append(allErrs, validateObjectFieldSelector(from.FieldRef, envFieldPaths, fldPath.Child("fieldRef"))...)
	}
	if from.ResourceFieldRef != nil {
		sources++
		allErrs = append(allErrs, validateResourceFieldSelector(from.ResourceFieldRef, false, fldPath.Child("resourceFieldRef"))...)
	}
	if from.ConfigMapKeyRef != nil {
		sources++
		allErrs = append(allErrs, validateKeySelector(from.ConfigMapKeyRef.Name, from.ConfigMapKeyRef.Key, fldPath.Child("configMapKeyRef"))...)
	}
	if from.SecretKeyRef != nil {
		sources++
		allErrs = append(allErrs, validateKeySelector(from.SecretKeyRef.Name, from.SecretKeyRef.Key, fldPath.Child("secretKeyRef"))...)
	}
	switch {
	case sources == 0:
		allErrs = append(allErrs, field.Invalid(fldPath, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"))
	case ev.Value != "":
		allErrs = append(allErrs, field.Invalid(fldPath, "", "may not be specified when `value` is not empty"))
	case sources > 1:
		allErrs = append(allErrs, field.Invalid(fldPath, "", "may not have more than one field specified at a time"))
	}
	return allErrs
}

// validateKeySelector checks a reference to one key of a ConfigMap or Secret.
func validateKeySelector(name, key string, fldPath *field.Path) field.ErrorList {
	allErrs := validateObjectName(name, apivalidation.NameIsDNSSubdomain, fldPath.Child("name"))
	if key == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("key"), ""))
	} else {
		allErrs = append(allErrs, invalidEach(fldPath.Child("key"), key, validation.IsConfigMapKey(key))...)
	}
	return allErrs
}

// validateObjectFieldSelector checks a downward API reference to a pod field.
// Labels and annotations may be picked one key at a time, as
// metadata.labels['key'].
func validateObjectFieldSelector(fs *corev1.ObjectFieldSelector, allowed sets.Set[string], fldPath *field.Path) field.ErrorList {
	if fs.APIVersion == "" {
		return field.ErrorList{field.Required(fldPath.Child("apiVersion"), "")}
	}
	if fs.FieldPath == "" {
		return field.ErrorList{field.Required(fldPath.Child("fieldPath"), "")}
	}

	path, subscript, subscripted := splitSubscriptedPath(fs.FieldPath)
	if err := checkFieldLabel(fs.APIVersion, fs.FieldPath, path, subscripted); err != "" {
		return field.ErrorList{field.Invalid(fldPath.Child("fieldPath"), fs.FieldPath, "error converting fieldPath: "+err)}
	}
	if !subscripted {
		if path == "spec.host" { // the v1.0 name of spec.nodeName
			path = "spec.nodeName"
		}
		if !allowed.Has(path) {
			return field.ErrorList{field.NotSupported(fldPath.Child("fieldPath"), path, sets.List(allowed))}
		}
		return nil
	}
	switch path {
	case "metadata.annotations":
		return validateQualifiedName(strings.ToLower(subscript), fldPath)
	case "metadata.labels":
		return validateQualifiedName(subscript, fldPath)
	}
	return field.ErrorList{field.Invalid(fldPath, path, "does not support subscript")}
}

// checkFieldLabel mirrors the errors of Kubernetes' v1 downward API field
// label conversion.
func checkFieldLabel(version, label, path string, subscripted bool) string {
	switch {
	case version != "v1":
		return "unsupported pod version: " + version
	case subscripted && path != "metadata.annotations" && path != "metadata.labels":
		return "field label does not support subscript: " + label
	case !subscripted && !convertibleFieldPaths.Has(label) && label != "spec.host":
		return "field label not supported: " + label
	}
	return ""
}

// splitSubscriptedPath splits "metadata.labels['key']" into its path and key.
func splitSubscriptedPath(fieldPath string) (string, string, bool) {
	if !strings.HasSuffix(fieldPath, "']") {
		return fieldPath, "", false
	}
	path, subscript, found := strings.Cut(strings.TrimSuffix(fieldPath, "']"), "['")
	if !found || path == "" {
		return fieldPath, "", false
	}
	return path, subscript, true
}

// validateResourceFieldSelector checks a downward API reference to a
// container's requests or limits. In a volume it must name the container.
func validateResourceFieldSelector(fs *corev1.ResourceFieldSelector, inVolume bool, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	switch {
	case inVolume && fs.ContainerName == "":
		allErrs = append(allErrs, field.Required(fldPath.Child("containerName"), ""))
	case fs.Resource == "":
		allErrs = append(allErrs, field.Required(fldPath.Child("resource"), ""))
	case !containerResourceFieldPaths.Has(fs.Resource) && !hasAnyPrefix(fs.Resource, hugePagesFieldPrefixes):
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("resource"), fs.Resource, sets.List(containerResourceFieldPaths)))
	}
	return append(allErrs, validateResourceDivisor(fs.Resource, fs.Divisor, fldPath)...)
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

var (
	cpuDivisors    = sets.New("1m", "1")
	memoryDivisors = sets.New("1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei")
)

const memoryDivisorsList = "1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei"

// validateResourceDivisor: the divisor scales the exposed value, and only
// round units make sense.
func validateResourceDivisor(name string, divisor resource.Quantity, fldPath *field.Path) field.ErrorList {
	if divisor.Cmp(resource.Quantity{}) == 0 {
		return nil
	}
	var allErrs field.ErrorList
	invalid := func(what string) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("divisor"), name, what))
	}
	d := divisor.String()
	switch name {
	case "limits.cpu", "requests.cpu":
		if !cpuDivisors.Has(d) {
			invalid("only divisor's values 1m and 1 are supported with the cpu resource")
		}
	case "limits.memory", "requests.memory":
		if !memoryDivisors.Has(d) {
			invalid("only divisor's values " + memoryDivisorsList + " are supported with the memory resource")
		}
	case "limits.ephemeral-storage", "requests.ephemeral-storage":
		if !memoryDivisors.Has(d) {
			invalid("only divisor's values " + memoryDivisorsList + " are supported with the local ephemeral storage resource")
		}
	}
	if hasAnyPrefix(name, hugePagesFieldPrefixes) && !memoryDivisors.Has(d) {
		invalid("only divisor's values " + memoryDivisorsList + " are supported with the hugepages resource")
	}
	return allErrs
}

// validateEnvFrom checks envFrom sources. Kubernetes reports a source with
// no or two references at envFrom, not at its index.
func validateEnvFrom(sources []corev1.EnvFromSource, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, ev := range sources {
		idxPath := fldPath.Index(i)
		if ev.Prefix != "" {
			allErrs = append(allErrs, invalidEach(idxPath.Child("prefix"), ev.Prefix, validation.IsRelaxedEnvVarName(ev.Prefix))...)
		}
		refs := 0
		if ev.ConfigMapRef != nil {
			refs++
			allErrs = append(allErrs, validateEnvSourceName(ev.ConfigMapRef.Name, idxPath.Child("configMapRef"))...)
		}
		if ev.SecretRef != nil {
			refs++
			allErrs = append(allErrs, validateEnvSourceName(ev.SecretRef.Name, idxPath.Child("secretRef"))...)
		}
		if refs == 0 {
			allErrs = append(allErrs, field.Invalid(fldPath, "", "must specify one of: `configMapRef` or `secretRef`"))
		} else if refs > 1 {
			allErrs = append(allErrs, field.Invalid(fldPath, "", "may not have more than one field specified at a time"))
		}
	}
	return allErrs
}

// validateEnvSourceName: Kubernetes checks these names as prefixes (a
// trailing "-" passes), an accident it keeps for compatibility.
func validateEnvSourceName(name string, fldPath *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(fldPath.Child("name"), "")}
	}
	return invalidEach(fldPath.Child("name"), name, apivalidation.NameIsDNSSubdomain(name, true))
}

func validateProbes(ctr *corev1.Container, grace *int64, path *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	// Liveness and startup probes succeed on the first success.
	if p := ctr.LivenessProbe; p != nil {
		allErrs = append(allErrs, validateProbe(p, grace, path.Child("livenessProbe"))...)
		if p.SuccessThreshold != 1 {
			allErrs = append(allErrs, field.Invalid(path.Child("livenessProbe", "successThreshold"), p.SuccessThreshold, "must be 1"))
		}
	}
	// A readiness failure does not kill the container, so a grace period
	// means nothing for it.
	if p := ctr.ReadinessProbe; p != nil {
		allErrs = append(allErrs, validateProbe(p, grace, path.Child("readinessProbe"))...)
		if p.TerminationGracePeriodSeconds != nil {
			allErrs = append(allErrs, field.Invalid(path.Child("readinessProbe", "terminationGracePeriodSeconds"), p.TerminationGracePeriodSeconds, "must not be set for readinessProbes"))
		}
	}
	if p := ctr.StartupProbe; p != nil {
		allErrs = append(allErrs, validateProbe(p, grace, path.Child("startupProbe"))...)
		if p.SuccessThreshold != 1 {
			allErrs = append(allErrs, field.Invalid(path.Child("startupProbe", "successThreshold"), p.SuccessThreshold, "must be 1"))
		}
	}
	return allErrs
}

func validateProbe(probe *corev1.Probe, grace *int64, fldPath *field.Path) field.ErrorList {
	h := &probe.ProbeHandler
	allErrs := validateHandler(handler{h.Exec, h.HTTPGet, h.TCPSocket, h.GRPC, nil}, grace, fldPath)
	for _, f := range []struct {
		name  string
		value int32
	}{
		{"initialDelaySeconds", probe.InitialDelaySeconds},
		{"timeoutSeconds", probe.TimeoutSeconds},
		{"periodSeconds", probe.PeriodSeconds},
		{"successThreshold", probe.SuccessThreshold},
		{"failureThreshold", probe.FailureThreshold},
	} {
		allErrs = append(allErrs, apivalidation.ValidateNonnegativeField(int64(f.value), fldPath.Child(f.name))...)
	}
	if g := probe.TerminationGracePeriodSeconds; g != nil && *g <= 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("terminationGracePeriodSeconds"), *g, "must be greater than 0"))
	}
	return allErrs
}

func validateLifecycle(lifecycle *corev1.Lifecycle, grace *int64, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, hook := range []struct {
		name string
		h    *corev1.LifecycleHandler
	}{{"postStart", lifecycle.PostStart}, {"preStop", lifecycle.PreStop}} {
		if h := hook.h; h != nil {
			allErrs = append(allErrs, validateHandler(handler{h.Exec, h.HTTPGet, h.TCPSocket, nil, h.Sleep}, grace, fldPath.Child(hook.name))...)
		}
	}
	return allErrs
}

// handler is the union of a probe's and a lifecycle hook's actions.
type handler struct {
	exec      *corev1.ExecAction
	httpGet   *corev1.HTTPGetAction
	tcpSocket *corev1.TCPSocketAction
	grpc      *corev1.GRPCAction
	sleep     *corev1.SleepAction
}

// validateHandler: exactly one action. Every action after the first is
// reported as forbidden, in this order.
func validateHandler(h handler, grace *int64, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	actions := []struct {
		name     string
		set      bool
		validate func(*field.Path) field.ErrorList
	}{
		{"exec", h.exec != nil, func(p *field.Path) field.ErrorList {
			if len(h.exec.Command) == 0 {
				return field.ErrorList{field.Required(p.Child("command"), "")}
			}
			return nil
		}},
		{"httpGet", h.httpGet != nil, func(p *field.Path) field.ErrorList { return validateHTTPGetAction(h.httpGet, p) }},
		{"tcpSocket", h.tcpSocket != nil, func(p *field.Path) field.ErrorList { return validatePortNumOrName(h.tcpSocket.Port, p.Child("port")) }},
		{"grpc", h.grpc != nil, func(p *field.Path) field.ErrorList {
			return validatePortNumOrName(intstr.FromInt32(h.grpc.Port), p.Child("port"))
		}},
		{"sleep", h.sleep != nil, func(p *field.Path) field.ErrorList { return validateSleepAction(h.sleep, grace, p) }},
	}
	count := 0
	for _, a := range actions {
		if !a.set {
			continue
		}
		if count > 0 {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child(a.name), "may not specify more than 1 handler type"))
			continue
		}
		count++
		allErrs = append(allErrs, a.validate(fldPath.Child(a.name))...)
	}
	if count == 0 {
		allErrs = append(allErrs, field.Required(fldPath, "must specify a handler type"))
	}
	return allErrs
}

func validateHTTPGetAction(http *corev1.HTTPGetAction, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if http.Path == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("path"), ""))
	}
	allErrs = append(allErrs, validatePortNumOrName(http.Port, fldPath.Child("port"))...)
	if http.Scheme != corev1.URISchemeHTTP && http.Scheme != corev1.URISchemeHTTPS {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("scheme"), http.Scheme, []corev1.URIScheme{corev1.URISchemeHTTP, corev1.URISchemeHTTPS}))
	}
	for _, header := range http.HTTPHeaders {
		allErrs = append(allErrs, invalidEach(fldPath.Child("httpHeaders"), header.Name, validation.IsHTTPHeaderName(header.Name))...)
	}
	return allErrs
}

// validatePortNumOrName checks a probe's port: a number, or the name of one
// of the container's ports.
func validatePortNumOrName(port intstr.IntOrString, fldPath *field.Path) field.ErrorList {
	switch port.Type {
	case intstr.Int:
		return invalidEach(fldPath, port.IntValue(), validation.IsValidPortNum(port.IntValue()))
	case intstr.String:
		return invalidEach(fldPath, port.StrVal, validation.IsValidPortName(port.StrVal))
	}
	return field.ErrorList{field.InternalError(fldPath, fmt.Errorf("unknown type: %v", port.Type))}
}

// validateSleepAction: a preStop sleep must fit in the grace period.
// PodLifecycleSleepActionAllowZero is off by default in 1.32, so zero is
// rejected too.
func validateSleepAction(sleep *corev1.SleepAction, grace *int64, fldPath *field.Path) field.ErrorList {
	if grace != nil && (sleep.Seconds <= 0 || sleep.Seconds > *grace) {
		msg := fmt.Sprintf("must be greater than 0 and less than terminationGracePeriodSeconds (%d). Enable AllowPodLifecycleSleepActionZeroValue feature gate for zero sleep.", *grace)
		return field.ErrorList{field.Invalid(fldPath, sleep.Seconds, msg)}
	}
	return nil
}

// validateSecurityContext checks a container's user and group IDs and the
// privilege escalation rule (see pod.go for what is not checked).
func validateSecurityContext(sc *corev1.SecurityContext, fldPath *field.Path) field.ErrorList {
	if sc == nil {
		return nil
	}
	var allErrs field.ErrorList
	if sc.RunAsUser != nil {
		allErrs = append(allErrs, invalidEach(fldPath.Child("runAsUser"), *sc.RunAsUser, validation.IsValidUserID(*sc.RunAsUser))...)
	}
	if sc.RunAsGroup != nil {
		allErrs = append(allErrs, invalidEach(fldPath.Child("runAsGroup"), *sc.RunAsGroup, validation.IsValidGroupID(*sc.RunAsGroup))...)
	}
	// A privileged process, or one with CAP_SYS_ADMIN, can always escalate.
	// (Kubernetes prints the whole security context here, pointers included,
	// so these messages never match byte for byte.)
	if sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
		if sc.Privileged != nil && *sc.Privileged {
			allErrs = append(allErrs, field.Invalid(fldPath, coreRepr{*sc}, "cannot set `allowPrivilegeEscalation` to false and `privileged` to true"))
		}
		if sc.Capabilities != nil {
			for _, c := range sc.Capabilities.Add {
				if c == "CAP_SYS_ADMIN" {
					allErrs = append(allErrs, field.Invalid(fldPath, coreRepr{*sc}, "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN"))
				}
			}
		}
	}
	return allErrs
}

package runtime

import (
	"fmt"
	"maps"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/portway/portway/internal/agnhost"
)

// builtIn lists the images portway runs itself, for messages.
const builtIn = "registry.k8s.io/e2e-test-images/agnhost (any tag)"

// command is what a container runs: a built-in image's program, or the
// container's own command from the node's filesystem. An image portway
// cannot run gives a waiting reason and message instead.
func (r *Runtime) command(spec *corev1.Container) (argv []string, reason, msg string) {
	if agnhost.IsImage(spec.Image) {
		if a, ok := agnhost.Command(spec.Command, spec.Args); ok {
			return append([]string{r.cfg.Self, "agnhost"}, a...), "", ""
		}
	}
	if len(spec.Command) > 0 {
		return append(append([]string(nil), spec.Command...), spec.Args...), "", ""
	}
	return nil, "UnsupportedImage", fmt.Sprintf(
		"portway runs no container images: %q is not built in (built in: %s); give the container a command to run from the node's filesystem",
		spec.Image, builtIn)
}

// environment is the container's environment as the kubelet builds it:
// Service variables, then envFrom, then env (later wins), with $(VAR)
// references expanded.
func (r *Runtime) environment(pod *corev1.Pod, spec *corev1.Container, podIP string) (map[string]string, error) {
	env := map[string]string{
		"PATH":     defaultPath,
		"HOSTNAME": hostname(pod),
	}
	for k, v := range r.serviceEnv(pod) {
		env[k] = v
	}
	for _, from := range spec.EnvFrom {
		data, err := r.envFrom(pod.Namespace, from)
		if err != nil {
			return nil, err
		}
		for k, v := range data {
			env[from.Prefix+k] = v
		}
	}
	for _, e := range spec.Env {
		v := e.Value
		if e.ValueFrom != nil {
			var err error
			if v, err = r.envValueFrom(pod, spec, e.ValueFrom, podIP); err != nil {
				return nil, err
			}
		} else {
			v = expand(v, env)
		}
		env[e.Name] = v
	}
	return env, nil
}

// defaultPath is the PATH a container gets unless it sets one.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

func envList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

func (r *Runtime) envFrom(ns string, from corev1.EnvFromSource) (map[string]string, error) {
	switch {
	case from.ConfigMapRef != nil:
		cm, err := r.cms.ConfigMaps(ns).Get(from.ConfigMapRef.Name)
		if err != nil {
			if from.ConfigMapRef.Optional != nil && *from.ConfigMapRef.Optional {
				return nil, nil
			}
			return nil, fmt.Errorf("configmap %q not found", from.ConfigMapRef.Name)
		}
		return cm.Data, nil
	case from.SecretRef != nil:
		s, err := r.secrets.Secrets(ns).Get(from.SecretRef.Name)
		if err != nil {
			if from.SecretRef.Optional != nil && *from.SecretRef.Optional {
				return nil, nil
			}
			return nil, fmt.Errorf("secret %q not found", from.SecretRef.Name)
		}
		out := map[string]string{}
		for k, v := range s.Data {
			out[k] = string(v)
		}
		return out, nil
	}
	return nil, nil
}

func (r *Runtime) envValueFrom(pod *corev1.Pod, spec *corev1.Container, from *corev1.EnvVarSource, podIP string) (string, error) {
	switch {
	case from.FieldRef != nil:
		return fieldValue(pod, from.FieldRef.FieldPath, podIP, r.cfg.NodeIP)
	case from.ConfigMapKeyRef != nil:
		ref := from.ConfigMapKeyRef
		cm, err := r.cms.ConfigMaps(pod.Namespace).Get(ref.Name)
		if err == nil {
			if v, ok := cm.Data[ref.Key]; ok {
				return v, nil
			}
			err = fmt.Errorf("couldn't find key %s in ConfigMap %s/%s", ref.Key, pod.Namespace, ref.Name)
		} else {
			err = fmt.Errorf("configmap %q not found", ref.Name)
		}
		if ref.Optional != nil && *ref.Optional {
			return "", nil
		}
		return "", err
	case from.SecretKeyRef != nil:
		ref := from.SecretKeyRef
		s, err := r.secrets.Secrets(pod.Namespace).Get(ref.Name)
		if err == nil {
			if v, ok := s.Data[ref.Key]; ok {
				return string(v), nil
			}
			err = fmt.Errorf("couldn't find key %s in Secret %s/%s", ref.Key, pod.Namespace, ref.Name)
		} else {
			err = fmt.Errorf("secret %q not found", ref.Name)
		}
		if ref.Optional != nil && *ref.Optional {
			return "", nil
		}
		return "", err
	case from.ResourceFieldRef != nil:
		return resourceValue(spec, from.ResourceFieldRef)
	}
	return "", nil
}

// fieldValue answers the downward API's fieldRef paths.
func fieldValue(pod *corev1.Pod, path, podIP, nodeIP string) (string, error) {
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.hostIP", "status.hostIPs":
		return nodeIP, nil
	case "status.podIP", "status.podIPs":
		return podIP, nil
	}
	if k, ok := strings.CutPrefix(path, "metadata.labels['"); ok {
		return pod.Labels[strings.TrimSuffix(k, "']")], nil
	}
	if k, ok := strings.CutPrefix(path, "metadata.annotations['"); ok {
		return pod.Annotations[strings.TrimSuffix(k, "']")], nil
	}
	switch path {
	case "metadata.labels":
		return formatMap(pod.Labels), nil
	case "metadata.annotations":
		return formatMap(pod.Annotations), nil
	}
	return "", fmt.Errorf("unsupported fieldPath: %s", path)
}

// formatMap is the kubelet's rendering of all labels or annotations in a
// downward API file: key="value" lines, sorted.
func formatMap(m map[string]string) string {
	lines := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		lines = append(lines, fmt.Sprintf("%v=%q", k, m[k]))
	}
	return strings.Join(lines, "\n")
}

// resourceValue answers resourceFieldRef from the container's limits (or
// requests); with neither, the node's capacity would be the answer, which
// portway does not divide between containers, so it says so.
func resourceValue(spec *corev1.Container, ref *corev1.ResourceFieldSelector) (string, error) {
	name, fromRequests := strings.CutPrefix(ref.Resource, "requests.")
	name = strings.TrimPrefix(name, "limits.")
	list := spec.Resources.Limits
	if fromRequests {
		list = spec.Resources.Requests
	}
	q, ok := list[corev1.ResourceName(name)]
	if !ok {
		return "", fmt.Errorf("resourceFieldRef %s: the container sets no %s (portway does not report node allocatable here)", ref.Resource, ref.Resource)
	}
	divisor := ref.Divisor
	if divisor.IsZero() {
		if name == string(corev1.ResourceCPU) {
			return strconv.FormatInt(q.MilliValue()/1000+boolInt(q.MilliValue()%1000 != 0), 10), nil
		}
		return strconv.FormatInt(q.Value(), 10), nil
	}
	return strconv.FormatInt((q.MilliValue()+divisor.MilliValue()-1)/divisor.MilliValue(), 10), nil
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// serviceEnv is the Service environment: the kubernetes Service always,
// and with enableServiceLinks (the default) every Service in the pod's
// namespace.
func (r *Runtime) serviceEnv(pod *corev1.Pod) map[string]string {
	env := map[string]string{}
	all, err := r.services.List(labels.Everything())
	if err != nil {
		return env
	}
	links := pod.Spec.EnableServiceLinks == nil || *pod.Spec.EnableServiceLinks
	for _, s := range all {
		if s.Spec.ClusterIP == "" || s.Spec.ClusterIP == corev1.ClusterIPNone || len(s.Spec.Ports) == 0 {
			continue
		}
		master := s.Namespace == "default" && s.Name == "kubernetes"
		if !master && (s.Namespace != pod.Namespace || !links) {
			continue
		}
		prefix := strings.ToUpper(strings.ReplaceAll(s.Name, "-", "_"))
		env[prefix+"_SERVICE_HOST"] = s.Spec.ClusterIP
		env[prefix+"_SERVICE_PORT"] = strconv.Itoa(int(s.Spec.Ports[0].Port))
		for i, p := range s.Spec.Ports {
			if p.Name != "" {
				env[prefix+"_SERVICE_PORT_"+strings.ToUpper(strings.ReplaceAll(p.Name, "-", "_"))] = strconv.Itoa(int(p.Port))
			}
			proto := strings.ToLower(string(p.Protocol))
			if proto == "" {
				proto = "tcp"
			}
			url := proto + "://" + net.JoinHostPort(s.Spec.ClusterIP, strconv.Itoa(int(p.Port)))
			if i == 0 {
				env[prefix+"_PORT"] = url
			}
			pp := fmt.Sprintf("%s_PORT_%d_%s", prefix, p.Port, strings.ToUpper(proto))
			env[pp] = url
			env[pp+"_PROTO"] = proto
			env[pp+"_PORT"] = strconv.Itoa(int(p.Port))
			env[pp+"_ADDR"] = s.Spec.ClusterIP
		}
	}
	return env
}

func expandArgs(argv []string, env map[string]string) []string {
	out := make([]string, len(argv))
	for i, a := range argv {
		out[i] = expand(a, env)
	}
	return out
}

// expand replaces $(VAR) with VAR's value when VAR is defined, leaves an
// undefined reference as written, and turns $$ into $, as Kubernetes
// expands command, args and env values.
func expand(s string, env map[string]string) string {
	return expandWith(s, func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	})
}

// expandWith is expand with the values of lookup: a reference it has no
// value for stays as written.
func expandWith(s string, lookup func(name string) (string, bool)) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := lookup(name); ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

package registry

import (
	"errors"
	"net/url"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/conversion"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

// addQueryConversions lets handlers decode the query parameters of
// subresources that take options (pods/log, exec, attach, portforward,
// proxy; services/proxy) into their options types, as Kubernetes'
// generated url.Values conversions do. A proxy's path arrives as the
// "path" parameter: the handler puts what follows proxy/ there.
func addQueryConversions(s *runtime.Scheme) error {
	return errors.Join(
		s.AddConversionFunc((*url.Values)(nil), (*corev1.PodLogOptions)(nil), func(a, b any, _ conversion.Scope) error {
			return podLogOptions(*a.(*url.Values), b.(*corev1.PodLogOptions))
		}),
		s.AddConversionFunc((*url.Values)(nil), (*corev1.PodExecOptions)(nil), func(a, b any, _ conversion.Scope) error {
			q, o := *a.(*url.Values), b.(*corev1.PodExecOptions)
			o.Container, o.Command = q.Get("container"), q["command"]
			return streamOptions(q, &o.Stdin, &o.Stdout, &o.Stderr, &o.TTY)
		}),
		s.AddConversionFunc((*url.Values)(nil), (*corev1.PodAttachOptions)(nil), func(a, b any, _ conversion.Scope) error {
			q, o := *a.(*url.Values), b.(*corev1.PodAttachOptions)
			o.Container = q.Get("container")
			return streamOptions(q, &o.Stdin, &o.Stdout, &o.Stderr, &o.TTY)
		}),
		s.AddConversionFunc((*url.Values)(nil), (*corev1.PodPortForwardOptions)(nil), func(a, b any, _ conversion.Scope) error {
			q, o := *a.(*url.Values), b.(*corev1.PodPortForwardOptions)
			o.Ports = nil
			return metav1.Convert_Slice_string_To_Slice_int32(ptr.To(q["ports"]), &o.Ports, nil)
		}),
		s.AddConversionFunc((*url.Values)(nil), (*corev1.PodProxyOptions)(nil), func(a, b any, _ conversion.Scope) error {
			b.(*corev1.PodProxyOptions).Path = a.(*url.Values).Get("path")
			return nil
		}),
		s.AddConversionFunc((*url.Values)(nil), (*corev1.ServiceProxyOptions)(nil), func(a, b any, _ conversion.Scope) error {
			b.(*corev1.ServiceProxyOptions).Path = a.(*url.Values).Get("path")
			return nil
		}),
	)
}

// streamOptions reads the stdin, stdout, stderr and tty parameters of exec
// and attach.
func streamOptions(q url.Values, stdin, stdout, stderr, tty *bool) error {
	for name, dst := range map[string]*bool{"stdin": stdin, "stdout": stdout, "stderr": stderr, "tty": tty} {
		v, err := boolParam(q, name)
		if err != nil {
			return err
		}
		*dst = v
	}
	return nil
}

func podLogOptions(q url.Values, o *corev1.PodLogOptions) error {
	var err error
	o.Container = q.Get("container")
	if o.Follow, err = boolParam(q, "follow"); err != nil {
		return err
	}
	if o.Previous, err = boolParam(q, "previous"); err != nil {
		return err
	}
	if o.Timestamps, err = boolParam(q, "timestamps"); err != nil {
		return err
	}
	if o.InsecureSkipTLSVerifyBackend, err = boolParam(q, "insecureSkipTLSVerifyBackend"); err != nil {
		return err
	}
	for name, dst := range map[string]**int64{"sinceSeconds": &o.SinceSeconds, "tailLines": &o.TailLines, "limitBytes": &o.LimitBytes} {
		if v := q.Get(name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return err
			}
			*dst = ptr.To(n)
		}
	}
	if v := q.Get("sinceTime"); v != "" {
		t := &metav1.Time{}
		if err := t.UnmarshalQueryParameter(v); err != nil {
			return err
		}
		o.SinceTime = t
	}
	if v := q.Get("stream"); v != "" {
		o.Stream = ptr.To(v)
	}
	return nil
}

// boolParam reads a boolean parameter as Kubernetes does: absent, "false"
// or "0" is false, anything else (even empty) true.
func boolParam(q url.Values, name string) (bool, error) {
	vs, ok := q[name]
	if !ok || len(vs) == 0 {
		return false, nil
	}
	v := strings.ToLower(vs[0])
	return v != "false" && v != "0", nil
}

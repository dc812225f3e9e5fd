package runtime

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/klog/v2"

	"github.com/portway/portway/internal/version"
)

// probeSet holds one container instance's probe results.
type probeSet struct {
	cancel               context.CancelFunc
	hasStartup, hasReady bool
	startedV, readyV     atomic.Bool
}

// started is whether the startup probe (if any) has succeeded.
func (p *probeSet) started() bool { return p == nil || !p.hasStartup || p.startedV.Load() }

// ready is whether the readiness probe (if any) last said ready.
func (p *probeSet) ready() bool { return p == nil || !p.hasReady || p.readyV.Load() }

func (w *podWorker) stopProbes() {
	for _, c := range w.containers {
		if c.probes != nil {
			c.probes.cancel()
		}
	}
}

// startProbes runs the container's probes for its current instance, as the
// kubelet's prober workers do: startup first, then readiness and liveness.
func (w *podWorker) startProbes(ctx context.Context, pod *corev1.Pod, spec *corev1.Container, c *ctr) {
	if c.probes != nil {
		c.probes.cancel()
	}
	ctx, cancel := context.WithCancel(ctx)
	ps := &probeSet{cancel: cancel, hasStartup: spec.StartupProbe != nil, hasReady: spec.ReadinessProbe != nil}
	c.probes = ps
	if c.init {
		return // init containers have no probes that matter here
	}
	// The probes run beside the worker, which may tear the sandbox down:
	// they take the IP the instance runs with.
	inst, podIP := c.cur, w.sb.IP
	go func() {
		<-inst.exited
		cancel()
	}()
	if spec.StartupProbe != nil {
		go w.probeLoop(ctx, pod, spec, inst, podIP, "Startup", spec.StartupProbe, func(ok bool) bool {
			if ok {
				ps.startedV.Store(true)
				w.poke()
				return false // done: startup probes stop after success
			}
			w.killForProbe(ctx, pod, spec, inst, "startup")
			return false
		}, func() bool { return true })
	}
	if spec.ReadinessProbe != nil {
		go w.probeLoop(ctx, pod, spec, inst, podIP, "Readiness", spec.ReadinessProbe, func(ok bool) bool {
			if ps.readyV.Swap(ok) != ok {
				w.poke()
			}
			return true
		}, ps.started)
	}
	if spec.LivenessProbe != nil {
		go w.probeLoop(ctx, pod, spec, inst, podIP, "Liveness", spec.LivenessProbe, func(ok bool) bool {
			if !ok {
				w.killForProbe(ctx, pod, spec, inst, "liveness")
				return false
			}
			return true
		}, ps.started)
	}
}

// probeLoop runs a probe every period once active says so, and calls
// changed when the result crosses its success or failure threshold;
// changed returns whether to go on probing.
func (w *podWorker) probeLoop(ctx context.Context, pod *corev1.Pod, spec *corev1.Container, inst *instance, podIP string,
	kind string, p *corev1.Probe, changed func(ok bool) bool, active func() bool) {
	period := time.Duration(max(p.PeriodSeconds, 1)) * time.Second
	timeout := time.Duration(max(p.TimeoutSeconds, 1)) * time.Second
	successes, failures := int32(0), int32(0)
	var last *bool
	select {
	case <-ctx.Done():
		return
	case <-time.After(time.Duration(p.InitialDelaySeconds) * time.Second):
	}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		if active() {
			err := w.runProbe(ctx, pod, spec, inst, podIP, p, timeout)
			if ctx.Err() != nil {
				return
			}
			if err == nil {
				successes, failures = successes+1, 0
			} else {
				successes, failures = 0, failures+1
				w.r.recorder.Eventf(pod, corev1.EventTypeWarning, "Unhealthy", "%s probe failed: %s", kind, strings.TrimSpace(err.Error()))
			}
			switch {
			case successes >= max(p.SuccessThreshold, 1) && (last == nil || !*last):
				last = ptrBool(true)
				if !changed(true) {
					return
				}
			case failures >= max(p.FailureThreshold, 1) && (last == nil || *last):
				last = ptrBool(false)
				if !changed(false) {
					return
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func ptrBool(b bool) *bool { return &b }

// killForProbe stops a container that failed its liveness or startup probe;
// the worker then restarts it as the restart policy says.
func (w *podWorker) killForProbe(ctx context.Context, pod *corev1.Pod, spec *corev1.Container, inst *instance, kind string) {
	msg := fmt.Sprintf("Container %s failed %s probe", spec.Name, kind)
	if pod.Spec.RestartPolicy != corev1.RestartPolicyNever {
		msg += ", will be restarted"
	}
	w.r.recorder.Eventf(pod, corev1.EventTypeNormal, "Killing", "%s", msg)
	grace := 30 * time.Second
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		grace = time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
	}
	klog.FromContext(ctx).V(2).Info("killing container after failed probe", "container", spec.Name, "probe", kind)
	go inst.stop(grace)
}

// runProbe runs one probe; nil means success.
func (w *podWorker) runProbe(ctx context.Context, pod *corev1.Pod, spec *corev1.Container, inst *instance, podIP string, p *corev1.Probe, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch {
	case p.HTTPGet != nil:
		return probeHTTP(ctx, p.HTTPGet, spec, podIP)
	case p.TCPSocket != nil:
		host := p.TCPSocket.Host
		if host == "" {
			host = podIP
		}
		port, err := resolvePort(p.TCPSocket.Port, spec)
		if err != nil {
			return err
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return err
		}
		return conn.Close()
	case p.Exec != nil:
		return probeExec(ctx, inst, p.Exec.Command, timeout)
	case p.GRPC != nil:
		return probeGRPC(ctx, podIP, p.GRPC)
	}
	return errors.New("probe has no handler")
}

func probeHTTP(ctx context.Context, g *corev1.HTTPGetAction, spec *corev1.Container, podIP string) error {
	port, err := resolvePort(g.Port, spec)
	if err != nil {
		return err
	}
	host := g.Host
	if host == "" {
		host = podIP
	}
	scheme := strings.ToLower(string(g.Scheme))
	if scheme == "" {
		scheme = "http"
	}
	u := &url.URL{Scheme: scheme, Host: net.JoinHostPort(host, strconv.Itoa(port))}
	if pu, err := url.Parse(g.Path); err == nil {
		u.Path, u.RawQuery = pu.Path, pu.RawQuery
	}
	if !strings.HasPrefix(u.Path, "/") {
		u.Path = "/" + u.Path
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	v := version.Info()
	req.Header.Set("User-Agent", fmt.Sprintf("kube-probe/%s.%s", v.Major, v.Minor))
	req.Header.Set("Accept", "*/*")
	for _, h := range g.HTTPHeaders {
		if strings.EqualFold(h.Name, "host") {
			req.Host = h.Value
		} else {
			req.Header.Set(h.Name, h.Value)
		}
	}
	client := &http.Client{
		// The kubelet does not verify pods' certificates.
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true},
		CheckRedirect: func(r *http.Request, via []*http.Request) error {
			if len(via) >= 10 || r.URL.Hostname() != host {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return fmt.Errorf("HTTP probe failed with statuscode: %d", resp.StatusCode)
	}
	return nil
}

// probeExec runs the command in the container's namespaces with its
// environment, as `kubectl exec` would.
func probeExec(ctx context.Context, inst *instance, command []string, timeout time.Duration) error {
	pid := inst.pid()
	if pid == 0 {
		return errors.New("container is not running")
	}
	environ, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	args := append([]string{"--target", strconv.Itoa(pid), "--net", "--mount", "--uts", "--"}, command...)
	cmd := exec.CommandContext(ctx, "nsenter", args...)
	cmd.Env = strings.Split(strings.TrimRight(string(environ), "\x00"), "\x00")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		return fmt.Errorf("command %q timed out after %s", strings.Join(command, " "), timeout)
	}
	if err != nil {
		if out.Len() > 0 {
			return errors.New(out.String())
		}
		return err
	}
	return nil
}

func probeGRPC(ctx context.Context, podIP string, g *corev1.GRPCAction) error {
	conn, err := grpc.NewClient(net.JoinHostPort(podIP, strconv.Itoa(int(g.Port))),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	service := ""
	if g.Service != nil {
		service = *g.Service
	}
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		return err
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("service unhealthy (responded with %q)", resp.GetStatus())
	}
	return nil
}

// resolvePort turns a probe's port, a number or a containerPort name, into
// a number.
func resolvePort(p intstr.IntOrString, spec *corev1.Container) (int, error) {
	if p.Type == intstr.Int {
		return p.IntValue(), nil
	}
	for _, cp := range spec.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	if n, err := strconv.Atoi(p.StrVal); err == nil {
		return n, nil
	}
	return 0, fmt.Errorf("couldn't find port: %v in %v", p.StrVal, spec.Name)
}

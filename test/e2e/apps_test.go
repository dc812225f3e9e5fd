package e2e

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
)

// TestApps drives apps/v1 Deployments and ReplicaSets with the real kubectl.
// It checks what the API server does (defaults, validation, tables, scale,
// expose, apply, delete propagation) and nothing a controller writes:
// `portway server` may run the workload controllers, so no status, pods or
// owned ReplicaSets are asserted here.
func TestApps(t *testing.T) {
	s := startServer(t)
	s.ok("create", "namespace", "apps")
	t.Run("create and defaults", func(t *testing.T) { testDeploymentCreate(t, s) })
	t.Run("tables", func(t *testing.T) { testAppsTables(t, s) })
	t.Run("scale", func(t *testing.T) { testScale(t, s) })
	t.Run("invalid", func(t *testing.T) { testAppsInvalid(t, s) })
	t.Run("expose", func(t *testing.T) { testExposeDeployment(t, s) })
	t.Run("apply", func(t *testing.T) { testApplyDeployment(t, s) })
	t.Run("rollout pause", func(t *testing.T) { testRolloutPause(t, s) })
	t.Run("delete propagation", func(t *testing.T) { testDeletePropagation(t, s) })
	t.Run("client-go protobuf", func(t *testing.T) { testAppsProtobuf(t, s) })
	t.Run("kubectl versions", func(t *testing.T) { testAppsKubectlVersions(t, s) })
}

// testAppsKubectlVersions: every installed kubectl from 1.27 to 1.33 creates,
// scales (each finds the scale subresource through discovery its own way)
// and lists a Deployment.
func testAppsKubectlVersions(t *testing.T, s *server) {
	bins := kubectlVersions(t)
	if len(bins) == 0 {
		t.Skip("no kubectl.1.NN binaries beside kubectl")
	}
	for _, bin := range bins {
		name := "v" + strings.ReplaceAll(strings.TrimPrefix(filepath.Base(bin), "kubectl."), ".", "-")
		run := func(args ...string) string {
			r := s.kubectlBin(bin, "", append(args, "-n", "apps")...)
			if r.code != 0 {
				t.Fatalf("%s %s: exit %d: %s", bin, strings.Join(args, " "), r.code, r.stderr)
			}
			return r.stdout
		}
		expect(t, bin+" create", run("create", "deployment", name, "--image=nginx"), "deployment.apps/"+name+" created\n")
		expect(t, bin+" scale", run("scale", "deployment", name, "--replicas=2"), "deployment.apps/"+name+" scaled\n")
		if f := fields(t, run("get", "deployment", name, "-o", "wide"), name); len(f) != 8 || !strings.HasSuffix(f[1], "/2") || f[7] != "app="+name {
			t.Errorf("%s get -o wide row %q", bin, f)
		}
	}
}

func testDeploymentCreate(t *testing.T, s *server) {
	expect(t, "create", s.ok("create", "deployment", "web", "-n", "apps", "--image=registry.k8s.io/e2e-test-images/agnhost:2.40",
		"--replicas=3", "--", "/agnhost", "serve-hostname"), "deployment.apps/web created\n")
	y := s.ok("get", "deploy", "web", "-n", "apps", "-o", "yaml")
	for _, want := range []string{
		"generation: 1", "progressDeadlineSeconds: 600", "replicas: 3", "revisionHistoryLimit: 10",
		"selector:\n    matchLabels:\n      app: web",
		"strategy:\n    rollingUpdate:\n      maxSurge: 25%\n      maxUnavailable: 25%\n    type: RollingUpdate",
		"      containers:\n      - command:\n        - /agnhost\n        - serve-hostname\n        image: registry.k8s.io/e2e-test-images/agnhost:2.40\n        imagePullPolicy: IfNotPresent\n        name: agnhost\n        resources: {}\n        terminationMessagePath: /dev/termination-log\n        terminationMessagePolicy: File\n      dnsPolicy: ClusterFirst\n      restartPolicy: Always\n      schedulerName: default-scheduler\n      securityContext: {}\n      terminationGracePeriodSeconds: 30\n",
	} {
		if !strings.Contains(y, want) {
			t.Errorf("deployment -o yaml lacks %q:\n%s", want, y)
		}
	}
	// Pod-only defaults stay out of the template, as in Kubernetes.
	if strings.Contains(y, "enableServiceLinks") {
		t.Errorf("the pod template got enableServiceLinks:\n%s", y)
	}
	r := s.kubectl("create", "deployment", "web", "-n", "apps", "--image=nginx")
	expect(t, "create twice", r.stderr, `error: failed to create deployment: deployments.apps "web" already exists`+"\n")
}

// fields splits the table line of the named object into its cells.
func fields(t *testing.T, table, name string) []string {
	t.Helper()
	for _, line := range strings.Split(table, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == name {
			return f
		}
	}
	t.Fatalf("no row %s in:\n%s", name, table)
	return nil
}

func testAppsTables(t *testing.T, s *server) {
	s.applyStdin(`apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: frontend
  namespace: apps
spec:
  replicas: 2
  selector:
    matchLabels: {tier: frontend}
    matchExpressions:
    - {key: canary, operator: DoesNotExist}
  template:
    metadata:
      labels: {tier: frontend}
    spec:
      containers:
      - name: php-redis
        image: us-docker.pkg.dev/google-samples/containers/gke/gb-frontend:v5
      - name: sidecar
        image: busybox
`)
	out := s.ok("get", "deploy,rs", "-n", "apps")
	if n := normalize(out); !strings.HasPrefix(n, "NAME READY UP-TO-DATE AVAILABLE AGE\n") ||
		!strings.Contains(n, "\n\nNAME DESIRED CURRENT READY AGE\n") {
		t.Errorf("get deploy,rs headers:\n%s", out)
	}
	if f := fields(t, out, "deployment.apps/web"); len(f) != 5 || !strings.HasSuffix(f[1], "/3") {
		t.Errorf("deployment row %q, want 5 cells and READY n/3", f)
	}
	if f := fields(t, out, "replicaset.apps/frontend"); len(f) != 5 || f[1] != "2" {
		t.Errorf("replicaset row %q, want 5 cells and DESIRED 2", f)
	}

	out = s.ok("get", "deploy", "web", "-n", "apps", "-o", "wide")
	expect(t, "deployment wide header", strings.SplitN(out, "\n", 2)[0],
		"NAME   READY   UP-TO-DATE   AVAILABLE   AGE   CONTAINERS   IMAGES                                         SELECTOR")
	if f := fields(t, out, "web"); len(f) != 8 || !slices.Equal(f[5:], []string{"agnhost", "registry.k8s.io/e2e-test-images/agnhost:2.40", "app=web"}) {
		t.Errorf("deployment wide row %q", f)
	}
	out = s.ok("get", "rs", "frontend", "-n", "apps", "-o", "wide")
	expect(t, "replicaset wide header", strings.SplitN(out, "\n", 2)[0],
		"NAME       DESIRED   CURRENT   READY   AGE   CONTAINERS          IMAGES                                                                   SELECTOR")
	if f := fields(t, out, "frontend"); len(f) != 8 || !slices.Equal(f[5:], []string{"php-redis,sidecar",
		"us-docker.pkg.dev/google-samples/containers/gke/gb-frontend:v5,busybox", "!canary,tier=frontend"}) {
		t.Errorf("replicaset wide row %q", f)
	}
	expect(t, "short names", s.ok("get", "deploy/web", "rs/frontend", "-n", "apps", "-o", "name"),
		"deployment.apps/web\nreplicaset.apps/frontend\n")
	if all := s.ok("get", "all", "-n", "apps", "-o", "name"); !strings.Contains(all, "deployment.apps/web\n") || !strings.Contains(all, "replicaset.apps/frontend\n") {
		t.Errorf("get all lacks the workloads:\n%s", all)
	}
	expect(t, "rs field selector", s.ok("get", "rs", "-n", "apps", "--field-selector", "metadata.name=frontend", "-o", "name"),
		"replicaset.apps/frontend\n")
	// Kubernetes 1.32's apps/v1 selects on metadata only, even for the
	// status.replicas its ReplicaSet registry knows.
	r := s.kubectl("get", "rs", "-n", "apps", "--field-selector", "status.replicas=0")
	expect(t, "replicaset field selector", r.stderr, `Error from server (BadRequest): Unable to find "apps/v1, Resource=replicasets" that match label selector "", field selector "status.replicas=0": "status.replicas" is not a known field selector: only "metadata.name", "metadata.namespace"`+"\n")

	d := normalize(s.ok("describe", "deploy", "web", "-n", "apps"))
	for _, want := range []string{"Name: web\n", "Selector: app=web\n", "Replicas: 3 desired |", "StrategyType: RollingUpdate\n",
		"RollingUpdateStrategy: 25% max unavailable, 25% max surge\n", "Image: registry.k8s.io/e2e-test-images/agnhost:2.40\n"} {
		if !strings.Contains(d, want) {
			t.Errorf("describe deploy lacks %q:\n%s", want, d)
		}
	}
	if d := normalize(s.ok("describe", "rs", "frontend", "-n", "apps")); !strings.Contains(d, "Selector: !canary,tier=frontend\n") ||
		!strings.Contains(d, " / 2 desired\n") {
		t.Errorf("describe rs:\n%s", d)
	}
}

func testScale(t *testing.T, s *server) {
	expect(t, "scale", s.ok("scale", "deploy", "web", "-n", "apps", "--replicas=5"), "deployment.apps/web scaled\n")
	expect(t, "replicas and generation", s.ok("get", "deploy", "web", "-n", "apps", "-o", "jsonpath={.spec.replicas} {.metadata.generation}"), "5 2")
	var scale autoscalingv1.Scale
	if err := json.Unmarshal([]byte(s.ok("get", "--raw", "/apis/apps/v1/namespaces/apps/deployments/web/scale")), &scale); err != nil {
		t.Fatal(err)
	}
	if scale.APIVersion != "autoscaling/v1" || scale.Kind != "Scale" || scale.Spec.Replicas != 5 || scale.Status.Selector != "app=web" {
		t.Errorf("deployments/scale = %+v", scale)
	}
	expect(t, "scale rs", s.ok("scale", "rs", "frontend", "-n", "apps", "--replicas=0"), "replicaset.apps/frontend scaled\n")
	expect(t, "rs replicas", s.ok("get", "rs", "frontend", "-n", "apps", "-o", "jsonpath={.spec.replicas}"), "0")
	expect(t, "precondition", s.kubectl("scale", "deploy", "web", "-n", "apps", "--current-replicas=4", "--replicas=6").stderr,
		"error: Expected replicas to be 4, was 5\n")
	r := s.kubectl("patch", "deploy", "web", "-n", "apps", "--subresource=scale", "--type=merge", "-p", `{"spec":{"replicas":-1}}`)
	expect(t, "negative scale", r.stderr, `The Scale "web" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0`+"\n")
}

func testAppsInvalid(t *testing.T, s *server) {
	manifest := func(name, selector, labels, extra string) string {
		return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ` + name + `
  namespace: apps
spec:
  selector:
    matchLabels: {` + selector + `}
  template:
    metadata:
      labels: {` + labels + `}
    spec:
      containers:
      - name: c
        image: nginx
` + extra
	}
	for _, tc := range []struct{ name, manifest, want string }{
		{"selector mismatch", manifest("bad", "app: web", "app: other", ""),
			"The Deployment \"bad\" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"other\"}: `selector` does not match template `labels`\n"},
		{"restart policy", manifest("bad", "app: bad", "app: bad", "      restartPolicy: Never\n"),
			`The Deployment "bad" is invalid: spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"` + "\n"},
		{"surge and unavailable 0", strings.Replace(manifest("bad", "app: bad", "app: bad", ""), "spec:\n  selector",
			"spec:\n  strategy:\n    rollingUpdate: {maxSurge: 0, maxUnavailable: 0}\n  selector", 1),
			"The Deployment \"bad\" is invalid: spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}: may not be 0 when `maxSurge` is 0\n"},
		{"negative replicas", strings.Replace(manifest("bad", "app: bad", "app: bad", ""), "spec:\n  selector", "spec:\n  replicas: -2\n  selector", 1),
			`The Deployment "bad" is invalid: spec.replicas: Invalid value: -2: must be greater than or equal to 0` + "\n"},
	} {
		r := s.kubectlIn(tc.manifest, "create", "-f", "-")
		if r.code != 1 {
			t.Errorf("%s: exit %d, want 1", tc.name, r.code)
		}
		expect(t, tc.name, r.stderr, tc.want)
	}
	r := s.kubectl("patch", "deploy", "web", "-n", "apps", "--type=merge", "-p",
		`{"spec":{"selector":{"matchLabels":{"app":"web2"}},"template":{"metadata":{"labels":{"app":"web2"}}}}}`)
	expect(t, "immutable selector", r.stderr, `The Deployment "web" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web2"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable`+"\n")
	r = s.kubectl("create", "deployment", "neg", "-n", "apps", "--image=nginx", "--replicas=-1")
	expect(t, "create deployment --replicas=-1", r.stderr, `error: failed to create deployment: Deployment.apps "neg" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0`+"\n")
}

// testExposeDeployment: kubectl reads the deployment and creates a Service
// with its selector (compare oracle case 108).
func testExposeDeployment(t *testing.T, s *server) {
	expect(t, "expose", s.ok("expose", "deployment", "web", "-n", "apps", "--port", "80", "--target-port", "9376"), "service/web exposed\n")
	expect(t, "service", s.ok("get", "svc", "web", "-n", "apps", "-o",
		"jsonpath={.metadata.labels} {.spec.selector} {.spec.type} {.spec.ports[0].port} {.spec.ports[0].targetPort} {.spec.ports[0].protocol}"),
		`{"app":"web"} {"app":"web"} ClusterIP 80 9376 TCP`)
	expect(t, "expose NodePort", s.ok("expose", "deployment", "web", "-n", "apps", "--name=web-np", "--port=8080", "--target-port=9376", "--type=NodePort"),
		"service/web-np exposed\n")
	expect(t, "NodePort service", s.ok("get", "svc", "web-np", "-n", "apps", "-o", "jsonpath={.spec.type} {.spec.selector}"), `NodePort {"app":"web"}`)
}

func testApplyDeployment(t *testing.T, s *server) {
	manifest := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: apps
  labels: {app: api}
spec:
  replicas: 2
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
      - name: api
        image: registry.k8s.io/e2e-test-images/agnhost:2.40
        args: [netexec, --http-port=8080]
        ports:
        - containerPort: 8080
          name: http
`
	expect(t, "apply", s.applyStdin(manifest), "deployment.apps/api created\n")
	expect(t, "apply again", s.applyStdin(manifest), "deployment.apps/api unchanged\n")
	changed := strings.Replace(strings.Replace(manifest, "replicas: 2", "replicas: 4", 1), "agnhost:2.40", "agnhost:2.41", 1)
	expect(t, "apply a change", s.applyStdin(changed), "deployment.apps/api configured\n")
	expect(t, "applied", s.ok("get", "deploy", "api", "-n", "apps", "-o", "jsonpath={.spec.replicas} {.spec.template.spec.containers[0].image} {.metadata.generation}"),
		"4 registry.k8s.io/e2e-test-images/agnhost:2.41 2")
	expect(t, "server-side apply", s.applyStdin(changed, "--server-side"), "deployment.apps/api serverside-applied\n")
	expect(t, "diff", s.kubectlIn(changed, "diff", "-f", "-").stdout, "")
}

func testRolloutPause(t *testing.T, s *server) {
	expect(t, "pause", s.ok("rollout", "pause", "deploy/web", "-n", "apps"), "deployment.apps/web paused\n")
	expect(t, "paused", s.ok("get", "deploy", "web", "-n", "apps", "-o", "jsonpath={.spec.paused}"), "true")
	expect(t, "resume", s.ok("rollout", "resume", "deploy/web", "-n", "apps"), "deployment.apps/web resumed\n")
	expect(t, "resumed", s.ok("get", "deploy", "web", "-n", "apps", "-o", "jsonpath={.spec.paused}"), "")
}

// testDeletePropagation deletes with each --cascade and watches what the API
// server does to the object: background deletes it at once, orphan and
// foreground first mark it with the finalizer the garbage collector works
// from. A watch sees that write even if a garbage collector finishes at
// once.
func testDeletePropagation(t *testing.T, s *server) {
	c := s.client()
	for _, tc := range []struct{ cascade, finalizer string }{
		{"background", ""},
		{"orphan", metav1.FinalizerOrphanDependents},
		{"foreground", metav1.FinalizerDeleteDependents},
	} {
		name := "del-" + tc.cascade
		s.ok("create", "deployment", name, "-n", "apps", "--image=nginx")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		w, err := c.AppsV1().Deployments("apps").Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
		if err != nil {
			t.Fatal(err)
		}
		expect(t, "delete "+tc.cascade, s.ok("delete", "deploy", name, "-n", "apps", "--cascade="+tc.cascade, "--wait=false"),
			`deployment.apps "`+name+`" deleted`+"\n")
		// The first event of the deletion: controllers may write the
		// deployment's status before it, which is not looked at.
		var got string
		for ev := range w.ResultChan() {
			d, ok := ev.Object.(*appsv1.Deployment)
			if !ok {
				t.Fatalf("watch event %v", ev)
			}
			if ev.Type == watch.Deleted || d.DeletionTimestamp != nil {
				got = string(ev.Type) + " " + strings.Join(d.Finalizers, ",")
				break
			}
		}
		w.Stop()
		cancel()
		want := "DELETED "
		if tc.finalizer != "" {
			want = "MODIFIED " + tc.finalizer
		}
		if got != want {
			t.Errorf("--cascade=%s: watch saw %q, want %q", tc.cascade, got, want)
		}
	}
	expect(t, "server dry run", s.ok("delete", "deploy", "web", "-n", "apps", "--cascade=foreground", "--dry-run=server"),
		`deployment.apps "web" deleted (server dry run)`+"\n")
	expect(t, "still there", s.ok("get", "deploy", "web", "-n", "apps", "-o", "name"), "deployment.apps/web\n")
}

// testAppsProtobuf: client-go in protobuf, as kubectl create deployment
// speaks it, including the Scale subresource.
func testAppsProtobuf(t *testing.T, s *server) {
	cfg := s.restConfig()
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	c := kubernetes.NewForConfigOrDie(cfg)
	ctx := context.Background()
	labels := map[string]string{"app": "pb"}
	rs, err := c.AppsV1().ReplicaSets("apps").Create(ctx, &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "pb"},
		Spec: appsv1.ReplicaSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *rs.Spec.Replicas != 1 || rs.Generation != 1 || rs.Spec.Template.Spec.Containers[0].ImagePullPolicy != corev1.PullAlways {
		t.Errorf("created %+v", rs.Spec)
	}
	// The ReplicaSet controller writes the status meanwhile: read the
	// Scale afresh on a conflict.
	var scale *autoscalingv1.Scale
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := c.AppsV1().ReplicaSets("apps").GetScale(ctx, "pb", metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Spec.Replicas = 3
		scale, err = c.AppsV1().ReplicaSets("apps").UpdateScale(ctx, "pb", cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil || scale.Spec.Replicas != 3 {
		t.Fatalf("update scale: %+v, %v", scale, err)
	}
	stale := scale.DeepCopy()
	stale.ResourceVersion = rs.ResourceVersion
	stale.Spec.Replicas = ptr.Deref(rs.Spec.Replicas, 0)
	if _, err := c.AppsV1().ReplicaSets("apps").UpdateScale(ctx, "pb", stale, metav1.UpdateOptions{}); err == nil || !strings.Contains(err.Error(), "the object has been modified") {
		t.Errorf("stale scale update: %v, want a conflict", err)
	}
}

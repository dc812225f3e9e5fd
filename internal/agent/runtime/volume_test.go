package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	listerscorev1 "k8s.io/client-go/listers/core/v1"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	"github.com/portway/portway/internal/agent/shim"
	"github.com/portway/portway/internal/mounts/mountstest"
)

// TestProjection projects the volume the API server gives every
// pod, and one with items, modes and an optional missing ConfigMap.
func TestProjection(t *testing.T) {
	cms := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	secrets := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	_ = cms.Add(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kube-root-ca.crt", Namespace: "ns"}, Data: map[string]string{"ca.crt": "CA"}})
	_ = secrets.Add(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "ns"}, Data: map[string][]byte{"user": []byte("u"), "pw": []byte("p")}})
	r := &Runtime{cfg: Config{NodeIP: "172.18.0.2"}, cms: listerscorev1.NewConfigMapLister(cms), secrets: listerscorev1.NewSecretLister(secrets)}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", Labels: map[string]string{"app": "web"}}}
	var asked *corev1.ServiceAccountTokenProjection
	token := func(p *corev1.ServiceAccountTokenProjection) (string, error) { asked = p; return "TOKEN", nil }

	saVolume := &corev1.ProjectedVolumeSource{DefaultMode: ptr.To[int32](0o644), Sources: []corev1.VolumeProjection{
		{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr.To[int64](3607)}},
		{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"}, Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
		{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}}},
	}}
	files, err := r.projection(pod, saVolume, token)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "kube-api-access-abcde")
	if err := writeVolume(dir, files); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"token": "TOKEN", "ca.crt": "CA", "namespace": "ns"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(b) != want {
			t.Errorf("%s: %q, %v; want %q", name, b, err, want)
		}
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v, %v", name, fi.Mode(), err)
		}
	}
	if asked == nil || *asked.ExpirationSeconds != 3607 {
		t.Errorf("token asked for %+v", asked)
	}

	other := &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
		{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}, Items: []corev1.KeyToPath{{Key: "pw", Path: "db/password", Mode: ptr.To[int32](0o400)}}}},
		{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "missing"}, Optional: ptr.To(true)}},
		{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}}}}},
	}}
	files, err = r.projection(pod, other, token)
	if err != nil {
		t.Fatal(err)
	}
	if f := files["db/password"]; string(f.data) != "p" || f.mode != 0o400 || len(files) != 2 || string(files["labels"].data) != `app="web"` {
		t.Errorf("files %+v", files)
	}

	for _, tc := range []struct {
		source corev1.VolumeProjection
		want   string
	}{
		{corev1.VolumeProjection{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "missing"}}}, `configmap "missing" not found`},
		{corev1.VolumeProjection{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}, Items: []corev1.KeyToPath{{Key: "nope", Path: "x"}}}},
			"references non-existent secret key: nope"},
	} {
		_, err := r.projection(pod, &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{tc.source}}, token)
		if err == nil || err.Error() != tc.want {
			t.Errorf("got %v, want %s", err, tc.want)
		}
	}
}

// TestWriteVolume: unchanged files are not rewritten, changed ones are, and
// files no source gives any more go.
func TestWriteVolume(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "v")
	if err := writeVolume(dir, map[string]volumeFile{"a": {[]byte("1"), 0o644}, "sub/b": {[]byte("2"), 0o600}}); err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(filepath.Join(dir, "a"))
	if err != nil {
		t.Fatal(err)
	}
	if err := writeVolume(dir, map[string]volumeFile{"a": {[]byte("1"), 0o644}, "c": {[]byte("3"), 0o644}}); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(filepath.Join(dir, "a"))
	if err != nil || !os.SameFile(before, after) {
		t.Errorf("an unchanged file was replaced (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "sub", "b")); !os.IsNotExist(err) {
		t.Errorf("a file no longer given is still there: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "c")); err != nil || string(b) != "3" {
		t.Errorf("c: %q %v", b, err)
	}
}

// TestTokenRenewal: a token is renewed when due; if the renewal fails, the
// one held is used while it lasts.
func TestTokenRenewal(t *testing.T) {
	client := fake.NewClientset()
	calls, fail := 0, false
	client.PrependReactor("create", "serviceaccounts", func(a k8stesting.Action) (bool, runtime.Object, error) {
		calls++
		if fail {
			return true, nil, errors.New("API server away")
		}
		tr := a.(k8stesting.CreateAction).GetObject().(*authenticationv1.TokenRequest).DeepCopy()
		tr.Status.Token = fmt.Sprint("token-", calls)
		return true, tr, nil
	})
	w := &podWorker{r: &Runtime{client: client}, tokens: map[string]token{}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"}, Spec: corev1.PodSpec{ServiceAccountName: "default"}}
	p := &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr.To[int64](3600)}
	now := time.Now()
	ctx := context.Background()
	get := func(at time.Time) (string, error) {
		tok, err := w.token(ctx, pod, "v/token", p, at)
		return tok.value, err
	}
	for _, step := range []struct {
		at   time.Duration
		fail bool
		want string
	}{
		{0, false, "token-1"},
		{47 * time.Minute, false, "token-1"},               // before 80% of an hour
		{49 * time.Minute, false, "token-2"},               // renewed
		{49*time.Minute + 48*time.Minute, true, "token-2"}, // due, the renewal fails, still valid
		{49*time.Minute + 61*time.Minute, true, ""},        // expired, and no renewal
	} {
		fail = step.fail
		got, err := get(now.Add(step.at))
		if got != step.want || (step.want == "") != (err != nil) {
			t.Errorf("at %v: %q, %v; want %q", step.at, got, err, step.want)
		}
	}
}

// TestSetUpVolume sets up each volume type portway has, and fails as the
// kubelet does on a bad hostPath and on a type it lacks.
func TestSetUpVolume(t *testing.T) {
	cms := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	secrets := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	_ = cms.Add(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"}, Data: map[string]string{"nginx.conf": "conf", "other": "x"}})
	_ = secrets.Add(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "tls", Namespace: "ns"}, Data: map[string][]byte{"tls.key": []byte("KEY")}})
	w := &podWorker{r: &Runtime{cms: listerscorev1.NewConfigMapLister(cms), secrets: listerscorev1.NewSecretLister(secrets)},
		dir: t.TempDir(), sb: &sandbox{IP: "10.244.0.5"}, tokens: map[string]token{}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "ns"}}
	host := t.TempDir()
	file := func(path string, mode os.FileMode, want string) {
		t.Helper()
		b, err := os.ReadFile(path)
		fi, serr := os.Stat(path)
		if err != nil || serr != nil || string(b) != want || fi.Mode().Perm() != mode {
			t.Errorf("%s: %q (%v), mode %v (%v); want %q, %v", path, b, err, fi.Mode(), serr, want, mode)
		}
	}
	for _, v := range []corev1.Volume{
		{Name: "conf", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "web"}, Items: []corev1.KeyToPath{{Key: "nginx.conf", Path: "nginx.conf"}}, DefaultMode: ptr.To[int32](0o640)}}},
		{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "tls", DefaultMode: ptr.To[int32](0o400)}}},
		{Name: "info", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{
			Items: []corev1.DownwardAPIVolumeFile{{Path: "name", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}}},
		{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: "made", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: host + "/a/b", Type: ptr.To(corev1.HostPathDirectoryOrCreate)}}},
		{Name: "file", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: host + "/f", Type: ptr.To(corev1.HostPathFileOrCreate)}}},
		{Name: "unchecked", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: host + "/u", Type: ptr.To(corev1.HostPathUnset)}}},
	} {
		if _, err := w.setUpVolume(context.Background(), pod, &v, time.Now()); err != nil {
			t.Errorf("%s: %v", v.Name, err)
		}
	}
	file(filepath.Join(w.dir, "volumes/conf/nginx.conf"), 0o640, "conf")
	if _, err := os.Stat(filepath.Join(w.dir, "volumes/conf/other")); !os.IsNotExist(err) {
		t.Errorf("a key not in items was written: %v", err)
	}
	file(filepath.Join(w.dir, "volumes/tls/tls.key"), 0o400, "KEY")
	file(filepath.Join(w.dir, "volumes/info/name"), 0o644, "web-1")
	if fi, err := os.Stat(filepath.Join(w.dir, "volumes/scratch")); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o777 {
		t.Errorf("emptyDir: %v, %v", fi, err)
	}
	if fi, err := os.Stat(host + "/a/b"); err != nil || !fi.IsDir() {
		t.Errorf("DirectoryOrCreate: %v", err)
	}
	file(host+"/f", 0o644, "")
	if fi, err := os.Stat(host + "/u"); err != nil || !fi.IsDir() {
		t.Errorf("a missing unchecked hostPath is not made a directory: %v", err)
	}
	// An emptyDir is the containers' once set up: a mode they set stays.
	scratch := filepath.Join(w.dir, "volumes/scratch")
	if err := os.Chmod(scratch, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := setUpEmptyDir(scratch, &corev1.EmptyDirVolumeSource{}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(scratch); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("emptyDir set up again: %v, %v", fi.Mode(), err)
	}

	for _, tc := range []struct {
		source corev1.VolumeSource
		want   string
	}{
		{corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: host + "/f", Type: ptr.To(corev1.HostPathDirectory)}},
			"hostPath type check failed: " + host + "/f is not a directory"},
		{corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: host + "/a", Type: ptr.To(corev1.HostPathFile)}},
			"hostPath type check failed: " + host + "/a is not a file"},
		{corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: host + "/none", Type: ptr.To(corev1.HostPathSocket)}},
			"hostPath type check failed: " + host + "/none is not a socket file"},
		{corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}}},
			`configmap "nope" not found`},
		{corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}},
			"volume type persistentVolumeClaim is not supported by portway"},
		{corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumHugePages}},
			`emptyDir medium "HugePages" is not supported by portway`},
	} {
		_, err := w.setUpVolume(context.Background(), pod, &corev1.Volume{Name: "bad", VolumeSource: tc.source}, time.Now())
		if err == nil || err.Error() != tc.want {
			t.Errorf("got %v, want %s", err, tc.want)
		}
	}

	// Once the containers have started, emptyDir and hostPath volumes are
	// theirs: not checked or set up again.
	w.mounted = true
	if _, err := w.setUpVolume(context.Background(), pod, &corev1.Volume{Name: "gone", VolumeSource: corev1.VolumeSource{
		HostPath: &corev1.HostPathVolumeSource{Path: host + "/none", Type: ptr.To(corev1.HostPathDirectory)}}}, time.Now()); err != nil {
		t.Errorf("a hostPath checked again after the start: %v", err)
	}
	w.mounted = false

	// A volume that fails does not keep the next one from being updated.
	_ = cms.Update(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"}, Data: map[string]string{"nginx.conf": "conf2"}})
	pod.Spec.Volumes = []corev1.Volume{
		{Name: "missing", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}}}},
		{Name: "conf", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "web"}, DefaultMode: ptr.To[int32](0o640)}}},
	}
	_, errs := w.syncVolumes(context.Background(), pod)
	if len(errs) != 1 || errs[0].Error() != `MountVolume.SetUp failed for volume "missing" : configmap "nope" not found` {
		t.Errorf("errors %v", errs)
	}
	file(filepath.Join(w.dir, "volumes/conf/nginx.conf"), 0o640, "conf2")
}

// TestVolumeMounts: sources by volume type, subPath and subPathExpr, and
// mounts ordered by depth.
func TestVolumeMounts(t *testing.T) {
	w := &podWorker{dir: t.TempDir()}
	pod := &corev1.Pod{Spec: corev1.PodSpec{Volumes: []corev1.Volume{
		{Name: "conf", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{}}},
		{Name: "logs", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/log"}}},
	}}}
	spec := &corev1.Container{Name: "web", VolumeMounts: []corev1.VolumeMount{
		{Name: "conf", MountPath: "/etc/nginx/conf.d", ReadOnly: true},
		{Name: "conf", MountPath: "/etc/nginx", SubPath: "base"},
		{Name: "logs", MountPath: "/logs", SubPathExpr: "$(POD_NAME)"},
		{Name: "host", MountPath: "/host/log"},
		{Name: "host", MountPath: "/host/log-ro", ReadOnly: true, RecursiveReadOnly: ptr.To(corev1.RecursiveReadOnlyIfPossible)},
	}}
	for name, mode := range map[string]os.FileMode{"logs": 0o777, "conf": 0o750} {
		if err := os.MkdirAll(filepath.Join(w.dir, "volumes", name), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(w.dir, "volumes", name), mode); err != nil {
			t.Fatal(err)
		}
	}
	mounts, err := w.volumeMounts(pod, spec, map[string]string{"POD_NAME": "web-1"})
	if err != nil {
		t.Fatal(err)
	}
	sortMounts(mounts)
	vol := func(s string) string { return filepath.Join(w.dir, "volumes", s) }
	// The agent writes a configMap volume: read-only whatever the mount says.
	want := []shim.Mount{
		{Source: vol("logs/web-1"), Target: "/logs"},
		{Source: vol("conf/base"), Target: "/etc/nginx", ReadOnly: true},
		{Source: "/var/log", Target: "/host/log"},
		{Source: "/var/log", Target: "/host/log-ro", ReadOnly: true, RecursiveReadOnly: shim.RecursiveReadOnlySupported()}, // IfPossible
		{Source: vol("conf"), Target: "/etc/nginx/conf.d", ReadOnly: true},
	}
	if !reflect.DeepEqual(mounts, want) {
		t.Errorf("mounts\n%+v\nwant\n%+v", mounts, want)
	}
	for sub, mode := range map[string]os.FileMode{vol("logs/web-1"): 0o777, vol("conf/base"): 0o750} {
		if fi, err := os.Stat(sub); err != nil || !fi.IsDir() || fi.Mode().Perm() != mode {
			t.Errorf("subPath %s: %v, %v; want a directory, mode %v", sub, fi.Mode(), err, mode)
		}
	}

	for _, tc := range []struct {
		expr string
		env  map[string]string
		want string
	}{
		{"$(DIR)", map[string]string{"DIR": "a/../../escape"}, "unable to provision SubPath `a/../../escape`: must not contain '..'"},
		{"$(DIR)", map[string]string{"DIR": "/etc"}, "error SubPath `/etc` must not be an absolute path"},
		{"$(B)/$(A)/$(B)", map[string]string{"A": ""}, "missing value for A, B"},
	} {
		spec.VolumeMounts = []corev1.VolumeMount{{Name: "logs", MountPath: "/logs", SubPathExpr: tc.expr}}
		if _, err := w.volumeMounts(pod, spec, tc.env); err == nil || err.Error() != tc.want {
			t.Errorf("%s: got %v, want %s", tc.expr, err, tc.want)
		}
	}
	// Validation lets no such pod in; the kubelet's check stays.
	spec.VolumeMounts = []corev1.VolumeMount{{Name: "host", MountPath: "/h", RecursiveReadOnly: ptr.To(corev1.RecursiveReadOnlyEnabled)}}
	if _, err := w.volumeMounts(pod, spec, nil); err == nil ||
		err.Error() != `failed to resolve recursive read-only mode: volume "host" requested recursive read-only mode, but it is not read-only` {
		t.Errorf("recursiveReadOnly without readOnly: %v", err)
	}
}

func TestVolumeMountStatuses(t *testing.T) {
	mounts := []corev1.VolumeMount{
		{Name: "a", MountPath: "/a"},
		{Name: "b", MountPath: "/b", ReadOnly: true},
		{Name: "c", MountPath: "/c", ReadOnly: true, RecursiveReadOnly: ptr.To(corev1.RecursiveReadOnlyEnabled)},
		{Name: "d", MountPath: "/d", ReadOnly: true, RecursiveReadOnly: ptr.To(corev1.RecursiveReadOnlyDisabled)},
		{Name: "e", MountPath: "/e", ReadOnly: true, RecursiveReadOnly: ptr.To(corev1.RecursiveReadOnlyIfPossible)},
		{Name: "f", MountPath: "/f", ReadOnly: true, RecursiveReadOnly: ptr.To(corev1.RecursiveReadOnlyEnabled),
			MountPropagation: ptr.To(corev1.MountPropagationHostToContainer)}, // refused: Disabled, as the kubelet says
	}
	disabled, enabled := corev1.RecursiveReadOnlyDisabled, corev1.RecursiveReadOnlyEnabled
	for _, tc := range []struct {
		supported bool
		c, e      *corev1.RecursiveReadOnlyMode
	}{{true, &enabled, &enabled}, {false, &disabled, &disabled}} {
		want := []corev1.VolumeMountStatus{
			{Name: "a", MountPath: "/a"},
			{Name: "b", MountPath: "/b", ReadOnly: true, RecursiveReadOnly: &disabled},
			{Name: "c", MountPath: "/c", ReadOnly: true, RecursiveReadOnly: tc.c},
			{Name: "d", MountPath: "/d", ReadOnly: true, RecursiveReadOnly: &disabled},
			{Name: "e", MountPath: "/e", ReadOnly: true, RecursiveReadOnly: tc.e},
			{Name: "f", MountPath: "/f", ReadOnly: true, RecursiveReadOnly: &disabled},
		}
		if got := volumeMountStatuses(mounts, tc.supported); !reflect.DeepEqual(got, want) {
			t.Errorf("supported %v: got %+v\nwant %+v", tc.supported, got, want)
		}
	}
}

func TestRecursiveReadOnlyUnsupported(t *testing.T) {
	_, err := recursiveReadOnly(corev1.VolumeMount{Name: "v", ReadOnly: true, RecursiveReadOnly: ptr.To(corev1.RecursiveReadOnlyEnabled)}, false)
	if err == nil || err.Error() != `volume "v" requested recursive read-only mode, but it is not supported by the runtime` {
		t.Errorf("Enabled without support: %v", err)
	}
}

// TestMemoryEmptyDir mounts an emptyDir of medium Memory, and removing the
// pod's state unmounts it. It runs in a mount namespace of its own.
func TestMemoryEmptyDir(t *testing.T) {
	mountstest.PrivateNamespace(t)
	podDir := t.TempDir()
	dir := filepath.Join(podDir, "volumes", "cache")
	e := &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: ptr.To(resource.MustParse("1Mi"))}
	for range 2 { // the second finds it mounted
		if err := setUpEmptyDir(dir, e); err != nil {
			t.Fatal(err)
		}
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil || fs.Type != unix.TMPFS_MAGIC || fs.Blocks*uint64(fs.Bsize) != 1<<20 {
		t.Errorf("statfs %+v, %v: want a 1 MiB tmpfs", fs, err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode()&(os.ModeSticky|os.ModePerm) != os.ModeSticky|0o777 {
		t.Errorf("tmpfs root %v, %v: want tmpfs's own 1777", fi.Mode(), err)
	}
	if err := removePodDir(podDir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(podDir); !os.IsNotExist(err) {
		t.Errorf("pod dir still there: %v", err)
	}
}

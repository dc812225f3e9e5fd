package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	listerscorev1 "k8s.io/client-go/listers/core/v1"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
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
	files, err := r.projection(pod, "10.244.0.5", saVolume, token)
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
	files, err = r.projection(pod, "10.244.0.5", other, token)
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
			"secret references non-existent secret key: nope"},
	} {
		_, err := r.projection(pod, "10.244.0.5", &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{tc.source}}, token)
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

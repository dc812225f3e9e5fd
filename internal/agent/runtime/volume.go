package runtime

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"

	"github.com/portway/portway/internal/agent/shim"
)

// Projected volumes: the kubelet's projected volume plugin, which carries
// every pod's service account token (the kube-api-access-* volume the API
// server adds): tokens requested for the pod and renewed, ConfigMap and
// Secret keys, and downward API fields, written under DIR/volumes/NAME and
// bind-mounted into the containers that mount the volume. Other volume
// types are not done yet.

// token is a service account token the worker holds for a volume file.
type token struct {
	value            string
	renewAt, expires time.Time
}

// tokenMaxAge is how long a token is used at most before it is renewed, as
// the kubelet's token manager does (24 h), even if it lasts longer.
const tokenMaxAge = 24 * time.Hour

// syncVolumes writes the pod's projected volumes and says how soon a token
// in them is due for renewal (0: none is).
func (w *podWorker) syncVolumes(ctx context.Context, pod *corev1.Pod) (time.Duration, error) {
	var soonest time.Duration
	now := time.Now()
	for _, v := range pod.Spec.Volumes {
		if v.Projected == nil {
			continue
		}
		files, err := w.r.projection(pod, w.sb.IP, v.Projected, func(p *corev1.ServiceAccountTokenProjection) (string, error) {
			t, err := w.token(ctx, pod, v.Name+"/"+p.Path, p, now)
			if d := t.renewAt.Sub(now); err == nil && (soonest == 0 || d < soonest) {
				soonest = d
			}
			return t.value, err
		})
		if err == nil {
			err = writeVolume(filepath.Join(w.dir, "volumes", v.Name), files)
		}
		if err != nil {
			return 0, fmt.Errorf("MountVolume.SetUp failed for volume %q : %w", v.Name, err)
		}
	}
	return soonest, nil
}

// token returns the service account token for a volume file, renewing it
// when due. As the kubelet's token manager, it keeps using a token that has
// not expired if the renewal fails, and tries again soon.
func (w *podWorker) token(ctx context.Context, pod *corev1.Pod, key string, p *corev1.ServiceAccountTokenProjection, now time.Time) (token, error) {
	t, ok := w.tokens[key]
	if ok && now.Before(t.renewAt) {
		return t, nil
	}
	fresh, err := w.r.requestToken(ctx, pod, p, now)
	switch {
	case err == nil:
		w.tokens[key] = fresh
		return fresh, nil
	case ok && now.Before(t.expires):
		klog.FromContext(ctx).Error(err, "Couldn't update token", "volumeFile", key)
		t.renewAt = now.Add(10 * time.Second)
		w.tokens[key] = t
		return t, nil
	}
	return token{}, err
}

// requestToken asks the API server for a token bound to the pod, to be
// renewed at 80% of the lifetime asked for or after tokenMaxAge. The times
// are the node's own, not the server's, so clock skew does not matter.
func (r *Runtime) requestToken(ctx context.Context, pod *corev1.Pod, p *corev1.ServiceAccountTokenProjection, now time.Time) (token, error) {
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: p.ExpirationSeconds,
		BoundObjectRef:    &authenticationv1.BoundObjectReference{APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID},
	}}
	if p.Audience != "" {
		req.Spec.Audiences = []string{p.Audience}
	}
	tr, err := r.client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, pod.Spec.ServiceAccountName, req, metav1.CreateOptions{})
	if err != nil {
		return token{}, fmt.Errorf("failed to fetch token: %w", err)
	}
	lifetime := time.Hour // the API's default
	if tr.Spec.ExpirationSeconds != nil {
		lifetime = time.Duration(*tr.Spec.ExpirationSeconds) * time.Second
	}
	return token{value: tr.Status.Token, renewAt: now.Add(min(lifetime*8/10, tokenMaxAge)), expires: now.Add(lifetime)}, nil
}

// volumeFile is one file of a volume.
type volumeFile struct {
	data []byte
	mode os.FileMode
}

// projection computes the files of a projected volume; token gives a
// service account token's contents.
func (r *Runtime) projection(pod *corev1.Pod, podIP string, v *corev1.ProjectedVolumeSource, token func(*corev1.ServiceAccountTokenProjection) (string, error)) (map[string]volumeFile, error) {
	mode := os.FileMode(corev1.ProjectedVolumeSourceDefaultMode)
	if v.DefaultMode != nil {
		mode = os.FileMode(*v.DefaultMode)
	}
	files := map[string]volumeFile{}
	add := func(path string, data []byte, itemMode *int32) {
		m := mode
		if itemMode != nil {
			m = os.FileMode(*itemMode)
		}
		files[path] = volumeFile{data, m}
	}
	for _, s := range v.Sources {
		switch {
		case s.ServiceAccountToken != nil:
			t, err := token(s.ServiceAccountToken)
			if err != nil {
				return nil, err
			}
			add(s.ServiceAccountToken.Path, []byte(t), nil)
		case s.ConfigMap != nil:
			cm, err := r.cms.ConfigMaps(pod.Namespace).Get(s.ConfigMap.Name)
			if err != nil {
				if optional(s.ConfigMap.Optional) {
					continue
				}
				return nil, fmt.Errorf("configmap %q not found", s.ConfigMap.Name)
			}
			data := map[string][]byte{}
			for k, v := range cm.Data {
				data[k] = []byte(v)
			}
			for k, v := range cm.BinaryData {
				data[k] = v
			}
			if err := addKeys(add, data, s.ConfigMap.Items, "configmap", optional(s.ConfigMap.Optional)); err != nil {
				return nil, err
			}
		case s.Secret != nil:
			sec, err := r.secrets.Secrets(pod.Namespace).Get(s.Secret.Name)
			if err != nil {
				if optional(s.Secret.Optional) {
					continue
				}
				return nil, fmt.Errorf("secret %q not found", s.Secret.Name)
			}
			if err := addKeys(add, sec.Data, s.Secret.Items, "secret", optional(s.Secret.Optional)); err != nil {
				return nil, err
			}
		case s.DownwardAPI != nil:
			for _, item := range s.DownwardAPI.Items {
				var value string
				var err error
				switch {
				case item.FieldRef != nil:
					value, err = fieldValue(pod, item.FieldRef.FieldPath, podIP, r.cfg.NodeIP)
				case item.ResourceFieldRef != nil:
					i := slices.IndexFunc(pod.Spec.Containers, func(c corev1.Container) bool { return c.Name == item.ResourceFieldRef.ContainerName })
					if i < 0 {
						return nil, fmt.Errorf("container %q not found", item.ResourceFieldRef.ContainerName)
					}
					value, err = resourceValue(&pod.Spec.Containers[i], item.ResourceFieldRef)
				}
				if err != nil {
					return nil, err
				}
				add(item.Path, []byte(value), item.Mode)
			}
		default:
			return nil, fmt.Errorf("projected source not supported by portway yet (only serviceAccountToken, configMap, secret and downwardAPI)")
		}
	}
	return files, nil
}

func optional(b *bool) bool { return b != nil && *b }

// addKeys adds a ConfigMap's or Secret's keys: the listed items, or every
// key under its own name.
func addKeys(add func(string, []byte, *int32), data map[string][]byte, items []corev1.KeyToPath, kind string, optional bool) error {
	if len(items) == 0 {
		for k, v := range data {
			add(k, v, nil)
		}
		return nil
	}
	for _, item := range items {
		v, ok := data[item.Key]
		if !ok {
			if optional {
				continue
			}
			if kind == "secret" {
				return fmt.Errorf("secret references non-existent secret key: %s", item.Key)
			}
			return fmt.Errorf("configmap references non-existent config key: %s", item.Key)
		}
		add(item.Path, v, item.Mode)
	}
	return nil
}

// writeVolume makes dir hold files and nothing else. A changed file is
// replaced by a rename, so a container reading it sees the old or the new
// contents, never a mix (a renewed token shows in running containers); an
// unchanged one is left alone, so whoever watches it is not woken.
func writeVolume(dir string, files map[string]volumeFile) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for path, f := range files {
		target := filepath.Join(dir, path)
		if !strings.HasPrefix(target, dir+string(filepath.Separator)) {
			return fmt.Errorf("path %q leaves the volume", path)
		}
		if old, err := os.ReadFile(target); err == nil && bytes.Equal(old, f.data) {
			if fi, err := os.Stat(target); err == nil && fi.Mode().Perm() == f.mode.Perm() {
				continue
			}
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		// Keys and paths may not start with "..", so this name is no key's.
		tmp, err := os.CreateTemp(filepath.Dir(target), "..tmp-")
		if err != nil {
			return err
		}
		_, err = tmp.Write(f.data)
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Chmod(tmp.Name(), f.mode)
		}
		if err == nil {
			err = os.Rename(tmp.Name(), target)
		}
		if err != nil {
			os.Remove(tmp.Name())
			return err
		}
	}
	// What a source no longer has (a key removed from a ConfigMap) goes.
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if _, ok := files[rel]; err == nil && !ok {
			return os.Remove(path)
		}
		return err
	})
}

// volumeMounts are the shim's mounts of the container's projected volumes.
func (w *podWorker) volumeMounts(pod *corev1.Pod, spec *corev1.Container) []shim.Mount {
	var mounts []shim.Mount
	for _, m := range spec.VolumeMounts {
		i := slices.IndexFunc(pod.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == m.Name })
		if i < 0 || pod.Spec.Volumes[i].Projected == nil {
			continue
		}
		mounts = append(mounts, shim.Mount{
			Source:   filepath.Join(w.dir, "volumes", m.Name, m.SubPath),
			Target:   m.MountPath,
			ReadOnly: m.ReadOnly,
		})
	}
	return mounts
}

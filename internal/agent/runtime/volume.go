package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"

	"github.com/portway/portway/internal/agent/shim"
	"github.com/portway/portway/internal/mounts"
)

// Volumes, as the kubelet's volume plugins set them up:
//   - projected (every pod's service account token, the kube-api-access-*
//     volume the API server adds), configMap, secret and downwardAPI:
//     files written under DIR/volumes/NAME, kept up to date (tokens
//     requested for the pod and renewed, keys and fields followed);
//   - emptyDir: a directory there, a tmpfs for medium Memory;
//   - hostPath: the node's own path, after the kubelet's type check.
// Each is bind-mounted into the containers that mount it. Other types
// (persistentVolumeClaim, ephemeral, CSI ...) fail with a FailedMount
// event, and the pod waits, as when a volume cannot be attached.

// token is a service account token the worker holds for a volume file.
type token struct {
	value            string
	renewAt, expires time.Time
}

// tokenMaxAge is how long a token is used at most before it is renewed, as
// the kubelet's token manager does (24 h), even if it lasts longer.
const tokenMaxAge = 24 * time.Hour

// syncVolumes sets up the pod's volumes, or brings them up to date, and
// says how soon a token in them is due for renewal (0: none is). A volume
// that fails does not hold the others back; each failure is one error.
func (w *podWorker) syncVolumes(ctx context.Context, pod *corev1.Pod) (time.Duration, []error) {
	if !w.mounted {
		// The pod's directory and record come first, so that the state
		// of a pod deleted while an agent was down is found and removed;
		// and volumes/ with its own mode, not that of the first emptyDir.
		if err := os.MkdirAll(filepath.Join(w.dir, "volumes"), 0o750); err != nil {
			return 0, []error{err}
		}
		if err := writeRecord(w.dir, &podRecord{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID, Sandbox: w.sb}); err != nil {
			return 0, []error{err}
		}
	}
	var soonest time.Duration
	var errs []error
	now := time.Now()
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		renew, err := w.setUpVolume(ctx, pod, v, now)
		if err != nil {
			errs = append(errs, fmt.Errorf("MountVolume.SetUp failed for volume %q : %w", v.Name, err))
		}
		if renew > 0 && (soonest == 0 || renew < soonest) {
			soonest = renew
		}
	}
	return soonest, errs
}

// setUpVolume sets up one volume. ConfigMap, Secret and downward API
// volumes are what a projected volume with that one source is, bar the
// default mode each carries; they are kept up to date. emptyDir and
// hostPath volumes are set up once, before the containers first start,
// and then left to them.
func (w *podWorker) setUpVolume(ctx context.Context, pod *corev1.Pod, v *corev1.Volume, now time.Time) (time.Duration, error) {
	p := v.Projected
	switch s := v.VolumeSource; {
	case s.Projected != nil:
	case s.ConfigMap != nil:
		p = &corev1.ProjectedVolumeSource{DefaultMode: s.ConfigMap.DefaultMode, Sources: []corev1.VolumeProjection{{ConfigMap: &corev1.ConfigMapProjection{
			LocalObjectReference: s.ConfigMap.LocalObjectReference, Items: s.ConfigMap.Items, Optional: s.ConfigMap.Optional}}}}
	case s.Secret != nil:
		p = &corev1.ProjectedVolumeSource{DefaultMode: s.Secret.DefaultMode, Sources: []corev1.VolumeProjection{{Secret: &corev1.SecretProjection{
			LocalObjectReference: corev1.LocalObjectReference{Name: s.Secret.SecretName}, Items: s.Secret.Items, Optional: s.Secret.Optional}}}}
	case s.DownwardAPI != nil:
		p = &corev1.ProjectedVolumeSource{DefaultMode: s.DownwardAPI.DefaultMode, Sources: []corev1.VolumeProjection{{DownwardAPI: &corev1.DownwardAPIProjection{
			Items: s.DownwardAPI.Items}}}}
	case s.EmptyDir != nil && !w.mounted:
		return 0, setUpEmptyDir(w.volumeDir(v.Name), s.EmptyDir)
	case s.HostPath != nil && !w.mounted:
		return 0, checkHostPath(s.HostPath)
	case s.EmptyDir != nil, s.HostPath != nil:
		return 0, nil
	default:
		return 0, fmt.Errorf("volume type %s is not supported by portway", volumeType(s))
	}
	var soonest time.Duration
	files, err := w.r.projection(pod, p, func(t *corev1.ServiceAccountTokenProjection) (string, error) {
		tok, err := w.token(ctx, pod, v.Name+"/"+t.Path, t, now)
		if d := tok.renewAt.Sub(now); err == nil && (soonest == 0 || d < soonest) {
			soonest = d
		}
		return tok.value, err
	})
	if err != nil {
		return 0, err
	}
	return soonest, writeVolume(w.volumeDir(v.Name), files)
}

func (w *podWorker) volumeDir(name string) string { return filepath.Join(w.dir, "volumes", name) }

// volumeType names the field of a volume source that is set, as the API
// spells it ("persistentVolumeClaim").
func volumeType(s corev1.VolumeSource) string {
	v := reflect.ValueOf(s)
	for i := range v.NumField() {
		if !v.Field(i).IsNil() {
			name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ",")
			return name
		}
	}
	return "(none)"
}

// setUpEmptyDir makes an emptyDir volume's directory, world-writable as
// the kubelet makes it, and for medium Memory mounts a tmpfs on it (sized
// by sizeLimit if set, else tmpfs's own default, half the node's memory).
// The tmpfs is mounted in the agent's mount namespace, where every
// container's bind mount of the directory finds it.
func setUpEmptyDir(dir string, e *corev1.EmptyDirVolumeSource) error {
	switch e.Medium {
	case corev1.StorageMediumDefault, corev1.StorageMediumMemory:
	default:
		return fmt.Errorf("emptyDir medium %q is not supported by portway", e.Medium)
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := makeDir(dir, 0o777); err != nil {
			return err
		}
	}
	if e.Medium != corev1.StorageMediumMemory {
		return nil
	}
	mounted, err := mountinfo.Mounted(dir)
	if err != nil || mounted {
		return err
	}
	opts := ""
	if e.SizeLimit != nil && e.SizeLimit.Value() > 0 {
		opts = fmt.Sprintf("size=%d", e.SizeLimit.Value())
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, opts); err != nil {
		return fmt.Errorf("mounting tmpfs: %w", err)
	}
	return nil
}

// removePodDir removes a pod's state, unmounting its tmpfs volumes first
// (so that nothing of them stays mounted, and their files are not walked).
func removePodDir(dir string) error {
	if err := mounts.UnmountUnder(dir); err != nil {
		return err
	}
	return os.RemoveAll(dir)
}

// checkHostPath is the kubelet's check of a hostPath volume's type,
// making the directory or file for the ...OrCreate types.
func checkHostPath(h *corev1.HostPathVolumeSource) error {
	t := corev1.HostPathUnset
	if h.Type != nil {
		t = *h.Type
	}
	fi, err := os.Stat(h.Path)
	exists := err == nil
	switch t {
	case corev1.HostPathUnset:
		// Unchecked; a missing path is made a directory, as containerd
		// and CRI-O make the source of a bind mount.
		if !exists {
			return os.MkdirAll(h.Path, 0o755)
		}
	case corev1.HostPathDirectoryOrCreate:
		if !exists {
			return os.MkdirAll(h.Path, 0o755)
		}
		fallthrough
	case corev1.HostPathDirectory:
		if !exists || !fi.IsDir() {
			return fmt.Errorf("hostPath type check failed: %s is not a directory", h.Path)
		}
	case corev1.HostPathFileOrCreate:
		if !exists {
			f, err := os.OpenFile(h.Path, os.O_CREATE, 0o644)
			if err == nil {
				err = f.Close()
			}
			return err
		}
		fallthrough
	case corev1.HostPathFile:
		if !exists || !fi.Mode().IsRegular() {
			return fmt.Errorf("hostPath type check failed: %s is not a file", h.Path)
		}
	case corev1.HostPathSocket:
		if !exists || fi.Mode().Type() != fs.ModeSocket {
			return fmt.Errorf("hostPath type check failed: %s is not a socket file", h.Path)
		}
	case corev1.HostPathCharDev:
		if !exists || fi.Mode().Type() != fs.ModeDevice|fs.ModeCharDevice {
			return fmt.Errorf("hostPath type check failed: %s is not a character device", h.Path)
		}
	case corev1.HostPathBlockDev:
		if !exists || fi.Mode().Type() != fs.ModeDevice {
			return fmt.Errorf("hostPath type check failed: %s is not a block device", h.Path)
		}
	default:
		return fmt.Errorf("%s is an invalid volume type", t)
	}
	return nil
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
// service account token's contents. A volume's downward API may name only
// the pod's metadata (validation sees to it), so it has no IP to give.
func (r *Runtime) projection(pod *corev1.Pod, v *corev1.ProjectedVolumeSource, token func(*corev1.ServiceAccountTokenProjection) (string, error)) (map[string]volumeFile, error) {
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
					value, err = fieldValue(pod, item.FieldRef.FieldPath, "", r.cfg.NodeIP)
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
				return fmt.Errorf("references non-existent secret key: %s", item.Key)
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

// volumeMounts are the shim's mounts of the container's volumes. Those
// whose files the agent writes are read-only, as the kubelet mounts them. A
// subPath (or a subPathExpr, expanded from the container's environment)
// that the volume lacks is made a directory with the volume's mode, as the
// kubelet does.
func (w *podWorker) volumeMounts(pod *corev1.Pod, spec *corev1.Container, env map[string]string) ([]shim.Mount, error) {
	var mounts []shim.Mount
	for _, m := range spec.VolumeMounts {
		i := slices.IndexFunc(pod.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == m.Name })
		if i < 0 {
			continue // validation does not let this happen
		}
		v := &pod.Spec.Volumes[i]
		source := w.volumeDir(m.Name)
		if v.HostPath != nil {
			source = v.HostPath.Path
		}
		sub := m.SubPath
		if m.SubPathExpr != "" {
			var missing []string
			sub = expandWith(m.SubPathExpr, func(name string) (string, bool) {
				if env[name] == "" && !slices.Contains(missing, name) {
					missing = append(missing, name)
				}
				return env[name], true
			})
			if len(missing) > 0 {
				slices.Sort(missing)
				return nil, fmt.Errorf("missing value for %s", strings.Join(missing, ", "))
			}
		}
		if sub != "" {
			// The kubelet's checks: validation has made them of subPath,
			// not of what a subPathExpr expands to.
			if filepath.IsAbs(sub) {
				return nil, fmt.Errorf("error SubPath `%s` must not be an absolute path", sub)
			}
			if slices.Contains(strings.Split(sub, "/"), "..") {
				return nil, fmt.Errorf("unable to provision SubPath `%s`: must not contain '..'", sub)
			}
			root := source
			source = filepath.Join(root, sub)
			if _, err := os.Lstat(source); errors.Is(err, fs.ErrNotExist) {
				if err := makeSubPath(root, source); err != nil {
					// The kubelet leaves the host's error out, as here.
					klog.Background().Error(err, "Creating subPath", "pod", klog.KObj(pod), "volume", m.Name)
					return nil, fmt.Errorf("failed to create subPath directory for volumeMount %q of container %q", m.Name, spec.Name)
				}
			}
		}
		rro, err := recursiveReadOnly(m, shim.RecursiveReadOnlySupported())
		if err != nil {
			return nil, fmt.Errorf("failed to resolve recursive read-only mode: %w", err)
		}
		readOnly := m.ReadOnly || v.ConfigMap != nil || v.Secret != nil || v.DownwardAPI != nil || v.Projected != nil
		mounts = append(mounts, shim.Mount{Source: source, Target: m.MountPath, ReadOnly: readOnly, RecursiveReadOnly: rro})
	}
	return mounts, nil
}

// recursiveReadOnly resolves a mount's recursiveReadOnly as the kubelet
// does for a runtime that supports recursive read-only mounts or not (the
// shim does where the kernel does). Validation rules out the first two
// errors for pods it has seen.
func recursiveReadOnly(m corev1.VolumeMount, supported bool) (bool, error) {
	if m.RecursiveReadOnly == nil || *m.RecursiveReadOnly == corev1.RecursiveReadOnlyDisabled {
		return false, nil
	}
	if !m.ReadOnly {
		return false, fmt.Errorf("volume %q requested recursive read-only mode, but it is not read-only", m.Name)
	}
	if m.MountPropagation != nil && *m.MountPropagation != corev1.MountPropagationNone {
		return false, fmt.Errorf("volume %q requested recursive read-only mode, but it is not compatible with propagation %q", m.Name, *m.MountPropagation)
	}
	switch *m.RecursiveReadOnly {
	case corev1.RecursiveReadOnlyIfPossible:
		return supported, nil
	case corev1.RecursiveReadOnlyEnabled:
		if !supported {
			return false, fmt.Errorf("volume %q requested recursive read-only mode, but it is not supported by the runtime", m.Name)
		}
		return true, nil
	}
	return false, fmt.Errorf("unknown recursive read-only mode %q", *m.RecursiveReadOnly)
}

// makeSubPath makes path, below a volume's root, a directory with the
// root's mode.
func makeSubPath(root, path string) error {
	fi, err := os.Stat(root)
	if err != nil {
		return err
	}
	return makeDir(path, fi.Mode().Perm())
}

// makeDir makes dir and its parents with mode, whatever the umask.
func makeDir(dir string, mode os.FileMode) error {
	if err := os.MkdirAll(dir, mode); err != nil {
		return err
	}
	return os.Chmod(dir, mode)
}

// sortMounts orders mounts by the depth of their targets, as container
// engines do, so that a mount on /etc/app/conf.d lands inside one on
// /etc/app rather than under it.
func sortMounts(mounts []shim.Mount) {
	depth := func(m shim.Mount) int { return strings.Count(filepath.Clean(m.Target), "/") }
	slices.SortStableFunc(mounts, func(a, b shim.Mount) int { return depth(a) - depth(b) })
}

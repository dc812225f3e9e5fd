package validation

import (
	"fmt"
	"path"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Volumes of a pod and the containers' mounts of them.

// validateVolumes checks the pod's volumes and returns those that are valid,
// by name, for the mounts to refer to. A mount of an invalid volume is
// reported as not found, on top of the volume's own error, as in Kubernetes.
func validateVolumes(volumes []corev1.Volume, podMeta *metav1.ObjectMeta, fldPath *field.Path) (map[string]corev1.VolumeSource, field.ErrorList) {
	var allErrs field.ErrorList

	// A generic ephemeral volume creates the PVC "<pod>-<volume>".
	createdPVCs := sets.New[string]()
	if podMeta.Name != "" {
		for _, vol := range volumes {
			if vol.Ephemeral != nil {
				createdPVCs.Insert(podMeta.Name + "-" + vol.Name)
			}
		}
	}

	names := sets.New[string]()
	vols := map[string]corev1.VolumeSource{}
	for i, vol := range volumes {
		idxPath := fldPath.Index(i)
		namePath := idxPath.Child("name")
		el := validateVolumeSource(&vol.VolumeSource, idxPath, vol.Name, podMeta)
		if vol.Name == "" {
			el = append(el, field.Required(namePath, ""))
		} else {
			el = append(el, validateDNS1123Label(vol.Name, namePath)...)
		}
		if names.Has(vol.Name) {
			el = append(el, field.Duplicate(namePath, vol.Name))
		}
		if len(el) == 0 {
			names.Insert(vol.Name)
			vols[vol.Name] = vol.VolumeSource
		} else {
			allErrs = append(allErrs, el...)
		}
		if vol.PersistentVolumeClaim != nil && createdPVCs.Has(vol.PersistentVolumeClaim.ClaimName) {
			allErrs = append(allErrs, field.Invalid(idxPath.Child("persistentVolumeClaim", "claimName"), vol.PersistentVolumeClaim.ClaimName,
				"must not reference a PVC that gets created for an ephemeral volume"))
		}
	}
	return vols, allErrs
}

// validateVolumeSource: a volume has exactly one source. Every source after
// the first is reported as forbidden, in Kubernetes' order and with its
// field names (including its "downwarAPI" typo). Only the common sources are
// checked in depth (see pod.go).
func validateVolumeSource(source *corev1.VolumeSource, fldPath *field.Path, volName string, podMeta *metav1.ObjectMeta) field.ErrorList {
	var allErrs field.ErrorList
	if source.EmptyDir != nil && source.EmptyDir.SizeLimit != nil && source.EmptyDir.SizeLimit.Cmp(resource.Quantity{}) < 0 {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("emptyDir", "sizeLimit"), "SizeLimit field must be a valid resource quantity"))
	}

	type volumeType struct {
		name     string
		set      bool
		validate func() field.ErrorList // nil: not checked in depth
	}
	types := []volumeType{
		{"emptyDir", source.EmptyDir != nil, nil},
		{"hostPath", source.HostPath != nil, func() field.ErrorList {
			return validateHostPathVolumeSource(source.HostPath, fldPath.Child("hostPath"))
		}},
		{"gitRepo", source.GitRepo != nil, nil},
		{"gcePersistentDisk", source.GCEPersistentDisk != nil, nil},
		{"awsElasticBlockStore", source.AWSElasticBlockStore != nil, nil},
		{"secret", source.Secret != nil, func() field.ErrorList {
			s := source.Secret
			return validateKeyProjection(s.SecretName == "", "secretName", s.DefaultMode, s.Items, fldPath.Child("secret"))
		}},
		{"nfs", source.NFS != nil, nil},
		{"iscsi", source.ISCSI != nil, nil},
		{"glusterfs", source.Glusterfs != nil, nil},
		{"flocker", source.Flocker != nil, nil},
		{"persistentVolumeClaim", source.PersistentVolumeClaim != nil, func() field.ErrorList {
			if source.PersistentVolumeClaim.ClaimName == "" {
				return field.ErrorList{field.Required(fldPath.Child("persistentVolumeClaim", "claimName"), "")}
			}
			return nil
		}},
		{"rbd", source.RBD != nil, nil},
		{"cinder", source.Cinder != nil, nil},
		{"cephFS", source.CephFS != nil, nil},
		{"quobyte", source.Quobyte != nil, nil},
		{"downwarAPI", source.DownwardAPI != nil, func() field.ErrorList {
			return validateDownwardAPIVolumeSource(source.DownwardAPI, fldPath.Child("downwardAPI"))
		}},
		{"fc", source.FC != nil, nil},
		{"flexVolume", source.FlexVolume != nil, nil},
		{"configMap", source.ConfigMap != nil, func() field.ErrorList {
			c := source.ConfigMap
			return validateKeyProjection(c.Name == "", "name", c.DefaultMode, c.Items, fldPath.Child("configMap"))
		}},
		{"azureFile", source.AzureFile != nil, nil},
		{"vsphereVolume", source.VsphereVolume != nil, nil},
		{"photonPersistentDisk", source.PhotonPersistentDisk != nil, nil},
		{"portworxVolume", source.PortworxVolume != nil, nil},
		{"azureDisk", source.AzureDisk != nil, nil},
		{"storageos", source.StorageOS != nil, nil},
		{"projected", source.Projected != nil, func() field.ErrorList {
			return validateProjectedVolumeSource(source.Projected, fldPath.Child("projected"))
		}},
		{"scaleIO", source.ScaleIO != nil, nil},
		{"csi", source.CSI != nil, nil},
		{"ephemeral", source.Ephemeral != nil, func() field.ErrorList {
			// The PVC's name must be a valid object name. (Its template is
			// not checked.)
			if podMeta.Name == "" || volName == "" {
				return nil
			}
			var errs field.ErrorList
			pvcName := podMeta.Name + "-" + volName
			for _, msg := range apivalidation.NameIsDNSSubdomain(pvcName, false) {
				errs = append(errs, field.Invalid(fldPath.Child("name"), volName, fmt.Sprintf("PVC name %q: %v", pvcName, msg)))
			}
			return errs
		}},
		{"image", source.Image != nil, nil},
	}

	count := 0
	for _, t := range types {
		if !t.set {
			continue
		}
		if count > 0 {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child(t.name), "may not specify more than 1 volume type"))
			continue
		}
		count++
		if t.validate != nil {
			allErrs = append(allErrs, t.validate()...)
		}
	}
	if count == 0 {
		allErrs = append(allErrs, field.Required(fldPath, "must specify a volume type"))
	}
	return allErrs
}

var supportedHostPathTypes = sets.New(
	corev1.HostPathUnset,
	corev1.HostPathDirectoryOrCreate,
	corev1.HostPathDirectory,
	corev1.HostPathFileOrCreate,
	corev1.HostPathFile,
	corev1.HostPathSocket,
	corev1.HostPathCharDev,
	corev1.HostPathBlockDev,
)

func validateHostPathVolumeSource(hostPath *corev1.HostPathVolumeSource, fldPath *field.Path) field.ErrorList {
	if hostPath.Path == "" {
		return field.ErrorList{field.Required(fldPath.Child("path"), "")}
	}
	allErrs := validatePathNoBacksteps(hostPath.Path, fldPath.Child("path"))
	if t := hostPath.Type; t != nil && !supportedHostPathTypes.Has(*t) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("type"), *t, sets.List(supportedHostPathTypes)))
	}
	return allErrs
}

// validateKeyProjection checks a secret or configMap volume: the object's
// name (secretName or name), the default file mode and the key-to-file items.
func validateKeyProjection(noName bool, nameField string, defaultMode *int32, items []corev1.KeyToPath, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if noName {
		allErrs = append(allErrs, field.Required(fldPath.Child(nameField), ""))
	}
	allErrs = append(allErrs, validateFileMode(defaultMode, fldPath.Child("defaultMode"))...)
	for i := range items {
		allErrs = append(allErrs, validateKeyToPath(&items[i], fldPath.Child("items").Index(i))...)
	}
	return allErrs
}

func validateKeyToPath(kp *corev1.KeyToPath, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if kp.Key == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("key"), ""))
	}
	if kp.Path == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("path"), ""))
	}
	allErrs = append(allErrs, validateLocalNonReservedPath(kp.Path, fldPath.Child("path"))...)
	return append(allErrs, validateFileMode(kp.Mode, fldPath.Child("mode"))...)
}

// validateDownwardAPIVolumeSource checks a downwardAPI volume. Kubernetes
// reports its items' errors without the item index.
func validateDownwardAPIVolumeSource(source *corev1.DownwardAPIVolumeSource, fldPath *field.Path) field.ErrorList {
	allErrs := validateFileMode(source.DefaultMode, fldPath.Child("defaultMode"))
	for i := range source.Items {
		allErrs = append(allErrs, validateDownwardAPIVolumeFile(&source.Items[i], fldPath)...)
	}
	return allErrs
}

func validateDownwardAPIVolumeFile(file *corev1.DownwardAPIVolumeFile, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if file.Path == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("path"), ""))
	}
	allErrs = append(allErrs, validateLocalNonReservedPath(file.Path, fldPath.Child("path"))...)
	switch {
	case file.FieldRef != nil:
		allErrs = append(allErrs, validateObjectFieldSelector(file.FieldRef, volumeFieldPaths, fldPath.Child("fieldRef"))...)
		if file.ResourceFieldRef != nil {
			allErrs = append(allErrs, field.Invalid(fldPath, "resource", "fieldRef and resourceFieldRef can not be specified simultaneously"))
		}
	case file.ResourceFieldRef != nil:
		allErrs = append(allErrs, validateResourceFieldSelector(file.ResourceFieldRef, true, fldPath.Child("resourceFieldRef"))...)
	default:
		allErrs = append(allErrs, field.Required(fldPath, "one of fieldRef and resourceFieldRef is required"))
	}
	return append(allErrs, validateFileMode(file.Mode, fldPath.Child("mode"))...)
}

// validateProjectedVolumeSource checks a projected volume: one kind per
// source, and no two files at the same path. Kubernetes reports a path
// conflict at the volume, not at the source.
func validateProjectedVolumeSource(projection *corev1.ProjectedVolumeSource, fldPath *field.Path) field.ErrorList {
	allErrs := validateFileMode(projection.DefaultMode, fldPath.Child("defaultMode"))
	paths := sets.New[string]()
	// claim records a file path and reports the value Kubernetes reports
	// when the path is taken already.
	claim := func(p string, value string) {
		if paths.Has(p) {
			allErrs = append(allErrs, field.Invalid(fldPath, value, "conflicting duplicate paths"))
		}
		paths.Insert(p)
	}

	for i, source := range projection.Sources {
		kinds := 0
		srcPath := fldPath.Child("sources").Index(i)
		if s := source.Secret; s != nil {
			kinds++
			if s.Name == "" {
				allErrs = append(allErrs, field.Required(srcPath.Child("secret", "name"), ""))
			}
			for j := range s.Items {
				allErrs = append(allErrs, validateKeyToPath(&s.Items[j], srcPath.Child("secret", "items").Index(j))...)
				if s.Items[j].Path != "" {
					claim(s.Items[j].Path, s.Name)
				}
			}
		}
		if c := source.ConfigMap; c != nil {
			kinds++
			if c.Name == "" {
				allErrs = append(allErrs, field.Required(srcPath.Child("configMap", "name"), ""))
			}
			for j := range c.Items {
				allErrs = append(allErrs, validateKeyToPath(&c.Items[j], srcPath.Child("configMap", "items").Index(j))...)
				if c.Items[j].Path != "" {
					claim(c.Items[j].Path, c.Name)
				}
			}
		}
		if d := source.DownwardAPI; d != nil {
			kinds++
			for j := range d.Items {
				allErrs = append(allErrs, validateDownwardAPIVolumeFile(&d.Items[j], srcPath.Child("downwardAPI"))...)
				if d.Items[j].Path != "" {
					claim(d.Items[j].Path, d.Items[j].Path)
				}
			}
		}
		if t := source.ServiceAccountToken; t != nil {
			kinds++
			tokenPath := srcPath.Child("serviceAccountToken")
			// Defaulting sets expirationSeconds; unset reads as 0, as in
			// Kubernetes' internal type.
			var expiration int64
			if t.ExpirationSeconds != nil {
				expiration = *t.ExpirationSeconds
			}
			if expiration < 10*60 {
				allErrs = append(allErrs, field.Invalid(tokenPath.Child("expirationSeconds"), expiration, "may not specify a duration less than 10 minutes"))
			}
			if expiration > 1<<32 {
				allErrs = append(allErrs, field.Invalid(tokenPath.Child("expirationSeconds"), expiration, "may not specify a duration larger than 2^32 seconds"))
			}
			// Kubernetes reports the token's path at the volume's path.
			if t.Path == "" {
				allErrs = append(allErrs, field.Required(fldPath.Child("path"), ""))
			} else {
				allErrs = append(allErrs, validateLocalNonReservedPath(t.Path, fldPath.Child("path"))...)
			}
		}
		if source.ClusterTrustBundle != nil {
			kinds++ // alpha in 1.32; not checked further
		}
		if kinds > 1 {
			allErrs = append(allErrs, field.Forbidden(srcPath, "may not specify more than 1 volume type per source"))
		}
	}
	return allErrs
}

// validateLocalDescendingPath: a path inside the volume, relative and
// without "..".
func validateLocalDescendingPath(targetPath string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if path.IsAbs(targetPath) {
		allErrs = append(allErrs, field.Invalid(fldPath, targetPath, "must be a relative path"))
	}
	return append(allErrs, validatePathNoBacksteps(targetPath, fldPath)...)
}

func validatePathNoBacksteps(targetPath string, fldPath *field.Path) field.ErrorList {
	for _, item := range strings.Split(filepath.ToSlash(targetPath), "/") {
		if item == ".." {
			return field.ErrorList{field.Invalid(fldPath, targetPath, "must not contain '..'")}
		}
	}
	return nil
}

// validateLocalNonReservedPath also keeps files from starting with "..",
// which the kubelet uses for its atomic-update bookkeeping.
func validateLocalNonReservedPath(targetPath string, fldPath *field.Path) field.ErrorList {
	allErrs := validateLocalDescendingPath(targetPath, fldPath)
	if strings.HasPrefix(targetPath, "..") && !strings.HasPrefix(targetPath, "../") {
		allErrs = append(allErrs, field.Invalid(fldPath, targetPath, "must not start with '..'"))
	}
	return allErrs
}

// validateVolumeMounts checks a container's mounts. Kubernetes reports the
// subPath, mountPropagation and recursiveReadOnly errors at
// volumeMounts.<field>, without the index; we keep its paths.
func validateVolumeMounts(mounts []corev1.VolumeMount, vols map[string]corev1.VolumeSource, ctr *corev1.Container, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	mountPaths := sets.New[string]()
	devices := map[string]string{}
	for _, d := range ctr.VolumeDevices {
		devices[d.Name] = d.DevicePath
	}
	for i, mnt := range mounts {
		idxPath := fldPath.Index(i)
		if mnt.Name == "" {
			allErrs = append(allErrs, field.Required(idxPath.Child("name"), ""))
		}
		if _, ok := vols[mnt.Name]; !ok {
			allErrs = append(allErrs, field.NotFound(idxPath.Child("name"), mnt.Name))
		}
		if mnt.MountPath == "" {
			allErrs = append(allErrs, field.Required(idxPath.Child("mountPath"), ""))
		}
		if mountPaths.Has(mnt.MountPath) {
			allErrs = append(allErrs, field.Invalid(idxPath.Child("mountPath"), mnt.MountPath, "must be unique"))
		}
		mountPaths.Insert(mnt.MountPath)

		// A volume is either mounted or attached as a block device.
		if _, ok := devices[mnt.Name]; ok {
			allErrs = append(allErrs, field.Invalid(idxPath.Child("name"), mnt.Name, "must not already exist in volumeDevices"))
		}
		for _, devicePath := range devices {
			if devicePath == mnt.MountPath {
				allErrs = append(allErrs, field.Invalid(idxPath.Child("mountPath"), mnt.MountPath, "must not already exist as a path in volumeDevices"))
				break
			}
		}

		if mnt.SubPath != "" {
			allErrs = append(allErrs, validateLocalDescendingPath(mnt.SubPath, fldPath.Child("subPath"))...)
		}
		if mnt.SubPathExpr != "" {
			if mnt.SubPath != "" {
				allErrs = append(allErrs, field.Invalid(idxPath.Child("subPathExpr"), mnt.SubPathExpr, "subPathExpr and subPath are mutually exclusive"))
			}
			allErrs = append(allErrs, validateLocalDescendingPath(mnt.SubPathExpr, fldPath.Child("subPathExpr"))...)
		}
		if mnt.MountPropagation != nil {
			allErrs = append(allErrs, validateMountPropagation(*mnt.MountPropagation, ctr, fldPath.Child("mountPropagation"))...)
		}
		allErrs = append(allErrs, validateRecursiveReadOnly(mnt, fldPath.Child("recursiveReadOnly"))...)
	}
	return allErrs
}

var supportedMountPropagations = sets.New(
	corev1.MountPropagationBidirectional,
	corev1.MountPropagationHostToContainer,
	corev1.MountPropagationNone,
)

// validateMountPropagation: propagating mounts back to the host needs a
// privileged container.
func validateMountPropagation(mode corev1.MountPropagationMode, ctr *corev1.Container, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if !supportedMountPropagations.Has(mode) {
		allErrs = append(allErrs, field.NotSupported(fldPath, mode, sets.List(supportedMountPropagations)))
	}
	privileged := ctr.SecurityContext != nil && ctr.SecurityContext.Privileged != nil && *ctr.SecurityContext.Privileged
	if mode == corev1.MountPropagationBidirectional && !privileged {
		allErrs = append(allErrs, field.Forbidden(fldPath, "Bidirectional mount propagation is available only to privileged containers"))
	}
	return allErrs
}

// validateRecursiveReadOnly: a recursively read-only mount must be read-only
// and must not propagate mounts.
func validateRecursiveReadOnly(mnt corev1.VolumeMount, fldPath *field.Path) field.ErrorList {
	if mnt.RecursiveReadOnly == nil {
		return nil
	}
	var allErrs field.ErrorList
	switch *mnt.RecursiveReadOnly {
	case corev1.RecursiveReadOnlyDisabled:
	case corev1.RecursiveReadOnlyEnabled, corev1.RecursiveReadOnlyIfPossible:
		if !mnt.ReadOnly {
			allErrs = append(allErrs, field.Forbidden(fldPath, "may only be specified when readOnly is true"))
		}
		if mnt.MountPropagation != nil && *mnt.MountPropagation != corev1.MountPropagationNone {
			allErrs = append(allErrs, field.Forbidden(fldPath, "may only be specified when mountPropagation is None or not specified"))
		}
	default:
		valid := []corev1.RecursiveReadOnlyMode{corev1.RecursiveReadOnlyDisabled, corev1.RecursiveReadOnlyEnabled, corev1.RecursiveReadOnlyIfPossible}
		allErrs = append(allErrs, field.NotSupported(fldPath, *mnt.RecursiveReadOnly, valid))
	}
	return allErrs
}

// Package version says which portway this is and which Kubernetes API
// version it serves.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	apimachineryversion "k8s.io/apimachinery/pkg/version"
)

// Portway is portway's own version; release builds set it with
// -ldflags "-X github.com/portway/portway/internal/version.Portway=v0.1.0".
var Portway = "v0.1.0-dev"

// kubernetesFallback is used when the binary carries no module information
// (go test binaries do); it must match the k8s.io/api version in go.mod.
const kubernetesFallback = "v1.32.13"

// Kubernetes is the Kubernetes version whose API portway serves, derived from
// the k8s.io/api module it is built with (k8s.io/api v0.32.x is Kubernetes
// v1.32.x).
func Kubernetes() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range bi.Deps {
			if dep.Path == "k8s.io/api" && strings.HasPrefix(dep.Version, "v0.") {
				return "v1." + strings.TrimPrefix(dep.Version, "v0.")
			}
		}
	}
	return kubernetesFallback
}

// Info is what GET /version answers. kubectl (and the kubectl dispatcher that
// picks a kubectl by server minor version) reads major and minor from it.
func Info() apimachineryversion.Info {
	kube := Kubernetes()
	parts := strings.SplitN(strings.TrimPrefix(kube, "v"), ".", 3)
	return apimachineryversion.Info{
		Major:      parts[0],
		Minor:      parts[1],
		GitVersion: kube + "+portway",
		GitCommit:  commit(),
		GoVersion:  runtime.Version(),
		Compiler:   runtime.Compiler,
		Platform:   fmt.Sprintf("%s/%s", runtime.GOOS, runtime.GOARCH),
	}
}

func commit() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return ""
}

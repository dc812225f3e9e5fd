package version

import (
	"os"
	"strings"
	"testing"
)

func TestKubernetesMatchesGoMod(t *testing.T) {
	mod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	want := "k8s.io/api v0." + strings.TrimPrefix(kubernetesFallback, "v1.")
	if !strings.Contains(string(mod), want) {
		t.Errorf("go.mod does not require %q: update kubernetesFallback", want)
	}
	if info := Info(); info.Major != "1" || info.Minor != "32" {
		t.Errorf("Info() = %s.%s, want 1.32", info.Major, info.Minor)
	}
}

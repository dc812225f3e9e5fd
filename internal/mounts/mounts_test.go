package mounts

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/portway/portway/internal/mounts/mountstest"
)

// TestUnmountUnder mounts two tmpfs, one inside the other, below a
// directory reached through a symlink, and unmounts both. It runs in a
// mount namespace of its own.
func TestUnmountUnder(t *testing.T) {
	mountstest.PrivateNamespace(t)
	base := t.TempDir()
	outer := filepath.Join(base, "real", "a")
	if err := os.MkdirAll(outer, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(base, "real"), filepath.Join(base, "link")); err != nil {
		t.Fatal(err)
	}
	inner := filepath.Join(outer, "b")
	for _, dir := range []string{outer, inner} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := unix.Mount("tmpfs", dir, "tmpfs", 0, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := UnmountUnder(filepath.Join(base, "link")); err != nil {
		t.Fatal(err)
	}
	real, err := filepath.EvalSymlinks(base)
	if err != nil {
		t.Fatal(err)
	}
	if left, err := mountinfo.GetMounts(mountinfo.PrefixFilter(real)); err != nil || len(left) != 0 {
		t.Errorf("still mounted: %v, %v", left, err)
	}
	if err := UnmountUnder(filepath.Join(base, "missing")); err != nil {
		t.Errorf("a missing dir: %v", err)
	}
}

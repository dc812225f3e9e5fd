// Package mountstest lets a test mount without touching the host's mount
// table.
package mountstest

import (
	"os"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// PrivateNamespace moves the calling test into a mount namespace of its
// own, or skips it when it cannot (not root). The namespace is the
// thread's: the test's goroutine keeps the thread and never hands it back,
// so both end with the test, and whatever it mounted with them.
func PrivateNamespace(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount")
	}
	runtime.LockOSThread()
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		t.Skipf("no mount namespace: %v", err)
	}
	// Nothing mounted here may reach the host's mount namespace.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		t.Fatal(err)
	}
}

package shim

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/portway/portway/internal/mounts"
	"github.com/portway/portway/internal/mounts/mountstest"
)

func TestCRIWriter(t *testing.T) {
	var b bytes.Buffer
	w := &criWriter{w: &b}
	long := strings.Repeat("x", maxLine+10)
	w.copy("stdout", strings.NewReader("one\n"+long+"\nend"))
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	re := regexp.MustCompile(`^\S+Z stdout ([PF]) (.*)$`)
	var tags, contents []string
	for _, l := range lines {
		m := re.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("not a CRI record: %q", l)
		}
		tags, contents = append(tags, m[1]), append(contents, m[2])
	}
	if got, want := strings.Join(tags, ""), "FPFP"; got != want {
		t.Errorf("tags %s, want %s (a long line split into a partial and a full record; no newline at the end is partial)", got, want)
	}
	if contents[1]+contents[2] != long || contents[3] != "end" {
		t.Errorf("contents do not add up to the output")
	}
}

func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "tool")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := LookPath("tool", []string{"PATH=/nonexistent:" + dir}); err != nil || got != bin {
		t.Errorf("LookPath in the container's PATH = %q, %v; want %q", got, err, bin)
	}
	if _, err := LookPath("tool", nil); err == nil || !strings.Contains(err.Error(), `"tool": executable file not found in $PATH`) {
		t.Errorf("LookPath outside the container's PATH: %v", err)
	}
	if got, _ := LookPath("/abs/tool", nil); got != "/abs/tool" {
		t.Errorf("an absolute path is used as given, got %q", got)
	}
}

// TestMount binds a directory with a filesystem mounted below it, and a
// read-only one whose filesystem is nosuid and noexec: the submount comes
// along and the remount keeps those flags. It runs in a mount namespace of
// its own.
func TestMount(t *testing.T) {
	mountstest.PrivateNamespace(t)
	base := t.TempDir()
	t.Cleanup(func() { _ = mounts.UnmountUnder(base) }) // before TempDir's removal
	src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", src, "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, ""); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(src, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", filepath.Join(src, "sub"), "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	if err := (Mount{Source: src, Target: dst, ReadOnly: true}).mount(); err != nil {
		t.Fatal(err)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dst, &st); err != nil {
		t.Fatal(err)
	}
	if want := int64(unix.ST_RDONLY | unix.ST_NOSUID | unix.ST_NOEXEC); st.Flags&want != want {
		t.Errorf("flags %#x, want %#x among them", st.Flags, want)
	}
	if mounted, err := mountinfo.Mounted(filepath.Join(dst, "sub")); err != nil || !mounted {
		t.Errorf("the submount did not come along: %v, %v", mounted, err)
	}
	// Read-only reaches the submount only when asked to be recursive.
	write := func(dir string) error { return os.WriteFile(filepath.Join(dir, "sub", "f"), nil, 0o644) }
	if err := write(dst); err != nil {
		t.Errorf("a plain read-only bind made its submount read-only: %v", err)
	}
	rro := filepath.Join(base, "rro")
	if err := (Mount{Source: src, Target: rro, ReadOnly: true, RecursiveReadOnly: true}).mount(); err != nil {
		t.Fatal(err)
	}
	if err := write(rro); !errors.Is(err, unix.EROFS) {
		t.Errorf("writing below a recursively read-only bind: %v, want EROFS", err)
	}
	if err := write(src); err != nil {
		t.Errorf("the source's submount is no longer writable: %v", err)
	}
}

package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/utils/exec"

	"github.com/portway/portway/internal/agent/shim"
	"github.com/portway/portway/internal/namespaces"
)

// fakeContainer starts a process as the shim starts a container: in a
// throwaway network namespace of the test's, with a mount and UTS namespace
// of its own and a hostname, and returns its instance.
func fakeContainer(t *testing.T, spec *shim.Spec) *instance {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network, mount and UTS namespaces)")
	}
	netns := fmt.Sprintf("pwt-exec-%d", os.Getpid())
	if err := namespaces.Create(netns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := namespaces.Delete(netns); err != nil {
			t.Error(err)
		}
	})
	dir := t.TempDir()
	if err := shim.WriteSpec(dir, spec); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", "hostname exec-test && exec sleep 60")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWNS | unix.CLONE_NEWUTS}
	if err := namespaces.Do(namespaces.Path(netns), cmd.Start); err != nil {
		t.Fatal(err)
	}
	i := &instance{dir: dir, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(i.exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-i.exited })
	if err := os.WriteFile(filepath.Join(dir, shim.PidFile), []byte(strconv.Itoa(cmd.Process.Pid)), 0o600); err != nil {
		t.Fatal(err)
	}
	// Wait for the hostname to be set (sh execs sleep once it is).
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", cmd.Process.Pid)); strings.TrimSpace(string(b)) == "sleep" {
			return i
		}
	}
	t.Fatal("the fake container did not start")
	return nil
}

func nsLink(t *testing.T, path string) string {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("[%d]", st.Ino)
}

func TestExecInContainer(t *testing.T) {
	i := fakeContainer(t, &shim.Spec{Env: []string{"PATH=" + defaultPath, "GREETING=hello"}, Dir: "/tmp"})
	pid := i.pid()
	run := func(cmd []string, stdin string, tty bool, resize chan remotecommand.TerminalSize) (string, string, error) {
		t.Helper()
		var out, errOut bytes.Buffer
		var in io.Reader
		if stdin != "" {
			in = strings.NewReader(stdin)
		}
		err := i.exec(context.Background(), cmd, in, &out, &errOut, tty, resize)
		return out.String(), errOut.String(), err
	}

	// The command joins the container's namespaces, not the agent's.
	out, _, err := run([]string{"sh", "-c", "hostname; readlink /proc/self/ns/net /proc/self/ns/mnt /proc/self/ns/uts"}, "", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "exec-test\n"
	for _, ns := range []string{"net", "mnt", "uts"} {
		want += ns + ":" + nsLink(t, fmt.Sprintf("/proc/%d/ns/%s", pid, ns)) + "\n"
	}
	if out != want {
		t.Errorf("namespaces: got\n%s\nwant\n%s", out, want)
	}

	out, errOut, err := run([]string{"sh", "-c", `echo "$GREETING $(pwd)"; echo oops >&2`}, "", false, nil)
	if err != nil || out != "hello /tmp\n" || errOut != "oops\n" {
		t.Errorf("environment, working directory, stderr: %q %q %v", out, errOut, err)
	}

	if out, _, err = run([]string{"cat"}, "one\ntwo\n", false, nil); err != nil || out != "one\ntwo\n" {
		t.Errorf("stdin: %q %v", out, err)
	}

	_, _, err = run([]string{"sh", "-c", "exit 3"}, "", false, nil)
	var exitErr utilexec.ExitError
	if !errors.As(err, &exitErr) || !exitErr.Exited() || exitErr.ExitStatus() != 3 {
		t.Errorf("exit 3: %v", err)
	}

	_, _, err = run([]string{"no-such-command"}, "", false, nil)
	if want := `failed to exec in container: exec: "no-such-command": executable file not found in $PATH`; err == nil || err.Error() != want || errors.As(err, &exitErr) {
		t.Errorf("command not found: %v, want %q and not an exit code", err, want)
	}

	resize := make(chan remotecommand.TerminalSize, 1)
	resize <- remotecommand.TerminalSize{Width: 100, Height: 40}
	close(resize)
	// The size is set as it arrives, beside the command, as in the
	// kubelet: the command gives it a moment.
	out, _, err = run([]string{"sh", "-c", "sleep 0.2; tty; stty size; echo $TERM"}, "", true, resize)
	if got := strings.ReplaceAll(out, "\r", ""); err != nil || !regexp.MustCompile(`^/dev/pts/\d+\n40 100\nxterm\n$`).MatchString(got) {
		t.Errorf("tty: %q %v", got, err)
	}
}

// TestExecEndsWithContainer: a command exec started is killed when its
// container ends, as the container's processes are.
func TestExecEndsWithContainer(t *testing.T) {
	i := fakeContainer(t, &shim.Spec{Env: []string{"PATH=" + defaultPath}})
	started := filepath.Join(t.TempDir(), "started")
	errc := make(chan error, 1)
	go func() {
		errc <- i.exec(context.Background(), []string{"sh", "-c", "touch " + started + " && exec sleep 60"}, nil, nil, nil, false, nil)
	}()
	for _, err := os.Stat(started); err != nil; _, err = os.Stat(started) {
		select {
		case err := <-errc:
			t.Fatalf("exec ended before its container: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := unix.Kill(i.pid(), unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		var exitErr utilexec.ExitError
		if !errors.As(err, &exitErr) || exitErr.ExitStatus() != 128+int(unix.SIGKILL) {
			t.Errorf("exec after its container ended: %v, want exit code 137", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("exec still running 10s after its container ended")
	}
}

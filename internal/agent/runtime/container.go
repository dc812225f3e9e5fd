package runtime

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/portway/portway/internal/agent/shim"
	"github.com/portway/portway/internal/namespaces"
)

// instance is one run of a container: restarting a container starts a new
// instance in a new directory, and the previous one's log stays for
// `kubectl logs --previous`.
type instance struct {
	ID      string // the containerID without its "portway://" scheme
	Restart int32  // how many instances came before this one
	dir     string
	shimPid int
	// exited is closed once the container has ended and exit is set.
	exited chan struct{}
	exit   *shim.Exit
}

// shimPidFile records the shim's pid, so that a restarted agent finds it.
const shimPidFile = "shim.pid"

// logFile is the container's output in the CRI log format.
const logFile = "container.log"

func (i *instance) logPath() string { return filepath.Join(i.dir, logFile) }

// startedAt is when the container started: when its shim recorded its pid.
func (i *instance) startedAt() time.Time {
	if fi, err := os.Stat(filepath.Join(i.dir, shim.PidFile)); err == nil {
		return fi.ModTime()
	}
	return time.Now()
}

// pid is the container process's pid, or 0 before it started.
func (i *instance) pid() int { return shim.ReadPid(i.dir) }

func (i *instance) done() bool {
	select {
	case <-i.exited:
		return true
	default:
		return false
	}
}

func newID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// startInstance writes spec into dir and starts a shim for it in the
// network namespace at netnsPath, with a mount and UTS namespace of its own.
func startInstance(self, dir, netnsPath string, restart int32, spec *shim.Spec) (*instance, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	spec.LogPath = filepath.Join(dir, logFile)
	if err := shim.WriteSpec(dir, spec); err != nil {
		return nil, err
	}
	out, err := os.Create(filepath.Join(dir, "shim.log"))
	if err != nil {
		return nil, err
	}
	defer out.Close()
	cmd := exec.Command(self, "shim", dir)
	cmd.Stdout, cmd.Stderr = out, out
	// Its own session: a terminal's Ctrl-C to the agent does not reach
	// containers, and they outlive an agent restart.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Cloneflags: unix.CLONE_NEWNS | unix.CLONE_NEWUTS}
	if err := namespaces.Do(netnsPath, cmd.Start); err != nil {
		return nil, fmt.Errorf("starting container: %w", err)
	}
	i := &instance{ID: filepath.Base(dir), Restart: restart, dir: dir, shimPid: cmd.Process.Pid, exited: make(chan struct{})}
	if err := os.WriteFile(filepath.Join(dir, shimPidFile), []byte(strconv.Itoa(i.shimPid)), 0o640); err != nil {
		_ = cmd.Process.Kill()
		return nil, err
	}
	go func() {
		_ = cmd.Wait()
		i.finish()
	}()
	return i, nil
}

// adoptInstance picks up an instance an earlier agent started: its shim is
// still running (or has recorded the exit).
func adoptInstance(dir string, restart int32) *instance {
	i := &instance{ID: filepath.Base(dir), Restart: restart, dir: dir, exited: make(chan struct{})}
	b, _ := os.ReadFile(filepath.Join(dir, shimPidFile))
	i.shimPid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	if shim.ReadExit(dir) != nil || !isShim(i.shimPid, dir) {
		i.finish()
		return i
	}
	go func() {
		waitPid(i.shimPid)
		i.finish()
	}()
	return i
}

// finish records how the instance ended. A shim that died without saying
// (killed from outside) leaves an Error exit, as a lost container does.
func (i *instance) finish() {
	i.exit = shim.ReadExit(i.dir)
	if i.exit == nil {
		now := time.Now()
		i.exit = &shim.Exit{ExitCode: 137, Signal: int32(unix.SIGKILL), StartedAt: now, FinishedAt: now}
	}
	close(i.exited)
}

// signal sends sig to the container process.
func (i *instance) signal(sig syscall.Signal) error {
	pid := i.pid()
	if pid == 0 || i.done() {
		return nil
	}
	err := unix.Kill(pid, sig)
	if errors.Is(err, unix.ESRCH) {
		return nil
	}
	return err
}

// stop asks the container to end with SIGTERM and kills it after grace.
func (i *instance) stop(grace time.Duration) {
	if i.done() {
		return
	}
	_ = i.signal(unix.SIGTERM)
	select {
	case <-i.exited:
		return
	case <-time.After(grace):
	}
	_ = i.signal(unix.SIGKILL)
	select {
	case <-i.exited:
	case <-time.After(5 * time.Second):
		// The shim itself is stuck: kill it too, so the pod can go.
		_ = unix.Kill(i.shimPid, unix.SIGKILL)
		<-i.exited
	}
}

// isShim reports whether pid is a live shim for dir (and not a process
// that got the pid since).
func isShim(pid int, dir string) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	return len(args) == 3 && args[1] == "shim" && args[2] == dir
}

// waitPid waits for a process that is not our child to end.
func waitPid(pid int) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return // already gone
	}
	defer unix.Close(fd)
	for {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, -1); err == nil || !errors.Is(err, unix.EINTR) {
			return
		}
	}
}

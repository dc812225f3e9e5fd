package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	goruntime "runtime"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/utils/exec"

	"github.com/portway/portway/internal/agent/shim"
)

// Exec, attach and port-forward reach into running pods for the agent's
// streaming endpoints: the Runtime is the kubelet's CRI streaming
// Executor, Attacher and PortForwarder (k8s.io/kubelet/pkg/cri/streaming).
// Their pod name argument is PodKey(namespace, name).

// ErrPodNotFound is the kubelet's answer for a pod it does not run.
var ErrPodNotFound = errors.New("pod does not exist")

// PodKey names a pod to ExecInContainer, AttachContainer and PortForward.
func PodKey(namespace, name string) string { return namespace + "/" + name }

// worker finds the worker of a pod on this node by its PodKey.
func (r *Runtime) worker(key string) (*podWorker, error) {
	namespace, name, _ := strings.Cut(key, "/")
	pod, err := r.pods.Pods(namespace).Get(name)
	if err != nil {
		return nil, ErrPodNotFound
	}
	r.mu.Lock()
	w := r.workers[pod.UID]
	r.mu.Unlock()
	if w == nil {
		return nil, ErrPodNotFound
	}
	return w, nil
}

// running is the running instance of a container of a pod on this node;
// the error is the kubelet's when there is none.
func (r *Runtime) running(key, container string) (*instance, error) {
	w, err := r.worker(key)
	if err != nil {
		return nil, err
	}
	w.state.Lock()
	c := w.containers[container]
	w.state.Unlock()
	if c == nil {
		return nil, fmt.Errorf("container not found (%q)", container)
	}
	w.state.Lock()
	i := c.cur
	w.state.Unlock()
	if i == nil || i.done() || i.pid() == 0 {
		return nil, fmt.Errorf("container not found (%q)", container)
	}
	return i, nil
}

// CheckPod says whether a pod runs on this node.
func (r *Runtime) CheckPod(key string) error {
	_, err := r.worker(key)
	return err
}

// CheckContainer says whether a container of a pod runs here, so that a
// request for it is refused before its connection is upgraded, as the
// kubelet refuses it.
func (r *Runtime) CheckContainer(key, container string) error {
	_, err := r.running(key, container)
	return err
}

// ExecInContainer runs cmd in a running container: in its network, mount
// and UTS namespaces (so it sees the pod's network, /etc/hosts,
// /etc/resolv.conf and hostname), with the environment and working
// directory the container got, as a CRI runtime's exec does. With tty it
// gets a new terminal (TERM=xterm unless the container sets TERM, as
// containerd does); without, pipes. It ends when the container does. A
// non-zero exit is a utilexec.ExitError, which the streaming server turns
// into the status kubectl reads the exit code from.
func (r *Runtime) ExecInContainer(ctx context.Context, key string, _ types.UID, container string, cmd []string, in io.Reader, out, errOut io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize, _ time.Duration) error {
	i, err := r.running(key, container)
	if err != nil {
		return err
	}
	return i.exec(ctx, cmd, in, out, errOut, tty, resize)
}

// exec is ExecInContainer in the running instance i.
func (i *instance) exec(ctx context.Context, cmd []string, in io.Reader, out, errOut io.Writer, tty bool, resize <-chan remotecommand.TerminalSize) error {
	spec, err := shim.ReadSpec(i.dir)
	if err != nil {
		return err
	}
	if len(cmd) == 0 {
		return errors.New("failed to exec in container: no command given")
	}
	env := spec.Env
	if tty && !hasEnv(env, "TERM") {
		env = append(append([]string(nil), env...), "TERM=xterm")
	}
	c := &exec.Cmd{Args: cmd, Env: env, Dir: spec.Dir, SysProcAttr: &syscall.SysProcAttr{Setsid: true}}
	var term *terminal
	var stdin *os.File // our end of the command's stdin pipe
	if tty {
		if term, err = openTerminal(); err != nil {
			return err
		}
		defer term.master.Close()
		c.Stdin, c.Stdout, c.Stderr = term.slave, term.slave, term.slave
		c.SysProcAttr.Setctty = true // fd 0, the terminal
	} else {
		if in != nil {
			pr, pw, err := os.Pipe()
			if err != nil {
				return err
			}
			defer pr.Close()
			c.Stdin, stdin = pr, pw
		}
		if out != nil {
			c.Stdout = out
		}
		if errOut != nil {
			c.Stderr = errOut
		}
	}
	err = startInContainer(i, c, env)
	if term != nil {
		term.slave.Close()
	}
	if err != nil {
		if stdin != nil {
			stdin.Close()
		}
		return fmt.Errorf("failed to exec in container: %w", err)
	}

	copied := make(chan struct{})
	switch {
	case term != nil:
		var w io.Writer = io.Discard
		if out != nil {
			w = out
		}
		go func() { _, _ = io.Copy(w, term.master); close(copied) }()
		if in != nil {
			go func() { _, _ = io.Copy(term.master, in) }()
		}
		if resize != nil {
			go term.follow(resize)
		}
	default:
		close(copied)
		if stdin != nil {
			// Our end closes when the client's stdin ends; the command
			// then reads EOF. A client that keeps it open holds nothing:
			// the copy ends when the streams close.
			go func() { _, _ = io.Copy(stdin, in); stdin.Close() }()
		}
	}
	// The command ends with its container, or when the request does.
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-i.exited:
		case <-ctx.Done():
		case <-done:
			return
		}
		_ = unix.Kill(-c.Process.Pid, unix.SIGKILL)
	}()
	werr := c.Wait()
	if term != nil {
		// What the command wrote last is still in the terminal; a
		// background process holding it open does not hold exec up long.
		select {
		case <-copied:
		case <-time.After(time.Second):
		}
	}
	code := 0
	if ws, ok := c.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		code = 128 + int(ws.Signal())
	} else if c.ProcessState != nil {
		code = c.ProcessState.ExitCode()
	} else if werr != nil {
		return werr
	}
	if code != 0 {
		return utilexec.CodeExitError{Err: fmt.Errorf("error executing command %v, exit code %d", cmd, code), Code: code}
	}
	return nil
}

func hasEnv(env []string, name string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, name+"=") {
			return true
		}
	}
	return false
}

// startInContainer starts c in the namespaces of the container of i.
//
// A process is born in the namespaces of the thread that forks it, so c is
// started from a locked thread that first joins the container's network,
// mount and UTS namespaces. Joining a mount namespace needs a thread that
// shares its filesystem information with no other, hence unshare(CLONE_FS).
// The thread is then unfit for anything else: it stays locked, and the Go
// runtime ends it with its goroutine (and starts no threads from it). This
// costs no extra process, unlike re-executing a helper (or nsenter) per
// exec. The container is named by a pidfd, so a pid reused after the
// container ended cannot be entered by mistake.
func startInContainer(i *instance, c *exec.Cmd, env []string) error {
	pidfd, err := unix.PidfdOpen(i.pid(), 0)
	if err != nil {
		return fmt.Errorf("container process: %w", err)
	}
	defer unix.Close(pidfd)
	if i.done() {
		return errors.New("the container has ended")
	}
	errc := make(chan error, 1)
	go func() {
		goruntime.LockOSThread() // and never unlocked: see above
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			errc <- fmt.Errorf("unshare: %w", err)
			return
		}
		if err := unix.Setns(pidfd, unix.CLONE_NEWNET|unix.CLONE_NEWNS|unix.CLONE_NEWUTS); err != nil {
			errc <- fmt.Errorf("entering the container's namespaces: %w", err)
			return
		}
		// The command is looked up in the container's PATH and mounts.
		path, err := shim.LookPath(c.Args[0], env)
		if err != nil {
			errc <- err
			return
		}
		c.Path = path
		errc <- c.Start()
	}()
	return <-errc
}

// terminal is a pseudo-terminal pair: the command gets the slave as its
// controlling terminal, the agent reads and writes the master.
type terminal struct {
	master, slave *os.File
}

// openTerminal opens a new pseudo-terminal. It takes a few ioctls from
// golang.org/x/sys rather than a pty library.
func openTerminal() (*terminal, error) {
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	var slaveFd int
	var ioctlErr error
	rc, err := master.SyscallConn()
	if err == nil {
		err = rc.Control(func(fd uintptr) {
			if ioctlErr = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0); ioctlErr != nil {
				return
			}
			// The slave end, opened through the master (no path lookup).
			r, _, errno := unix.Syscall(unix.SYS_IOCTL, fd, unix.TIOCGPTPEER, uintptr(unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC))
			if errno != 0 {
				ioctlErr = errno
			}
			slaveFd = int(r)
		})
	}
	if err = errors.Join(err, ioctlErr); err != nil {
		master.Close()
		return nil, fmt.Errorf("opening a terminal: %w", err)
	}
	return &terminal{master: master, slave: os.NewFile(uintptr(slaveFd), "pty")}, nil
}

// follow sets the terminal's size as the client's changes.
func (t *terminal) follow(resize <-chan remotecommand.TerminalSize) {
	rc, err := t.master.SyscallConn()
	if err != nil {
		return
	}
	for size := range resize {
		_ = rc.Control(func(fd uintptr) {
			_ = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Row: size.Height, Col: size.Width})
		})
	}
}

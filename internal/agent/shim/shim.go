// Package shim is the small process that sits between the node agent and
// one container, as containerd's shim does: it is the container's parent,
// so the container outlives an agent restart and its exit code is never
// lost. The agent starts it (`portway shim DIR`) inside the pod's network
// namespace with a new mount and UTS namespace; the shim gives the container
// the pod's hostname, /etc/hosts and /etc/resolv.conf, starts it, writes its
// output to a log file in the CRI format `kubectl logs` reads, and records
// how it ended.
//
// A container instance's directory holds:
//
//	spec.json  what to run (written by the agent before the shim starts)
//	pid        the container's pid, once started
//	exit.json  how it ended (written once, when it has)
package shim

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Spec is one container instance.
type Spec struct {
	Argv     []string `json:"argv"`
	Env      []string `json:"env,omitempty"`
	Dir      string   `json:"dir,omitempty"`
	Hostname string   `json:"hostname"`
	// Mounts are files and directories bind-mounted over the host's, such
	// as the pod's /etc/hosts and its volumes: the mount namespace is
	// private, so the host sees nothing of them.
	Mounts  []Mount `json:"mounts,omitempty"`
	LogPath string  `json:"logPath"`
}

// Mount bind-mounts Source over Target. A missing Target is made, an
// empty directory or file like Source, with the directories above it: the
// one trace a volume leaves on the node's filesystem, as a container
// engine leaves in a container's.
type Mount struct {
	Source   string `json:"source"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"readOnly,omitempty"`
	// RecursiveReadOnly makes what is mounted below Target read-only too
	// (a volumeMount's recursiveReadOnly, Enabled or IfPossible, where
	// the kernel can).
	RecursiveReadOnly bool `json:"recursiveReadOnly,omitempty"`
}

// Exit is how a container instance ended.
type Exit struct {
	ExitCode   int32     `json:"exitCode"`
	Signal     int32     `json:"signal,omitempty"`
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt"`
	// Error says why the container could not start (its ExitCode is 128,
	// as containerd reports a failed start).
	Error string `json:"error,omitempty"`
}

// File names in a container instance's directory.
const (
	SpecFile = "spec.json"
	PidFile  = "pid"
	ExitFile = "exit.json"
)

// defaultPath is the PATH an image without one gets, as in Docker/containerd.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// WriteSpec writes s into dir for a shim to start.
func WriteSpec(dir string, s *Spec) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, SpecFile), b)
}

// ReadSpec reads what a container instance runs; exec runs its commands
// with the same environment and working directory.
func ReadSpec(dir string) (*Spec, error) {
	b, err := os.ReadFile(filepath.Join(dir, SpecFile))
	if err != nil {
		return nil, err
	}
	s := &Spec{}
	if err := json.Unmarshal(b, s); err != nil {
		return nil, fmt.Errorf("%s: %w", SpecFile, err)
	}
	return s, nil
}

// ReadPid returns the container's pid, or 0 if it has not started.
func ReadPid(dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, PidFile))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// ReadExit returns how the container ended, or nil if it has not.
func ReadExit(dir string) *Exit {
	b, err := os.ReadFile(filepath.Join(dir, ExitFile))
	if err != nil {
		return nil
	}
	e := &Exit{}
	if json.Unmarshal(b, e) != nil {
		return nil
	}
	return e
}

// Run is the shim process: it starts the container described in dir and
// returns when the container has ended and its exit is recorded.
func Run(dir string) error {
	s, err := ReadSpec(dir)
	if err != nil {
		return err
	}
	// Signals meant for the container are passed on; the shim itself stays
	// to record the exit. (Notify, not Ignore: an ignored signal would stay
	// ignored in the container after exec.)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGQUIT)

	log, err := os.OpenFile(s.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	defer log.Close()
	started := time.Now()
	cmd, err := s.setUp()
	var copying sync.WaitGroup
	if err == nil {
		err = start(cmd, &criWriter{w: log}, &copying)
	}
	if err != nil {
		// Kubernetes shows this as a terminated container, reason StartError.
		return writeExit(dir, &Exit{ExitCode: 128, StartedAt: started, FinishedAt: time.Now(), Error: err.Error()})
	}
	if err := writeAtomic(filepath.Join(dir, PidFile), []byte(strconv.Itoa(cmd.Process.Pid))); err != nil {
		_ = cmd.Process.Kill()
	}
	go func() {
		for sig := range sigs {
			_ = cmd.Process.Signal(sig)
		}
	}()
	werr := cmd.Wait()
	// Output still buffered in the pipes is written; a daemonized grandchild
	// that keeps them open does not hold the exit record back.
	done := make(chan struct{})
	go func() { copying.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Second):
	}
	e := &Exit{StartedAt: started, FinishedAt: time.Now()}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		e.Signal = int32(ws.Signal())
		e.ExitCode = 128 + e.Signal
	} else if cmd.ProcessState != nil {
		e.ExitCode = int32(cmd.ProcessState.ExitCode())
	} else if werr != nil {
		e.Error = werr.Error()
		e.ExitCode = 128
	}
	return writeExit(dir, e)
}

// setUp makes the shim's new mount and UTS namespaces the pod's, and
// returns the container's command.
func (s *Spec) setUp() (*exec.Cmd, error) {
	if len(s.Argv) == 0 {
		return nil, errors.New("no command")
	}
	// Nothing mounted here may reach the host's mount namespace.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return nil, fmt.Errorf("making / private: %w", err)
	}
	if s.Hostname != "" {
		if err := unix.Sethostname([]byte(s.Hostname)); err != nil {
			return nil, fmt.Errorf("setting hostname: %w", err)
		}
	}
	for _, m := range s.Mounts {
		if err := m.mount(); err != nil {
			return nil, fmt.Errorf("mounting %s on %s: %w", m.Source, m.Target, err)
		}
	}
	path, err := LookPath(s.Argv[0], s.Env)
	if err != nil {
		return nil, err
	}
	cmd := &exec.Cmd{Path: path, Args: s.Argv, Env: s.Env, Dir: s.Dir}
	return cmd, nil
}

func (m Mount) mount() error {
	fi, err := os.Stat(m.Source)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		if err := os.MkdirAll(m.Target, 0o755); err != nil {
			return err
		}
	} else if _, err := os.Lstat(m.Target); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(m.Target), 0o755); err != nil {
			return err
		}
		f, err := os.OpenFile(m.Target, os.O_CREATE, 0o644)
		if err != nil {
			return err
		}
		f.Close()
	}
	// Recursive, as container engines bind: what is mounted below Source
	// (a hostPath of /sys) comes along.
	if err := unix.Mount(m.Source, m.Target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	if m.RecursiveReadOnly {
		// mount_setattr sets read-only on the bind and every mount below
		// it and leaves their other flags alone, as runc does for rro.
		return unix.MountSetattr(-1, m.Target, unix.AT_RECURSIVE, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY})
	}
	if !m.ReadOnly {
		return nil
	}
	// A bind mount takes read-only only on a remount, which sets every
	// flag anew: keep those the source's filesystem has (a read-only bind
	// of a noexec /dev/shm stays noexec), as runc does.
	var st unix.Statfs_t
	if err := unix.Statfs(m.Target, &st); err != nil {
		return err
	}
	flags := uintptr(unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY)
	for _, f := range [...]struct{ st, ms uintptr }{
		{unix.ST_NOSUID, unix.MS_NOSUID}, {unix.ST_NODEV, unix.MS_NODEV}, {unix.ST_NOEXEC, unix.MS_NOEXEC},
		{unix.ST_NOATIME, unix.MS_NOATIME}, {unix.ST_NODIRATIME, unix.MS_NODIRATIME}, {unix.ST_RELATIME, unix.MS_RELATIME},
	} {
		if uintptr(st.Flags)&f.st != 0 {
			flags |= f.ms
		}
	}
	return unix.Mount("", m.Target, "", flags, "")
}

// RecursiveReadOnlySupported says whether the agent may call mount_setattr
// (Linux 5.12), which recursive read-only mounts need: asked to change
// nothing, it answers ENOSYS where it does not exist and EPERM where a
// seccomp filter forbids it.
var RecursiveReadOnlySupported = sync.OnceValue(func() bool {
	err := unix.MountSetattr(-1, "", unix.AT_EMPTY_PATH, &unix.MountAttr{})
	return !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EPERM)
})

// LookPath finds argv0 in the container's PATH, as a container runtime
// does, rather than in the shim's (or the agent's).
func LookPath(argv0 string, env []string) (string, error) {
	if strings.Contains(argv0, "/") {
		return argv0, nil
	}
	path := defaultPath
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for dir := range strings.SplitSeq(path, ":") {
		p := filepath.Join(dir, argv0)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("exec: %q: executable file not found in $PATH", argv0)
}

// start starts cmd with its stdout and stderr copied to w.
func start(cmd *exec.Cmd, w *criWriter, copying *sync.WaitGroup) error {
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	copying.Add(2)
	go func() { defer copying.Done(); w.copy("stdout", stdout) }()
	go func() { defer copying.Done(); w.copy("stderr", stderr) }()
	return nil
}

// maxLine is where a long line is split into partial records, as the
// kubelet's CRI log format does.
const maxLine = 16 * 1024

// criWriter writes the CRI log format: one record per line,
// "RFC3339Nano-time stream P|F content", P marking a partial line.
type criWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (c *criWriter) copy(stream string, r io.Reader) {
	br := bufio.NewReaderSize(r, maxLine)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			tag := "P"
			if line[len(line)-1] == '\n' {
				tag, line = "F", line[:len(line)-1]
			}
			c.mu.Lock()
			fmt.Fprintf(c.w, "%s %s %s %s\n", time.Now().UTC().Format(time.RFC3339Nano), stream, tag, line)
			c.mu.Unlock()
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

func writeExit(dir string, e *Exit) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, ExitFile), b)
}

// writeAtomic writes a file so that readers see all of it or nothing.
func writeAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o640); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

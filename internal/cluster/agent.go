package cluster

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/portway/portway/internal/namespaces"
)

// launchAgent runs args (an agent's command line) in node's network
// namespace, in a session of its own so that a terminal's Ctrl-C reaches
// only `up`, its output appended to the node's log.
func launchAgent(dataDir, node string, args []string) (*exec.Cmd, error) {
	logf, err := os.OpenFile(agentLog(dataDir, node), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := namespaces.Do(namespaces.Path(node), cmd.Start); err != nil {
		return nil, err
	}
	return cmd, nil
}

// AgentProcess finds the agent of node (a node of a running cluster: its
// network namespace has the node's name) and returns its pid and command
// line.
func AgentProcess(node string) (int, []string, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(namespaces.Path(node), &st); err != nil {
		return 0, nil, fmt.Errorf("node %s: %w", node, err)
	}
	for _, pid := range pidsIn(map[uint64]bool{st.Ino: true}) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(args) > 1 && args[1] == "agent" && slices.Contains(args, node) {
			return pid, args, nil
		}
	}
	return 0, nil, fmt.Errorf("no agent process in node %s", node)
}

// RestartAgent stops node's agent and starts it again (StopAgent, then
// StartAgent). It returns when the new agent has started.
func RestartAgent(dataDir, node string) (started time.Time, err error) {
	args, err := StopAgent(node)
	if err != nil {
		return started, err
	}
	started = time.Now()
	return started, StartAgent(dataDir, node, args)
}

// StopAgent stops node's agent as a service manager would (SIGTERM: its
// proxy removes its nftables table; its pods run on) and returns its
// command line once it has exited.
func StopAgent(node string) ([]string, error) {
	pid, args, err := AgentProcess(node)
	if err != nil {
		return nil, err
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return nil, err
	}
	// up reaps it only when up stops: a zombie has exited.
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil || strings.Contains(string(b), ") Z ") {
			return args, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("agent of %s (pid %d) did not exit within 30 s", node, pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// StartAgent starts an agent of node with args, a command line StopAgent
// returned. `up` did not start it, so `up` stopping does not stop it: Down
// and Clean kill it with the node's other processes (SIGKILL, which leaves
// its nftables table to go with the node's namespace).
func StartAgent(dataDir, node string, args []string) error {
	cmd, err := launchAgent(dataDir, node, args)
	if err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }()
	return nil
}

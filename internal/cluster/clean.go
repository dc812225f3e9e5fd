package cluster

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/portway/portway/internal/mounts"
	"github.com/portway/portway/internal/namespaces"
)

// Clean removes everything of the named cluster from this machine: the
// processes in its namespaces (agents, shims, containers), the namespaces,
// the bridge and its veths, and the nodes' runtime state in the data
// directory (it described the namespaces just removed), with what is
// mounted in it. The cluster's objects in etcd stay.
func Clean(name, dataDir string) error {
	n := names{name}
	ours, err := clusterNamespaces(name)
	if err != nil {
		return err
	}
	var errs []error
	errs = append(errs, killIn(ours))
	for _, ns := range ours {
		if err := namespaces.Delete(ns); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("removing network namespace %s: %w", ns, err))
		}
	}
	links, err := netlink.LinkList()
	if err != nil {
		errs = append(errs, err)
	}
	for _, l := range links {
		if l.Attrs().Name == n.bridge() || strings.HasPrefix(l.Attrs().Name, n.bridge()+"-n") {
			if err := netlink.LinkDel(l); err != nil && !errors.Is(err, syscall.ENODEV) {
				errs = append(errs, fmt.Errorf("removing link %s: %w", l.Attrs().Name, err))
			}
		}
	}
	nodes, _ := filepath.Glob(filepath.Join(dataDir, "nodes", name+"-node*", "agent"))
	for _, d := range nodes {
		errs = append(errs, mounts.UnmountUnder(d), os.RemoveAll(d))
	}
	return errors.Join(errs...)
}

// clusterNamespaces lists the named network namespaces of the cluster:
// its nodes' (NAME-nodeN) and their pods' (NAME-nodeN_...).
func clusterNamespaces(name string) ([]string, error) {
	entries, err := os.ReadDir(namespaces.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), name+"-node")
		if !ok || rest == "" || rest[0] < '0' || rest[0] > '9' {
			continue
		}
		out = append(out, e.Name())
	}
	return out, nil
}

// killIn kills every process in the given namespaces, until none is left
// (a dying parent may have forked a moment before).
func killIn(nsNames []string) error {
	if len(nsNames) == 0 {
		return nil
	}
	inodes := map[uint64]bool{}
	for _, ns := range nsNames {
		var st syscall.Stat_t
		if err := syscall.Stat(namespaces.Path(ns), &st); err == nil {
			inodes[st.Ino] = true
		}
	}
	for range 50 {
		pids := pidsIn(inodes)
		if len(pids) == 0 {
			return nil
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("processes still running in %v", nsNames)
}

// pidsIn lists the processes whose network namespace is one of inodes.
func pidsIn(inodes map[uint64]bool) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		var st syscall.Stat_t
		if syscall.Stat(filepath.Join("/proc", e.Name(), "ns", "net"), &st) == nil && inodes[st.Ino] {
			pids = append(pids, pid)
		}
	}
	return pids
}

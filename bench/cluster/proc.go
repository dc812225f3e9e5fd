package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// clkTck is the kernel's USER_HZ, the unit of utime and stime in
// /proc/PID/stat: 100 on every Linux this runs on.
const clkTck = 100

// proc is one process as /proc shows it.
type proc struct {
	pid, ppid int
	args      []string
	ticks     int64 // utime+stime
}

// procs lists every process now. Processes that end while it reads are
// left out.
func procs() []proc {
	entries, _ := os.ReadDir("/proc")
	var out []proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue // gone, or a kernel thread
		}
		p := proc{pid: pid, args: strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")}
		var ok bool
		if p.ppid, p.ticks, ok = readStat(pid); ok {
			out = append(out, p)
		}
	}
	return out
}

// readStat reads the parent pid and utime+stime from /proc/PID/stat.
func readStat(pid int) (ppid int, ticks int64, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, false
	}
	// The command name (field 2) is in parentheses and may hold spaces, so
	// the fields are counted from the last ')': state is field 3.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(b)[i+1:])
	if len(f) < 13 {
		return 0, 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	utime, _ := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, _ := strconv.ParseInt(f[12], 10, 64) // field 15
	return ppid, utime + stime, true
}

func ticksOf(pid int) int64 {
	_, t, _ := readStat(pid)
	return t
}

// statusKB reads a "Key: N kB" line of /proc/PID/status (VmRSS) or, with
// file "smaps_rollup", of that file (Pss); 0 if the process is gone.
func statusKB(pid int, file, key string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, file))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == key+":" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return 0
}

func rssKB(pid int) int64 { return statusKB(pid, "status", "VmRSS") }
func pssKB(pid int) int64 { return statusKB(pid, "smaps_rollup", "Pss") }

// memAvailableKB is the kernel's estimate of memory available for new
// work without swapping.
func memAvailableKB() int64 {
	b, _ := os.ReadFile("/proc/meminfo")
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "MemAvailable:" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return 0
}

// clusterProcs are a cluster's agents, shims and container processes,
// told apart by their command lines: `portway agent ... --root-dir
// DATA/...`, `portway shim DATA/...`, and the children of shims.
type clusterProcs struct {
	agents     map[string]proc // by node name
	shims      []proc
	containers []proc
}

func findClusterProcs(dataDir string) clusterProcs {
	all := procs()
	cp := clusterProcs{agents: map[string]proc{}}
	shims := map[int]bool{}
	for _, p := range all {
		cmd := strings.Join(p.args, " ")
		switch {
		case len(p.args) >= 2 && p.args[1] == "agent" && strings.Contains(cmd, dataDir):
			cp.agents[argAfter(p.args, "--node-name")] = p
		case len(p.args) == 3 && p.args[1] == "shim" && strings.HasPrefix(p.args[2], dataDir):
			cp.shims = append(cp.shims, p)
			shims[p.pid] = true
		}
	}
	for _, p := range all {
		if shims[p.ppid] {
			cp.containers = append(cp.containers, p)
		}
	}
	return cp
}

func argAfter(args []string, flag string) string {
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v
		}
	}
	return "?"
}

// processesMentioning lists processes whose command line names dir: what
// is left of a cluster whose data directory it is.
func processesMentioning(dir string) []proc {
	var out []proc
	for _, p := range procs() {
		if p.pid != os.Getpid() && strings.Contains(strings.Join(p.args, " "), dir) {
			out = append(out, p)
		}
	}
	return out
}

package upcluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Proc is one process as /proc shows it.
type Proc struct {
	PID, PPID int
	Args      []string
	Ticks     int64 // utime+stime, in USER_HZ (100 per second)
}

// Procs lists every process now. Processes that end while it reads are
// left out.
func Procs() []Proc {
	entries, _ := os.ReadDir("/proc")
	var out []Proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue // gone, or a kernel thread
		}
		p := Proc{PID: pid, Args: strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")}
		var ok bool
		if p.PPID, p.Ticks, ok = ReadStat(pid); ok {
			out = append(out, p)
		}
	}
	return out
}

// ReadStat reads the parent pid and utime+stime from /proc/PID/stat.
func ReadStat(pid int) (ppid int, ticks int64, ok bool) {
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

// TicksOf is the CPU time pid has used, in USER_HZ; 0 if it is gone.
func TicksOf(pid int) int64 {
	_, t, _ := ReadStat(pid)
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

// RSSKB is pid's resident set size in KiB.
func RSSKB(pid int) int64 { return statusKB(pid, "status", "VmRSS") }

// AnonKB is the anonymous part of pid's resident set in KiB: its heap and
// stacks, without the pages of its binary (which every process of the same
// binary shares).
func AnonKB(pid int) int64 { return statusKB(pid, "status", "RssAnon") }

// PSSKB is pid's proportional set size in KiB: shared pages split between
// their users.
func PSSKB(pid int) int64 { return statusKB(pid, "smaps_rollup", "Pss") }

// MemAvailableKB is the kernel's estimate of memory available for new
// work without swapping.
func MemAvailableKB() int64 {
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

// ProcessesMentioning lists processes whose command line names dir: what
// is left of a cluster whose data directory it is.
func ProcessesMentioning(dir string) []Proc {
	var out []Proc
	for _, p := range Procs() {
		if p.PID != os.Getpid() && strings.Contains(strings.Join(p.Args, " "), dir) {
			out = append(out, p)
		}
	}
	return out
}

package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

// table is one section of the output: a title, a header row and rows,
// printed aligned so the block can be pasted into a note as is.
type table struct {
	title  string
	header []string
	rows   [][]string
	notes  []string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) print(w io.Writer) {
	if len(t.rows) == 0 {
		return
	}
	fmt.Fprintf(w, "\n## %s\n\n", t.title)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(t.header, "\t"))
	for _, r := range t.rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
	for _, n := range t.notes {
		fmt.Fprintln(w, n)
	}
}

// pct is the nearest-rank percentile p (0..100) of d.
func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// ms prints a duration in milliseconds: one unit everywhere, so columns
// compare at a glance.
func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }

func mib(bytes int64) string { return fmt.Sprintf("%.1f", float64(bytes)/(1<<20)) }

func perSec(n int, d time.Duration) string { return fmt.Sprintf("%.0f", float64(n)/d.Seconds()) }

// printHeader says what machine and what settings the figures are from.
func printHeader(w io.Writer, cfg config, tmp string) {
	fmt.Fprintln(w, "# portway control plane benchmark")
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "date\t%s\n", time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(tw, "nproc\t%d\n", runtime.NumCPU())
	fmt.Fprintf(tw, "cpu\t%s\n", procField("/proc/cpuinfo", "model name"))
	fmt.Fprintf(tw, "memory\t%s\n", procField("/proc/meminfo", "MemTotal"))
	fmt.Fprintf(tw, "kernel\t%s\n", readTrim("/proc/sys/kernel/osrelease"))
	fmt.Fprintf(tw, "go\t%s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(tw, "portway\t%s (%s)\n", portwayVersion(cfg.portway), cfg.portwaySource)
	fmt.Fprintf(tw, "data dirs\t%s (%s)\n", tmp, fsType(tmp))
	fmt.Fprintf(tw, "command\t%s\n", strings.Join(os.Args, " "))
	fmt.Fprintf(tw, "flags\t%s\n", cfg.flags)
	fsync := "off (--unsafe-no-fsync)"
	if cfg.fsync {
		fsync = "on (etcd fsyncs every commit)"
	}
	fmt.Fprintf(tw, "etcd fsync\t%s\n", fsync)
	fmt.Fprintf(tw, "effective\tstartups=%d sizes=%v samples<=%d clients=%d\n", cfg.startups, cfg.sizes, cfg.samples, cfg.clients)
	tw.Flush()
}

func procField(path, key string) string {
	b, _ := os.ReadFile(path)
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

func portwayVersion(bin string) string {
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Split(strings.TrimSpace(string(out)), "\n"), ", ")
}

// fsType names the filesystem the data dirs are on: fsync figures on tmpfs
// or overlay mean something else than on a disk filesystem.
func fsType(path string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return "?"
	}
	switch uint64(st.Type) {
	case 0xEF53:
		return "ext4"
	case 0x58465342:
		return "xfs"
	case 0x9123683E:
		return "btrfs"
	case 0x01021994:
		return "tmpfs"
	case 0x794c7630:
		return "overlayfs"
	}
	return fmt.Sprintf("fs magic %#x", st.Type)
}

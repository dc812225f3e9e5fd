package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
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

// dist adds a row of min/p50/p99/max and the sample count, in ms.
func (t *table) dist(name string, d []time.Duration) {
	if len(d) == 0 {
		t.add(name, "-", "-", "-", "-", "0")
		return
	}
	t.add(name, ms(pct(d, 0)), ms(pct(d, 50)), ms(pct(d, 99)), ms(pct(d, 100)), strconv.Itoa(len(d)))
}

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

// ms prints a duration in milliseconds: one unit in every latency table, so
// columns compare at a glance.
func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)) }

func secs(d time.Duration) string { return fmt.Sprintf("%.2f", d.Seconds()) }

func mib(kib int64) string { return fmt.Sprintf("%.1f", float64(kib)/1024) }

// printHeader says what machine and what settings the figures are from.
func printHeader(w io.Writer, cfg config, tmp string) {
	fmt.Fprintln(w, "# portway cluster benchmark")
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "date\t%s\n", time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(tw, "nproc\t%d\n", runtime.NumCPU())
	fmt.Fprintf(tw, "cpu\t%s\n", procField("/proc/cpuinfo", "model name"))
	fmt.Fprintf(tw, "memory\tMemTotal %s, MemAvailable %s\n", procField("/proc/meminfo", "MemTotal"), procField("/proc/meminfo", "MemAvailable"))
	fmt.Fprintf(tw, "kernel\t%s\n", readTrim("/proc/sys/kernel/osrelease"))
	fmt.Fprintf(tw, "go\t%s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(tw, "portway commit\t%s\n", gitCommit())
	fmt.Fprintf(tw, "portway\t%s (%s)\n", portwayVersion(cfg.portway), cfg.portwaySource)
	fmt.Fprintf(tw, "data dirs\t%s\n", tmp)
	fmt.Fprintf(tw, "command\t%s\n", strings.Join(os.Args, " "))
	fmt.Fprintf(tw, "flags\t%s\n", cfg.flags)
	fmt.Fprintf(tw, "etcd fsync\toff (--unsafe-no-fsync)\n")
	tw.Flush()
}

// gitCommit is HEAD, marked when tracked files differ from it: the binary
// is built from the work tree, which may be more than the commit.
func gitCommit() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "?"
	}
	c := strings.TrimSpace(string(out))
	if exec.Command("git", "diff", "--quiet", "HEAD").Run() != nil {
		c += " (+ uncommitted changes in the work tree)"
	}
	return c
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

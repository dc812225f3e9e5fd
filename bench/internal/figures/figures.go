// Package figures is what the benchmark programs under bench/ share: tables
// of figures printed aligned so a block can be pasted into a note as is,
// percentiles, the header lines that say which machine, binary and flags
// the figures are from, and running a program's parts (-only one of them).
package figures

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

// Table is one section of the output: a title, a header row, rows and
// notes under them.
type Table struct {
	Title  string
	Header []string
	Rows   [][]string
	Notes  []string
}

// Add adds a row.
func (t *Table) Add(cells ...string) { t.Rows = append(t.Rows, cells) }

// Dist adds a row of min/p50/p99/max in ms and the sample count.
func (t *Table) Dist(name string, d []time.Duration) {
	if len(d) == 0 {
		t.Add(name, "-", "-", "-", "-", "0")
		return
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)) }
	t.Add(name, ms(Pct(d, 0)), ms(Pct(d, 50)), ms(Pct(d, 99)), ms(Pct(d, 100)), strconv.Itoa(len(d)))
}

// Print writes the table, or nothing if it has no rows.
func (t *Table) Print(w io.Writer) {
	if len(t.Rows) == 0 {
		return
	}
	fmt.Fprintf(w, "\n## %s\n\n", t.Title)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(t.Header, "\t"))
	for _, r := range t.Rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
	for _, n := range t.Notes {
		fmt.Fprintln(w, n)
	}
}

// Pct is the nearest-rank percentile p (0..100) of d.
func Pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// Machine writes the header lines about the machine and the binary under
// test (portway built from source).
func Machine(tw *tabwriter.Writer, portway, source string) {
	fmt.Fprintf(tw, "date\t%s\n", time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(tw, "nproc\t%d\n", runtime.NumCPU())
	fmt.Fprintf(tw, "cpu\t%s\n", procField("/proc/cpuinfo", "model name"))
	fmt.Fprintf(tw, "memory\tMemTotal %s, MemAvailable %s\n", procField("/proc/meminfo", "MemTotal"), procField("/proc/meminfo", "MemAvailable"))
	fmt.Fprintf(tw, "kernel\t%s\n", readTrim("/proc/sys/kernel/osrelease"))
	fmt.Fprintf(tw, "go\t%s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(tw, "portway\t%s (%s)\n", version(portway), source)
}

func procField(path, key string) string {
	b, _ := os.ReadFile(path)
	for line := range strings.SplitSeq(string(b), "\n") {
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

func version(bin string) string {
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Split(strings.TrimSpace(string(out)), "\n"), ", ")
}

// Main runs a benchmark with a context that Ctrl-C cancels (every step
// gives up and its deferred clean-ups run), and exits 1 on an error.
func Main(run func(context.Context) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	if ctx.Err() != nil {
		err = errors.New("interrupted; the figures taken so far are above")
	}
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

var startTime = time.Now()

// Logf prints progress on stderr, with the seconds since start; the
// figures go to stdout.
func Logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%6.1fs] %s\n", time.Since(startTime).Seconds(), fmt.Sprintf(format, args...))
}

// GitCommit is HEAD, marked when tracked files differ from it: the binary
// is built from the work tree, which may be more than the commit.
func GitCommit() string {
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

// BuildPortway builds ./cmd/portway into dir unless bin names a binary already; it
// returns the binary and where it came from, for the report's header.
func BuildPortway(ctx context.Context, bin, dir string) (path, source string, err error) {
	if bin != "" {
		return bin, "-portway", nil
	}
	path = filepath.Join(dir, "portway")
	Logf("building portway")
	build := exec.CommandContext(ctx, "go", "build", "-o", path, "github.com/portway/portway/cmd/portway")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return "", "", fmt.Errorf("building portway: %w", err)
	}
	return path, "built from ./cmd/portway", nil
}

// Flags is every command-line flag with its value, "-name=value ...", for
// the header.
func Flags() string {
	var fl []string
	flag.VisitAll(func(f *flag.Flag) { fl = append(fl, fmt.Sprintf("-%s=%s", f.Name, f.Value)) })
	return strings.Join(fl, " ")
}

// Part is one part of a benchmark: a name for -only and the step that
// takes its figures, of whatever signature the benchmark's steps share.
type Part[F any] struct {
	Name string
	Step F
}

// Parts are a benchmark's parts, in the order they run.
type Parts[F any] []Part[F]

// Names lists the parts' names, in order.
func (ps Parts[F]) Names() []string {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name
	}
	return names
}

// Check says whether only (a -only flag; "" for all) names a part.
func (ps Parts[F]) Check(only string) error {
	if only != "" && !slices.Contains(ps.Names(), only) {
		return fmt.Errorf("-only %q: want one of %s", only, strings.Join(ps.Names(), ", "))
	}
	return nil
}

// Run runs each part's step, or only the named part's, through run. A part
// that fails leaves its table short; the others still run, as their
// figures do not depend on it.
func (ps Parts[F]) Run(ctx context.Context, only string, run func(ctx context.Context, step F) error) error {
	var errs []error
	for _, p := range ps {
		if only != "" && p.Name != only {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		Logf("== %s", p.Name)
		if err := run(ctx, p.Step); err != nil {
			Logf("%s: %v", p.Name, err)
			errs = append(errs, fmt.Errorf("%s: %w", p.Name, err))
		}
	}
	return errors.Join(errs...)
}

package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/portway/portway/bench/internal/figures"
)

func secs(d time.Duration) string { return fmt.Sprintf("%.2f", d.Seconds()) }

func mib(kib int64) string { return fmt.Sprintf("%.1f", float64(kib)/1024) }

// printHeader says what machine and what settings the figures are from.
func printHeader(w io.Writer, cfg config, tmp string) {
	fmt.Fprintln(w, "# portway cluster benchmark")
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	figures.Machine(tw, cfg.portway, cfg.portwaySource)
	fmt.Fprintf(tw, "portway commit\t%s\n", figures.GitCommit())
	fmt.Fprintf(tw, "data dirs\t%s\n", tmp)
	fmt.Fprintf(tw, "command\t%s\n", strings.Join(os.Args, " "))
	fmt.Fprintf(tw, "flags\t%s\n", cfg.flags)
	fmt.Fprintf(tw, "etcd fsync\toff (--unsafe-no-fsync)\n")
	tw.Flush()
}

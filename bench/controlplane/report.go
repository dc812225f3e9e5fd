package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/portway/portway/bench/internal/figures"
)

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
	figures.Machine(tw, cfg.portway, cfg.portwaySource)
	fmt.Fprintf(tw, "data dirs\t%s (%s)\n", tmp, fsType(tmp))
	fmt.Fprintf(tw, "command\t%s\n", strings.Join(os.Args, " "))
	fmt.Fprintf(tw, "flags\t%s\n", cfg.flags)
	fsync := "off (--unsafe-no-fsync)"
	if cfg.fsync {
		fsync = "on (etcd fsyncs every commit)"
	}
	fmt.Fprintf(tw, "etcd fsync\t%s\n", fsync)
	gogc := "the server's own"
	if cfg.gogc != "" {
		gogc = cfg.gogc
	}
	fmt.Fprintf(tw, "server GOGC\t%s\n", gogc)
	fmt.Fprintf(tw, "effective\tstartups=%d sizes=%v samples<=%d clients=%d\n", cfg.startups, cfg.sizes, cfg.samples, cfg.clients)
	tw.Flush()
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

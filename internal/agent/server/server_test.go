package server

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const criLog = `2026-11-21T10:00:00.000000001Z stdout F first
2026-11-21T10:00:01.000000001Z stderr P long-
2026-11-21T10:00:01.000000002Z stderr F line
2026-11-21T10:00:02.000000001Z stdout F last
`

func render(t *testing.T, o logOptions, records string) string {
	t.Helper()
	var b bytes.Buffer
	w := &limitWriter{w: &b, left: o.limitBytes}
	for _, rec := range strings.SplitAfter(records, "\n") {
		if rec != "" && !writeRecord(w, []byte(rec), o) {
			break
		}
	}
	return b.String()
}

func TestWriteRecord(t *testing.T) {
	all := logOptions{tailLines: -1, limitBytes: -1}
	if got, want := render(t, all, criLog), "first\nlong-line\nlast\n"; got != want {
		t.Errorf("plain: %q, want %q", got, want)
	}
	ts := all
	ts.timestamps = true
	if got := render(t, ts, criLog); !strings.HasPrefix(got, "2026-11-21T10:00:00.000000001Z first\n") {
		t.Errorf("timestamps: %q", got)
	}
	since := all
	since.since = time.Date(2026, 11, 21, 10, 0, 2, 0, time.UTC)
	if got, want := render(t, since, criLog), "last\n"; got != want {
		t.Errorf("since: %q, want %q", got, want)
	}
	limited := all
	limited.limitBytes = 8
	if got, want := render(t, limited, criLog), "first\nlo"; got != want {
		t.Errorf("limitBytes 8: %q, want %q", got, want)
	}
}

func TestSeekTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	if err := os.WriteFile(path, []byte(criLog), 0o600); err != nil {
		t.Fatal(err)
	}
	// A partial record is a line of the file, as in the kubelet.
	for _, n := range []int64{0, 1, 2, 10} {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := seekTail(f, n); err != nil {
			t.Fatal(err)
		}
		rest := make([]byte, 1024)
		k, _ := f.Read(rest)
		f.Close()
		if got, want := string(rest[:k]), fileTail(criLog, n); got != want {
			t.Errorf("tail %d: %q, want %q", n, got, want)
		}
	}
}

func fileTail(s string, n int64) string {
	lines := strings.SplitAfter(strings.TrimSuffix(s, "\n"), "\n")
	if int(n) >= len(lines) {
		return s
	}
	if n == 0 {
		return ""
	}
	return strings.Join(lines[len(lines)-int(n):], "") + "\n"
}

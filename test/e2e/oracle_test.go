package e2e

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// oracleRoot is shared/oracle, beside the repository.
const oracleRoot = "../../../shared"

// TestOracle replays the recorded Kubernetes 1.32 cases (shared/oracle) in
// order against a fresh server and fails on any command whose result
// differs, unless testdata/oracle-known-diffs.txt lists it with the reason.
// It serves on 127.0.0.1:6443 like the recording, since some outputs name
// the address.
func TestOracle(t *testing.T) {
	replay := filepath.Join(oracleRoot, "tools", "oracle_replay.py")
	if _, err := os.Stat(replay); err != nil {
		t.Skipf("no oracle beside the repository (%s)", replay)
	}
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is needed to replay the oracle")
	}
	if l, err := net.Listen("tcp", "127.0.0.1:6443"); err != nil {
		t.Skipf("127.0.0.1:6443 is in use: %v", err)
	} else {
		l.Close()
	}
	s := &server{t: t, dataDir: t.TempDir(), listen: "127.0.0.1:6443"}
	s.kubeconfig = filepath.Join(s.dataDir, "kubeconfig")
	s.start()
	t.Cleanup(s.stop)

	known := knownDiffs(t)
	failures, out := replayOracle(t, replay, s.kubeconfig)
	unexpected := map[string]bool{}
	for f := range failures {
		if !known.match(f) {
			unexpected[f] = true
		}
	}
	if len(unexpected) > 0 {
		// Cases wait for controllers with fixed sleeps; on a loaded machine a
		// wait can fall short once. A real difference shows in a second
		// replay on a fresh server too.
		t.Logf("%d unexpected differences; replaying again to rule out timing", len(unexpected))
		s.stop()
		s.dataDir = t.TempDir()
		s.kubeconfig = filepath.Join(s.dataDir, "kubeconfig")
		s.start()
		again, out2 := replayOracle(t, replay, s.kubeconfig)
		out += "\n--- second replay ---\n" + out2
		for f := range unexpected {
			if again[f] {
				t.Errorf("differs from Kubernetes 1.32: %s", f)
			}
		}
	}
	for _, k := range known {
		seen := false
		for f := range failures {
			seen = seen || k.matches(f)
		}
		if !seen {
			t.Logf("matches now, remove from testdata/oracle-known-diffs.txt: %s", k.text)
		}
	}
	if t.Failed() {
		t.Logf("replay output:\n%s", out)
	}
}

// replayOracle replays every case against the server and returns the
// commands that differed.
func replayOracle(t *testing.T, replay, kubeconfig string) (map[string]bool, string) {
	t.Helper()
	cmd := exec.Command("python3", replay, "--kubeconfig", kubeconfig, "--workdir", t.TempDir(), "--list-failures")
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir()) // a clean kubectl cache
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("replay: %v\n%s", err, out)
	}
	failures := map[string]bool{}
	inList := false
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(line, "matched "):
			t.Log(line)
		case strings.HasPrefix(line, "mismatched commands"):
			inList = true
		case inList && strings.HasPrefix(line, "  "):
			failures[tmpDir.ReplaceAllString(strings.TrimSpace(line), "TMP/")] = true
		}
	}
	return failures, string(out)
}

// tmpDir is the replay's own temporary directory in curl commands.
var tmpDir = regexp.MustCompile(`/tmp/tmp[^/ ]+/`)

type knownDiff struct {
	text string
}

type knownList []knownDiff

// match reports whether a listed command is the failed one. The replay
// shortens long commands, so either may be the longer.
func (l knownList) match(failure string) bool {
	for _, k := range l {
		if k.matches(failure) {
			return true
		}
	}
	return false
}

func (k knownDiff) matches(failure string) bool {
	return strings.HasPrefix(failure, k.text) || strings.HasPrefix(k.text, failure)
}

// knownDiffs reads "CASE: COMMAND-PREFIX" lines, each under a "# reason"
// comment.
func knownDiffs(t *testing.T) knownList {
	t.Helper()
	f, err := os.Open("testdata/oracle-known-diffs.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var l knownList
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		l = append(l, knownDiff{line})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return l
}

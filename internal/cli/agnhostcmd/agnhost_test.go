package agnhostcmd

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestFlagsReachTheSubcommand(t *testing.T) {
	for _, tc := range []struct {
		args       []string
		wantErr    string
		wantStdout string
	}{
		{[]string{"netexec", "--bogus"}, "netexec: flag provided but not defined: -bogus", ""},
		{[]string{"serve-hostname", "--tcp", "--port=0"}, "serve-hostname: can't serve TCP/UDP mode and HTTP mode at the same time", ""},
		{[]string{"--help"}, "", "Subcommands: serve-hostname, netexec"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			cmd := New()
			var stdout bytes.Buffer
			cmd.SetOut(&stdout)
			cmd.SetErr(&bytes.Buffer{})
			cmd.SetArgs(tc.args)
			err := cmd.ExecuteContext(context.Background())
			if (err == nil) != (tc.wantErr == "") || (err != nil && err.Error() != tc.wantErr) {
				t.Errorf("err = %v, want %q", err, tc.wantErr)
			}
			if !strings.Contains(stdout.String(), tc.wantStdout) {
				t.Errorf("stdout %q lacks %q", stdout.String(), tc.wantStdout)
			}
		})
	}
}

// Package agnhost is portway's own implementation of the Kubernetes e2e test
// image registry.k8s.io/e2e-test-images/agnhost, so that pods using it run
// without a container engine. It covers the subcommands Service tests and
// users' manifests rely on, serve-hostname and netexec, and answers on the
// wire as the real agnhost 2.4x does: same flags and defaults, same HTTP
// paths, bodies and status codes, same UDP commands, same log lines.
//
// The caller runs Run in a process that is already inside the pod's network,
// UTS and mount namespaces, with the container's environment. Where the real
// agnhost calls os.Exit, Run returns instead (see ExitError).
package agnhost

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// imagePath is the repository path of the image on registry.k8s.io and its
// mirrors. Before 2021 it was gcr.io/kubernetes-e2e-test-images/agnhost,
// which also ends in it.
const imagePath = "e2e-test-images/agnhost"

// IsImage reports whether image is the agnhost e2e test image: any registry
// or mirror whose repository path ends in "e2e-test-images/agnhost", with any
// tag or digest.
func IsImage(image string) bool {
	name, _, _ := strings.Cut(image, "@")
	// A tag is a colon after the last slash; an earlier colon is a registry port.
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		name = name[:i]
	}
	return strings.HasSuffix(name, imagePath)
}

// imageCmd is the agnhost image's CMD, used when a container sets neither
// command nor args.
var imageCmd = []string{"pause"}

// Command turns a container's command and args into agnhost's argv without
// the program name, with Kubernetes' semantics: command replaces the image's
// ENTRYPOINT ["/agnhost"] and args replace its CMD. ok is false when the
// command is not agnhost (for example ["sh", "-c", ...]).
func Command(command, args []string) (argv []string, ok bool) {
	if len(command) == 0 {
		if len(args) == 0 {
			return append([]string(nil), imageCmd...), true
		}
		return append([]string(nil), args...), true
	}
	if c := path.Clean(command[0]); c != "/agnhost" && c != "agnhost" {
		return nil, false
	}
	return append(append([]string(nil), command[1:]...), args...), true
}

// ExitError reports that the subcommand ended itself with a non-zero exit
// code (netexec's /exit?code=N), where the real agnhost calls os.Exit(N).
type ExitError struct {
	Code int
}

func (e *ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// ExitCode returns the code the process should exit with, as
// exec.ExitError.ExitCode does.
func (e *ExitError) ExitCode() int { return e.Code }

// exitResult is what Run returns when the subcommand exits by itself.
func exitResult(code int) error {
	if code == 0 {
		return nil
	}
	return &ExitError{Code: code}
}

var subcommands = []string{"serve-hostname", "netexec", "pause"}

// Run runs one agnhost subcommand, argv[0], with its flags until ctx ends or
// the subcommand exits by itself. Ending ctx stands for the SIGTERM the real
// agnhost handles; what follows (serve-hostname keeps serving for 60s,
// netexec for --delay-shutdown seconds) happens before Run returns. Logs go
// to stderr. An exit with a non-zero code is an *ExitError.
func Run(ctx context.Context, argv []string, stdout, stderr io.Writer) error {
	r := &runner{stdout: stdout, stderr: stderr, linger: 60 * time.Second, uploads: "/uploads"}
	return r.run(ctx, argv)
}

// runner holds what differs between a pod and a test.
type runner struct {
	stdout, stderr io.Writer
	// host is the address servers bind: all addresses in a pod, as the real
	// agnhost does, and loopback in tests.
	host string
	// linger is how long serve-hostname keeps serving after ctx ends.
	linger time.Duration
	// uploads is the directory netexec's /upload writes to.
	uploads string
	// listening, if set, learns each address a server has bound, so that
	// tests can ask for port 0.
	listening func(network string, addr net.Addr)
}

func (r *runner) run(ctx context.Context, argv []string) error {
	err := r.runSubcommand(ctx, argv)
	if errors.Is(err, flag.ErrHelp) {
		return nil // -h printed the usage, as cobra's --help does.
	}
	return err
}

func (r *runner) runSubcommand(ctx context.Context, argv []string) error {
	if len(argv) == 0 {
		return fmt.Errorf("no agnhost subcommand given (supported: %s)", strings.Join(subcommands, ", "))
	}
	switch argv[0] {
	case "serve-hostname":
		return r.serveHostname(ctx, argv[1:])
	case "netexec":
		return r.netexec(ctx, argv[1:])
	case "pause":
		return r.pause(ctx, argv[1:])
	case "-h", "--help", "help":
		fmt.Fprintf(r.stdout, "Usage: agnhost SUBCOMMAND [flags]\n\nSubcommands: %s\n", strings.Join(subcommands, ", "))
		return nil
	}
	return fmt.Errorf("agnhost subcommand %q is not supported by portway (supported: %s)", argv[0], strings.Join(subcommands, ", "))
}

func (r *runner) logger() *log.Logger {
	return log.New(r.stderr, "", log.LstdFlags)
}

func (r *runner) addr(port int) string {
	return net.JoinHostPort(r.host, strconv.Itoa(port))
}

func (r *runner) bound(network string, addr net.Addr) {
	if r.listening != nil {
		r.listening(network, addr)
	}
}

// parseFlags parses a subcommand's flags. The real agnhost also takes klog's
// flags on every subcommand, and some tests pass them (--v=2), so they are
// accepted and ignored: these subcommands never logged through klog.
func (r *runner) parseFlags(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(r.stderr)
	for _, name := range []string{"logtostderr", "alsologtostderr", "add_dir_header", "skip_headers", "one_output", "skip_log_headers"} {
		fs.Bool(name, false, "ignored (klog)")
	}
	for _, name := range []string{"log_dir", "log_file", "log_file_max_size", "stderrthreshold", "vmodule", "log_backtrace_at"} {
		fs.String(name, "", "ignored (klog)")
	}
	fs.Int("v", 0, "ignored (klog)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%s: %w", fs.Name(), err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: accepts at most 0 arg(s), received %d", fs.Name(), fs.NArg())
	}
	return nil
}

// servers runs one subcommand's serving loops. The first loop error ends the
// subcommand (the real agnhost log.Fatals); stop closes every listener and
// waits for the loops to return. Only fail may be called concurrently.
type servers struct {
	wg      sync.WaitGroup
	closers []func() error
	failed  chan error
	closing atomic.Bool
}

func newServers() *servers {
	return &servers{failed: make(chan error, 1)}
}

// serve runs loop until closer is called by stop.
func (s *servers) serve(closer func() error, loop func() error) {
	s.closers = append(s.closers, closer)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := loop(); err != nil {
			s.fail(err)
		}
	}()
}

// fail ends the subcommand with err, unless it is already stopping, when
// errors are the listeners being closed.
func (s *servers) fail(err error) {
	if s.closing.Load() {
		return
	}
	select {
	case s.failed <- err:
	default:
	}
}

func (s *servers) stop() {
	s.closing.Store(true)
	for _, c := range s.closers {
		_ = c() // Closing is all that is left to do; an error changes nothing.
	}
	s.wg.Wait()
}

// pause is the image's default command: it waits to be stopped, as the
// real agnhost pause does.
func (r *runner) pause(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("pause", flag.ContinueOnError)
	if err := r.parseFlags(fs, args); err != nil {
		return err
	}
	fmt.Fprintln(r.stdout, "Paused")
	<-ctx.Done()
	fmt.Fprintln(r.stdout, "Shutting down after receiving signal")
	return nil
}

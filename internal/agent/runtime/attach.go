package runtime

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/remotecommand"
)

// ErrAttachStdin says what attach cannot do: a container's stdin is
// /dev/null (the shim gives it no other), so there is nothing to attach a
// client's stdin to.
var ErrAttachStdin = errors.New("portway cannot attach to a container's stdin: containers run with stdin from /dev/null (stdin: true is not supported); attach without -i to stream the container's output")

// AttachContainer streams what a running container writes from now on:
// its stdout to out and its stderr to errOut (to out as well with tty, as
// a terminal would show both), until the container ends or the client
// goes. The output is read from the container's log as the shim writes
// it, so it arrives in lines (a partial line once 16 KiB of it wait).
//
// Not done: stdin (ErrAttachStdin) and terminals; containers never get a
// terminal (tty: true is ignored), so resize has nothing to act on.
func (r *Runtime) AttachContainer(ctx context.Context, key string, _ types.UID, container string, in io.Reader, out, errOut io.WriteCloser, tty bool, _ <-chan remotecommand.TerminalSize) error {
	if in != nil {
		return ErrAttachStdin
	}
	i, err := r.running(key, container)
	if err != nil {
		return err
	}
	f, err := os.Open(i.logPath())
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		return err
	}
	streams := map[string]io.Writer{}
	if out != nil {
		streams["stdout"] = out
	}
	switch {
	case errOut != nil:
		streams["stderr"] = errOut
	case tty && out != nil:
		streams["stderr"] = out
	}
	br := bufio.NewReader(f)
	var pending []byte // a record read only in part so far
	ended := false
	for {
		chunk, err := br.ReadBytes('\n')
		pending = append(pending, chunk...)
		if err == nil {
			if werr := writeLogRecord(streams, pending); werr != nil {
				return nil // the client went
			}
			pending = pending[:0]
			continue
		}
		if ended {
			return nil // everything the container wrote has been sent
		}
		select {
		case <-ctx.Done():
			return nil
		case <-i.exited:
			// The shim has written its last; read to the end once more.
			ended = true
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// writeLogRecord writes the content of one CRI log record ("time stream
// P|F content") to the writer of its stream.
func writeLogRecord(streams map[string]io.Writer, rec []byte) error {
	_, rest, _ := strings.Cut(strings.TrimSuffix(string(rec), "\n"), " ")
	stream, rest, _ := strings.Cut(rest, " ")
	tag, content, _ := strings.Cut(rest, " ")
	w := streams[stream]
	if w == nil {
		return nil
	}
	if tag == "F" {
		content += "\n"
	}
	_, err := io.WriteString(w, content)
	return err
}

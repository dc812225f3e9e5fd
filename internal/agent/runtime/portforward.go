package runtime

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"

	"k8s.io/apimachinery/pkg/types"

	"github.com/portway/portway/internal/namespaces"
)

// PortForward connects stream to port on the pod's loopback, inside its
// network namespace, as CRI runtimes do for the kubelet: so a container
// listening on 127.0.0.1 only is reachable too. It returns when the pod's
// side of the connection ends.
func (r *Runtime) PortForward(ctx context.Context, key string, _ types.UID, port int32, stream io.ReadWriteCloser) error {
	w, err := r.worker(key)
	if err != nil {
		return err
	}
	// The pod record holds the sandbox once it is set up; the worker's
	// own copy belongs to its goroutine.
	rec, err := readRecord(w.dir)
	if err != nil || rec.Sandbox == nil {
		return fmt.Errorf("pod %q has no network namespace yet", key)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port)))
	var conn net.Conn
	err = namespaces.Do(rec.Sandbox.path(), func() error {
		var d net.Dialer
		var err error
		conn, err = d.DialContext(ctx, "tcp4", addr)
		return err
	})
	if err != nil {
		return fmt.Errorf("failed to connect to localhost:%d inside namespace %q: %w", port, rec.Sandbox.Netns, err)
	}
	defer conn.Close()
	go func() {
		// The client is done sending: tell the pod's side.
		_, _ = io.Copy(conn, stream)
		_ = conn.(*net.TCPConn).CloseWrite()
	}()
	if _, err := io.Copy(stream, conn); err != nil {
		return fmt.Errorf("copying from localhost:%d inside namespace %q: %w", port, rec.Sandbox.Netns, err)
	}
	return nil
}

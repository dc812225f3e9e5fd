package agnhost

import (
	"io"
	"net"
	"net/http"
	"testing"
)

// getKeepAlive is a GET that asks to keep the connection, so that the
// server's answer to that can be seen.
func getKeepAlive(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	transport := &http.Transport{}
	defer transport.CloseIdleConnections()
	resp, err := (&http.Client{Transport: transport}).Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp, string(body)
}

func TestServeHostname(t *testing.T) {
	host := hostname(t)
	for _, tc := range []struct {
		name     string
		args     []string
		networks []string
		check    func(t *testing.T, in *instance)
	}{{
		name:     "http",
		args:     []string{"--port=0"},
		networks: []string{"tcp"},
		check: func(t *testing.T, in *instance) {
			for _, path := range []string{"/", "/any/path?x=1"} {
				resp, body := getKeepAlive(t, in.url(path))
				if resp.StatusCode != 200 || body != host || resp.Close {
					t.Errorf("GET %s = %d %q (close %v), want 200 %q, kept open", path, resp.StatusCode, body, resp.Close, host)
				}
			}
			wantLog(t, in, "HTTP request from 127.0.0.1:")
		},
	}, {
		name:     "http close",
		args:     []string{"--port=0", "--close"},
		networks: []string{"tcp"},
		check: func(t *testing.T, in *instance) {
			resp, body := getKeepAlive(t, in.url("/"))
			if body != host || !resp.Close {
				t.Errorf("GET / = %q (close %v), want %q and Connection: close", body, resp.Close, host)
			}
		},
	}, {
		name:     "tcp and udp",
		args:     []string{"--http=false", "--tcp", "--udp", "--port=0"},
		networks: []string{"tcp", "udp"},
		check: func(t *testing.T, in *instance) {
			conn, err := net.Dial("tcp", in.addrs["tcp"].String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			// The server writes the hostname and closes, so ReadAll ends.
			got, err := io.ReadAll(conn)
			if err != nil || string(got) != host {
				t.Errorf("TCP read %q, %v; want %q", got, err, host)
			}
			for _, msg := range []string{"x", "anything longer than the sixteen-byte buffer"} {
				if got, _ := udpExchange(t, in.addrs["udp"], msg); got != host {
					t.Errorf("UDP %q: reply %q, want %q", msg, got, host)
				}
			}
			wantLog(t, in, "TCP request from 127.0.0.1:", "UDP request from 127.0.0.1:")
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			in := start(t, tc.networks, append([]string{"serve-hostname"}, tc.args...)...)
			tc.check(t, in)
			in.cancel()
			if err := in.wait(); err != nil {
				t.Fatalf("after ctx ended: %v", err)
			}
			wantLog(t, in, "Serving on port 0.", "Shutting down after receiving signal: terminated.", "Awaiting pod deletion.")
		})
	}
}

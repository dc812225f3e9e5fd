package agnhost

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// netexecOnLoopback are the flags that put netexec's servers on free ports.
var netexecOnLoopback = []string{"netexec", "--http-port=0", "--udp-port=0"}

func TestNetexecHTTP(t *testing.T) {
	host := hostname(t)
	in := start(t, []string{"tcp", "udp"}, netexecOnLoopback...)
	for _, tc := range []struct {
		path       string
		wantStatus int
		wantBody   string // compared whole, unless wantPrefix
		wantPrefix bool
	}{
		{"/hostname", 200, host, false},
		{"/hostName", 200, host, false},
		{"/clientip", 200, "127.0.0.1:", true},
		{"/", 200, "NOW: ", true},
		{"/no/such/path", 200, "NOW: ", true},
		{"/echo?msg=hello", 200, "hello", false},
		{"/echo?msg=gone&code=404", 404, "gone", false},
		{"/echo?msg=x&code=abc", 200, "argument 'code' must be an integer or empty, got \"abc\"\n", false},
		{"/header?key=User-Agent", 200, "Go-http-client/1.1", false},
		{"/header", 200, `{"Accept-Encoding":["gzip"],"Connection":["close"],"User-Agent":["Go-http-client/1.1"]}`, false},
		{"/healthz", 200, "", false},
		{"/readyz", 200, "ok", false},
		{"/redirect?location=/echo%3Fmsg%3Dx&code=307", 307, `<a href="/echo?msg=x">Temporary Redirect</a>.` + "\n\n", false},
		{"/redirect?location=/hostname", 302, `<a href="/hostname">Found</a>.` + "\n\n", false},
		{"/shell?cmd=" + url.QueryEscape("echo hi"), 200, `{"output":"hi\n"}`, false},
		{"/shell?shellCommand=" + url.QueryEscape("exit 3"), 200, `{"error":"exit status 3"}`, false},
		{"/shell?cmd=" + url.QueryEscape("echo '<oops>'; exit 1"), 200, `{"error":"exit status 1","output":"\u003coops\u003e\n"}`, false},
		{"/dial?host=127.0.0.1&port=1", 400, "request parameter not specified. <nil>\n", false},
		{"/dial?request=hostname&protocol=tcp&host=127.0.0.1&port=1", 400, "unsupported protocol. tcp\n", false},
		{"/dial?request=hostname&tries=x&host=127.0.0.1&port=1", 400, "tries parameter is invalid. strconv.Atoi: parsing \"x\": invalid syntax\n", false},
		{"/dial?request=hostname&host=127.0.0.1&port=nope", 400, "host and/or port param are invalid. lookup tcp/nope: unknown port\n", true},
		{"/dial?request=hostname&host=127.0.0.1&port=1&tries=0", 200, "{}", false},
		{"/exit?code=x", 200, "argument 'code' must be an integer [0-127] or empty, got \"x\"\n", false},
		{"/exit?timeout=soon", 200, "argument 'timeout' must be a valid golang duration or empty, got \"soon\"\n", false},
	} {
		t.Run(tc.path, func(t *testing.T) {
			resp, body := get(t, in.url(tc.path))
			match := body == tc.wantBody
			if tc.wantPrefix {
				match = strings.HasPrefix(body, tc.wantBody)
			}
			if resp.StatusCode != tc.wantStatus || !match {
				t.Errorf("GET %s = %d %q, want %d %q (prefix %v)", tc.path, resp.StatusCode, body, tc.wantStatus, tc.wantBody, tc.wantPrefix)
			}
		})
	}
	wantLog(t, in, "Started HTTP server on port 0", "Started UDP server on port 127.0.0.1 0", "GET /echo?msg=hello&code=", "hostname: "+host)
}

func TestNetexecUDP(t *testing.T) {
	host := hostname(t)
	in := start(t, []string{"tcp", "udp"}, netexecOnLoopback...)
	for _, tc := range []struct {
		send string
		want string // "<client>" is the sender's address
	}{
		{"hostname", host},
		{"  HostName\n", host},
		{"echo Hello World", "hello world"},
		{"clientip", "<client>"},
	} {
		t.Run(tc.send, func(t *testing.T) {
			got, local := udpExchange(t, in.addrs["udp"], tc.send)
			want := strings.ReplaceAll(tc.want, "<client>", local.String())
			if got != want {
				t.Errorf("UDP %q: reply %q, want %q", tc.send, got, want)
			}
		})
	}
}

// dialResult is /dial's answer; nil slices are absent keys.
type dialResult struct {
	Responses []string `json:"responses"`
	Errors    []string `json:"errors"`
}

func TestNetexecDial(t *testing.T) {
	host := hostname(t)
	dialer := start(t, []string{"tcp", "udp"}, netexecOnLoopback...)
	server := start(t, []string{"tcp", "udp"}, netexecOnLoopback...)
	_, httpPort, _ := net.SplitHostPort(server.addrs["tcp"].String())
	_, udpPort, _ := net.SplitHostPort(server.addrs["udp"].String())
	closedTCP, closedUDP := closedPorts(t)
	for _, tc := range []struct {
		name        string
		query       string
		want        dialResult
		wantErrPart string // each error contains it
	}{
		{"http", "protocol=http&request=hostname&tries=2&port=" + httpPort, dialResult{Responses: []string{host, host}}, ""},
		{"http default and path", "request=echo%3Fmsg%3Dhi&port=" + httpPort, dialResult{Responses: []string{"hi"}}, ""},
		{"udp", "protocol=udp&request=hostname&port=" + udpPort, dialResult{Responses: []string{host}}, ""},
		{"udp echo", "protocol=UDP&request=echo%20Hi&tries=3&port=" + udpPort, dialResult{Responses: []string{"hi", "hi", "hi"}}, ""},
		{"http refused", "protocol=http&request=hostname&port=" + closedTCP, dialResult{Errors: []string{""}}, "connection refused"},
		{"udp refused", "protocol=udp&request=hostname&tries=2&port=" + closedUDP, dialResult{Errors: []string{"", ""}}, "reading from udp connection failed. err:'"},
		{"sctp", "protocol=sctp&request=hostname&port=" + httpPort, dialResult{Errors: []string{""}}, "sctp dial failed. err:SCTP is not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := get(t, dialer.url("/dial?host=127.0.0.1&"+tc.query))
			var got dialResult
			if err := json.Unmarshal([]byte(body), &got); err != nil || resp.StatusCode != 200 {
				t.Fatalf("/dial?%s = %d %q (%v)", tc.query, resp.StatusCode, body, err)
			}
			if len(got.Errors) != len(tc.want.Errors) || strings.Join(got.Responses, ",") != strings.Join(tc.want.Responses, ",") || (got.Responses == nil) != (tc.want.Responses == nil) {
				t.Fatalf("/dial?%s = %s, want %+v", tc.query, body, tc.want)
			}
			for _, e := range got.Errors {
				if !strings.Contains(e, tc.wantErrPart) {
					t.Errorf("/dial?%s error %q lacks %q", tc.query, e, tc.wantErrPart)
				}
			}
		})
	}
}

// closedPorts returns a TCP and a UDP port on loopback that nothing listens on.
func closedPorts(t *testing.T) (tcp, udp string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, tcp, _ = net.SplitHostPort(ln.Addr().String())
	_, udp, _ = net.SplitHostPort(pc.LocalAddr().String())
	ln.Close()
	pc.Close()
	return tcp, udp
}

func TestNetexecExit(t *testing.T) {
	for _, tc := range []struct {
		path     string
		wantCode int // 0: Run returns nil
		answered bool
	}{
		{"/exit?code=3&timeout=10s", 3, true},
		{"/exit?timeout=10s", 0, true},
		{"/exit?code=5", 5, false},
		{"/exit?code=7&wait=1ns", 7, false},
		{"/shutdown", 0, false},
	} {
		t.Run(tc.path, func(t *testing.T) {
			in := start(t, []string{"tcp", "udp"}, netexecOnLoopback...)
			resp, err := client.Get(in.url(tc.path))
			if err == nil {
				resp.Body.Close()
			}
			// An immediate exit may or may not beat the response out.
			if tc.answered && (err != nil || resp.StatusCode != 200) {
				t.Errorf("GET %s: %v", tc.path, err)
			}
			err = in.wait()
			var exit *ExitError
			switch {
			case tc.wantCode == 0 && err != nil:
				t.Errorf("Run = %v, want nil", err)
			case tc.wantCode != 0 && (!errors.As(err, &exit) || exit.Code != tc.wantCode):
				t.Errorf("Run = %v, want exit status %d", err, tc.wantCode)
			}
		})
	}
}

func TestNetexecDelayShutdown(t *testing.T) {
	in := start(t, []string{"tcp", "udp"}, slices.Concat(netexecOnLoopback, []string{"--delay-shutdown=3600"})...)
	in.cancel()
	// Once it has seen the "SIGTERM", it fails readiness but stays healthy
	// and keeps serving until the delay is over.
	for {
		resp, body := get(t, in.url("/readyz"))
		if resp.StatusCode == http.StatusServiceUnavailable && body == "shutting down" {
			break
		}
		if resp.StatusCode != 200 {
			t.Fatalf("/readyz = %d %q", resp.StatusCode, body)
		}
	}
	if resp, _ := get(t, in.url("/healthz")); resp.StatusCode != 200 {
		t.Errorf("/healthz = %d during the delay, want 200", resp.StatusCode)
	}
	wantLog(t, in, "Sleeping 3600 seconds before terminating...")
	// /exit still works, as the delay is the pod's to cut short.
	get(t, in.url("/exit?code=2&timeout=10s"))
	var exit *ExitError
	if err := in.wait(); !errors.As(err, &exit) || exit.Code != 2 {
		t.Errorf("Run = %v, want exit status 2", err)
	}
}

func TestNetexecOptions(t *testing.T) {
	host := hostname(t)
	for _, tc := range []struct {
		name     string
		args     []string
		networks []string
		path     string
		wantCode int
		wantBody string
	}{
		{"override", []string{"--http-override=/echo?msg=overridden"}, []string{"tcp", "udp"}, "/hostname", 200, "overridden"},
		{"override keeps the client", []string{"--http-override=/clientip"}, []string{"tcp", "udp"}, "/", 200, "127.0.0.1:"},
		{"no udp", []string{"--udp-port=-1"}, []string{"tcp"}, "/healthz", http.StatusPreconditionFailed, ""},
		{"no udp readiness", []string{"--udp-port=-1"}, []string{"tcp"}, "/readyz", http.StatusPreconditionFailed, ""},
		{"udp addresses", []string{"--udp-listen-addresses=127.0.0.1,127.0.0.1"}, []string{"tcp", "udp"}, "/healthz", 200, ""},
		{"sctp", []string{"--sctp-port=5000"}, []string{"tcp", "udp"}, "/hostname", 200, host},
		{"klog flags", []string{"--v=2", "--logtostderr", "--vmodule=x=1"}, []string{"tcp", "udp"}, "/hostname", 200, host},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := start(t, tc.networks, slices.Concat(netexecOnLoopback, tc.args)...)
			resp, body := get(t, in.url(tc.path))
			if resp.StatusCode != tc.wantCode || !strings.HasPrefix(body, tc.wantBody) {
				t.Errorf("GET %s = %d %q, want %d %q\n%s", tc.path, resp.StatusCode, body, tc.wantCode, tc.wantBody, in.log)
			}
		})
	}
}

func TestNetexecUpload(t *testing.T) {
	in := start(t, []string{"tcp", "udp"}, netexecOnLoopback...)
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	fw, err := mw.CreateFormFile("file", "data.txt")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(fw, "uploaded content")
	mw.Close()
	resp, err := client.Post(in.url("/upload"), mw.FormDataContentType(), &form)
	if err != nil {
		t.Fatal(err)
	}
	var result map[string]string
	err = json.NewDecoder(resp.Body).Decode(&result)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusCreated || filepath.Dir(result["output"]) != in.uploads {
		t.Fatalf("POST /upload = %d %v (%v), want 201 and a file in %s", resp.StatusCode, result, err, in.uploads)
	}
	if got, err := os.ReadFile(result["output"]); err != nil || string(got) != "uploaded content" {
		t.Errorf("uploaded file holds %q (%v)", got, err)
	}

	if _, body := get(t, in.url("/upload")); body != `{"error":"Unable to upload file."}` {
		t.Errorf("GET /upload without a file = %q", body)
	}
}

func TestNetexecTLS(t *testing.T) {
	certFile, keyFile := testCertificate(t)
	in := start(t, []string{"tcp", "udp"}, slices.Concat(netexecOnLoopback, []string{"--tls-cert-file=" + certFile, "--tls-private-key-file=" + keyFile})...)
	tlsClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := tlsClient.Get("https://" + in.addrs["tcp"].String() + "/hostname")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil {
		t.Errorf("GET https://.../hostname = %d, TLS %v", resp.StatusCode, resp.TLS != nil)
	}
}

// testCertificate writes httptest's built-in localhost certificate and key
// as PEM files.
func testCertificate(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	cert := srv.TLS.Certificates[0]
	srv.Close()
	key, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	for file, block := range map[string]*pem.Block{
		certFile: {Type: "CERTIFICATE", Bytes: cert.Certificate[0]},
		keyFile:  {Type: "PRIVATE KEY", Bytes: key},
	} {
		if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return certFile, keyFile
}

package agnhost

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	utilnet "k8s.io/apimachinery/pkg/util/net"
)

// errSCTP is each /dial try's error for protocol=sctp: Go's standard library
// has no SCTP, and the kernels portway runs on often lack the module.
var errSCTP = errors.New("SCTP is not supported by portway's built-in agnhost")

// netexecServer is one run of netexec: an HTTP(S) server with test
// endpoints and UDP servers answering hostname, echo and clientip.
type netexecServer struct {
	log     *log.Logger
	s       *servers
	uploads string
	// ready is whether a UDP server runs; /healthz and /readyz report it.
	ready atomic.Bool
	// terminating is closed when ctx ends: /readyz answers 503 from then
	// on, so the pod leaves its Services' endpoints while still serving.
	terminating chan struct{}
	// exits carries the first /exit or /shutdown request to netexec.
	exits chan exitRequest
	// stopped is closed once netexec returns, releasing handlers that wait
	// for the exit they asked for.
	stopped chan struct{}
}

type exitRequest struct {
	code int
	// timeout bounds the graceful shutdown of the HTTP server; 0 exits at once.
	timeout time.Duration
}

func (r *runner) netexec(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("netexec", flag.ContinueOnError)
	httpPort := fs.Int("http-port", 8080, "port of the HTTP(S) server")
	certFile := fs.String("tls-cert-file", "", "x509 certificate to serve HTTPS with, CA certificates (if any) after the server's")
	keyFile := fs.String("tls-private-key-file", "", "private key of --tls-cert-file")
	udpPort := fs.Int("udp-port", 8081, "port of the UDP servers, -1 for none")
	sctpPort := fs.Int("sctp-port", -1, "port of the SCTP server (not supported by portway), -1 for none")
	override := fs.String("http-override", "", "answer every HTTP request as if it were a GET of this path and query")
	udpAddrs := fs.String("udp-listen-addresses", "", "comma-separated IP addresses to run a UDP server on (default: all)")
	delayShutdown := fs.Int("delay-shutdown", 0, "seconds to keep serving after SIGTERM, with /readyz failing")
	if err := r.parseFlags(fs, args); err != nil {
		return err
	}
	var udpHosts []string
	if *udpPort != -1 {
		var err error
		if udpHosts, err = parseAddresses(*udpAddrs, r.host); err != nil {
			return fmt.Errorf("netexec: %w", err)
		}
	}
	var tlsConfig *tls.Config
	if *certFile != "" {
		cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			return fmt.Errorf("netexec: %w", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	}

	n := &netexecServer{
		log:         r.logger(),
		s:           newServers(),
		uploads:     r.uploads,
		terminating: make(chan struct{}),
		exits:       make(chan exitRequest, 1),
		stopped:     make(chan struct{}),
	}
	defer close(n.stopped)
	defer n.s.stop()

	mux := http.NewServeMux()
	n.routes(mux)
	var handler http.Handler = mux
	if *override != "" {
		handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			o, err := http.NewRequestWithContext(req.Context(), http.MethodGet, *override, nil)
			if err != nil {
				http.Error(w, fmt.Sprintf("override request failed: %v", err), http.StatusInternalServerError)
				return
			}
			// The real one loses the client's address here; /clientip is more useful with it.
			o.RemoteAddr = req.RemoteAddr
			mux.ServeHTTP(w, o)
		})
	}
	ln, err := net.Listen("tcp", r.addr(*httpPort))
	if err != nil {
		return fmt.Errorf("netexec: %w", err)
	}
	r.bound("tcp", ln.Addr())
	srv := &http.Server{Handler: handler, TLSConfig: tlsConfig, ErrorLog: n.log}
	n.log.Printf("Started HTTP server on port %d", *httpPort)
	n.s.serve(srv.Close, func() error {
		var err error
		if tlsConfig != nil {
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(ln)
		}
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("netexec: %w", err)
	})

	for _, host := range udpHosts {
		pc, err := net.ListenPacket("udp", net.JoinHostPort(host, strconv.Itoa(*udpPort)))
		if err != nil {
			return fmt.Errorf("netexec: %w", err)
		}
		n.log.Printf("Started UDP server on port %s %d", host, *udpPort)
		n.ready.Store(true)
		r.bound("udp", pc.LocalAddr())
		n.s.serve(pc.Close, func() error { return n.serveUDP(pc) })
	}
	if *sctpPort != -1 {
		n.log.Printf("Not serving SCTP on port %d: %v", *sctpPort, errSCTP)
	}

	var delayed <-chan time.Time // fires when --delay-shutdown is over
	done := ctx.Done()
	for {
		select {
		case err := <-n.s.failed:
			return err
		case req := <-n.exits:
			if req.timeout != 0 {
				sctx, cancel := context.WithTimeout(context.Background(), req.timeout)
				err := srv.Shutdown(sctx)
				cancel()
				n.log.Printf("Graceful shutdown completed with: %v", err)
			}
			return exitResult(req.code)
		case <-done:
			done = nil
			close(n.terminating)
			if *delayShutdown <= 0 {
				return nil
			}
			n.log.Printf("Sleeping %d seconds before terminating...", *delayShutdown)
			t := time.NewTimer(time.Duration(*delayShutdown) * time.Second)
			defer t.Stop()
			delayed = t.C
		case <-delayed:
			return nil
		}
	}
}

// parseAddresses turns --udp-listen-addresses into the sorted, distinct
// hosts to bind, or def when the list is empty.
func parseAddresses(list, def string) ([]string, error) {
	if list == "" {
		return []string{def}, nil
	}
	hosts := strings.Split(list, ",")
	for _, h := range hosts {
		if net.ParseIP(h) == nil {
			return nil, fmt.Errorf("parseAddress: invalid address %s", h)
		}
	}
	slices.Sort(hosts)
	return slices.Compact(hosts), nil
}

func (n *netexecServer) routes(mux *http.ServeMux) {
	mux.HandleFunc("/", n.root)
	mux.HandleFunc("/clientip", n.clientIP)
	mux.HandleFunc("/header", n.header)
	mux.HandleFunc("/dial", n.dial)
	mux.HandleFunc("/echo", n.echo)
	mux.HandleFunc("/exit", n.exit)
	mux.HandleFunc("/healthz", n.healthz)
	mux.HandleFunc("/readyz", n.readyz)
	mux.HandleFunc("/hostname", n.hostnameHandler("/hostname"))
	mux.HandleFunc("/redirect", n.redirect)
	mux.HandleFunc("/shell", n.shell)
	mux.HandleFunc("/upload", n.upload)
	// Older clients use these.
	mux.HandleFunc("/hostName", n.hostnameHandler("/hostName"))
	mux.HandleFunc("/shutdown", n.shutdown)
}

func (n *netexecServer) root(w http.ResponseWriter, _ *http.Request) {
	n.log.Printf("GET /")
	fmt.Fprintf(w, "NOW: %v", time.Now())
}

func (n *netexecServer) clientIP(w http.ResponseWriter, req *http.Request) {
	n.log.Printf("GET /clientip")
	fmt.Fprint(w, req.RemoteAddr)
}

func (n *netexecServer) header(w http.ResponseWriter, req *http.Request) {
	key := req.FormValue("key")
	if key != "" {
		n.log.Printf("GET /header?key=%s", key)
		fmt.Fprint(w, req.Header.Get(key))
		return
	}
	n.log.Printf("GET /header")
	b, _ := json.Marshal(req.Header) // A map of string slices always marshals.
	w.Write(b)
}

func (n *netexecServer) echo(w http.ResponseWriter, req *http.Request) {
	msg := req.FormValue("msg")
	codeString := req.FormValue("code")
	n.log.Printf("GET /echo?msg=%s&code=%s", msg, codeString)
	if codeString != "" {
		code, err := strconv.Atoi(codeString)
		if err != nil {
			fmt.Fprintf(w, "argument 'code' must be an integer or empty, got %q\n", codeString)
			return
		}
		w.WriteHeader(code)
	}
	fmt.Fprint(w, msg)
}

func (n *netexecServer) exit(w http.ResponseWriter, req *http.Request) {
	waitString := req.FormValue("wait")
	timeoutString := req.FormValue("timeout")
	codeString := req.FormValue("code")
	n.log.Printf("GET /exit?code=%s&timeout=%s&wait=%s", codeString, timeoutString, waitString)
	// Empty parameters are zero: exit at once, with code 0.
	timeout, err := time.ParseDuration(timeoutString)
	if err != nil && timeoutString != "" {
		fmt.Fprintf(w, "argument 'timeout' must be a valid golang duration or empty, got %q\n", timeoutString)
		return
	}
	wait, err := time.ParseDuration(waitString)
	if err != nil && waitString != "" {
		fmt.Fprintf(w, "argument 'wait' must be a valid golang duration or empty, got %q\n", waitString)
		return
	}
	code, err := strconv.Atoi(codeString)
	if err != nil && codeString != "" {
		fmt.Fprintf(w, "argument 'code' must be an integer [0-127] or empty, got %q\n", codeString)
		return
	}
	n.log.Printf("Will begin shutdown in %s, allowing %s for connections to close, then will exit with %d", wait, timeout, code)
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
	case <-n.stopped:
		return
	}
	n.requestExit(req, exitRequest{code: code, timeout: timeout})
}

func (n *netexecServer) shutdown(_ http.ResponseWriter, req *http.Request) {
	n.log.Printf("GET /shutdown")
	n.requestExit(req, exitRequest{})
}

// requestExit asks netexec to exit. An immediate exit happens while the
// request is in flight, as the real one's os.Exit does: its client gets no
// response.
func (n *netexecServer) requestExit(req *http.Request, e exitRequest) {
	select {
	case n.exits <- e:
	default: // An earlier request is exiting already.
	}
	if e.timeout == 0 {
		select {
		case <-req.Context().Done():
		case <-n.stopped:
		}
	}
}

func (n *netexecServer) hostname() (string, error) {
	h, err := os.Hostname()
	n.log.Printf("hostname: %s", h)
	if err != nil {
		err = fmt.Errorf("netexec: failed to get hostname: %w", err)
		n.s.fail(err)
	}
	return h, err
}

func (n *netexecServer) hostnameHandler(path string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		n.log.Printf("GET %s", path)
		h, err := n.hostname()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, h)
	}
}

// healthz is 200 while a UDP server runs, and so, as in the real one, never
// with --udp-port=-1.
func (n *netexecServer) healthz(w http.ResponseWriter, _ *http.Request) {
	n.log.Printf("GET /healthz")
	if n.ready.Load() {
		w.WriteHeader(http.StatusOK)
		return
	}
	w.WriteHeader(http.StatusPreconditionFailed)
}

func (n *netexecServer) readyz(w http.ResponseWriter, _ *http.Request) {
	n.log.Printf("GET /readyz")
	select {
	case <-n.terminating:
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, "shutting down")
		return
	default:
	}
	if n.ready.Load() {
		fmt.Fprint(w, "ok")
		return
	}
	w.WriteHeader(http.StatusPreconditionFailed)
}

func (n *netexecServer) redirect(w http.ResponseWriter, req *http.Request) {
	location := req.FormValue("location")
	codeString := req.FormValue("code")
	n.log.Printf("%s /redirect?msg=%s&code=%s", req.Method, location, codeString)
	code := http.StatusFound
	if codeString != "" {
		var err error
		if code, err = strconv.Atoi(codeString); err != nil {
			fmt.Fprintf(w, "argument 'code' must be an integer or empty, got %q\n", codeString)
			return
		}
	}
	http.Redirect(w, req, location, code)
}

func (n *netexecServer) shell(w http.ResponseWriter, req *http.Request) {
	cmd := req.FormValue("shellCommand")
	if cmd == "" {
		cmd = req.FormValue("cmd")
	}
	n.log.Printf("GET /shell?cmd=%s", cmd)
	// Not bound to the request: as in the real one, the command finishes
	// even if its client goes away.
	out, err := exec.Command("/bin/sh", "-c", cmd).CombinedOutput()
	result := map[string]string{}
	if len(out) > 0 {
		result["output"] = string(out)
	}
	if err != nil {
		result["error"] = err.Error()
	}
	n.log.Printf("Output: %s", result)
	writeJSON(w, http.StatusOK, result)
}

func (n *netexecServer) upload(w http.ResponseWriter, req *http.Request) {
	n.log.Printf("GET /upload")
	fail := func(msg string, err error) {
		n.log.Printf("%s: %s", strings.TrimSuffix(msg, "."), err)
		writeJSON(w, http.StatusOK, map[string]string{"error": msg})
	}
	file, _, err := req.FormFile("file")
	if err != nil {
		fail("Unable to upload file.", err)
		return
	}
	defer file.Close()
	f, err := os.CreateTemp(n.uploads, "upload")
	if err != nil {
		fail("Unable to open file for write", err)
		return
	}
	defer f.Close()
	if _, err := io.Copy(f, file); err != nil {
		fail("Unable to write file.", err)
		return
	}
	if err := os.Chmod(f.Name(), 0o700); err != nil {
		fail("Unable to chmod file.", err)
		return
	}
	n.log.Printf("Wrote upload to %s", f.Name())
	writeJSON(w, http.StatusCreated, map[string]string{"output": f.Name()})
}

// dial sends request to host:port over protocol, tries times, and reports
// the answers and errors as JSON. Like the real one it answers 200 whatever
// the outcome, and lists "responses" only if the last try got a non-empty
// answer; clients written against it expect exactly that.
func (n *netexecServer) dial(w http.ResponseWriter, req *http.Request) {
	q := req.URL.Query()
	host, port, request, protocol, triesParam := q.Get("host"), q.Get("port"), q.Get("request"), q.Get("protocol"), q.Get("tries")
	n.log.Printf("GET /dial?host=%s&protocol=%s&port=%s&request=%s&tries=%s", host, protocol, port, request, triesParam)
	tries := 1
	if triesParam != "" {
		var err error
		if tries, err = strconv.Atoi(triesParam); err != nil {
			http.Error(w, fmt.Sprintf("tries parameter is invalid. %v", err), http.StatusBadRequest)
			return
		}
	}
	if request == "" {
		http.Error(w, "request parameter not specified. <nil>", http.StatusBadRequest)
		return
	}
	hostPort := net.JoinHostPort(host, port)
	var try func() (string, error)
	var err error
	switch strings.ToLower(protocol) {
	case "", "http":
		var addr *net.TCPAddr
		addr, err = net.ResolveTCPAddr("tcp", hostPort)
		try = func() (string, error) { return dialHTTP(request, addr) }
	case "udp":
		var addr *net.UDPAddr
		addr, err = net.ResolveUDPAddr("udp", hostPort)
		try = func() (string, error) { return dialUDP(request, addr) }
	case "sctp":
		// Resolved anyway, so that a bad host or port is a 400 as in the real one.
		_, err = net.ResolveTCPAddr("tcp", hostPort)
		try = func() (string, error) { return "", fmt.Errorf("sctp dial failed. err:%v", errSCTP) }
	default:
		http.Error(w, fmt.Sprintf("unsupported protocol. %s", protocol), http.StatusBadRequest)
		return
	}
	if err != nil {
		http.Error(w, fmt.Sprintf("host and/or port param are invalid. %v", err), http.StatusBadRequest)
		return
	}
	responses, errs := []string{}, []string{}
	var last string
	for range tries {
		var err error
		if last, err = try(); err != nil {
			errs = append(errs, err.Error())
		} else {
			responses = append(responses, last)
		}
	}
	result := map[string][]string{}
	if last != "" {
		result["responses"] = responses
	}
	if len(errs) > 0 {
		result["errors"] = errs
	}
	writeJSON(w, http.StatusOK, result)
}

// dialTimeout bounds each /dial try, as in the real one.
const dialTimeout = 5 * time.Second

func dialHTTP(request string, addr *net.TCPAddr) (string, error) {
	// A transport per try, so that every try is a new connection and may
	// reach another endpoint of a Service.
	transport := utilnet.SetTransportDefaults(&http.Transport{})
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: dialTimeout}
	resp, err := client.Get(fmt.Sprintf("http://%s/%s", addr, request))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	return string(body), nil
}

func dialUDP(request string, addr *net.UDPAddr) (string, error) {
	conn, err := net.DialUDP("udp", nil, addr)
	if err != nil {
		return "", fmt.Errorf("udp dial failed. err:%v", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(request)); err != nil {
		return "", fmt.Errorf("udp connection write failed. err:%v", err)
	}
	buf := make([]byte, 2048)
	if err := conn.SetReadDeadline(time.Now().Add(dialTimeout)); err != nil {
		return "", fmt.Errorf("reading from udp connection failed. err:'%v'", err)
	}
	count, err := conn.Read(buf)
	if err != nil || count == 0 {
		return "", fmt.Errorf("reading from udp connection failed. err:'%v'", err)
	}
	return string(buf[:count]), nil
}

// serveUDP answers the UDP commands "hostname", "echo MSG" and "clientip",
// case-insensitively; like the real one it echoes MSG lowercased.
func (n *netexecServer) serveUDP(pc net.PacketConn) error {
	defer func() {
		n.log.Printf("UDP server exited")
		n.ready.Store(false)
	}()
	buf := make([]byte, 2048)
	for {
		count, from, err := pc.ReadFrom(buf)
		if err != nil {
			return fmt.Errorf("netexec: failed accepting UDP connections: %w", err)
		}
		text := strings.ToLower(strings.TrimSpace(string(buf[:count])))
		var reply string
		switch {
		case text == "hostname":
			n.log.Println("Sending udp hostName response")
			if reply, err = n.hostname(); err != nil {
				return err
			}
		case strings.HasPrefix(text, "echo "):
			reply = strings.TrimPrefix(text, "echo ")
			n.log.Printf("Echoing %v to UDP client %s\n", reply, from)
		case text == "clientip":
			n.log.Printf("Sending clientip back to UDP client %s\n", from)
			reply = from.String()
		default:
			if text != "" {
				n.log.Printf("Unknown UDP command received from %s: %v\n", from, text)
			}
			continue
		}
		if _, err := pc.WriteTo([]byte(reply), from); err != nil {
			return fmt.Errorf("netexec: failed to reply to UDP client %s: %w", from, err)
		}
	}
}

// writeJSON writes v the way the real one does: compact, no newline.
func writeJSON[T string | []string](w http.ResponseWriter, status int, v map[string]T) {
	b, _ := json.Marshal(v) // A map of strings or string slices always marshals.
	w.WriteHeader(status)
	w.Write(b)
}

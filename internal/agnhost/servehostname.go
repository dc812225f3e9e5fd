package agnhost

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

// serveHostname answers the pod's hostname on every enabled protocol: the
// HTTP body, the whole of a TCP connection, or a UDP reply to any datagram.
func (r *runner) serveHostname(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve-hostname", flag.ContinueOnError)
	doTCP := fs.Bool("tcp", false, "answer on raw TCP: the hostname, then close")
	doUDP := fs.Bool("udp", false, "answer each UDP datagram with the hostname")
	doHTTP := fs.Bool("http", true, "answer HTTP requests with the hostname")
	doClose := fs.Bool("close", false, "close the connection after each HTTP request")
	port := fs.Int("port", 9376, "port to serve on")
	if err := r.parseFlags(fs, args); err != nil {
		return err
	}
	// --tcp alone is an error because --http defaults to true, as in the real one.
	if *doHTTP && (*doTCP || *doUDP) {
		return errors.New("serve-hostname: can't serve TCP/UDP mode and HTTP mode at the same time")
	}
	hostname, err := os.Hostname()
	if err != nil {
		return fmt.Errorf("serve-hostname: hostname: %w", err)
	}
	logger := r.logger()
	s := newServers()
	defer s.stop()

	if *doTCP {
		ln, err := net.Listen("tcp", r.addr(*port))
		if err != nil {
			return fmt.Errorf("serve-hostname: %w", err)
		}
		r.bound("tcp", ln.Addr())
		s.serve(ln.Close, func() error {
			for {
				conn, err := ln.Accept()
				if err != nil {
					return fmt.Errorf("serve-hostname: accept: %w", err)
				}
				logger.Printf("TCP request from %s", conn.RemoteAddr())
				_, _ = conn.Write([]byte(hostname)) // The client may be gone already; the next one may not.
				conn.Close()
			}
		})
	}
	if *doUDP {
		pc, err := net.ListenPacket("udp", r.addr(*port))
		if err != nil {
			return fmt.Errorf("serve-hostname: %w", err)
		}
		r.bound("udp", pc.LocalAddr())
		s.serve(pc.Close, func() error {
			// The request's content does not matter, so a short buffer will do.
			var buf [16]byte
			for {
				_, from, err := pc.ReadFrom(buf[:])
				if err != nil {
					return fmt.Errorf("serve-hostname: read: %w", err)
				}
				logger.Printf("UDP request from %s", from)
				_, _ = pc.WriteTo([]byte(hostname), from) // As the real one, a failed reply is not retried.
			}
		})
	}
	if *doHTTP {
		ln, err := net.Listen("tcp", r.addr(*port))
		if err != nil {
			return fmt.Errorf("serve-hostname: %w", err)
		}
		r.bound("tcp", ln.Addr())
		// A ServeMux, as the real one uses, also redirects unclean paths.
		mux := http.NewServeMux()
		mux.HandleFunc("/", func(w http.ResponseWriter, req *http.Request) {
			logger.Printf("HTTP request from %s", req.RemoteAddr)
			if *doClose {
				w.Header().Add("Connection", "close")
			}
			fmt.Fprint(w, hostname)
		})
		srv := &http.Server{Handler: mux, ErrorLog: logger}
		s.serve(srv.Close, func() error {
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("serve-hostname: %w", err)
			}
			return nil
		})
	}
	logger.Printf("Serving on port %d.\n", *port)

	select {
	case err := <-s.failed:
		return err
	case <-ctx.Done():
	}
	// The real one keeps serving for a minute after SIGTERM so that clients
	// see it until the pod is gone.
	logger.Printf("Shutting down after receiving signal: terminated.\n")
	logger.Printf("Awaiting pod deletion.\n")
	t := time.NewTimer(r.linger)
	defer t.Stop()
	select {
	case err := <-s.failed:
		return err
	case <-t.C:
	}
	return nil
}

package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/portway/portway/internal/namespaces"
)

// dialer opens connections from network namespace ns: the socket is made
// on a thread in ns and stays there; everything after the dial runs on
// any thread.
func dialer(ns string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var conn net.Conn
		err := namespaces.Do(namespaces.Path(ns), func() (err error) {
			conn, err = (&net.Dialer{}).DialContext(ctx, network, addr)
			return err
		})
		return conn, err
	}
}

// httpClient sends requests from ns; keepAlive false makes a connection
// per request.
func httpClient(ns string, keepAlive bool, conns int, timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext:         dialer(ns),
			DisableKeepAlives:   !keepAlive,
			MaxIdleConnsPerHost: conns,
			Proxy:               nil,
		},
	}
}

// get sends one GET and reads the whole answer; only a 200 counts.
func get(ctx context.Context, c *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("%s: %s", url, resp.Status)
	}
	return err
}

// loadResult is what one load run saw.
type loadResult struct {
	took      time.Duration
	latencies []time.Duration // of the requests that succeeded
	errors    int
	firstErr  error
}

// add counts o into r, as one longer run.
func (r *loadResult) add(o loadResult) {
	r.took += o.took
	r.latencies = append(r.latencies, o.latencies...)
	r.errors += o.errors
	if r.firstErr == nil {
		r.firstErr = o.firstErr
	}
}

func (r loadResult) perSecond() float64 { return float64(len(r.latencies)) / r.took.Seconds() }

// load sends GETs to url over conns concurrent clients for d. Requests
// under way at the end of d are waited for and counted, so that a slow one
// (a lost SYN costs a 1 s retransmit) shows in the figures instead of being
// cut off.
func load(ctx context.Context, c *http.Client, url string, conns int, d time.Duration) loadResult {
	var mu sync.Mutex
	var res loadResult
	var wg sync.WaitGroup
	t0 := time.Now()
	end := t0.Add(d)
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			errs := 0
			var first error
			for ctx.Err() == nil && time.Now().Before(end) {
				s := time.Now()
				if err := get(ctx, c, url); err != nil {
					if ctx.Err() == nil {
						errs++
						if first == nil {
							first = err
						}
					}
					continue
				}
				lat = append(lat, time.Since(s))
			}
			mu.Lock()
			res.latencies = append(res.latencies, lat...)
			res.errors += errs
			if res.firstErr == nil {
				res.firstErr = first
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.took = time.Since(t0)
	return res
}

package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// newClient returns a keep-alive client for up to conns concurrent requests
// to one host.
func newClient(conns int) *http.Client {
	return &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			MaxConnsPerHost:     conns,
			IdleConnTimeout:     30 * time.Second,
			DisableCompression:  true,
		},
	}
}

// get sends GET url (to Host host when not empty), reads the whole answer
// so the connection is reused, and fails unless it is a 200. status is the
// answer's status, 0 when there was none.
func get(ctx context.Context, c *http.Client, url, host string) (status int, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	if host != "" {
		req.Host = host
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("status %d", resp.StatusCode)
	}
	return resp.StatusCode, err
}

// maxPerWorker bounds a closed-loop worker however fast the server is.
const maxPerWorker = 50_000_000

// closedLoop runs workers that each send GET url, wait for the answer and
// send the next, for warmup and then measure; only requests started during
// measure count. It returns every measured latency.
func closedLoop(ctx context.Context, url string, workers int, warmup, measure time.Duration) summary {
	c := newClient(workers)
	defer c.CloseIdleConnections()
	start := time.Now()
	from, until := start.Add(warmup), start.Add(warmup+measure)
	lats := make([][]time.Duration, workers)
	fails := make([]int, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			lat := make([]time.Duration, 0, 1<<16)
			for range maxPerWorker {
				t0 := time.Now()
				if !t0.Before(until) || ctx.Err() != nil {
					break
				}
				_, err := get(ctx, c, url, "")
				if t0.Before(from) {
					continue
				}
				if err == nil {
					lat = append(lat, time.Since(t0))
				} else {
					fails[w]++
				}
			}
			lats[w] = lat
		})
	}
	wg.Wait()
	var all []time.Duration
	failed := 0
	for w := range workers {
		all = append(all, lats[w]...)
		failed += fails[w]
	}
	return summarize(all, failed, measure)
}

// openLoad sends GET url at a fixed rate whatever the answers take (an
// open loop: a slow server gets more concurrent requests, not fewer), and
// files each request under the phase current when it was due. Latency is
// measured from when the request was due, so a stall is not hidden by the
// requests that were not sent during it.
type openLoad struct {
	phase    atomic.Int32
	mu       sync.Mutex
	lat      map[int32][]time.Duration
	failed   map[int32]int
	firstErr map[int32]string
}

// maxInFlight bounds the generator; a request that would exceed it fails.
const maxInFlight = 512

// run sends requests until ctx is done or limit passes, then waits for
// those in flight.
func (o *openLoad) run(ctx context.Context, url string, rate int, limit time.Duration) {
	o.lat, o.failed, o.firstErr = map[int32][]time.Duration{}, map[int32]int{}, map[int32]string{}
	c := newClient(maxInFlight)
	defer c.CloseIdleConnections()
	sem := make(chan struct{}, maxInFlight)
	interval := time.Second / time.Duration(rate)
	start := time.Now()
	var wg sync.WaitGroup
	defer wg.Wait()
	for i := range int(limit / interval) {
		due := start.Add(time.Duration(i) * interval)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(due)):
		}
		phase := o.phase.Load()
		select {
		case sem <- struct{}{}:
		default:
			o.record(phase, 0, fmt.Errorf("more than %d requests in flight", maxInFlight))
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			// A request sent finishes (the client's timeout bounds it) even
			// when the load stops: stopping is not a failure of the app.
			_, err := get(context.WithoutCancel(ctx), c, url, "")
			o.record(phase, time.Since(due), err)
		})
	}
}

func (o *openLoad) record(phase int32, d time.Duration, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err != nil {
		o.failed[phase]++
		if o.firstErr[phase] == "" {
			o.firstErr[phase] = err.Error()
		}
		return
	}
	o.lat[phase] = append(o.lat[phase], d)
}

// result summarises one phase; call it after run returned.
func (o *openLoad) result(phase int32, elapsed time.Duration) summary {
	return summarize(o.lat[phase], o.failed[phase], elapsed)
}

package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"example.com/otelstarter/internal/loadgen"
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

// closedLoop runs workers that each send GET url, wait for the answer and
// send the next, for warmup and then measure; only requests started during
// measure count.
func closedLoop(ctx context.Context, url string, workers int, warmup, measure time.Duration) loadgen.Summary {
	c := newClient(workers)
	defer c.CloseIdleConnections()
	start := time.Now()
	from, until := start.Add(warmup), start.Add(warmup+measure)
	samples := make([][]loadgen.Sample, workers)
	loadgen.Closed(ctx, workers, 0, func(w int) bool {
		t0 := time.Now()
		if !t0.Before(until) {
			return false
		}
		_, err := get(ctx, c, url, "")
		if !t0.Before(from) {
			samples[w] = append(samples[w], loadgen.Sample{Start: t0, Took: time.Since(t0), Err: err})
		}
		return true
	})
	return loadgen.Summarize(slices.Concat(samples...), measure)
}

// openLoad sends GET url at a fixed rate whatever the answers take (an
// open loop: a slow server gets more concurrent requests, not fewer), and
// files each request under the phase current when it was due. Latency is
// measured from when the request was due, so a stall is not hidden by the
// requests that were not sent during it.
type openLoad struct {
	phase   atomic.Int32
	mu      sync.Mutex
	samples map[int32][]loadgen.Sample
}

// maxInFlight bounds the generator; a request that would exceed it fails.
const maxInFlight = 512

// run sends requests until ctx is done or limit passes, then waits for
// those in flight.
func (o *openLoad) run(ctx context.Context, url string, rate int, limit time.Duration) {
	o.samples = map[int32][]loadgen.Sample{}
	c := newClient(maxInFlight)
	defer c.CloseIdleConnections()
	sem := make(chan struct{}, maxInFlight)
	n := int(limit / (time.Second / time.Duration(rate)))
	loadgen.Open(ctx, float64(rate), n, func(_ int, due time.Time) {
		phase := o.phase.Load()
		select {
		case sem <- struct{}{}:
		default:
			o.record(phase, loadgen.Sample{Start: due, Err: fmt.Errorf("more than %d requests in flight", maxInFlight)})
			return
		}
		defer func() { <-sem }()
		// A request sent finishes (the client's timeout bounds it) even
		// when the load stops: stopping is not a failure of the app.
		_, err := get(context.WithoutCancel(ctx), c, url, "")
		o.record(phase, loadgen.Sample{Start: due, Took: time.Since(due), Err: err})
	})
}

func (o *openLoad) record(phase int32, s loadgen.Sample) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.samples[phase] = append(o.samples[phase], s)
}

// result summarises one phase; call it after run returned.
func (o *openLoad) result(phase int32, elapsed time.Duration) loadgen.Summary {
	return loadgen.Summarize(o.samples[phase], elapsed)
}

package main

import (
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestRegistrationFloodLeavesReadsFast: 200 concurrent registrations at the
// default bcrypt cost, from addresses the per-address limit does not stop,
// leave the median of GET /api/posts within 2× of its median without them:
// password hashing runs in at most GOMAXPROCS slots and queues beyond.
//
// It is a measurement, as the guide says such figures are: make load runs
// it (HASH_FLOOD=1, without the race detector, alone on the machine), not
// make test, where the race detector and parallel packages set the times.
func TestRegistrationFloodLeavesReadsFast(t *testing.T) {
	if os.Getenv("HASH_FLOOD") == "" {
		t.Skip("a latency measurement: make load runs it with HASH_FLOOD=1")
	}
	a := newTestApp(t, map[string]string{"BCRYPT_COST": "10", "LOG_LEVEL": "warn"})
	_, tok := a.user(t, "reader@example.com", "reader password")
	for i := range 5 {
		a.post(t, tok, fmt.Sprintf("post %d", i))
	}
	// Readers as a browser's page load makes them: a few at once.
	const readers = 2
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: readers}}
	median := func(n int) time.Duration {
		var mu sync.Mutex
		var d []time.Duration
		var wg sync.WaitGroup
		for range readers {
			wg.Go(func() {
				for range n / readers {
					t0 := time.Now()
					resp, err := c.Get(a.URL + "/api/posts")
					if err != nil {
						t.Error(err)
						return
					}
					resp.Body.Close()
					if resp.StatusCode != 200 {
						t.Errorf("GET /api/posts = %d", resp.StatusCode)
					}
					mu.Lock()
					d = append(d, time.Since(t0))
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		slices.Sort(d)
		return d[len(d)/2]
	}
	median(20) // warm up
	idle := median(200)

	const flood = 200
	var wg sync.WaitGroup
	started := make(chan struct{}, flood)
	var statusMu sync.Mutex
	statuses := map[int]int{}
	for i := range flood {
		wg.Go(func() {
			body := fmt.Sprintf(`{"email":"flood-%d@example.com","password":"flood password %d"}`, i, i)
			req, _ := http.NewRequest("POST", a.URL+"/api/users", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			started <- struct{}{}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			statusMu.Lock()
			statuses[resp.StatusCode]++
			statusMu.Unlock()
		})
	}
	for range flood {
		<-started
	}
	under := median(200)
	wg.Wait()
	t.Logf("GET /api/posts median: %v idle, %v under %d registrations (%.2f×); registrations: %v", idle, under, flood, float64(under)/float64(idle), statuses)
	if statuses[201] == 0 || statuses[500] > 0 {
		t.Fatalf("registrations answered %v: want some 201, and no 500 (a registration that waited too long for a hashing slot is 503)", statuses)
	}
	if under > 2*idle {
		t.Errorf("read median under the flood %v is more than 2× the idle %v", under, idle)
	}
}

package main

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"example.com/otelstarter/internal/loadgen"
	"example.com/otelstarter/internal/testproc"
)

// metrics times the admin /metrics scrape after traffic on every route,
// then floods the app with requests to unknown URLs and unknown Host
// headers and checks that no series was added.
func (h *harness) metrics(ctx context.Context) (string, error) {
	a, err := h.startSeeded(ctx, h.bin, "app-metrics", h.appEnv(true))
	if err != nil {
		return "", err
	}
	defer a.proc.stop()
	if err := everyRoute(ctx, a.url); err != nil {
		return "", fmt.Errorf("traffic on every route: %w", err)
	}

	const scrapes = 20
	var times []time.Duration
	var text string
	for range scrapes {
		var d time.Duration
		if text, d, err = scrape(ctx, a.admin+"/metrics"); err != nil {
			return "", err
		}
		times = append(times, d)
	}
	before, fams, err := seriesIDs(text)
	if err != nil {
		return "", err
	}
	sizeBefore := len(text)

	logf("metrics: %d requests to unknown URLs", h.o.flood)
	codes, dur := flood(ctx, a.url, h.o.flood, h.o.floodWorkers)
	if err := a.proc.Exited(); err != nil {
		return "", err
	}
	if text, _, err = scrape(ctx, a.admin+"/metrics"); err != nil {
		return "", err
	}
	afterIDs, _, err := seriesIDs(text)
	if err != nil {
		return "", err
	}
	added, removed := diff(before, afterIDs), diff(afterIDs, before)

	var b strings.Builder
	fmt.Fprintf(&b, "Admin `/metrics` (Prometheus text) of the app as variant A, after a few requests on every route "+
		"(every API route with success and error answers, the WebSocket feed, health probes, unknown paths, a wrong method). "+
		"%d scrapes. Then %d GETs to distinct unknown URLs (`/api/nope/<i>`, `/x<i>`, a random Host header on every third) "+
		"at concurrency %d, and one more scrape.\n\n", scrapes, h.o.flood, h.o.floodWorkers)
	b.WriteString(goalTable([]goal{
		{"series count unchanged by unknown URLs and hosts", fmt.Sprintf("%d before, %d after", len(before), len(afterIDs)),
			len(added) == 0 && len(removed) == 0},
	}))
	fmt.Fprintf(&b, "\nScrape: median %s (best %s), %d bytes, %d series before the flood; %d bytes after.\n",
		loadgen.Ms(median(times)), loadgen.Ms(slices.Min(times)), sizeBefore, len(before), len(text))
	b.WriteString("\nLargest metric families (series, histogram buckets included): ")
	for i, f := range fams[:min(8, len(fams))] {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "`%s` %d", f.name, f.n)
	}
	b.WriteString(".\n")
	fmt.Fprintf(&b, "\nFlood: %d requests in %s (%.0f req/s), answers:", h.o.flood, dur.Round(time.Millisecond),
		float64(h.o.flood)/dur.Seconds())
	for _, k := range slices.Sorted(maps.Keys(codes)) {
		fmt.Fprintf(&b, " %s × %d;", k, codes[k])
	}
	b.WriteString("\n")
	if len(added) > 0 || len(removed) > 0 {
		b.WriteString("\nSeries that changed (first 20):\n\n```\n")
		for _, s := range slices.Concat(prefix("+ ", added), prefix("- ", removed))[:min(20, len(added)+len(removed))] {
			b.WriteString(s + "\n")
		}
		b.WriteString("```\n")
	}
	return b.String(), nil
}

// everyRoute sends a few requests of each kind, answered with success and
// with errors, so every series they create exists before the flood.
func everyRoute(ctx context.Context, base string) error {
	c := newClient(4)
	defer c.CloseIdleConnections()
	token, id, err := seed(ctx, base, "routes@example.com")
	if err != nil {
		return err
	}
	// The feed: connect and receive the post created while connected.
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(wctx, strings.Replace(base, "http", "ws", 1)+"/api/ws", nil)
	if err != nil {
		return fmt.Errorf("GET /api/ws: %w", err)
	}
	defer ws.CloseNow()
	post := map[string]string{"title": "Routes", "body": "Every route once."}
	if err := callWant(ctx, c, http.StatusCreated, "POST", base+"/api/posts", token, post, nil); err != nil {
		return err
	}
	if _, _, err := ws.Read(wctx); err != nil {
		return fmt.Errorf("read the feed: %w", err)
	}
	_ = ws.Close(websocket.StatusNormalClosure, "")

	creds := map[string]string{"email": "routes@example.com", "password": "bench-password-1"}
	posts := fmt.Sprintf("%s/api/posts/%d", base, id)
	for _, r := range []struct {
		method, url, token string
		body               any
	}{
		{"POST", base + "/api/users", "", creds},                                                                          // 409
		{"POST", base + "/api/users", "", map[string]string{"email": "x"}},                                                // 422
		{"POST", base + "/api/login", "", map[string]string{"email": "nobody@example.com", "password": "wrong-password"}}, // 401
		{"GET", base + "/api/posts?page=1&per_page=5", "", nil},
		{"GET", posts, "", nil},
		{"GET", base + "/api/posts/987654321", "", nil}, // 404
		{"GET", base + "/api/posts/abc", "", nil},
		{"POST", base + "/api/posts", "", post}, // 401
		{"PUT", posts, token, post},
		{"PUT", posts, "", post},                              // 401
		{"DELETE", base + "/api/posts/987654321", token, nil}, // 404
		{"GET", base + "/api/config", "", nil},
		{"POST", base + "/api/sentry-tunnel", "", map[string]string{}},
		{"GET", base + "/api/health", "", nil},
		{"GET", base + "/livez", "", nil},
		{"GET", base + "/readyz", "", nil},
		{"GET", base + "/api/unknown", "", nil},
		{"GET", base + "/unknown", "", nil},
		{"PATCH", base + "/api/posts", "", nil}, // 405
		{"DELETE", posts, token, nil},
	} {
		if _, err := call(ctx, c, r.method, r.url, r.token, r.body, nil); err != nil {
			return err
		}
	}
	return nil
}

// flood sends n GETs to distinct unknown URLs with workers concurrent
// connections, a random Host header on every third, and counts the answers
// by status.
func flood(ctx context.Context, base string, n, workers int) (map[string]int, time.Duration) {
	c := newClient(workers)
	defer c.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	var next atomic.Int64
	var mu sync.Mutex
	codes := map[string]int{}
	var wg sync.WaitGroup
	t0 := time.Now()
	for range workers {
		wg.Go(func() {
			local := map[string]int{}
			for i := next.Add(1) - 1; i < int64(n) && ctx.Err() == nil; i = next.Add(1) - 1 {
				url := fmt.Sprintf("%s/x%d", base, i)
				if i%2 == 0 {
					url = fmt.Sprintf("%s/api/nope/%d", base, i)
				}
				var host string
				if i%3 == 0 {
					host = fmt.Sprintf("h%x.example:%d", rand.Uint64(), rand.IntN(65535))
				}
				code, _ := get(ctx, c, url, host)
				if code == 0 {
					local["no answer"]++
				} else {
					local[fmt.Sprint(code)]++
				}
			}
			mu.Lock()
			for k, v := range local {
				codes[k] += v
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	return codes, time.Since(t0)
}

// seriesIDs is the set of series (name and labels, without the value) of
// a Prometheus exposition, and its metric families, largest first.
func seriesIDs(text string) (map[string]bool, []family, error) {
	parsed, err := testproc.ParseMetricsText(text)
	if err != nil {
		return nil, nil, fmt.Errorf("parse /metrics: %w", err)
	}
	ids := map[string]bool{}
	var fams []family
	for name, series := range testproc.Series(parsed) {
		for _, id := range series {
			ids[id] = true
		}
		fams = append(fams, family{name, len(series)})
	}
	slices.SortFunc(fams, func(a, b family) int {
		if a.n != b.n {
			return b.n - a.n
		}
		return strings.Compare(a.name, b.name)
	})
	return ids, fams, nil
}

// family is a metric family and how many series it has (histogram
// buckets included).
type family struct {
	name string
	n    int
}

// diff lists what b has and a has not, sorted.
func diff(a, b map[string]bool) []string {
	var out []string
	for k := range b {
		if !a[k] {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

func prefix(p string, xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = p + x
	}
	return out
}

// Package traffic drives realistic demo load against the blog API so the
// dashboards of the local stack have something to show. The entry point is
// [Run]; the command internal/cmd/traffic (`make traffic`) calls it.
//
// A run registers a few users, logs them in, then until the duration is over
// mixes what real clients do: list pages of posts, read single posts again and
// again (Redis cache hits), create, update and delete posts, ask for posts that
// do not exist (404) and send invalid input (422). It is bounded in time and in
// requests and stops by itself.
package traffic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"example.com/otelstarter/internal/loadgen"
)

// Config says where and how hard to send traffic. Zero values take defaults.
type Config struct {
	// BaseURL of the blog API, e.g. http://localhost:8080. Required.
	BaseURL string
	// Duration of the run; default 1 minute.
	Duration time.Duration
	// Rate is the number of requests per second across all workers; default 10.
	Rate float64
	// Concurrency is the number of concurrent workers; default 4.
	Concurrency int
	// Users is the number of demo users registered at the start; default 3.
	Users int
	// MaxRequests bounds the run whatever the duration and rate; default 100000.
	MaxRequests int
	// Client sends the requests; default a client with a 10s timeout.
	Client *http.Client
	// Logger receives progress and the summary; default slog.Default().
	Logger *slog.Logger
	// Seed makes the sequence of actions reproducible; 0 picks a random one.
	Seed uint64
}

func (c Config) withDefaults() (Config, error) {
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, fmt.Errorf("traffic: base URL %q: want http(s)://host[:port]", c.BaseURL)
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.Duration <= 0 {
		c.Duration = time.Minute
	}
	if c.Rate <= 0 {
		c.Rate = 10
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 4
	}
	if c.Users <= 0 {
		c.Users = 3
	}
	if c.MaxRequests <= 0 {
		c.MaxRequests = 100_000
	}
	if c.Client == nil {
		c.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Seed == 0 {
		c.Seed = rand.Uint64()
	}
	return c, nil
}

// ErrNoResponse is returned when the API never answered a request.
var ErrNoResponse = errors.New("traffic: the API did not answer any request")

// Run sends traffic until cfg.Duration has passed, cfg.MaxRequests were sent
// or ctx is done, and logs a summary by status code. It returns an error when
// the configuration is invalid, the demo users cannot be set up or the API
// answered nothing; responses with error statuses are part of the demo.
func Run(ctx context.Context, cfg Config) error {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()

	r := &runner{cfg: cfg, statuses: map[int]int{}}
	r.budget.Store(int64(cfg.MaxRequests))
	// Users are registered one by one: that is what people do, and it keeps
	// the start of a run gentle on a cold database.
	users, err := r.setup(ctx, cfg.Users)
	if err != nil {
		return err
	}

	workers := make([]*worker, cfg.Concurrency)
	for i := range workers {
		workers[i] = &worker{r: r, user: users[i%len(users)], rnd: rand.New(rand.NewPCG(cfg.Seed, uint64(i)))}
	}
	// Paced workers: at most cfg.Rate requests a second between them, and
	// fewer when the API is slow, as from a fixed number of real clients.
	loadgen.Closed(ctx, cfg.Concurrency, cfg.Rate, func(i int) bool {
		if !r.take() {
			cancel()
			return false
		}
		workers[i].step(ctx)
		return true
	})
	return r.summary(ctx)
}

type runner struct {
	cfg    Config
	budget atomic.Int64

	mu       sync.Mutex
	statuses map[int]int
	failures int
	sent     int
}

// take reserves one request of the budget.
func (r *runner) take() bool { return r.budget.Add(-1) >= 0 }

func (r *runner) summary(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	attrs := []any{slog.Int("requests", r.sent), slog.Int("transport_errors", r.failures)}
	for code, n := range r.statuses {
		attrs = append(attrs, slog.Int(fmt.Sprintf("status_%d", code), n))
	}
	r.cfg.Logger.InfoContext(ctx, "traffic.done", attrs...)
	if len(r.statuses) == 0 {
		return ErrNoResponse
	}
	return nil
}

// user is a registered demo user with a session token.
type user struct {
	email, password, token string
	mu                     sync.Mutex
	posts                  []int64 // posts this user created and has not deleted
}

func (r *runner) setup(ctx context.Context, n int) ([]*user, error) {
	run := fmt.Sprintf("%x", r.cfg.Seed&0xffffff)
	users := make([]*user, 0, n)
	for i := range n {
		u := &user{
			email:    fmt.Sprintf("demo-%s-%d@example.com", run, i),
			password: fmt.Sprintf("demo-password-%s-%d", run, i),
		}
		creds := map[string]string{"email": u.email, "password": u.password}
		status, _, err := r.do(ctx, http.MethodPost, "/api/users", "", creds)
		if err != nil {
			return nil, fmt.Errorf("traffic: register a demo user: %w", err)
		}
		if status != http.StatusCreated && status != http.StatusConflict {
			return nil, fmt.Errorf("traffic: register a demo user: status %d", status)
		}
		var login struct {
			Token string `json:"token"`
		}
		status, body, err := r.do(ctx, http.MethodPost, "/api/login", "", creds)
		if err != nil {
			return nil, fmt.Errorf("traffic: log in a demo user: %w", err)
		}
		if status != http.StatusOK || json.Unmarshal(body, &login) != nil || login.Token == "" {
			return nil, fmt.Errorf("traffic: log in a demo user: status %d", status)
		}
		u.token = login.Token
		users = append(users, u)
	}
	return users, nil
}

// do sends one request and records its outcome. body, when not nil, is sent as JSON.
func (r *runner) do(ctx context.Context, method, path, token string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.cfg.BaseURL+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("User-Agent", "otelstarter-traffic/1")
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := r.cfg.Client.Do(req)
	r.mu.Lock()
	r.sent++
	if err != nil {
		if ctx.Err() == nil {
			r.failures++
		}
		r.mu.Unlock()
		return 0, nil, err
	}
	r.statuses[resp.StatusCode]++
	r.mu.Unlock()
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b, err
}

type worker struct {
	r    *runner
	user *user
	rnd  *rand.Rand
	// hot is a post this worker reads again and again, so most reads hit the cache.
	hot int64
}

// step performs one weighted random action.
func (w *worker) step(ctx context.Context) {
	switch n := w.rnd.IntN(100); {
	case n < 25:
		w.listPosts(ctx)
	case n < 50:
		w.readHotPost(ctx)
	case n < 62:
		w.createPost(ctx)
	case n < 70:
		w.updatePost(ctx)
	case n < 75:
		w.deletePost(ctx)
	case n < 83:
		w.readMissingPost(ctx)
	case n < 90:
		w.createInvalidPost(ctx)
	case n < 95:
		w.login(ctx)
	default:
		w.badLogin(ctx)
	}
}

func (w *worker) listPosts(ctx context.Context) {
	page := 1 + w.rnd.IntN(3)
	status, body, err := w.r.do(ctx, http.MethodGet, fmt.Sprintf("/api/posts?page=%d&per_page=10", page), "", nil)
	if err != nil || status != http.StatusOK {
		return
	}
	var list struct {
		Posts []struct {
			ID int64 `json:"id"`
		} `json:"posts"`
	}
	if json.Unmarshal(body, &list) == nil && len(list.Posts) > 0 && w.hot == 0 {
		w.hot = list.Posts[w.rnd.IntN(len(list.Posts))].ID
	}
}

func (w *worker) readHotPost(ctx context.Context) {
	if w.hot == 0 {
		w.createPost(ctx)
		return
	}
	status, _, err := w.r.do(ctx, http.MethodGet, fmt.Sprintf("/api/posts/%d", w.hot), "", nil)
	if err == nil && status == http.StatusNotFound {
		w.hot = 0 // deleted by someone; pick another next time
	}
}

var titles = []string{
	"Tracing a request end to end", "Why p99 matters", "Cache warm-up notes",
	"Burn rates explained", "A day with exemplars", "Structured logs in practice",
}

func (w *worker) createPost(ctx context.Context) {
	post := map[string]string{
		"title": titles[w.rnd.IntN(len(titles))],
		"body":  "Demo content written by the traffic generator. " + strings.Repeat("Lorem ipsum dolor sit amet. ", 1+w.rnd.IntN(8)),
	}
	status, body, err := w.r.do(ctx, http.MethodPost, "/api/posts", w.user.token, post)
	if err != nil || status != http.StatusCreated {
		return
	}
	var created struct {
		ID int64 `json:"id"`
	}
	if json.Unmarshal(body, &created) == nil && created.ID != 0 {
		w.user.mu.Lock()
		w.user.posts = append(w.user.posts, created.ID)
		w.user.mu.Unlock()
		if w.hot == 0 {
			w.hot = created.ID
		}
	}
}

// ownPost returns one of the user's posts, removing it when remove is set.
func (w *worker) ownPost(remove bool) (int64, bool) {
	w.user.mu.Lock()
	defer w.user.mu.Unlock()
	if len(w.user.posts) == 0 {
		return 0, false
	}
	i := w.rnd.IntN(len(w.user.posts))
	id := w.user.posts[i]
	if remove {
		w.user.posts = append(w.user.posts[:i], w.user.posts[i+1:]...)
	}
	return id, true
}

func (w *worker) updatePost(ctx context.Context) {
	id, ok := w.ownPost(false)
	if !ok {
		w.createPost(ctx)
		return
	}
	post := map[string]string{"title": titles[w.rnd.IntN(len(titles))] + " (updated)", "body": "Edited by the traffic generator."}
	_, _, _ = w.r.do(ctx, http.MethodPut, fmt.Sprintf("/api/posts/%d", id), w.user.token, post)
}

func (w *worker) deletePost(ctx context.Context) {
	// Keep a few posts around so pages and cache reads have content.
	w.user.mu.Lock()
	few := len(w.user.posts) < 3
	w.user.mu.Unlock()
	if few {
		w.createPost(ctx)
		return
	}
	id, _ := w.ownPost(true)
	if id == w.hot {
		w.hot = 0
	}
	_, _, _ = w.r.do(ctx, http.MethodDelete, fmt.Sprintf("/api/posts/%d", id), w.user.token, nil)
}

func (w *worker) readMissingPost(ctx context.Context) {
	_, _, _ = w.r.do(ctx, http.MethodGet, fmt.Sprintf("/api/posts/%d", 900_000_000+w.rnd.IntN(1000)), "", nil)
}

func (w *worker) createInvalidPost(ctx context.Context) {
	_, _, _ = w.r.do(ctx, http.MethodPost, "/api/posts", w.user.token, map[string]string{"title": "", "body": ""})
}

func (w *worker) login(ctx context.Context) {
	creds := map[string]string{"email": w.user.email, "password": w.user.password}
	_, _, _ = w.r.do(ctx, http.MethodPost, "/api/login", "", creds)
}

func (w *worker) badLogin(ctx context.Context) {
	creds := map[string]string{"email": w.user.email, "password": "not-the-password"}
	_, _, _ = w.r.do(ctx, http.MethodPost, "/api/login", "", creds)
}

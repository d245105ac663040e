package traffic_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"example.com/otelstarter/internal/traffic"
)

// fakeAPI is a minimal in-memory blog API that records what it was asked.
type fakeAPI struct {
	mu     sync.Mutex
	users  map[string]string // email -> password
	posts  map[int64]string  // id -> author token
	nextID int64
	hits   map[string]int // "METHOD pattern status"
	reads  map[int64]int  // GET /api/posts/{id} per id
}

func newFakeAPI(t *testing.T) (*fakeAPI, *httptest.Server) {
	t.Helper()
	f := &fakeAPI{users: map[string]string{}, posts: map[int64]string{}, hits: map[string]int{}, reads: map[int64]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/users", f.register)
	mux.HandleFunc("POST /api/login", f.login)
	mux.HandleFunc("GET /api/posts", f.list)
	mux.HandleFunc("POST /api/posts", f.create)
	mux.HandleFunc("GET /api/posts/{id}", f.get)
	mux.HandleFunc("PUT /api/posts/{id}", f.update)
	mux.HandleFunc("DELETE /api/posts/{id}", f.delete)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: 200}
		mux.ServeHTTP(rec, r)
		_, pattern := mux.Handler(r)
		f.mu.Lock()
		f.hits[pattern+" "+strconv.Itoa(rec.status)]++
		f.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return f, srv
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) { r.status = code; r.ResponseWriter.WriteHeader(code) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func apiError(w http.ResponseWriter, status int, code string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": code}})
}

func decode(r *http.Request) map[string]string {
	var m map[string]string
	_ = json.NewDecoder(r.Body).Decode(&m)
	return m
}

func (f *fakeAPI) register(w http.ResponseWriter, r *http.Request) {
	m := decode(r)
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.users[m["email"]]; ok {
		apiError(w, http.StatusConflict, "conflict")
		return
	}
	f.users[m["email"]] = m["password"]
	writeJSON(w, http.StatusCreated, map[string]any{"id": len(f.users), "email": m["email"]})
}

func (f *fakeAPI) login(w http.ResponseWriter, r *http.Request) {
	m := decode(r)
	f.mu.Lock()
	defer f.mu.Unlock()
	if pw, ok := f.users[m["email"]]; !ok || pw != m["password"] {
		apiError(w, http.StatusUnauthorized, "unauthorized")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"token": "tok-" + m["email"], "user_id": 1, "expires_at": time.Now().Add(time.Hour)})
}

func (f *fakeAPI) token(r *http.Request) (string, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return tok, ok && tok != ""
}

func (f *fakeAPI) list(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	posts := []map[string]any{}
	for id := range f.posts {
		posts = append(posts, map[string]any{"id": id, "title": "t"})
		if len(posts) == 10 {
			break
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"posts": posts, "page": 1, "per_page": 10, "total": len(f.posts)})
}

func (f *fakeAPI) create(w http.ResponseWriter, r *http.Request) {
	tok, ok := f.token(r)
	if !ok {
		apiError(w, http.StatusUnauthorized, "unauthorized")
		return
	}
	m := decode(r)
	if m["title"] == "" || m["body"] == "" {
		apiError(w, http.StatusUnprocessableEntity, "invalid")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	f.posts[f.nextID] = tok
	writeJSON(w, http.StatusCreated, map[string]any{"id": f.nextID, "title": m["title"]})
}

func (f *fakeAPI) post(w http.ResponseWriter, r *http.Request) (int64, string, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	f.mu.Lock()
	defer f.mu.Unlock()
	author, ok := f.posts[id]
	if err != nil || !ok {
		apiError(w, http.StatusNotFound, "not_found")
		return 0, "", false
	}
	return id, author, true
}

func (f *fakeAPI) get(w http.ResponseWriter, r *http.Request) {
	id, _, ok := f.post(w, r)
	if !ok {
		return
	}
	f.mu.Lock()
	f.reads[id]++
	f.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"id": id})
}

// ownPost is post for a request whose token is the post's author; it
// answers 403 otherwise.
func (f *fakeAPI) ownPost(w http.ResponseWriter, r *http.Request) (int64, bool) {
	tok, _ := f.token(r)
	id, author, ok := f.post(w, r)
	if !ok {
		return 0, false
	}
	if author != tok {
		apiError(w, http.StatusForbidden, "forbidden")
		return 0, false
	}
	return id, true
}

func (f *fakeAPI) update(w http.ResponseWriter, r *http.Request) {
	id, ok := f.ownPost(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id})
}

func (f *fakeAPI) delete(w http.ResponseWriter, r *http.Request) {
	id, ok := f.ownPost(w, r)
	if !ok {
		return
	}
	f.mu.Lock()
	delete(f.posts, id)
	f.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestRunDrivesTheWholeAPI(t *testing.T) {
	f, srv := newFakeAPI(t)
	start := time.Now()
	err := traffic.Run(context.Background(), traffic.Config{
		BaseURL:     srv.URL,
		Duration:    1500 * time.Millisecond,
		Rate:        400,
		Concurrency: 4,
		Users:       3,
		Seed:        42,
		Logger:      quiet(),
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Run took %s, want it to stop after its 1.5s duration", took)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.users) != 3 {
		t.Errorf("registered %d users, want 3", len(f.users))
	}
	for _, want := range []string{
		"POST /api/users 201",
		"POST /api/login 200",
		"POST /api/login 401",
		"GET /api/posts 200",
		"POST /api/posts 201",
		"POST /api/posts 422",
		"GET /api/posts/{id} 200",
		"GET /api/posts/{id} 404",
		"PUT /api/posts/{id} 200",
		"DELETE /api/posts/{id} 204",
	} {
		if f.hits[want] == 0 {
			t.Errorf("no %q in %v", want, f.hits)
		}
	}
	if n := f.hits["PUT /api/posts/{id} 403"] + f.hits["DELETE /api/posts/{id} 403"]; n > 0 {
		t.Errorf("%d writes to someone else's post; users should only touch their own", n)
	}
	maxReads := 0
	for _, n := range f.reads {
		maxReads = max(maxReads, n)
	}
	if maxReads < 5 {
		t.Errorf("the most-read post was read %d times; want repeated reads (cache hits)", maxReads)
	}
}

func TestRunStopsAtMaxRequests(t *testing.T) {
	f, srv := newFakeAPI(t)
	err := traffic.Run(context.Background(), traffic.Config{
		BaseURL: srv.URL, Duration: 10 * time.Second, Rate: 1000, Users: 1, MaxRequests: 50, Logger: quiet(),
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	total := 0
	for _, n := range f.hits {
		total += n
	}
	// 50 scenario requests plus 2 setup requests per user; a step may send
	// one follow-up request (create instead of update).
	if total > 50+2+4 {
		t.Errorf("sent %d requests, want at most ~52", total)
	}
}

func TestRunStopsWhenContextEnds(t *testing.T) {
	_, srv := newFakeAPI(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := traffic.Run(ctx, traffic.Config{BaseURL: srv.URL, Duration: time.Hour, Logger: quiet()}); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Run took %s after its context ended", took)
	}
}

func TestRunErrors(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	t.Cleanup(broken.Close)
	for name, cfg := range map[string]traffic.Config{
		"no URL":         {},
		"not http":       {BaseURL: "ftp://example.com"},
		"server down":    {BaseURL: down.URL},
		"cannot sign up": {BaseURL: broken.URL},
	} {
		t.Run(name, func(t *testing.T) {
			cfg.Duration = time.Second
			cfg.Logger = quiet()
			if err := traffic.Run(context.Background(), cfg); err == nil {
				t.Error("Run succeeded, want an error")
			} else if errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Run timed out instead of failing fast: %v", err)
			}
		})
	}
}

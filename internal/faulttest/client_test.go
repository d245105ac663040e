package faulttest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"example.com/otelstarter/internal/testproc"
)

// newClient is what the tests send requests with: keep-alive, bounded.
func newClient() *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     30 * time.Second,
		},
	}
}

// result is one response, read in full.
type result struct {
	Status    int
	Body      []byte
	RequestID string
	Took      time.Duration
}

// do sends one request, body (when not nil) as JSON, with a bearer token
// when not empty and hdr as header name, value pairs.
func do(c *http.Client, method, url, token string, body any, hdr ...string) (result, error) {
	req, err := testproc.NewJSONRequest(context.Background(), method, url, token, body)
	if err != nil {
		return result{}, err
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	began := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return result{Took: time.Since(began)}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	r := result{Status: resp.StatusCode, Body: b, RequestID: resp.Header.Get("X-Request-Id"), Took: time.Since(began)}
	return r, err
}

// login registers a user and returns a bearer token.
func login(t *testing.T, a *app, email string) string {
	t.Helper()
	c := newClient()
	creds := map[string]string{"email": email, "password": "fault tolerant"}
	if r, err := do(c, "POST", a.URL+"/api/users", "", creds); err != nil || r.Status != 201 {
		t.Fatalf("register: %v %d %s", err, r.Status, r.Body)
	}
	r, err := do(c, "POST", a.URL+"/api/login", "", creds)
	if err != nil || r.Status != 200 {
		t.Fatalf("login: %v %d %s", err, r.Status, r.Body)
	}
	var res struct{ Token string }
	if err := json.Unmarshal(r.Body, &res); err != nil || res.Token == "" {
		t.Fatalf("login body %s: %v", r.Body, err)
	}
	return res.Token
}

// createPost creates a post and returns its ID.
func createPost(t *testing.T, a *app, token, title string) int64 {
	t.Helper()
	r, err := do(newClient(), "POST", a.URL+"/api/posts", token, map[string]string{"title": title, "body": "body of " + title})
	if err != nil || r.Status != 201 {
		t.Fatalf("create post: %v %d %s", err, r.Status, r.Body)
	}
	var p struct{ ID int64 }
	if err := json.Unmarshal(r.Body, &p); err != nil || p.ID == 0 {
		t.Fatalf("post body %s: %v", r.Body, err)
	}
	return p.ID
}

// metricValue sums the series of a metric on the admin /metrics.
func metricValue(a *app, name string) (float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, body, err := testproc.Get(ctx, a.Admin+"/metrics")
	if err != nil {
		return 0, err
	}
	fams, err := testproc.ParseMetricsText(string(body))
	if err != nil {
		return 0, err
	}
	v, ok := testproc.Sum(fams, name)
	if !ok {
		return 0, fmt.Errorf("%s not on /metrics", name)
	}
	return v, nil
}

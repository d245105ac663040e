package faulttest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"example.com/otelstarter/internal/loadgen"
	"example.com/otelstarter/internal/testproc"
)

// load sends requests at rate per second for d, open-loop (a slow answer
// does not slow the sender down), and returns every sample once all have
// finished. send reports the answer's request ID and whether it was right.
func load(rate int, d time.Duration, send func(i int) (requestID string, err error)) []loadgen.Sample {
	n := int(d.Seconds() * float64(rate))
	samples := make([]loadgen.Sample, n)
	loadgen.Open(context.Background(), float64(rate), n, func(i int, _ time.Time) {
		s := loadgen.Sample{Start: time.Now()}
		s.ID, s.Err = send(i)
		s.Took = time.Since(s.Start)
		samples[i] = s
	})
	return samples
}

// blogLoad returns a send function for load: four reads of post id for
// every create, each checked for its status and a JSON body.
func blogLoad(c *http.Client, a *app, token string, id int64) func(int) (string, error) {
	get := fmt.Sprintf("%s/api/posts/%d", a.URL, id)
	return func(i int) (string, error) {
		var (
			r    result
			err  error
			want = 200
		)
		if i%5 == 4 {
			want = 201
			r, err = do(c, "POST", a.URL+"/api/posts", token, map[string]string{"title": "load " + strconv.Itoa(i), "body": "steady"})
		} else {
			r, err = do(c, "GET", get, "", nil)
		}
		if err != nil {
			return "", err
		}
		if r.Status != want || !json.Valid(r.Body) {
			return r.RequestID, fmt.Errorf("status %d, want %d: %s", r.Status, want, testproc.Tail(string(r.Body), 200))
		}
		return r.RequestID, nil
	}
}

package httpapi

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"time"

	"example.com/otelstarter/app/internal/blog"
	"example.com/otelstarter/app/internal/httpjson"
)

// Limiter is what the API needs of a rate limiter (ratelimit.Limiter).
type Limiter interface {
	Allow(ctx context.Context, key string) (bool, time.Duration)
}

// FailureLimiter is a Limiter that also answers, without counting, whether
// a key is over its limit (ratelimit.Limiter): called with Allow on
// failures only, it limits failures.
type FailureLimiter interface {
	Limiter
	Exceeded(ctx context.Context, key string) (bool, time.Duration)
}

// ClientKey identifies the client for rate limiting: the connection's peer
// address. X-Forwarded-For is client input and is not trusted; behind a
// proxy, make the proxy rate limit or strip the header there.
func ClientKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// RateLimited answers 429 with Retry-After once the client exceeds l; a nil
// l lets everything through.
func RateLimited(l Limiter, next http.Handler) http.Handler {
	if l == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ok, wait := l.Allow(r.Context(), ClientKey(r)); !ok {
			writeRateLimited(w, wait)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeRateLimited(w http.ResponseWriter, wait time.Duration) {
	secs := int((wait + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	httpjson.Error(w, &blog.Error{Code: blog.CodeRateLimited,
		Message: "too many requests; retry in " + strconv.Itoa(secs) + "s"})
}

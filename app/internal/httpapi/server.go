// Package httpapi is the HTTP transport of the blog: JSON handlers for
// users, sessions and posts, the WebSocket feed, health probes, the Sentry
// tunnel's route, and the one place where a handler's error is logged,
// reported and answered (through httpjson, which maps codes to statuses).
package httpapi

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"time"

	"example.com/otelstarter/app/internal/blog"
	"example.com/otelstarter/app/internal/health"
	"example.com/otelstarter/app/internal/httpjson"
)

const scope = "example.com/otelstarter/app/internal/httpapi"

// Config holds the Server's dependencies.
type Config struct {
	Service Blog
	Feed    Feed
	Health  Health
	// ReportError sends an unexpected error to error tracking (Sentry),
	// linked to the trace of ctx. Optional.
	ReportError func(ctx context.Context, err error)
	// RequestTimeout bounds the work of one request (not WebSockets).
	RequestTimeout time.Duration
	// Frontend is the browser's runtime configuration, served at /api/config.
	Frontend FrontendConfig
	// Static serves the built frontend at /; nil answers 404 JSON.
	Static http.Handler
	// LoginLimiter bounds login attempts per client address. Optional.
	LoginLimiter Limiter
	// RegisterLimiter bounds registrations per client address. Optional.
	RegisterLimiter Limiter
	// FailedLoginLimiter bounds failed logins per account, or per device
	// for a client with a valid device cookie for the account (see
	// DeviceCookies). Optional.
	FailedLoginLimiter FailureLimiter
	// DeviceCookies, when set, are issued on every successful login.
	DeviceCookies *DeviceCookies
	// SentryTunnel serves POST /api/sentry-tunnel (tunnel.Handler), the
	// browser's Sentry envelopes; nil leaves the route out.
	SentryTunnel http.Handler
	// TunnelLimiter bounds envelopes per client address. Optional.
	TunnelLimiter Limiter
}

// FrontendConfig is the runtime configuration the browser app fetches, so
// that one build runs in every environment. Public values only.
type FrontendConfig struct {
	Sentry FrontendSentry `json:"sentry"`
}

// FrontendSentry configures the browser Sentry SDK.
type FrontendSentry struct {
	DSN              string  `json:"dsn"`
	Environment      string  `json:"environment"`
	TracesSampleRate float64 `json:"tracesSampleRate"`
}

// Server serves the API. Create it with New.
type Server struct {
	cfg      Config
	mux      *http.ServeMux
	probes   Probes
	wsActive wsGauge
}

// New returns a Server with its routes registered.
func New(cfg Config) (*Server, error) {
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux()}
	s.probes.Ready = func(ctx context.Context) bool { return s.cfg.Health.Ready(ctx) }
	if err := s.wsActive.init(); err != nil {
		return nil, err
	}
	s.routes()
	return s, nil
}

func (s *Server) routes() {
	m := s.mux
	m.Handle("POST /api/users", RateLimited(s.cfg.RegisterLimiter, s.timed(s.register)))
	m.Handle("POST /api/login", RateLimited(s.cfg.LoginLimiter, s.timed(s.login)))
	m.Handle("GET /api/posts", s.timed(s.listPosts))
	m.Handle("POST /api/posts", s.timed(s.authed(s.createPost)))
	m.Handle("GET /api/posts/{id}", s.timed(s.getPost))
	m.Handle("PUT /api/posts/{id}", s.timed(s.authed(s.updatePost)))
	m.Handle("DELETE /api/posts/{id}", s.timed(s.authed(s.deletePost)))
	m.HandleFunc("GET /api/ws", s.websocket)
	m.HandleFunc("GET /api/config", s.frontendConfig)
	m.HandleFunc("GET /api/health", s.health)
	m.HandleFunc("GET /livez", s.probes.Livez)
	m.HandleFunc("GET /readyz", s.probes.Readyz)
	if s.cfg.SentryTunnel != nil {
		m.Handle("POST /api/sentry-tunnel", RateLimited(s.cfg.TunnelLimiter, s.cfg.SentryTunnel))
	}
	m.HandleFunc(catchAllAPI, s.notFound)
	// The admin listener's paths are 404 here, also when the UI's SPA
	// fallback would answer every other path with index.html.
	for _, p := range adminOnly {
		m.HandleFunc(p, s.notFound)
	}
	// One pattern for the rest: "GET /" next to "/api/" would be a conflict
	// that ServeMux refuses (neither is more specific than the other).
	m.HandleFunc(catchAll, func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Static != nil && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			s.cfg.Static.ServeHTTP(w, r)
			return
		}
		s.notFound(w, r)
	})
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Drain makes /readyz fail so load balancers stop sending traffic before
// shutdown.
func (s *Server) Drain() { s.probes.Drain() }

// reportError forwards to Config.ReportError.
func (s *Server) reportError(ctx context.Context, err error) {
	if s.cfg.ReportError != nil {
		s.cfg.ReportError(ctx, err)
	}
}

type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// timed bounds a handler's work by the request timeout and turns its error
// into a response.
func (s *Server) timed(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
		defer cancel()
		r = r.WithContext(ctx)
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

type userKey struct{}

// authed requires a valid bearer token and puts the user ID in the context.
func (s *Server) authed(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		tok, ok := blog.TokenFromHeader(r.Header.Get("Authorization"))
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="blog"`)
			return &blog.Error{Code: blog.CodeUnauthorized, Message: "a valid bearer token is required"}
		}
		uid, err := s.cfg.Service.Authenticate(r.Context(), tok)
		if err != nil {
			if blog.ErrorCode(err) == blog.CodeUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="blog", error="invalid_token"`)
			}
			return err
		}
		return h(w, r.WithContext(context.WithValue(r.Context(), userKey{}, uid)))
	}
}

// reply answers with v as JSON, or returns err for the error writer.
func reply(w http.ResponseWriter, status int, v any, err error) error {
	if err != nil {
		return err
	}
	writeJSON(w, status, v)
	return nil
}

func userID(r *http.Request) int64 {
	id, _ := r.Context().Value(userKey{}).(int64)
	return id
}

func (s *Server) register(w http.ResponseWriter, r *http.Request) error {
	var c blog.Credentials
	if err := decode(w, r, &c); err != nil {
		return err
	}
	u, err := s.cfg.Service.Register(r.Context(), c)
	return reply(w, http.StatusCreated, u, err)
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	var c blog.Credentials
	if err := decode(w, r, &c); err != nil {
		return err
	}
	email := blog.NormalizeEmail(c.Email)
	// Failures are limited per account, so that many addresses cannot
	// guess one password; a device that logged in to the account before
	// has a budget of its own, which strangers cannot exhaust.
	key := "email:" + email
	if s.cfg.DeviceCookies != nil {
		if id, ok := s.cfg.DeviceCookies.device(r, email); ok {
			key = "device:" + id
		}
	}
	lim := s.cfg.FailedLoginLimiter
	if lim != nil {
		if over, wait := lim.Exceeded(r.Context(), key); over {
			writeRateLimited(w, wait)
			return nil
		}
	}
	res, err := s.cfg.Service.Login(r.Context(), c)
	if lim != nil && blog.ErrorCode(err) == blog.CodeCredentials {
		lim.Allow(r.Context(), key)
	}
	if err == nil && s.cfg.DeviceCookies != nil {
		s.cfg.DeviceCookies.issue(w, email)
	}
	return reply(w, http.StatusOK, res, err)
}

func (s *Server) listPosts(w http.ResponseWriter, r *http.Request) error {
	p, err := pageParams(r)
	if err != nil {
		return err
	}
	list, err := s.cfg.Service.ListPosts(r.Context(), p)
	if err != nil {
		return err
	}
	if list.Posts == nil {
		list.Posts = []blog.Post{}
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

func (s *Server) getPost(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	p, err := s.cfg.Service.Post(r.Context(), id)
	return reply(w, http.StatusOK, p, err)
}

func (s *Server) createPost(w http.ResponseWriter, r *http.Request) error {
	var in blog.PostInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	p, err := s.cfg.Service.CreatePost(r.Context(), userID(r), in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/posts/"+strconv.FormatInt(p.ID, 10))
	writeJSON(w, http.StatusCreated, p)
	return nil
}

func (s *Server) updatePost(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var in blog.PostInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	p, err := s.cfg.Service.UpdatePost(r.Context(), userID(r), id, in)
	return reply(w, http.StatusOK, p, err)
}

func (s *Server) deletePost(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := s.cfg.Service.DeletePost(r.Context(), userID(r), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) frontendConfig(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.cfg.Frontend)
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	rep := s.cfg.Health.Run(r.Context())
	status := http.StatusOK
	if rep.Status != health.StatusOK {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, rep)
}

// notFound answers unknown paths with 404 JSON, or 405 with an Allow
// header when the path exists for other methods.
// The patterns that catch what no route matches, so that it gets a JSON
// error instead of ServeMux's plain text: none of them is a route.
const (
	catchAll    = "/"
	catchAllAPI = "/api/"
)

// adminOnly are the paths that only the admin listener serves.
var adminOnly = []string{"/metrics", "/debug/"}

func isRoute(pattern string) bool {
	return pattern != "" && pattern != catchAll && pattern != catchAllAPI && !slices.Contains(adminOnly, pattern)
}

// notFound answers a request no route matched: 405 with Allow when the path
// has routes for other methods, else 404. It clears r.Pattern, which
// ServeMux set to the catch-all, so that the telemetry middleware labels the
// request as unmatched instead of by the catch-all pattern.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	r.Pattern = ""
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		probe := *r
		probe.Method = m
		if _, pattern := s.mux.Handler(&probe); isRoute(pattern) {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		for _, m := range allow {
			w.Header().Add("Allow", m)
		}
		httpjson.Error(w, &blog.Error{Code: httpjson.CodeMethodNotAllowed,
			Message: "method " + safeMethod(r.Method) + " is not allowed here"})
		return
	}
	httpjson.Error(w, notFoundError)
}

var notFoundError = &blog.Error{Code: blog.CodeNotFound, Message: "no such resource"}

func safeMethod(m string) string {
	if len(m) > 16 {
		return "(too long)"
	}
	for i := 0; i < len(m); i++ {
		if m[i] < 'A' || m[i] > 'Z' {
			return "(invalid)"
		}
	}
	return m
}

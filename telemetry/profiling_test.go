package telemetry_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/pprof/profile"

	"example.com/otelstarter/telemetry"
	"example.com/otelstarter/telemetry/telemetrytest"
)

// ingestStandIn speaks the push API pyroscope-go uses (POST /ingest, the
// pprof in a multipart form) and keeps what it receives.
type ingestStandIn struct {
	*httptest.Server
	mu       sync.Mutex
	received []pushed
}

// pushed is one profile as the stand-in received it.
type pushed struct {
	name    string // the ?name= query: app name and labels, as {k=v,...}
	profile *profile.Profile
}

func newIngestStandIn(t *testing.T) *ingestStandIn {
	s := &ingestStandIn{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/ingest" {
			http.NotFound(w, r)
			return
		}
		f, _, err := r.FormFile("profile")
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		defer f.Close()
		raw, err := io.ReadAll(f)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		p, err := profile.ParseData(raw) // gzipped or not
		if err != nil {
			t.Errorf("a pushed profile does not decode: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.received = append(s.received, pushed{name: r.URL.Query().Get("name"), profile: p})
		s.mu.Unlock()
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *ingestStandIn) all() []pushed {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]pushed(nil), s.received...)
}

// burnCPU spins for d, in a function of its own that the CPU profile names.
//
//go:noinline
func burnCPU(d time.Duration) int {
	n := 0
	for end := time.Now().Add(d); time.Now().Before(end); {
		for i := range 10000 {
			n += i % 7
		}
	}
	return n
}

// TestProfilesCarryTheSpan: with profiling on, a request made CPU-heavy
// shows its handler's function in the pushed CPU profile, under the span ID
// of the request's server span, and that span carries the same ID as
// pyroscope.profile.id; the profiles are labelled with the service's name.
func TestProfilesCarryTheSpan(t *testing.T) {
	ingest := newIngestStandIn(t)
	tel := telemetrytest.New(t,
		telemetry.WithServiceName("profiled-svc"),
		telemetry.WithServiceVersion("1.2.3"),
		telemetry.WithProfiling(telemetry.ProfilingConfig{ServerAddress: ingest.URL, UploadInterval: time.Minute}),
	)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /work", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, burnCPU(400*time.Millisecond))
	})
	srv := httptest.NewServer(tel.Middleware(mux))
	defer srv.Close()
	// Personal data in the request must reach no profile label.
	const email = "profiled.person@example.com"
	resp, err := http.Get(srv.URL + "/work?email=" + email)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// Shutdown stops the profiler, which pushes what it collected.
	if err := tel.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	spans := tel.Spans.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want the request's server span", len(spans))
	}
	spanID := spans[0].SpanContext().SpanID().String()
	var profileID string
	for _, kv := range spans[0].Attributes() {
		if kv.Key == "pyroscope.profile.id" {
			profileID = kv.Value.AsString()
		}
	}
	if profileID != spanID {
		t.Errorf("span %s carries pyroscope.profile.id %q, want its own ID", spanID, profileID)
	}

	var cpu *profile.Profile
	for _, p := range ingest.all() {
		if strings.Contains(p.name, email) || strings.Contains(p.profile.String(), email) {
			t.Errorf("a pushed profile carries the request's email: %s", p.name)
		}
		if !strings.HasPrefix(p.name, "profiled-svc{") || !hasSampleType(p.profile, "cpu") {
			continue
		}
		if !strings.Contains(p.name, "service_version=1.2.3") {
			t.Errorf("profile %s lacks the service_version label", p.name)
		}
		cpu = p.profile
	}
	if cpu == nil {
		var names []string
		for _, p := range ingest.all() {
			names = append(names, p.name)
		}
		t.Fatalf("no CPU profile of profiled-svc among %q", names)
	}
	var underSpan, burning int
	for _, s := range cpu.Sample {
		inBurn := false
		for _, loc := range s.Location {
			for _, line := range loc.Line {
				if strings.HasSuffix(line.Function.Name, ".burnCPU") {
					inBurn = true
				}
			}
		}
		if !inBurn {
			continue
		}
		burning++
		if ids := s.Label["span_id"]; len(ids) == 1 && ids[0] == spanID {
			underSpan++
		}
	}
	if burning == 0 || underSpan != burning {
		t.Errorf("%d CPU samples in burnCPU, %d of them labelled with the request's span_id %s; want all", burning, underSpan, spanID)
	}
}

func hasSampleType(p *profile.Profile, typ string) bool {
	for _, st := range p.SampleType {
		if st.Type == typ {
			return true
		}
	}
	return false
}

// TestProfilingUnconfigured: without a server address nothing starts, no
// span is marked, and the runtime's contention sampling stays off.
func TestProfilingUnconfigured(t *testing.T) {
	t.Setenv("PYROSCOPE_SERVER_ADDRESS", "")
	goroutines := runtime.NumGoroutine()
	tel := telemetrytest.New(t, telemetry.WithProfiling(telemetry.ProfilingConfig{}))
	if n := runtime.NumGoroutine(); n > goroutines+2 {
		t.Errorf("%d goroutines after Setup, %d before: something started", n, goroutines)
	}
	if f := runtime.SetMutexProfileFraction(-1); f != 0 {
		t.Errorf("mutex profile fraction = %d, want 0", f)
	}
	srv := httptest.NewServer(tel.Middleware(http.NotFoundHandler()))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, s := range tel.Spans.Ended() {
		for _, kv := range s.Attributes() {
			if kv.Key == "pyroscope.profile.id" {
				t.Errorf("span %s carries pyroscope.profile.id with profiling off", s.Name())
			}
		}
	}
}

// TestProfilingRefusesABadAddress: a server address without a scheme stops
// Setup with an error naming the variable.
func TestProfilingRefusesABadAddress(t *testing.T) {
	t.Setenv("PYROSCOPE_SERVER_ADDRESS", "pyroscope:4040")
	_, err := telemetry.Setup(context.Background(), telemetry.WithoutGlobals(), telemetry.WithProfiling(telemetry.ProfilingConfig{}))
	if err == nil || !strings.Contains(err.Error(), "PYROSCOPE_SERVER_ADDRESS") {
		t.Fatalf("Setup = %v, want an error naming PYROSCOPE_SERVER_ADDRESS", err)
	}
}

// TestProfilingWithoutAServiceName: the SDK's default name
// (unknown_service:<binary>) has a colon Pyroscope refuses; Setup does not
// fail for it, and the profiles go out under a name Pyroscope accepts.
func TestProfilingWithoutAServiceName(t *testing.T) {
	t.Setenv("OTEL_SERVICE_NAME", "")
	ingest := newIngestStandIn(t)
	tel := telemetrytest.New(t, telemetry.WithProfiling(telemetry.ProfilingConfig{ServerAddress: ingest.URL}))
	if err := tel.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	pushed := ingest.all()
	if len(pushed) == 0 || !strings.HasPrefix(pushed[0].name, "unknown_service_") {
		t.Fatalf("pushed %d profiles, the first named %q; want unknown_service_<binary>", len(pushed), pushed[0].name)
	}
}

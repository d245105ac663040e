package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"regexp"
	"time"

	"example.com/otelstarter/telemetry"
)

func ExampleSetup() {
	ctx := context.Background()
	tel, err := telemetry.Setup(ctx,
		telemetry.WithServiceVersion("1.0.0"),
		telemetry.WithLogWriter(io.Discard), // os.Stdout by default
		telemetry.WithoutGlobals(),          // keeps the example self-contained
	)
	if err != nil {
		log.Fatal(err) // a *telemetry.ConfigError names the bad variable
	}
	defer tel.Shutdown(context.WithoutCancel(ctx))

	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/posts/{id}", func(w http.ResponseWriter, r *http.Request) {
		tel.Logger.InfoContext(r.Context(), "post read", "post_id", r.PathValue("id"))
		fmt.Fprintln(w, `{"id":1}`)
	})
	srv := httptest.NewServer(tel.Middleware(mux))
	defer srv.Close()

	res, err := http.Get(srv.URL + "/api/posts/1")
	if err != nil {
		log.Fatal(err)
	}
	res.Body.Close()
	id := res.Header.Get(telemetry.RequestIDHeader)
	fmt.Println(res.StatusCode, regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(id))
	// Output: 200 true
}

func ExampleTelemetry_Middleware() {
	// A panic is answered in the service's own error format.
	jsonPanic := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintln(w, `{"error":{"code":"internal","message":"internal server error"}}`)
	})
	tel, err := telemetry.Setup(context.Background(),
		telemetry.WithLogWriter(io.Discard),
		telemetry.WithPanicResponse(jsonPanic),
		telemetry.WithoutGlobals(),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer tel.Shutdown(context.Background())

	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/posts/{id}", func(w http.ResponseWriter, r *http.Request) {
		// r.Pattern names the span and labels the metrics.
		fmt.Fprintln(w, r.Pattern)
	})
	mux.HandleFunc("GET /panic", func(http.ResponseWriter, *http.Request) { panic("bug") })
	handler := tel.Middleware(mux)

	for _, path := range []string{"/api/posts/7", "/panic"} {
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		fmt.Print(w.Code, " ", w.Body.String())
	}
	// Output:
	// 200 GET /api/posts/{id}
	// 500 {"error":{"code":"internal","message":"internal server error"}}
}

func ExampleRouter() {
	var lines bytes.Buffer
	tel, err := telemetry.Setup(context.Background(), telemetry.WithLogWriter(&lines), telemetry.WithoutGlobals())
	if err != nil {
		log.Fatal(err)
	}
	defer tel.Shutdown(context.Background())

	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/things/{id}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "thing", r.PathValue("id"))
	})
	// An auth middleware passes on a copy of the request, and the mux
	// matches the copy: Router carries the pattern back to Middleware.
	type userKey struct{}
	auth := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey{}, "u1")))
		})
	}
	handler := tel.Middleware(auth(http.TimeoutHandler(telemetry.Router(mux), 10*time.Second, "")))

	handler.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/api/things/7", nil))
	var access struct{ Route string }
	if err := json.Unmarshal(lines.Bytes(), &access); err != nil {
		log.Fatal(err)
	}
	fmt.Println(access.Route)
	// Output: /api/things/{id}
}

func ExampleTelemetry_Transport() {
	tel, err := telemetry.Setup(context.Background(), telemetry.WithLogWriter(io.Discard), telemetry.WithoutGlobals())
	if err != nil {
		log.Fatal(err)
	}
	defer tel.Shutdown(context.Background())

	// The service called: it receives the caller's trace in traceparent.
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.Header.Get("traceparent") != "")
	}))
	defer other.Close()

	client := &http.Client{Transport: tel.Transport(nil), Timeout: 5 * time.Second}
	ctx, span := tel.TracerProvider.Tracer("example").Start(context.Background(), "work")
	defer span.End()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, other.URL, nil)
	if err != nil {
		log.Fatal(err)
	}
	res, err := client.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer res.Body.Close()
	got, _ := io.ReadAll(res.Body)
	fmt.Println("traceparent sent:", string(got))
	// Output: traceparent sent: true
}

func ExampleRedactString() {
	fmt.Println(telemetry.RedactString("login by alice@example.com from 203.0.113.7:51234"))
	fmt.Println(telemetry.RedactString("GET /api/posts/{id} took 1.5ms at 12:30:45"))
	// Output:
	// login by [REDACTED] from [REDACTED]:51234
	// GET /api/posts/{id} took 1.5ms at 12:30:45
}

// WithProfiling pushes continuous profiles to Pyroscope when
// PYROSCOPE_SERVER_ADDRESS (or ServerAddress) is set, and links them to the
// spans; otherwise it starts nothing, as here.
func ExampleWithProfiling() {
	ctx := context.Background()
	tel, err := telemetry.Setup(ctx,
		telemetry.WithServiceName("shop"),
		telemetry.WithProfiling(telemetry.ProfilingConfig{}), // PYROSCOPE_* from the environment
		telemetry.WithoutGlobals(),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer tel.Shutdown(ctx)
	fmt.Println("profiling configured")
	// Output: profiling configured
}

package sqlstore_test

import (
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"example.com/otelstarter/app/internal/blog"
	"example.com/otelstarter/app/internal/sqlstore"
	"example.com/otelstarter/telemetry/telemetrytest"
)

func TestSpans(t *testing.T) {
	forEachBackendInTurn(t, func(t *testing.T, b backend) {
		rec := telemetrytest.GlobalSpanRecorder(t)
		s := mustOpen(t, b.newDB(t))
		before := len(rec.Ended())

		// Outside any trace (a poll, a cleanup), a statement records no
		// span: it would be a root trace of its own.
		if _, err := s.UserByID(t.Context(), 42); blog.ErrorCode(err) != blog.CodeNotFound {
			t.Fatalf("UserByID = %v, want not_found", err)
		}
		if orphans := rec.Ended()[before:]; len(orphans) != 0 {
			t.Errorf("a statement without a parent span recorded %v", spanNames(orphans))
		}

		ctx, parent := otel.Tracer("test").Start(t.Context(), "request")
		defer parent.End()

		const email, hash = "private.person@example.com", "argon2id$very-secret-hash"
		if _, err := s.CreateUser(ctx, email, hash); err != nil {
			t.Fatal(err)
		}
		_, err := s.CreateUser(ctx, email, hash) // an error on the span
		wantCode(t, err, blog.CodeEmailTaken)
		if err := s.Ping(ctx); err != nil {
			t.Fatal(err)
		}
		spans := rec.Ended()[before:]

		wantSystem := map[string]string{"sqlite": "sqlite", "postgres": "postgresql"}[b.name]
		var inserts int
		for _, sp := range spans {
			if strings.Contains(sp.Name(), "ping") {
				t.Errorf("span %q: pings must not make spans", sp.Name())
			}
			attrs := map[attribute.Key]string{}
			for _, kv := range sp.Attributes() {
				attrs[kv.Key] = kv.Value.String()
			}
			if got := attrs["db.system.name"]; got != wantSystem {
				t.Errorf("span %q: db.system.name = %q, want %q", sp.Name(), got, wantSystem)
			}
			if strings.HasPrefix(attrs["db.query.text"], "INSERT INTO users") {
				inserts++
			}
			// Neither attributes nor recorded errors may hold the arguments.
			var recorded []string
			for _, v := range attrs {
				recorded = append(recorded, v)
			}
			for _, ev := range sp.Events() {
				for _, kv := range ev.Attributes {
					recorded = append(recorded, kv.Value.String())
				}
			}
			recorded = append(recorded, sp.Status().Description)
			for _, v := range recorded {
				if strings.Contains(v, email) || strings.Contains(v, hash) {
					t.Errorf("span %q records an argument: %q", sp.Name(), v)
				}
			}
		}
		if inserts != 2 {
			t.Errorf("%d spans with db.query.text INSERT INTO users, want 2; spans: %v", inserts, spanNames(spans))
		}
	})
}

func spanNames(spans []sdktrace.ReadOnlySpan) []string {
	var names []string
	for _, sp := range spans {
		names = append(names, sp.Name())
	}
	return names
}

func TestMetrics(t *testing.T) {
	forEachBackendInTurn(t, func(t *testing.T, b backend) {
		reader := telemetrytest.GlobalMeterReader(t)
		s, err := sqlstore.Open(t.Context(), b.newDB(t))
		if err != nil {
			t.Fatal(err)
		}
		mustUser(t, s, "a@example.com")

		got := collect(t, reader)
		for _, name := range []string{
			"db.sql.connection.open",
			"db.sql.connection.max_open",
			"db.sql.connection.wait",
			"db.client.operation.duration",
		} {
			if !got[name] {
				t.Errorf("metric %s not collected; got %v", name, got)
			}
		}

		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		for name := range collect(t, reader) {
			if strings.HasPrefix(name, "db.sql.connection.") {
				t.Errorf("metric %s still reported after Close", name)
			}
		}
	})
}

// collect returns the names of the metrics with data points in reader.
func collect(t *testing.T, reader *sdkmetric.ManualReader) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	for _, m := range telemetrytest.Metrics(t, reader) {
		if hasPoints(m.Data) {
			names[m.Name] = true
		}
	}
	return names
}

func hasPoints(data metricdata.Aggregation) bool {
	switch d := data.(type) {
	case metricdata.Gauge[int64]:
		return len(d.DataPoints) > 0
	case metricdata.Sum[int64]:
		return len(d.DataPoints) > 0
	case metricdata.Sum[float64]:
		return len(d.DataPoints) > 0
	case metricdata.Histogram[float64]:
		return len(d.DataPoints) > 0
	}
	return true
}

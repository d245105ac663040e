package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// referenceJSON is what the kit wrote before jsonHandler existed: the
// standard JSON handler behind traceHandler. jsonHandler must write the
// same bytes.
func referenceJSON(buf *bytes.Buffer) slog.Handler {
	return &traceHandler{next: slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})}
}

type panicky struct{}

func (*panicky) Error() string { panic("boom") }

type marshalPanic struct{}

func (marshalPanic) MarshalJSON() ([]byte, error) { panic("marshal boom") }

type marshalErr struct{}

func (marshalErr) MarshalJSON() ([]byte, error) { return nil, errors.New("cannot") }

type valuer struct{ v slog.Value }

func (v valuer) LogValue() slog.Value { return v.v }

type jsonErr struct{}

func (jsonErr) Error() string                { return "as error" }
func (jsonErr) MarshalJSON() ([]byte, error) { return []byte(`{"as":"json"}`), nil }

// jsonValueCases are attribute values of every kind and the awkward ones.
func jsonValueCases() []slog.Attr {
	var nilErr *panicky
	return []slog.Attr{
		slog.String("s", "plain"),
		slog.String("esc", "q\"b\\n\n\r\t\x00\x1f\x7f<>&é\u2028\u2029\xff\xfe end"),
		slog.String("", "empty key"),
		slog.String("ünï\"cödé", "key escaped"),
		slog.Int("i", -42),
		slog.Int64("big", math.MinInt64),
		slog.Uint64("u", math.MaxUint64),
		slog.Float64("f", 1.5),
		slog.Float64("fz", 0),
		slog.Float64("fneg0", math.Copysign(0, -1)),
		slog.Float64("fsmall", 1e-7),
		slog.Float64("fsmall2", 0.000001),
		slog.Float64("fbig", 1e21),
		slog.Float64("fbig2", 123456789012345678901234.0),
		slog.Float64("fneg", -2.5e-10),
		slog.Float64("max", math.MaxFloat64),
		slog.Float64("min", math.SmallestNonzeroFloat64),
		slog.Float64("nan", math.NaN()),
		slog.Float64("inf", math.Inf(1)),
		slog.Float64("ninf", math.Inf(-1)),
		slog.Bool("t", true),
		slog.Bool("f2", false),
		slog.Duration("d", 1500*time.Microsecond),
		slog.Time("tm", time.Date(2026, 11, 25, 12, 0, 0, 123000, time.FixedZone("X", 3600))),
		slog.Time("tmzero", time.Time{}),
		slog.Time("tmfar", time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC)),
		slog.Any("err", errors.New("it failed: <x>")),
		slog.Any("nilerr", nilErr),
		slog.Any("panicerr", &panicky{}),
		slog.Any("mpanic", marshalPanic{}),
		slog.Any("merr", marshalErr{}),
		slog.Any("jsonerr", jsonErr{}),
		slog.Any("map", map[string]any{"b": 1, "a": []int{1, 2}, "h": "<&>"}),
		slog.Any("slice", []string{"x", "y"}),
		slog.Any("nil", nil),
		slog.Any("struct", struct {
			A int
			B string `json:"b"`
		}{1, "two"}),
		slog.Any("chan", make(chan int)),
		slog.Any("valuer", valuer{slog.IntValue(7)}),
		slog.Any("valuergroup", valuer{slog.GroupValue(slog.String("in", "side"))}),
		slog.Group("g", slog.String("a", "1"), slog.Group("h", slog.Int("b", 2))),
		slog.Group("empty"),
		slog.Group("", slog.String("inlined", "yes")),
		slog.Group("onlyzero", slog.Attr{}),
		{},
	}
}

func TestJSONHandlerMatchesSlog(t *testing.T) {
	tid, _ := trace.TraceIDFromHex("0af7651916cd43dd8448eb211c80319c")
	sid, _ := trace.SpanIDFromHex("b7ad6b7169203331")
	spanCtx := trace.ContextWithSpanContext(context.Background(),
		trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}))
	contexts := map[string]context.Context{"no span": context.Background(), "span": spanCtx}

	values := jsonValueCases()
	// Each shape derives a handler the way a program would.
	shapes := map[string]func(slog.Handler) slog.Handler{
		"plain": func(h slog.Handler) slog.Handler { return h },
		"with attrs": func(h slog.Handler) slog.Handler {
			return h.WithAttrs([]slog.Attr{slog.String("svc", "blog"), slog.Int("n", 1)})
		},
		"with empty attrs": func(h slog.Handler) slog.Handler {
			return h.WithAttrs([]slog.Attr{slog.Group("e")}).WithAttrs([]slog.Attr{{}})
		},
		"group":       func(h slog.Handler) slog.Handler { return h.WithGroup("req") },
		"empty group": func(h slog.Handler) slog.Handler { return h.WithGroup("") },
		"attrs group attrs": func(h slog.Handler) slog.Handler {
			return h.WithAttrs([]slog.Attr{slog.String("a", "1")}).WithGroup("req").WithAttrs([]slog.Attr{slog.String("b", "2")})
		},
		"group group": func(h slog.Handler) slog.Handler {
			return h.WithGroup("a").WithAttrs([]slog.Attr{slog.Int("x", 1)}).WithGroup("b")
		},
		"group zero attrs": func(h slog.Handler) slog.Handler {
			return h.WithGroup("a").WithAttrs([]slog.Attr{{}}).WithGroup("b").WithAttrs([]slog.Attr{slog.Group("g", slog.Attr{})})
		},
		"group with every value": func(h slog.Handler) slog.Handler {
			return h.WithGroup("all").WithAttrs(values)
		},
	}
	records := map[string][]slog.Attr{
		"no attrs":   nil,
		"one":        {slog.String("k", "v")},
		"only zero":  {{}},
		"only empty": {slog.Group("x")},
		"every":      values,
		"six":        {slog.Int("1", 1), slog.Int("2", 2), slog.Int("3", 3), slog.Int("4", 4), slog.Int("5", 5), slog.Int("6", 6)},
	}
	now := time.Date(2026, 11, 25, 12, 30, 45, 123456789, time.UTC)
	levels := []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn + 1, slog.LevelError}

	for sn, shape := range shapes {
		for rn, attrs := range records {
			for cn, ctx := range contexts {
				for _, lvl := range levels {
					for _, tm := range []time.Time{now, {}} {
						name := fmt.Sprintf("%s/%s/%s/%s/zero-time=%v", sn, rn, cn, lvl, tm.IsZero())
						var want, got bytes.Buffer
						r := slog.NewRecord(tm, lvl, "msg \"quoted\" <b>", 0)
						r.AddAttrs(attrs...)
						if err := shape(referenceJSON(&want)).Handle(ctx, r.Clone()); err != nil {
							t.Fatalf("%s: reference: %v", name, err)
						}
						if err := shape(newJSONHandler(&got, slog.LevelDebug)).Handle(ctx, r.Clone()); err != nil {
							t.Fatalf("%s: %v", name, err)
						}
						if got.String() != want.String() {
							t.Errorf("%s:\n got %s\nwant %s", name, got.String(), want.String())
						}
					}
				}
			}
		}
	}
}

// TestJSONHandlerFloats compares float formatting with encoding/json over
// a spread of magnitudes, the part of the encoding written by hand.
func TestJSONHandlerFloats(t *testing.T) {
	for e := -330; e <= 310; e++ {
		for _, m := range []float64{1, 1.5, 2.2250738585072014, 9.999999999999999, 4.9406564584124654} {
			f := m * math.Pow(10, float64(e))
			for _, v := range []float64{f, -f} {
				want, err := json.Marshal(v)
				if err != nil {
					continue // Inf from Pow: covered by TestJSONHandlerMatchesSlog
				}
				if got := appendJSONFloat(nil, v); string(got) != string(want) {
					t.Fatalf("%g: got %s, want %s", v, got, want)
				}
			}
		}
	}
}

func TestJSONHandlerLevelAndConcurrency(t *testing.T) {
	var buf bytes.Buffer
	lv := new(slog.LevelVar)
	lv.Set(slog.LevelWarn)
	l := slog.New(newJSONHandler(&buf, lv))
	l.Info("hidden")
	if buf.Len() != 0 {
		t.Fatalf("info written at warn level: %s", buf.String())
	}
	lv.Set(slog.LevelInfo)
	done := make(chan struct{})
	for i := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			sub := l.With("worker", i).WithGroup("g")
			for j := range 200 {
				sub.Info("line", "j", j, "pad", strings.Repeat("x", 100))
			}
		}()
	}
	for range 4 {
		<-done
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 800 {
		t.Fatalf("got %d lines, want 800", len(lines))
	}
	for _, ln := range lines {
		if !json.Valid([]byte(ln)) {
			t.Fatalf("interleaved or invalid line: %s", ln)
		}
	}
}

// FuzzJSONHandlerString compares string escaping, keys included, with the
// standard handler on arbitrary bytes.
func FuzzJSONHandlerString(f *testing.F) {
	for _, s := range []string{"", "plain", "q\"\\", "\x00\x1f\x7f", "é\u2028\u2029", "\xff\xfe", "<&>"} {
		f.Add(s, s)
	}
	tm := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	f.Fuzz(func(t *testing.T, key, val string) {
		var want, got bytes.Buffer
		r := slog.NewRecord(tm, slog.LevelInfo, val, 0)
		r.AddAttrs(slog.String(key, val), slog.Group(key, slog.String(val, key)))
		_ = referenceJSON(&want).WithGroup(key).Handle(context.Background(), r.Clone())
		_ = newJSONHandler(&got, slog.LevelInfo).WithGroup(key).Handle(context.Background(), r.Clone())
		if got.String() != want.String() {
			t.Fatalf("got %s\nwant %s", got.String(), want.String())
		}
	})
}

// TestRecordTime compares the per-second cache of record times with
// time.Format over zones, zone transitions, fractions and repeated seconds.
func TestRecordTime(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		ny = time.FixedZone("EST", -5*3600) // no zoneinfo on this machine
	}
	locs := []*time.Location{time.UTC, time.Local, time.FixedZone("plus", 5*3600+30*60), time.FixedZone("odd", -(3*3600 + 25)), ny}
	starts := []time.Time{
		time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC),
		time.Date(2026, 3, 8, 6, 59, 59, 0, time.UTC), // New York's DST start
		time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	fracs := []int{0, 1, 10, 100000, 123456789, 999999999, 500000000, 120}
	for _, loc := range locs {
		for _, s := range starts {
			for step := range 3 {
				for _, ns := range fracs {
					tm := s.Add(time.Duration(step)*time.Second + time.Duration(ns)).In(loc)
					want := string(appendJSONTime(nil, tm))
					if got := string(appendRecordTime(nil, tm)); got != want {
						t.Fatalf("%v: got %s, want %s", tm, got, want)
					}
				}
			}
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = appendRecordTime(make([]byte, 0, 64), time.Now()) }); n > 1 {
		t.Errorf("appendRecordTime allocates %v times", n)
	}
}

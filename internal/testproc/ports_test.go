package testproc_test

import (
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"example.com/otelstarter/internal/testproc"
)

func TestListenAddrs(t *testing.T) {
	log := `{"time":"x","level":"INFO","msg":"http.listening","listener":"public","port":41001,"reach":"loopback"}
not json, from a panic or the Go runtime
{"level":"INFO","msg":"http.listening","listener":"admin","port":41002,"reach":"loopback"}
{"level":"INFO","msg":"server.started","http_port":"41001"}
{"level":"INFO","msg":"http.listening","listener":"public","port":41003,"reach":"all_interfaces"}
{"level":"INFO","msg":"http.listening","listener":"adm`
	got := testproc.ListenAddrs(log)
	want := map[string]string{"public": "127.0.0.1:41003", "admin": "127.0.0.1:41002"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("ListenAddrs = %v, want %v (the last whole line of each listener, its port on 127.0.0.1)", got, want)
	}
}

// TestStartApp: the addresses come from the program's http.listening
// lines, whatever it logged before them.
func TestStartApp(t *testing.T) {
	app := testproc.StartApp(t, "fake app", nil, "sh", "-c", `
echo '{"msg":"jobs.migrated"}'
sleep 0.2
echo '{"msg":"http.listening","listener":"public","port":41001,"reach":"loopback"}'
echo '{"msg":"http.listening","listener":"admin","port":41002,"reach":"loopback"}'
exec sleep 30`)
	if app.URL != "http://127.0.0.1:41001" || app.AdminAddr != "127.0.0.1:41002" {
		t.Fatalf("URL %q, admin %q", app.URL, app.AdminAddr)
	}
}

// TestStartAppFailsWithTheOutput: an app that stops before it says where
// it listens fails the test with what it wrote.
func TestStartAppFailsWithTheOutput(t *testing.T) {
	tb := &fatalTB{T: t}
	tb.run(func() {
		testproc.StartApp(tb, "fake app", nil, "sh", "-c", `echo 'app: config: HTTP_ADDR: want host:port' >&2; exit 1`)
	})
	if !strings.Contains(tb.msg, "stopped before it logged") || !strings.Contains(tb.msg, "HTTP_ADDR: want host:port") {
		t.Fatalf("failure %q: want the reason and the program's output", tb.msg)
	}
}

// TestStartPromServer: the address is the one of the "Listening on" line,
// not of the line that names the configured address.
func TestStartPromServer(t *testing.T) {
	_, addr := testproc.StartPromServer(t, "fake prometheus", "sh", "-c", `
echo '{"level":"INFO","msg":"Start listening for connections","address":"127.0.0.1:0"}' >&2
echo '{"level":"INFO","msg":"Listening on","address":"127.0.0.1:41005"}' >&2
exec sleep 30`)
	if addr != "127.0.0.1:41005" {
		t.Fatalf("address %q, want 127.0.0.1:41005", addr)
	}
}

// TestStartOnFreePortsRetries: a program that lost its port to another is
// started again; the second one is returned.
func TestStartOnFreePortsRetries(t *testing.T) {
	var starts atomic.Int32
	p := testproc.StartOnFreePorts(t, "fake server", 10*time.Second, func() (*testproc.Process, func() error) {
		if starts.Add(1) == 1 {
			return testproc.Start(t, "fake server", nil, "sh", "-c", `echo 'listen tcp 127.0.0.1:41006: bind: address already in use' >&2; exit 1`),
				func() error { return fmt.Errorf("not listening") }
		}
		return testproc.Start(t, "fake server", nil, "sh", "-c", "exec sleep 30"), func() error { return nil }
	})
	if starts.Load() != 2 || p.Exited() != nil {
		t.Fatalf("%d starts, the last one exited: %v", starts.Load(), p.Exited())
	}
}

// TestStartOnFreePortsGivesUp: any other exit fails the test at once, and
// a port lost every time stops after 3 starts.
func TestStartOnFreePortsGivesUp(t *testing.T) {
	for _, tc := range []struct {
		name, script string
		starts       int32
	}{
		{"another error", `echo 'config: no such file' >&2; exit 1`, 1},
		{"always taken", `echo 'Could not create server TCP listening socket: bind: Address already in use' >&2; exit 1`, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var starts atomic.Int32
			tb := &fatalTB{T: t}
			tb.run(func() {
				testproc.StartOnFreePorts(tb, "fake server", 10*time.Second, func() (*testproc.Process, func() error) {
					starts.Add(1)
					return testproc.Start(t, "fake server", nil, "sh", "-c", tc.script), func() error { return fmt.Errorf("not listening") }
				})
			})
			if tb.msg == "" || starts.Load() != tc.starts {
				t.Fatalf("%d starts, failure %q; want %d starts and a failure", starts.Load(), tb.msg, tc.starts)
			}
		})
	}
}

// fatalTB records the failure that code under test reports, instead of
// failing the test that checks it.
type fatalTB struct {
	*testing.T
	msg string
}

func (tb *fatalTB) Fatal(args ...any) { tb.msg = fmt.Sprint(args...); runtime.Goexit() }
func (tb *fatalTB) Fatalf(format string, args ...any) {
	tb.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run runs f in a goroutine of its own, which Fatal ends.
func (tb *fatalTB) run(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	<-done
}

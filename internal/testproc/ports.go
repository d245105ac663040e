package testproc

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// How the programs the tests start get their ports.
//
// The app listens on port 0 and logs the address the kernel gave it
// ([StartApp]); so do Prometheus and Alertmanager, whose web server
// (exporter-toolkit's) logs "Listening on" with the bound address
// ([StartPromServer]). The others are
// told a port in advance, one from testenv.FreeAddr, free a moment ago,
// and started through [StartOnFreePorts], which starts them again on new
// ports when one was taken meanwhile:
//
//   - otelcol: its OTLP receivers log their bound address, but the
//     health_check extension and its own metrics endpoint do not, and the
//     tests need both;
//   - Mailpit: logs the address it was given, not the bound one, and
//     [Mailpit.Restart] must find it on the same ports;
//   - redis-server: --port 0 turns TCP off, and the tests restart it on
//     the same port;
//   - PostgreSQL (faulttest's private server): no port 0 either.

// portAttempts is how many times [StartOnFreePorts] starts a program.
const portAttempts = 3

// StartOnFreePorts starts a program that cannot listen on port 0 and
// report the port it got. start picks its addresses (testenv.FreeAddr),
// starts it and returns it with ready, which returns nil once it serves.
// When the program exits before it is ready and its output says "address
// already in use", a port was taken between the pick and the bind, by
// another test binary running in parallel: StartOnFreePorts calls start
// again, up to 3 times in all, so a collision costs a retry instead of
// the test. Any other exit, or no readiness within timeout, fails the
// test with the program's output.
func StartOnFreePorts(tb testing.TB, what string, timeout time.Duration, start func() (p *Process, ready func() error)) *Process {
	tb.Helper()
	for attempt := 1; ; attempt++ {
		p, ready := start()
		err := waitReady(p, ready, timeout)
		if err == nil {
			return p
		}
		if p.Exited() != nil && AddrInUse(p.output(1<<20)) && attempt < portAttempts {
			tb.Logf("%s: a port was taken before it could bind it; starting it again on other ports (attempt %d of %d)", what, attempt+1, portAttempts)
			continue
		}
		tb.Fatalf("waiting for %s: %v", what, err)
	}
}

// AddrInUse reports whether output, a program's, says that it could not
// bind a port another program holds ("address already in use": Go and C
// programs alike, whatever the case).
func AddrInUse(output string) bool {
	return strings.Contains(strings.ToLower(output), "address already in use")
}

// waitReady waits for ready, as [WaitFor] does, but returns instead of
// failing the test. A program found dead just after ready passed does not
// count as ready: another process may hold its port and have answered.
func waitReady(p *Process, ready func() error, timeout time.Duration) error {
	if _, err := poll(100*time.Millisecond, timeout, ready, p); err != nil {
		return err
	}
	// A program that failed to bind dies at once; give it the moment.
	time.Sleep(100 * time.Millisecond)
	return p.Exited()
}

// StartPromServer runs bin, Prometheus or Alertmanager, with args and
// --web.listen-address=127.0.0.1:0 --log.format=json, and returns it with
// the address its web server got, read from its "Listening on" line. args
// must not set --log.level above info, which would silence that line. The
// test fails, with the output, when none comes within a minute.
func StartPromServer(tb testing.TB, name, bin string, args ...string) (*Process, string) {
	tb.Helper()
	p := Start(tb, name, nil, bin, append(args, "--web.listen-address=127.0.0.1:0", "--log.format=json")...)
	var addr string
	WaitFor(tb, name+`'s "Listening on" log line`, time.Minute, func() error {
		if addr = promListenAddr(p.Output()); addr == "" {
			return fmt.Errorf("not logged yet")
		}
		return nil
	}, p)
	return p, addr
}

// promListenAddr returns the address of the first "Listening on" line of
// a Prometheus-family program's JSON log, or "".
func promListenAddr(log string) string {
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var rec struct{ Msg, Address string }
		if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "Listening on" && rec.Address != "" {
			return rec.Address
		}
	}
	return ""
}

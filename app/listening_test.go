package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net"
	"strconv"
	"testing"
)

// TestLogListening: the line names the port the kernel gave (port 0 asked)
// and how far the listener reaches, and carries no IP address.
func TestLogListening(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ addr, reach string }{
		{"127.0.0.1:0", "loopback"},
		{"[::1]:0", "loopback"},
		{":0", "all_interfaces"},
	} {
		l, err := net.Listen("tcp", tc.addr)
		if err != nil {
			t.Logf("%s: %v (no such interface here)", tc.addr, err)
			continue
		}
		var buf bytes.Buffer
		logListening(t.Context(), slog.New(slog.NewJSONHandler(&buf, nil)), "public", l)
		_ = l.Close()

		var line struct {
			Msg, Listener, Reach string
			Port                 int
		}
		if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
			t.Fatalf("%s: %v: %s", tc.addr, err, buf.Bytes())
		}
		_, want, _ := net.SplitHostPort(l.Addr().String())
		if line.Msg != "http.listening" || line.Listener != "public" || strconv.Itoa(line.Port) != want || line.Port == 0 {
			t.Errorf("%s: line %s, want http.listening of listener public on port %s", tc.addr, buf.Bytes(), want)
		}
		if line.Reach != tc.reach {
			t.Errorf("%s: reach %q, want %q", tc.addr, line.Reach, tc.reach)
		}
		if bytes.Contains(buf.Bytes(), []byte("127.0.0.1")) || bytes.Contains(buf.Bytes(), []byte("::")) {
			t.Errorf("%s: the line holds an IP address: %s", tc.addr, buf.Bytes())
		}
	}
}

package faulttest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"example.com/otelstarter/internal/loadgen"
	"example.com/otelstarter/internal/testproc"
)

// TestSlowClients opens 50 slowloris connections (a request's headers, one
// byte a second) and one upload that sends its 1000-byte body one byte a
// second: the server closes the first after ReadHeaderTimeout (5s) and cuts
// the second at ReadTimeout (15s), while ordinary requests keep answering
// fast.
func TestSlowClients(t *testing.T) {
	need(t)
	const (
		loris          = 50
		headerDeadline = 10 * time.Second // ReadHeaderTimeout is 5s
		bodyDeadline   = 20 * time.Second // ReadTimeout is 15s
	)
	a := startApp(t, nil)
	token := login(t, a, "slow@example.com")
	id := createPost(t, a, token, "read next to slow clients")

	// Slowloris: every connection's close time, or -1 if still open.
	closed := make([]time.Duration, loris)
	var wg sync.WaitGroup
	for i := range loris {
		conn := dialRaw(t, a)
		began := time.Now()
		closed[i] = -1
		wg.Go(func() { // writer: a byte a second, until the server hangs up
			head := fmt.Sprintf("GET /api/posts/%d HTTP/1.1\r\nHost: app\r\nX-Slow: %s", id, strings.Repeat("a", 40))
			for j := 0; j < len(head) && time.Since(began) < headerDeadline+2*time.Second; j++ {
				if _, err := conn.Write([]byte{head[j]}); err != nil {
					return
				}
				time.Sleep(time.Second)
			}
		})
		wg.Go(func() { // reader: the server's hang-up
			_ = conn.SetReadDeadline(began.Add(headerDeadline + 2*time.Second))
			_, err := io.Copy(io.Discard, conn)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return // still open: closed[i] stays -1
			}
			closed[i] = time.Since(began)
			conn.Close() // stops the writer
		})
	}

	// The slow upload: a valid request whose body never finishes in time.
	type upload struct {
		took time.Duration
		saw  string
	}
	uploadDone := make(chan upload, 1)
	upConn := dialRaw(t, a)
	go func() {
		conn := upConn
		began := time.Now()
		fmt.Fprintf(conn, "POST /api/posts HTTP/1.1\r\nHost: app\r\nContent-Type: application/json\r\n"+
			"Authorization: Bearer %s\r\nContent-Length: 1000\r\n\r\n", token)
		go func() {
			for time.Since(began) < bodyDeadline {
				if _, err := conn.Write([]byte{' '}); err != nil {
					return
				}
				time.Sleep(time.Second)
			}
		}()
		_ = conn.SetReadDeadline(began.Add(bodyDeadline))
		line, err := bufio.NewReader(conn).ReadString('\n')
		u := upload{took: time.Since(began), saw: strings.TrimSpace(line)}
		if u.saw == "" {
			u.saw = fmt.Sprint(err)
		}
		conn.Close()
		uploadDone <- u
	}()

	// Ordinary requests meanwhile, 10 a second, until the slowloris
	// connections are all closed (or their deadline passed).
	c := newClient()
	lorisDone := make(chan struct{})
	go func() { wg.Wait(); close(lorisDone) }()
	var normal []loadgen.Sample
	for i := 0; ; i++ {
		select {
		case <-lorisDone:
		default:
			s := loadgen.Sample{Start: time.Now()}
			r, err := do(c, "GET", fmt.Sprintf("%s/api/posts/%d", a.URL, id), "", nil)
			s.Took = time.Since(s.Start)
			if err != nil || r.Status != 200 {
				s.Err = fmt.Errorf("%v %d", err, r.Status)
			}
			normal = append(normal, s)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		break
	}

	var first, last time.Duration = time.Hour, 0
	open := 0
	for _, d := range closed {
		if d < 0 {
			open++
			continue
		}
		first, last = min(first, d), max(last, d)
	}
	t.Logf("slowloris: %d connections, %d still open after %v; closed by the server between %v and %v after opening",
		loris, open, headerDeadline, first.Round(10*time.Millisecond), last.Round(10*time.Millisecond))
	if open > 0 || last > headerDeadline {
		t.Errorf("slowloris: %d connections still open, last closed at %v: want all closed within %v", open, last, headerDeadline)
	}
	s := loadgen.Summarize(normal, 0)
	t.Logf("ordinary requests during the slowloris: %s", s)
	if s.Failed > 0 || s.P99 > 100*time.Millisecond {
		t.Errorf("ordinary requests next to slow clients: %s %v; want none failed and p99 < 100ms", s, s.Errors)
	}

	u := <-uploadDone
	t.Logf("slow upload (Content-Length 1000, 1 byte/s): cut after %v; the client saw %q", u.took.Round(10*time.Millisecond), u.saw)
	// The access line is written once the handler has returned, which may
	// be just after the client saw the connection close.
	for wait := 0; wait < 20; wait++ {
		if line := accessLine(a.Output(), `"route":"/api/posts","status":4`); line != "" {
			t.Logf("the app's access line for it: %s", line)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if u.took >= bodyDeadline {
		t.Errorf("slow upload still open after %v, want it cut by ReadTimeout (15s)", bodyDeadline)
	}
}

// TestSlowWebSocketReader connects a WebSocket client that never reads (with
// a 4 KiB receive buffer, so the kernel cannot hide it) and creates 500 posts
// of 10 KB, each fanned out to it: the app drops the client, and its memory
// stays bounded.
func TestSlowWebSocketReader(t *testing.T) {
	need(t)
	const posts = 500
	a := startApp(t, nil)
	token := login(t, a, "feed@example.com")

	d := net.Dialer{Timeout: 3 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		return errors.Join(err, serr)
	}}
	conn, err := d.DialContext(context.Background(), "tcp", strings.TrimPrefix(a.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "GET /api/ws HTTP/1.1\r\nHost: app\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	// Read the handshake answer a byte at a time, then never again.
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var head []byte
	for !strings.HasSuffix(string(head), "\r\n\r\n") {
		b := make([]byte, 1)
		if _, err := conn.Read(b); err != nil {
			t.Fatalf("WebSocket handshake: %v after %q", err, head)
		}
		head = append(head, b[0])
	}
	if !strings.HasPrefix(string(head), "HTTP/1.1 101") {
		t.Fatalf("WebSocket handshake answered %q", head)
	}
	testproc.Poll(t, "websocket_active_connections = 1", pollEvery, 5*time.Second, func() error {
		if v, err := metricValue(a, "websocket_active_connections"); err != nil || v != 1 {
			return fmt.Errorf("%v (%v)", v, err)
		}
		return nil
	})

	pid := a.Cmd.Process.Pid
	rss0, rssMax := rss(t, pid), int64(0)
	body := strings.Repeat("fan-out ", 1250) // 10 000 characters, the maximum
	c := newClient()
	began := time.Now()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		failed   []string
		droppedN = -1 // posts created when the gauge went back to 0
		created  int
	)
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < posts; i += 4 {
				r, err := do(c, "POST", a.URL+"/api/posts", token, map[string]string{"title": fmt.Sprintf("post %d", i), "body": body})
				mu.Lock()
				if err != nil || r.Status != 201 {
					failed = append(failed, fmt.Sprintf("%v %d", err, r.Status))
				}
				created++
				mu.Unlock()
			}
		})
	}
	// Sample memory and the gauge while the posts go out.
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for loop := true; loop; {
		select {
		case <-done:
			loop = false
		case <-time.After(100 * time.Millisecond):
		}
		rssMax = max(rssMax, rss(t, pid))
		if v, err := metricValue(a, "websocket_active_connections"); err == nil && v == 0 && droppedN < 0 {
			mu.Lock()
			droppedN = created
			mu.Unlock()
		}
	}
	postsTook := time.Since(began)
	gone := testproc.Poll(t, "websocket_active_connections back to 0", pollEvery, 15*time.Second, func() error {
		if v, err := metricValue(a, "websocket_active_connections"); err != nil || v != 0 {
			return fmt.Errorf("%v (%v)", v, err)
		}
		return nil
	})
	rssMax = max(rssMax, rss(t, pid))

	// The server closed the connection: what the client had not read drains
	// to EOF (or a reset).
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := io.Copy(io.Discard, conn)
	dropped := "once all posts were created"
	if droppedN >= 0 {
		dropped = fmt.Sprintf("while posting, after %d posts", droppedN)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Errorf("the slow client's connection is still open: read %d bytes, then %v", n, err)
	}
	t.Logf("%d posts of 10 KB in %v (%d failed); the slow reader was dropped %s (gauge 0 %v after the last post); "+
		"it had %d unread bytes in its buffers", posts, postsTook.Round(time.Millisecond), len(failed), dropped, gone.Round(time.Millisecond), n)
	t.Logf("RSS before %.1f MiB, max %.1f MiB (growth %+.1f MiB)", mib(rss0), mib(rssMax), mib(rssMax-rss0))
	if len(failed) > 0 {
		t.Errorf("creating posts failed: %v", failed[:min(5, len(failed))])
	}
	if rssMax-rss0 > 64<<20 {
		t.Errorf("RSS grew %.1f MiB with a slow WebSocket reader, want < 64 MiB", mib(rssMax-rss0))
	}
	var why []string
	for _, msg := range []string{"ws.dropped_slow_client", "ws.write_failed", "ws.ping_failed"} {
		if strings.Contains(a.Output(), `"msg":"`+msg+`"`) {
			why = append(why, msg)
		}
	}
	t.Logf("the app logged %v for the slow reader", why)
	if len(why) == 0 {
		t.Errorf("no log line says why the slow reader was closed")
	}
}

// TestSlowUploadGetsAnAnswer: an upload cut by ReadTimeout (15 s) is
// answered 408, and the answer reaches the client: WriteTimeout is longer
// than ReadTimeout. (They used to expire together, and the client got EOF
// while the access log said 400.)
func TestSlowUploadGetsAnAnswer(t *testing.T) {
	need(t)
	a := startApp(t, nil)
	token := login(t, a, "upload@example.com")
	conn := dialRaw(t, a)
	began := time.Now()
	fmt.Fprintf(conn, "POST /api/posts HTTP/1.1\r\nHost: app\r\nContent-Type: application/json\r\n"+
		"Authorization: Bearer %s\r\nContent-Length: 1000\r\n\r\n", token)
	go func() {
		for time.Since(began) < 20*time.Second {
			if _, err := conn.Write([]byte{' '}); err != nil {
				return
			}
			time.Sleep(time.Second)
		}
	}()
	_ = conn.SetReadDeadline(began.Add(20 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if !strings.HasPrefix(line, "HTTP/1.1 408") {
		t.Fatalf("slow upload: after %v the client saw %q (%v), want 408 Request Timeout", time.Since(began), line, err)
	}
}

// accessLine returns the first access log line in out containing part.
func accessLine(out, part string) string {
	for line := range strings.SplitSeq(out, "\n") {
		if strings.Contains(line, `"msg":"http.request"`) && strings.Contains(line, part) {
			return line
		}
	}
	return ""
}
